"""Logic tier: the get-user Lambda function behind an API Gateway REST API (`GET /users?userId=…`)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

from cdktf import (
    App,
    AssetType,
    Fn,
    ITerraformDependable,
    TerraformAsset,
    TerraformResourceLifecycle,
    TerraformStack,
    Token,
)
from cdktf_cdktf_provider_aws.api_gateway_account import ApiGatewayAccount
from cdktf_cdktf_provider_aws.api_gateway_deployment import ApiGatewayDeployment
from cdktf_cdktf_provider_aws.api_gateway_gateway_response import ApiGatewayGatewayResponse
from cdktf_cdktf_provider_aws.api_gateway_integration import ApiGatewayIntegration
from cdktf_cdktf_provider_aws.api_gateway_integration_response import ApiGatewayIntegrationResponse
from cdktf_cdktf_provider_aws.api_gateway_method import ApiGatewayMethod
from cdktf_cdktf_provider_aws.api_gateway_method_response import ApiGatewayMethodResponse
from cdktf_cdktf_provider_aws.api_gateway_method_settings import (
    ApiGatewayMethodSettings,
    ApiGatewayMethodSettingsSettings,
)
from cdktf_cdktf_provider_aws.api_gateway_request_validator import ApiGatewayRequestValidator
from cdktf_cdktf_provider_aws.api_gateway_resource import ApiGatewayResource
from cdktf_cdktf_provider_aws.api_gateway_rest_api import ApiGatewayRestApi, ApiGatewayRestApiEndpointConfiguration
from cdktf_cdktf_provider_aws.api_gateway_stage import ApiGatewayStage, ApiGatewayStageAccessLogSettings
from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.lambda_function import LambdaFunction, LambdaFunctionEnvironment
from cdktf_cdktf_provider_aws.lambda_permission import LambdaPermission
from constructs import Construct

from contract.config import ApiSettings, FunctionSettings
from contract.functions import (
    CORS_ALLOW_HEADERS,
    CORS_ALLOW_METHODS,
    FUNCTIONS_DIR,
    GET_USER_SOURCE,
    NOT_PACKAGED,
    deployed_function_name,
)


class _ApiResource(Protocol):
    @property
    def id(self) -> str: ...


R = TypeVar("R", bound=_ApiResource)

RESOURCE_PATH = "users"
# API Gateway's own errors that the page must be able to read (validator 400s, 403 for unknown routes, 429, 5xx).
GATEWAY_RESPONSE_TYPES = ("DEFAULT_4XX", "DEFAULT_5XX")
# One JSON object per request. API Gateway puts each $context value in as it is: these never hold a quote, and
# the error message comes from $context.error.messageString, which API Gateway quotes and escapes itself.
ACCESS_LOG_FORMAT = (
    json.dumps(
        {
            "requestId": "$context.requestId",
            "requestTime": "$context.requestTime",
            "sourceIp": "$context.identity.sourceIp",
            "httpMethod": "$context.httpMethod",
            "resourcePath": "$context.resourcePath",
            "status": "$context.status",
            "responseLength": "$context.responseLength",
            "integrationLatency": "$context.integrationLatency",
        }
    )[:-1]
    + ', "errorMessage": $context.error.messageString}'
)


def staged_function_source(name: str, staging_dir: Path) -> str:
    """A copy of functions/<name>/ without bytecode caches, so the asset hash depends only on the source files."""
    target = staging_dir / name
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(FUNCTIONS_DIR / name, target, ignore=shutil.ignore_patterns(*NOT_PACKAGED))
    return str(target)


def assume_role_policy(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        }
    )


def function_policy(table_statement: dict[str, Any], log_group_arn: str) -> str:
    """Exactly what the function needs: what the data tier grants on its table, and writing its own log group."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                table_statement,
                {
                    "Sid": "WriteOwnLogs",
                    "Effect": "Allow",
                    "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                    # The group's streams: arn:…:log-group:/aws/lambda/<name>:*
                    "Resource": [f"{log_group_arn}:*"],
                },
            ],
        }
    )


def account_logging_policy(log_group_arns: list[str]) -> str:
    """What API Gateway's account-wide CloudWatch role needs to write this stack's stage logs, and no more.

    AWS's managed policy for this role also grants creating and listing log groups on every resource ("*"); the
    stack makes its stage log groups before the stage, so the role only writes into those.
    """
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "WriteThisStacksStageLogs",
                    "Effect": "Allow",
                    "Action": ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
                    "Resource": [f"{arn}:*" for arn in log_group_arns],
                }
            ],
        }
    )


def quoted(value: str) -> str:
    """API Gateway takes static header values in single quotes.

    A Terraform value is quoted by Terraform's format(): a token inside a plain string cannot be hashed later.
    """
    return Fn.format("'%s'", [value]) if Token.is_unresolved(value) else f"'{value}'"


class UserApi(Construct):
    """The get-user function and the REST API in front of it.

    Takes the table's name and what the data tier grants on it, and `allowed_origin`, the one origin the API
    answers CORS for (it goes into the OPTIONS mock, the gateway error responses and the function's environment).
    `public_origin` replaces the execute-api origin in the URLs it gives out (local mode's gateway).
    Gives back `url` (of GET /users), `origin`, `domain`, `path`, `origin_path`, `api_id`, `api_name`,
    `stage_name` and `function_name`.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        name_prefix: str,
        region: str,
        function: FunctionSettings,
        api: ApiSettings,
        table_name: str,
        table_statement: dict[str, Any],
        allowed_origin: str,
        public_origin: str | None = None,
    ) -> None:
        super().__init__(scope, id_)
        self._region = region
        self._public_origin = public_origin
        self._stage_name = api.stage_name
        self.function = self._function(name_prefix, function, table_name, table_statement, allowed_origin)
        self.rest_api = ApiGatewayRestApi(
            self,
            "rest_api",
            name=f"{name_prefix}-api",
            description="GET /users?userId=… answered by the get-user function",
            endpoint_configuration=ApiGatewayRestApiEndpointConfiguration(types=["REGIONAL"]),
            lifecycle=TerraformResourceLifecycle(create_before_destroy=True),
        )
        definition = self._routes(allowed_origin)
        self.stage = self._stage(name_prefix, api, definition)
        LambdaPermission(
            self,
            "invoke_permission",
            statement_id="AllowApiGatewayGetUsers",
            action="lambda:InvokeFunction",
            function_name=self.function.function_name,
            principal="apigateway.amazonaws.com",
            source_arn=f"{self.rest_api.execution_arn}/{api.stage_name}/GET/{RESOURCE_PATH}",
        )

    @property
    def domain(self) -> str:
        """The stage's own host name, <id>.execute-api.<region>.amazonaws.com."""
        return f"{self.rest_api.id}.execute-api.{self._region}.amazonaws.com"

    @property
    def origin(self) -> str:
        """Where clients reach the API."""
        return self._public_origin or f"https://{self.domain}"

    @property
    def path(self) -> str:
        """The path of the users resource, "/users"."""
        return f"/{RESOURCE_PATH}"

    @property
    def origin_path(self) -> str:
        """What goes before a viewer's path when it is forwarded to the stage: "/<stage>"."""
        return f"/{self._stage_name}"

    @property
    def url(self) -> str:
        """The full URL of GET /users."""
        if self._public_origin:
            return f"{self._public_origin}{self.origin_path}{self.path}"
        return f"{self.stage.invoke_url}{self.path}"

    @property
    def api_id(self) -> str:
        return self.rest_api.id

    @property
    def api_name(self) -> str:
        return self.rest_api.name

    @property
    def stage_name(self) -> str:
        return self.stage.stage_name

    @property
    def stage_arn(self) -> str:
        """The stage, as WAF associations name it."""
        return self.stage.arn

    @property
    def function_name(self) -> str:
        return self.function.function_name

    def _function(
        self,
        prefix: str,
        settings: FunctionSettings,
        table_name: str,
        table_statement: dict[str, Any],
        allowed_origin: str,
    ) -> LambdaFunction:
        name = deployed_function_name(prefix, GET_USER_SOURCE)
        log_group = CloudwatchLogGroup(
            self, "function_logs", name=f"/aws/lambda/{name}", retention_in_days=settings.log_retention_days
        )
        role = IamRole(
            self, "function_role", name=f"{name}-role", assume_role_policy=assume_role_policy("lambda.amazonaws.com")
        )
        IamRolePolicy(
            self,
            "function_policy",
            name="get-user",
            role=role.id,
            policy=function_policy(table_statement, log_group.arn),
        )
        staging = Path(App.of(self).outdir) / ".staging" / TerraformStack.of(self).node.id
        source = staged_function_source(GET_USER_SOURCE, staging)
        asset = TerraformAsset(self, "source", path=source, type=AssetType.ARCHIVE)
        return LambdaFunction(
            self,
            "function",
            function_name=name,
            description="Reads one user from the users table by userId",
            role=role.arn,
            runtime=settings.runtime,
            architectures=[settings.architecture],
            handler="handler.lambda_handler",
            filename=asset.path,
            source_code_hash=asset.asset_hash,
            memory_size=settings.memory_mb,
            timeout=settings.timeout_seconds,
            environment=LambdaFunctionEnvironment(
                variables={
                    "TABLE_NAME": table_name,
                    # The function answers CORS itself (proxy integration), with the same values as the preflight.
                    "ALLOWED_ORIGIN": allowed_origin,
                    "ALLOWED_METHODS": CORS_ALLOW_METHODS,
                    "ALLOWED_HEADERS": CORS_ALLOW_HEADERS,
                }
            ),
            depends_on=[log_group],  # the group must exist with its retention before the function first logs
        )

    def _routes(self, allowed_origin: str) -> list[dict[str, Any]]:
        """Resources, methods, integrations and responses of /users.

        Returns what defines each of them (its id and every argument it was given), for the deployment's trigger.
        """
        definition: list[dict[str, Any]] = []

        def define(resource_type: Callable[..., R], construct_id: str, **arguments: Any) -> R:
            resource = resource_type(self, construct_id, rest_api_id=self.rest_api.id, **arguments)
            definition.append({"id": resource.id, **arguments})
            return resource

        users = define(ApiGatewayResource, "users", parent_id=self.rest_api.root_resource_id, path_part=RESOURCE_PATH)
        validator = define(
            ApiGatewayRequestValidator,
            "query_validator",
            name="require-query-parameters",
            validate_request_parameters=True,
            validate_request_body=False,
        )
        get = define(
            ApiGatewayMethod,
            "get_users",
            resource_id=users.id,
            http_method="GET",
            authorization="NONE",
            request_parameters={"method.request.querystring.userId": True},
            request_validator_id=validator.id,
        )
        define(
            ApiGatewayIntegration,
            "get_users_integration",
            resource_id=users.id,
            http_method=get.http_method,
            type="AWS_PROXY",
            integration_http_method="POST",
            uri=self.function.invoke_arn,
        )
        cors_headers = {
            "Access-Control-Allow-Origin": quoted(allowed_origin),
            "Access-Control-Allow-Methods": quoted(CORS_ALLOW_METHODS),
            "Access-Control-Allow-Headers": quoted(CORS_ALLOW_HEADERS),
        }
        options = define(
            ApiGatewayMethod,
            "options_users",
            resource_id=users.id,
            http_method="OPTIONS",
            authorization="NONE",
            request_validator_id=validator.id,
        )
        options_integration = define(
            ApiGatewayIntegration,
            "options_users_integration",
            resource_id=users.id,
            http_method=options.http_method,
            type="MOCK",
            # Terraform's jsonencode, not json.dumps: cdktf cannot pass a string with quotes into the trigger hash.
            request_templates={"application/json": Fn.jsonencode({"statusCode": 200})},
        )
        options_response = define(
            ApiGatewayMethodResponse,
            "options_users_response",
            resource_id=users.id,
            http_method=options.http_method,
            status_code="200",
            response_parameters={f"method.response.header.{h}": True for h in cors_headers},
        )
        integration_response = ApiGatewayIntegrationResponse(
            self,
            "options_users_integration_response",
            rest_api_id=self.rest_api.id,
            resource_id=users.id,
            http_method=options.http_method,
            status_code=options_response.status_code,
            response_parameters={f"method.response.header.{h}": v for h, v in cors_headers.items()},
            depends_on=[options_integration],  # a response needs its integration first
        )
        definition.append({"id": integration_response.id, "response_parameters": cors_headers})
        for kind in GATEWAY_RESPONSE_TYPES:
            define(
                ApiGatewayGatewayResponse,
                f"gateway_response_{kind.lower()}",
                response_type=kind,
                response_parameters={f"gatewayresponse.header.{h}": v for h, v in cors_headers.items()},
            )
        return definition

    def _stage(self, prefix: str, settings: ApiSettings, definition: list[dict[str, Any]]) -> ApiGatewayStage:
        # A deployment is a snapshot: it must be replaced whenever anything that defines the API changes, or the
        # change never goes live.
        deployment = ApiGatewayDeployment(
            self,
            "deployment",
            rest_api_id=self.rest_api.id,
            triggers={"redeployment": Fn.sha1(Fn.jsonencode(definition))},
            lifecycle=TerraformResourceLifecycle(create_before_destroy=True),
        )
        access_logs = CloudwatchLogGroup(
            self,
            "access_logs",
            name=f"/aws/apigateway/{prefix}-api/{settings.stage_name}",
            retention_in_days=settings.access_log_retention_days,
        )
        log_groups = [access_logs]
        if settings.execution_logging_level != "OFF":
            # API Gateway would create this group itself on the first error, keep it forever and leave it behind
            # on destroy: made here, before the stage, it has a retention and goes with the stack.
            log_groups.append(
                CloudwatchLogGroup(
                    self,
                    "execution_logs",
                    name=f"API-Gateway-Execution-Logs_{self.rest_api.id}/{settings.stage_name}",
                    retention_in_days=settings.access_log_retention_days,
                )
            )
        # Stage logging is refused until the account has a CloudWatch role; where the stack sets it, first.
        logging_ready: list[ITerraformDependable] = [*log_groups]
        if settings.manage_account_logging_role:
            logging_ready.append(self._account_logging_role(prefix, [group.arn for group in log_groups]))
        stage = ApiGatewayStage(
            self,
            "stage",
            rest_api_id=self.rest_api.id,
            deployment_id=deployment.id,
            stage_name=settings.stage_name,
            access_log_settings=ApiGatewayStageAccessLogSettings(
                destination_arn=access_logs.arn, format=ACCESS_LOG_FORMAT
            ),
            xray_tracing_enabled=settings.tracing,
            depends_on=logging_ready,
        )
        ApiGatewayMethodSettings(
            self,
            "stage_settings",
            rest_api_id=self.rest_api.id,
            stage_name=stage.stage_name,
            method_path="*/*",
            settings=ApiGatewayMethodSettingsSettings(
                metrics_enabled=True,
                logging_level=settings.execution_logging_level,
                data_trace_enabled=False,
                throttling_burst_limit=settings.throttling_burst_limit,
                throttling_rate_limit=settings.throttling_rate_limit,
            ),
        )
        return stage

    def _account_logging_role(self, prefix: str, log_group_arns: list[str]) -> ApiGatewayAccount:
        """API Gateway's CloudWatch role for the account and region: one setting, the last writer wins."""
        role = IamRole(
            self,
            "account_logging_role",
            name=f"{prefix}-apigateway-logs",
            assume_role_policy=assume_role_policy("apigateway.amazonaws.com"),
        )
        IamRolePolicy(
            self,
            "account_logging_policy",
            name="write-stage-logs",
            role=role.id,
            policy=account_logging_policy(log_group_arns),
        )
        return ApiGatewayAccount(self, "account", cloudwatch_role_arn=role.arn)

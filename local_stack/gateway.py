"""A small API Gateway for local mode, driven by the REST API that Terraform deployed into the emulator.

moto stores API Gateway configuration but does not route execute-api requests, and runs no Lambda code without
Docker. This gateway reads the deployed configuration back with boto3 and serves it: AWS_PROXY methods invoke the
deployed function (in a container process of its own, `local_stack.functions`) with an API Gateway proxy event;
MOCK methods answer with their deployed integration responses; the request validator, gateway responses and the
function's resource policy apply as API Gateway applies them. Nothing here knows the CORS settings: they come
from the deployment.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import shutil
import time
import uuid
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from local_stack.emulator import deployed_function_code
from local_stack.functions import ContainerRetired, DeployedFunction, FunctionContainer, FunctionFailed

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment
    from mypy_boto3_apigateway import APIGatewayClient
    from mypy_boto3_lambda import LambdaClient

MISSING_TOKEN = {"message": "Missing Authentication Token"}
INTERNAL_ERROR = {"message": "Internal server error"}


def function_arn_of(integration: Mapping[str, Any]) -> str:
    """The function an AWS_PROXY integration invokes, from its URI
    (arn:aws:apigateway:<region>:lambda:path/2015-03-31/functions/<function arn>/invocations)."""
    return str(integration["uri"]).split("/functions/", 1)[1].removesuffix("/invocations")


def read_function(lambda_client: LambdaClient, function_arn: str, workdir: Path) -> DeployedFunction:
    """A deployed function with its code unpacked under `workdir`."""
    config = lambda_client.get_function_configuration(FunctionName=function_arn)
    target = workdir / config["FunctionName"]
    shutil.rmtree(target, ignore_errors=True)  # a file the new code no longer has must not linger
    with zipfile.ZipFile(io.BytesIO(deployed_function_code(config["FunctionArn"]))) as archive:
        archive.extractall(target)
    try:
        policy = json.loads(lambda_client.get_policy(FunctionName=function_arn)["Policy"])
    except lambda_client.exceptions.ResourceNotFoundException:
        policy = {}
    return DeployedFunction(
        name=config["FunctionName"],
        arn=config["FunctionArn"],
        handler=config["Handler"],
        code_dir=target,
        environment=config.get("Environment", {}).get("Variables", {}),
        timeout_seconds=config["Timeout"],
        memory_mb=config["MemorySize"],
        resource_policy=policy,
    )


@dataclass(frozen=True)
class Method:
    http_method: str
    integration: Mapping[str, Any]
    required_parameters: tuple[str, ...]  # e.g. ("querystring.userId",)
    validates_parameters: bool


@dataclass(frozen=True)
class DeployedApi:
    """What the gateway serves: one REST API's stages, routes, gateway responses and functions."""

    api_id: str
    region: str
    account_id: str
    stages: frozenset[str]
    routes: Mapping[str, Mapping[str, Method]]  # resource path -> HTTP method -> Method
    gateway_responses: Mapping[str, Mapping[str, Any]]
    functions: Mapping[str, DeployedFunction]  # by ARN


def read_deployed_api(
    apigateway: APIGatewayClient, lambda_client: LambdaClient, api_id: str, workdir: Path
) -> DeployedApi:
    """Read the REST API back from the emulator, as Terraform deployed it."""
    validators = {v["id"]: v for v in apigateway.get_request_validators(restApiId=api_id)["items"]}
    routes: dict[str, dict[str, Method]] = {}
    function_arns = set()
    for resource in apigateway.get_resources(restApiId=api_id, embed=["methods"])["items"]:
        for verb, method in resource.get("resourceMethods", {}).items():
            integration = method.get("methodIntegration", {})
            if integration.get("type") == "AWS_PROXY":
                function_arns.add(function_arn_of(integration))
            validator = validators.get(method.get("requestValidatorId", ""), {})
            routes.setdefault(resource["path"], {})[verb] = Method(
                http_method=verb,
                integration=integration,
                required_parameters=tuple(
                    name.removeprefix("method.request.")
                    for name, required in method.get("requestParameters", {}).items()
                    if required
                ),
                validates_parameters=bool(validator.get("validateRequestParameters")),
            )
    stages = frozenset(s["stageName"] for s in apigateway.get_stages(restApiId=api_id)["item"])
    responses = {str(r["responseType"]): dict(r) for r in apigateway.get_gateway_responses(restApiId=api_id)["items"]}
    functions = {arn: read_function(lambda_client, arn, workdir) for arn in function_arns}
    some_arn = next(iter(function_arns), "arn:aws:lambda:us-east-1:123456789012:function:x")
    _, _, _, region, account_id, *_ = some_arn.split(":")
    return DeployedApi(api_id, region, account_id, stages, routes, responses, functions)


def _static_value(value: str) -> str:
    """API Gateway mapping values: 'literal' in single quotes."""
    return value[1:-1] if len(value) >= 2 and value[0] == value[-1] == "'" else value


class LocalGateway:
    """A WSGI app answering like API Gateway for one deployed REST API.

    `aws_environment` (where AWS is, with which credentials) goes to each function's container; `log` receives
    the functions' log lines and the gateway's own failures.
    """

    def __init__(self, api: DeployedApi, aws_environment: Mapping[str, str], log: Callable[[str], None]) -> None:
        self.api = api
        self._log = log
        self._aws_environment = dict(aws_environment)
        self.containers = {
            arn: FunctionContainer(function, aws_environment, log) for arn, function in api.functions.items()
        }

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        return self.handle(Request(environ))(environ, start_response)

    def close(self) -> None:
        for container in self.containers.values():
            container.stop()

    def replace_function(self, function: DeployedFunction) -> None:
        """Run `function` (new code) from the next invocation on, as Lambda does after an update: the old
        container finishes what it is doing and is stopped."""
        self.api = dataclasses.replace(self.api, functions={**self.api.functions, function.arn: function})
        old = self.containers.get(function.arn)
        self.containers[function.arn] = FunctionContainer(function, self._aws_environment, self._log)
        if old is not None:
            old.retire()

    # --- answers API Gateway gives itself ---------------------------------------------------------------

    def gateway_error(self, response_type: str, status: int, body: Mapping[str, Any]) -> Response:
        """An API Gateway error, with the headers of its gateway response (or the DEFAULT_4XX/5XX fallback)."""
        fallback = "DEFAULT_5XX" if status >= 500 else "DEFAULT_4XX"
        configured = self.api.gateway_responses.get(response_type) or self.api.gateway_responses.get(fallback, {})
        headers = {
            name.removeprefix("gatewayresponse.header."): _static_value(value)
            for name, value in configured.get("responseParameters", {}).items()
        }
        headers.setdefault("x-amzn-ErrorType", response_type)
        return Response(json.dumps(body), status=status, headers=headers, content_type="application/json")

    # --- routing ----------------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        stage, _, path = request.path.lstrip("/").partition("/")
        resource_path = "/" + path.rstrip("/") if path else "/"
        methods = self.api.routes.get(resource_path, {}) if stage in self.api.stages else {}
        method = methods.get(request.method) or methods.get("ANY")
        if method is None:
            return self.gateway_error("MISSING_AUTHENTICATION_TOKEN", 403, MISSING_TOKEN)
        if method.validates_parameters:
            missing = [p.split(".", 1)[1] for p in method.required_parameters if not self._present(request, p)]
            if missing:
                return self.gateway_error(
                    "BAD_REQUEST_PARAMETERS",
                    400,
                    {"message": f"Missing required request parameters: [{', '.join(missing)}]"},
                )
        kind = method.integration.get("type")
        if kind == "MOCK":
            return self.mock(method)
        if kind == "AWS_PROXY":
            return self.proxy(request, stage, resource_path, method)
        return self.gateway_error("DEFAULT_5XX", 500, {"message": f"Integration type {kind} is not emulated"})

    @staticmethod
    def _present(request: Request, parameter: str) -> bool:
        location, _, name = parameter.partition(".")
        if location == "querystring":
            return bool(request.args.get(name, "").strip())
        if location == "header":
            return bool(request.headers.get(name, "").strip())
        return True

    # --- integrations -----------------------------------------------------------------------------------

    def mock(self, method: Method) -> Response:
        template = method.integration.get("requestTemplates", {}).get("application/json", "{}")
        try:
            status = str(json.loads(template).get("statusCode", 200))
        except ValueError:
            status = "200"
        answer = method.integration.get("integrationResponses", {}).get(status, {})
        headers = {
            name.removeprefix("method.response.header."): _static_value(value)
            for name, value in answer.get("responseParameters", {}).items()
        }
        body = answer.get("responseTemplates", {}).get("application/json", "")
        return Response(body, status=int(status), headers=headers, content_type="application/json")

    def proxy(self, request: Request, stage: str, resource_path: str, method: Method) -> Response:
        try:
            return self._proxy(request, stage, resource_path, method)
        except ContainerRetired:  # the code was replaced just now: the new container answers
            return self._proxy(request, stage, resource_path, method)

    def _proxy(self, request: Request, stage: str, resource_path: str, method: Method) -> Response:
        container = self.containers[function_arn_of(method.integration)]
        source_arn = (
            f"arn:aws:execute-api:{self.api.region}:{self.api.account_id}:{self.api.api_id}/{stage}/"
            f"{request.method}{resource_path}"
        )
        if not container.function.allows(source_arn):
            # API Gateway: "Execution failed due to configuration error: Invalid permissions on Lambda function"
            return self.gateway_error("DEFAULT_5XX", 500, INTERNAL_ERROR)
        try:
            result = container.invoke(proxy_event(request, stage, resource_path, self.api))
            return proxy_response(result)
        except (FunctionFailed, AttributeError, KeyError, TypeError, ValueError) as exc:
            # API Gateway answers 502 for a failed invocation or a result it cannot read.
            self._log(f"gateway: {container.function.name} failed: {exc}")
            return self.gateway_error("DEFAULT_5XX", 502, INTERNAL_ERROR)


def proxy_response(result: Mapping[str, Any]) -> Response:
    """The HTTP response a Lambda proxy integration result stands for."""
    headers = dict(result.get("headers") or {})
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers[name] = ", ".join(values)
    body: str | bytes = result.get("body") or ""
    if result.get("isBase64Encoded"):
        body = base64.b64decode(body)
    return Response(body, status=int(result["statusCode"]), headers=headers)


def proxy_event(request: Request, stage: str, resource_path: str, api: DeployedApi) -> dict[str, Any]:
    """The Lambda proxy integration event (payload format 1.0) API Gateway would send for `request`."""
    query = {k: request.args.getlist(k) for k in request.args}
    headers = {name: request.headers.getlist(name) for name, _ in request.headers.items()}
    body = request.get_data(as_text=True)
    return {
        "resource": resource_path,
        "path": resource_path,
        "httpMethod": request.method,
        "headers": {k: v[-1] for k, v in headers.items()} or None,
        "multiValueHeaders": headers or None,
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource_path,
            "httpMethod": request.method,
            "path": f"/{stage}{resource_path}",
            "stage": stage,
            "requestId": str(uuid.uuid4()),
            "requestTimeEpoch": int(time.time() * 1000),
            "accountId": api.account_id,
            "apiId": api.api_id,
            "identity": {"sourceIp": request.remote_addr, "userAgent": request.user_agent.string},
            "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
        },
        "body": body or None,
        "isBase64Encoded": False,
    }

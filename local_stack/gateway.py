"""A small API Gateway for local mode, driven by the REST API that Terraform deployed into the emulator.

moto stores API Gateway configuration but does not route execute-api requests, and runs no Lambda code without
Docker. This gateway reads the deployed configuration back with boto3 and serves it: AWS_PROXY methods run the
deployed function's handler in this process with an API Gateway proxy event; MOCK methods answer with their
deployed integration responses; the request validator, gateway responses and the function's resource policy
apply as API Gateway applies them. Nothing here knows the CORS settings: they come from the deployment.
"""

from __future__ import annotations

import base64
import fnmatch
import importlib.util
import io
import json
import os
import sys
import threading
import time
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.client import BaseClient
from werkzeug.wrappers import Request, Response

from local_stack.emulator import deployed_function_code

MISSING_TOKEN = {"message": "Missing Authentication Token"}


@dataclass
class LambdaFunction:
    """A deployed function loaded for in-process invocation (this process acts as its one container)."""

    name: str
    arn: str
    handler: Callable[[dict, Any], dict]
    environment: dict[str, str]
    resource_policy: dict
    lock: threading.Lock = field(default_factory=threading.Lock)

    def allows(self, source_arn: str) -> bool:
        """Whether the function's resource policy lets API Gateway invoke it for `source_arn`."""
        for statement in self.resource_policy.get("Statement", []):
            principal = statement.get("Principal", {})
            service = principal.get("Service") if isinstance(principal, dict) else principal
            if statement.get("Effect") != "Allow" or service != "apigateway.amazonaws.com":
                continue
            pattern = statement.get("Condition", {}).get("ArnLike", {}).get("AWS:SourceArn")
            if pattern is None or fnmatch.fnmatchcase(source_arn, pattern):
                return True
        return False


def load_function(lambda_client: BaseClient, function_arn: str, workdir: Path) -> LambdaFunction:
    """Unpack the deployed code and import its handler module under a private name."""
    config = lambda_client.get_function_configuration(FunctionName=function_arn)
    target = workdir / config["FunctionName"]
    with zipfile.ZipFile(io.BytesIO(deployed_function_code(config["FunctionArn"]))) as archive:
        archive.extractall(target)
    module_name, _, attribute = config["Handler"].rpartition(".")
    spec = importlib.util.spec_from_file_location(f"deployed_{uuid.uuid4().hex}", target / f"{module_name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    try:
        policy = json.loads(lambda_client.get_policy(FunctionName=function_arn)["Policy"])
    except lambda_client.exceptions.ResourceNotFoundException:
        policy = {}
    return LambdaFunction(
        name=config["FunctionName"], arn=config["FunctionArn"], handler=getattr(module, attribute),
        environment=config.get("Environment", {}).get("Variables", {}), resource_policy=policy,
    )


@dataclass
class Method:
    http_method: str
    integration: dict
    required_parameters: list[str]  # e.g. ["querystring.userId"]
    validates_parameters: bool


@dataclass
class DeployedApi:
    """What the gateway serves: one REST API's stages, routes, gateway responses and functions."""

    api_id: str
    region: str
    account_id: str
    stages: set[str]
    routes: dict[str, dict[str, Method]]  # resource path -> HTTP method -> Method
    gateway_responses: dict[str, dict]
    functions: dict[str, LambdaFunction]


def read_deployed_api(apigateway: BaseClient, lambda_client: BaseClient, api_id: str, workdir: Path) -> DeployedApi:
    """Read the REST API back from the emulator, as Terraform deployed it."""
    validators = {v["id"]: v for v in apigateway.get_request_validators(restApiId=api_id)["items"]}
    routes: dict[str, dict[str, Method]] = {}
    function_arns = set()
    for resource in apigateway.get_resources(restApiId=api_id, embed=["methods"])["items"]:
        for verb, method in resource.get("resourceMethods", {}).items():
            integration = method.get("methodIntegration", {})
            if integration.get("type") == "AWS_PROXY":
                function_arns.add(integration["uri"].split("/functions/")[1].removesuffix("/invocations"))
            validator = validators.get(method.get("requestValidatorId"), {})
            routes.setdefault(resource["path"], {})[verb] = Method(
                http_method=verb,
                integration=integration,
                required_parameters=[name.removeprefix("method.request.")
                                     for name, required in method.get("requestParameters", {}).items() if required],
                validates_parameters=bool(validator.get("validateRequestParameters")),
            )
    stages = {s["stageName"] for s in apigateway.get_stages(restApiId=api_id)["item"]}
    responses = {r["responseType"]: r for r in apigateway.get_gateway_responses(restApiId=api_id)["items"]}
    functions = {arn: load_function(lambda_client, arn, workdir) for arn in function_arns}
    some_arn = next(iter(function_arns), "arn:aws:lambda:us-east-1:123456789012:function:x")
    _, _, _, region, account_id, *_ = some_arn.split(":")
    return DeployedApi(api_id, region, account_id, stages, routes, responses, functions)


def _static_value(value: str) -> str:
    """API Gateway mapping values: 'literal' in single quotes."""
    return value[1:-1] if len(value) >= 2 and value[0] == value[-1] == "'" else value


class LocalGateway:
    """A WSGI app answering like API Gateway for one deployed REST API."""

    def __init__(self, api: DeployedApi, endpoint_environment: dict[str, str]) -> None:
        self.api = api
        # The process is the function's container: its deployed environment plus where AWS is.
        for function in api.functions.values():
            os.environ.update(endpoint_environment)
            os.environ.update(function.environment)

    def __call__(self, environ, start_response):
        return self.handle(Request(environ))(environ, start_response)

    # --- answers API Gateway gives itself ---------------------------------------------------------------

    def gateway_error(self, response_type: str, status: int, body: dict) -> Response:
        """An API Gateway error, with the headers of its gateway response (or the DEFAULT_4XX/5XX fallback)."""
        fallback = "DEFAULT_5XX" if status >= 500 else "DEFAULT_4XX"
        configured = self.api.gateway_responses.get(response_type) or self.api.gateway_responses.get(fallback, {})
        headers = {name.removeprefix("gatewayresponse.header."): _static_value(value)
                   for name, value in configured.get("responseParameters", {}).items()}
        headers.setdefault("x-amzn-ErrorType", response_type)
        return Response(json.dumps(body), status=status, headers=headers, content_type="application/json")

    # --- routing ----------------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        stage, _, path = request.path.lstrip("/").partition("/")
        resource_path = "/" + path.rstrip("/") if path else "/"
        methods = self.api.routes.get(resource_path) if stage in self.api.stages else None
        method = (methods or {}).get(request.method) or (methods or {}).get("ANY")
        if method is None:
            return self.gateway_error("MISSING_AUTHENTICATION_TOKEN", 403, MISSING_TOKEN)
        if method.validates_parameters:
            missing = [p.split(".", 1)[1] for p in method.required_parameters if not self._present(request, p)]
            if missing:
                return self.gateway_error("BAD_REQUEST_PARAMETERS", 400, {
                    "message": f"Missing required request parameters: [{', '.join(missing)}]"})
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
        headers = {name.removeprefix("method.response.header."): _static_value(value)
                   for name, value in answer.get("responseParameters", {}).items()}
        body = answer.get("responseTemplates", {}).get("application/json", "")
        return Response(body, status=int(status), headers=headers, content_type="application/json")

    def proxy(self, request: Request, stage: str, resource_path: str, method: Method) -> Response:
        arn = method.integration["uri"].split("/functions/")[1].removesuffix("/invocations")
        function = self.api.functions[arn]
        source_arn = (f"arn:aws:execute-api:{self.api.region}:{self.api.account_id}:{self.api.api_id}/{stage}/"
                      f"{request.method}{resource_path}")
        if not function.allows(source_arn):
            # API Gateway: "Execution failed due to configuration error: Invalid permissions on Lambda function"
            return self.gateway_error("DEFAULT_5XX", 500, {"message": "Internal server error"})
        event = proxy_event(request, stage, resource_path, self.api)
        try:
            with function.lock:
                result = function.handler(event, LambdaContext(function))
            headers = dict(result.get("headers") or {})
            for name, values in (result.get("multiValueHeaders") or {}).items():
                headers[name] = ", ".join(values)
            body = result.get("body") or ""
            if result.get("isBase64Encoded"):
                body = base64.b64decode(body)
            return Response(body, status=int(result["statusCode"]), headers=headers)
        except Exception as exc:  # noqa: BLE001 - API Gateway answers 502 for a failed or malformed invocation
            print(f"gateway: {function.name} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            return self.gateway_error("DEFAULT_5XX", 502, {"message": "Internal server error"})


@dataclass
class LambdaContext:
    """The parts of Lambda's context object handlers commonly read."""

    function: LambdaFunction
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def function_name(self) -> str:
        return self.function.name

    @property
    def invoked_function_arn(self) -> str:
        return self.function.arn


def proxy_event(request: Request, stage: str, resource_path: str, api: DeployedApi) -> dict:
    """The Lambda proxy integration event (payload format 1.0) API Gateway would send for `request`."""
    query = {k: request.args.getlist(k) for k in request.args}
    headers = {k: request.headers.getlist(k) for k in request.headers.keys()}
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


"""The get-user function, its permissions, and the REST API in front of it, as synthesized."""

import json
import zipfile

import pytest

from modules.api import staged_function_source

SITE_ORIGIN_EXPRESSION = 'format("https://%s", aws_cloudfront_distribution.{}.domain_name)'


def distribution_origin(stack) -> str:
    (logical_id,) = stack.resources("aws_cloudfront_distribution")
    return "${" + SITE_ORIGIN_EXPRESSION.format(logical_id) + "}"


def quoted_distribution_origin(stack) -> str:
    (logical_id,) = stack.resources("aws_cloudfront_distribution")
    return "${format(\"'%s'\", " + SITE_ORIGIN_EXPRESSION.format(logical_id) + ")}"


def all_policy_documents(stack) -> list[dict]:
    documents = [json.loads(p["policy"]) for p in stack.resources("aws_iam_role_policy").values()]
    documents += [json.loads(p["policy"]) for p in stack.resources("aws_iam_policy").values()]
    return documents


# --- the function -------------------------------------------------------------------------------------------


def test_function_runs_python_from_the_packaged_asset(prod):
    function = prod.only("aws_lambda_function")
    assert function["runtime"] == "python3.12"
    assert function["handler"] == "handler.lambda_handler"
    assert function["filename"].startswith("assets/")
    assert function["filename"].endswith("archive.zip")
    assert function["source_code_hash"] in function["filename"]


def test_function_memory_and_timeout_come_from_config(prod):
    function = prod.only("aws_lambda_function")
    assert (function["memory_size"], function["timeout"]) == (256, 5)


def test_function_environment_names_its_table_and_the_cors_answer(prod):
    variables = prod.only("aws_lambda_function")["environment"]["variables"]
    assert variables == {
        "TABLE_NAME": prod.ref("aws_dynamodb_table", "name"),
        "ALLOWED_ORIGIN": distribution_origin(prod),
        "ALLOWED_METHODS": "GET,OPTIONS",
        "ALLOWED_HEADERS": "Content-Type,Authorization",
    }


def test_function_answers_cors_with_the_values_of_the_preflight(prod):
    variables = prod.only("aws_lambda_function")["environment"]["variables"]
    preflight = prod.only("aws_api_gateway_integration_response")["response_parameters"]
    assert preflight["method.response.header.Access-Control-Allow-Methods"] == f"'{variables['ALLOWED_METHODS']}'"
    assert preflight["method.response.header.Access-Control-Allow-Headers"] == f"'{variables['ALLOWED_HEADERS']}'"


def test_packaged_source_holds_only_the_source_files(prod):
    function = prod.only("aws_lambda_function")
    with zipfile.ZipFile(prod.directory / function["filename"]) as archive:
        assert archive.namelist() == ["handler.py"]


def test_staged_source_leaves_bytecode_caches_out(tmp_path, monkeypatch):
    source = tmp_path / "functions" / "demo"
    (source / "__pycache__").mkdir(parents=True)
    (source / "app.py").write_text("x = 1\n")
    (source / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"\0")
    monkeypatch.setattr("modules.api.FUNCTIONS_DIR", tmp_path / "functions")
    staged = staged_function_source("demo", tmp_path / "staging")
    assert sorted(p.name for p in (tmp_path / "staging" / "demo").rglob("*")) == ["app.py"]
    assert staged == str(tmp_path / "staging" / "demo")


def test_function_has_its_own_log_group_with_retention(prod):
    (group,) = [
        g
        for g in prod.resources("aws_cloudwatch_log_group").values()
        if g["name"] == "/aws/lambda/three-tier-prod-get-user"
    ]
    assert group["retention_in_days"] == 365
    assert prod.only("aws_lambda_function")["depends_on"] == [
        f"aws_cloudwatch_log_group.{k}"
        for k, g in prod.resources("aws_cloudwatch_log_group").items()
        if g["name"] == "/aws/lambda/three-tier-prod-get-user"
    ]


# --- permissions --------------------------------------------------------------------------------------------


def test_role_is_trusted_only_by_lambda(prod):
    trust = json.loads(prod.only("aws_iam_role")["assume_role_policy"])
    assert trust["Statement"] == [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ]


def test_role_has_no_managed_policies(prod):
    assert prod.resources("aws_iam_role_policy_attachment") == {}
    assert prod.resources("aws_iam_policy_attachment") == {}
    assert "managed_policy_arns" not in prod.only("aws_iam_role")


def test_function_policy_grants_exactly_getitem_and_its_own_logs(prod):
    (logs_id,) = [
        k for k, g in prod.resources("aws_cloudwatch_log_group").items() if g["name"].startswith("/aws/lambda/")
    ]
    policy = prod.only("aws_iam_role_policy")
    assert policy["role"] == prod.ref("aws_iam_role", "id")
    grants = {
        (action, resource)
        for statement in json.loads(policy["policy"])["Statement"]
        for action in statement["Action"]
        for resource in statement["Resource"]
        if statement["Effect"] == "Allow"
    }
    assert grants == {
        ("dynamodb:GetItem", prod.ref("aws_dynamodb_table", "arn")),
        ("logs:CreateLogStream", f"${{aws_cloudwatch_log_group.{logs_id}.arn}}:*"),
        ("logs:PutLogEvents", f"${{aws_cloudwatch_log_group.{logs_id}.arn}}:*"),
    }


@pytest.mark.parametrize("stack_name", ["prod", "local"])
def test_no_policy_anywhere_has_a_wildcard_resource_or_action(synthesized, stack_name):
    for document in all_policy_documents(synthesized[stack_name]):
        for statement in document["Statement"]:
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert "*" not in resources
            assert all(not a.endswith("*") for a in actions)


# --- the REST API -------------------------------------------------------------------------------------------


def test_rest_api_is_regional_and_replaced_before_destroyed(prod):
    api = prod.only("aws_api_gateway_rest_api")
    assert api["endpoint_configuration"] == {"types": ["REGIONAL"]}
    assert api["lifecycle"] == {"create_before_destroy": True}


def test_users_resource_hangs_off_the_root(prod):
    resource = prod.only("aws_api_gateway_resource")
    assert resource["path_part"] == "users"
    assert resource["parent_id"] == prod.ref("aws_api_gateway_rest_api", "root_resource_id")


def methods(stack) -> dict[str, dict]:
    return {m["http_method"]: m for m in stack.resources("aws_api_gateway_method").values()}


def integrations(stack) -> dict[str, dict]:
    by_method = {
        f"${{aws_api_gateway_method.{k}.http_method}}": m["http_method"]
        for k, m in stack.resources("aws_api_gateway_method").items()
    }
    return {by_method[i["http_method"]]: i for i in stack.resources("aws_api_gateway_integration").values()}


def test_get_requires_user_id_enforced_by_a_request_validator(prod):
    get = methods(prod)["GET"]
    assert get["request_parameters"] == {"method.request.querystring.userId": True}
    assert get["request_validator_id"] == prod.ref("aws_api_gateway_request_validator", "id")
    assert prod.only("aws_api_gateway_request_validator")["validate_request_parameters"] is True


def test_get_is_a_lambda_proxy_integration(prod):
    integration = integrations(prod)["GET"]
    assert integration["type"] == "AWS_PROXY"
    assert integration["integration_http_method"] == "POST"
    assert integration["uri"] == prod.ref("aws_lambda_function", "invoke_arn")


def test_options_is_a_mock_answering_200(prod):
    integration = integrations(prod)["OPTIONS"]
    assert integration["type"] == "MOCK"
    assert integration["request_templates"] == {"application/json": '${jsonencode({"statusCode" = 200})}'}
    assert prod.only("aws_api_gateway_method_response")["status_code"] == "200"


def test_preflight_answers_with_the_site_origin_methods_and_headers(prod):
    response = prod.only("aws_api_gateway_integration_response")
    assert response["response_parameters"] == {
        "method.response.header.Access-Control-Allow-Origin": quoted_distribution_origin(prod),
        "method.response.header.Access-Control-Allow-Methods": "'GET,OPTIONS'",
        "method.response.header.Access-Control-Allow-Headers": "'Content-Type,Authorization'",
    }


def test_gateway_errors_carry_the_allow_origin_header(prod):
    responses = {r["response_type"]: r for r in prod.resources("aws_api_gateway_gateway_response").values()}
    assert set(responses) == {"DEFAULT_4XX", "DEFAULT_5XX"}
    for response in responses.values():
        assert response["response_parameters"]["gatewayresponse.header.Access-Control-Allow-Origin"] == (
            quoted_distribution_origin(prod)
        )


def test_local_stack_allows_exactly_the_local_site_origin(local):
    assert local.only("aws_lambda_function")["environment"]["variables"]["ALLOWED_ORIGIN"] == "http://127.0.0.1:8199"
    response = local.only("aws_api_gateway_integration_response")
    assert response["response_parameters"]["method.response.header.Access-Control-Allow-Origin"] == (
        "'http://127.0.0.1:8199'"
    )


def test_no_wildcard_cors_origin_in_prod(prod):
    assert "Access-Control-Allow-Origin\": \"'*'" not in prod.text
    assert prod.only("aws_lambda_function")["environment"]["variables"]["ALLOWED_ORIGIN"] != "*"


def test_deployment_is_replaced_whenever_the_api_definition_changes(prod):
    deployment = prod.only("aws_api_gateway_deployment")
    assert deployment["lifecycle"] == {"create_before_destroy": True}
    trigger = deployment["triggers"]["redeployment"]
    assert trigger.startswith("${sha1(jsonencode(")
    for resource_type in (
        "aws_api_gateway_resource",
        "aws_api_gateway_method",
        "aws_api_gateway_integration",
        "aws_api_gateway_method_response",
        "aws_api_gateway_integration_response",
        "aws_api_gateway_gateway_response",
        "aws_api_gateway_request_validator",
    ):
        for logical_id in prod.resources(resource_type):
            assert f"{resource_type}.{logical_id}.id" in trigger, f"{resource_type}.{logical_id} is not hashed"
    assert "Access-Control-Allow-Origin" in trigger
    assert "AWS_PROXY" in trigger


def test_stage_has_json_access_logs_with_retention(prod):
    stage = prod.only("aws_api_gateway_stage")
    assert stage["stage_name"] == "prod"
    assert stage["deployment_id"] == prod.ref("aws_api_gateway_deployment", "id")
    # As API Gateway writes it: $context.error.messageString comes quoted, the other values go in as they are.
    log_format = json.loads(stage["access_log_settings"]["format"].replace("$context.error.messageString", '""'))
    assert log_format["requestId"] == "$context.requestId"
    assert log_format["status"] == "$context.status"
    (group_id,) = [
        k
        for k, g in prod.resources("aws_cloudwatch_log_group").items()
        if g["name"] == "/aws/apigateway/three-tier-prod-api/prod"
    ]
    assert stage["access_log_settings"]["destination_arn"] == f"${{aws_cloudwatch_log_group.{group_id}.arn}}"
    assert prod.resources("aws_cloudwatch_log_group")[group_id]["retention_in_days"] == 365


def test_stage_is_throttled_with_metrics_and_error_logging(prod):
    settings = prod.only("aws_api_gateway_method_settings")
    assert settings["method_path"] == "*/*"
    assert settings["settings"] == {
        "metrics_enabled": True,
        "throttling_burst_limit": 50,
        "throttling_rate_limit": 100,
        "logging_level": "ERROR",
        "data_trace_enabled": False,
    }


def test_stage_is_traced(prod):
    assert prod.only("aws_api_gateway_stage")["xray_tracing_enabled"] is True


def test_preflight_method_is_validated_too(prod):
    assert methods(prod)["OPTIONS"]["request_validator_id"] == prod.ref("aws_api_gateway_request_validator", "id")


def test_only_this_api_may_invoke_the_function_for_get_users(prod):
    permission = prod.only("aws_lambda_permission")
    assert permission["principal"] == "apigateway.amazonaws.com"
    assert permission["action"] == "lambda:InvokeFunction"
    assert permission["function_name"] == prod.ref("aws_lambda_function", "function_name")
    assert permission["source_arn"] == prod.ref("aws_api_gateway_rest_api", "execution_arn") + "/prod/GET/users"

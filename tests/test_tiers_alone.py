"""Each tier synthesized alone, in a test stack of its own (CDKTF's Testing helpers): it takes what it needs as
plain values and gives back what it makes, with no other tier present."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import cdktf
from cdktf import TerraformStack
from cdktf_cdktf_provider_aws.provider import AwsProvider
from constructs import Construct

from contract.config import AlarmSettings, ApiSettings, DataSettings, FunctionSettings, SiteSettings
from contract.headers import NO_INLINE_CODE
from modules.alarms import ErrorAlarms
from modules.api import UserApi
from modules.data import UserTable
from modules.frontend import SiteApi, StaticSite

TABLE_ARN = "arn:aws:dynamodb:eu-north-1:123456789012:table/users"
API = SiteApi(
    origin="https://a1.execute-api.eu-north-1.amazonaws.com",
    domain="a1.execute-api.eu-north-1.amazonaws.com",
    origin_path="/prod",
    path="/users",
)


def synth_alone(build: Callable[[Construct], Any]) -> dict[str, Any]:
    """`build` in a stack of its own with only a provider beside it; its Terraform JSON."""
    stack = TerraformStack(cdktf.Testing.app(), "alone")
    AwsProvider(stack, "aws", region="eu-north-1")
    build(stack)
    synthesized: dict[str, Any] = json.loads(cdktf.Testing.synth(stack))
    return synthesized


def resource_types(config: dict[str, Any]) -> set[str]:
    return set(config.get("resource", {}))


def test_the_data_tier_alone_is_the_table_and_its_seed_item():
    config = synth_alone(lambda scope: UserTable(scope, "UserTable", table_name="users", settings=DataSettings()))
    assert resource_types(config) == {"aws_dynamodb_table", "aws_dynamodb_table_item"}


def test_the_data_tier_grants_reading_single_items_and_nothing_else():
    grants: list[dict[str, Any]] = []
    synth_alone(
        lambda scope: grants.append(
            UserTable(scope, "UserTable", table_name="users", settings=DataSettings()).grant_read_item()
        )
    )
    (grant,) = grants
    assert grant["Effect"] == "Allow"
    assert grant["Action"] == ["dynamodb:GetItem"]
    (resource,) = grant["Resource"]
    assert resource.startswith("${TfToken[")  # the table's ARN, resolved by Terraform


def test_the_logic_tier_alone_takes_the_table_and_the_origin_as_values():
    statement = {"Sid": "ReadUsers", "Effect": "Allow", "Action": ["dynamodb:GetItem"], "Resource": [TABLE_ARN]}
    config = synth_alone(
        lambda scope: UserApi(
            scope,
            "UserApi",
            name_prefix="t",
            region="eu-north-1",
            function=FunctionSettings(),
            api=ApiSettings(),
            table_name="users",
            table_statement=statement,
            allowed_origin="https://example.com",
        )
    )
    assert "aws_s3_bucket" not in resource_types(config)
    assert "aws_dynamodb_table" not in resource_types(config)
    (function,) = config["resource"]["aws_lambda_function"].values()
    assert function["environment"]["variables"]["TABLE_NAME"] == "users"
    assert function["environment"]["variables"]["ALLOWED_ORIGIN"] == "https://example.com"
    (policy,) = config["resource"]["aws_iam_role_policy"].values()
    assert json.loads(policy["policy"])["Statement"][0] == statement


def test_the_presentation_tier_alone_takes_the_api_as_values():
    config = synth_alone(
        lambda scope: StaticSite(
            scope, "StaticSite", name_prefix="t", settings=SiteSettings(), api=API, inline_code=NO_INLINE_CODE
        )
    )
    assert "aws_lambda_function" not in resource_types(config)
    (policy,) = config["resource"]["aws_cloudfront_response_headers_policy"].values()
    csp = policy["security_headers_config"]["content_security_policy"]["content_security_policy"]
    assert f"connect-src 'self' {API.origin}" in csp


def test_the_presentation_tier_alone_routes_the_api_path_in_same_origin_mode():
    config = synth_alone(
        lambda scope: StaticSite(
            scope,
            "StaticSite",
            name_prefix="t",
            settings=SiteSettings(api_same_origin=True),
            api=API,
            inline_code=NO_INLINE_CODE,
        )
    )
    (distribution,) = config["resource"]["aws_cloudfront_distribution"].values()
    origins = {origin["origin_id"]: origin for origin in distribution["origin"]}
    assert origins["api"]["domain_name"] == API.domain
    assert origins["api"]["origin_path"] == API.origin_path
    (behavior,) = distribution["ordered_cache_behavior"]
    assert behavior["path_pattern"] == API.path


def test_the_alarms_alone_watch_the_names_they_are_given():
    config = synth_alone(
        lambda scope: ErrorAlarms(
            scope,
            "ErrorAlarms",
            name_prefix="t",
            region="eu-north-1",
            settings=AlarmSettings(enabled=True),
            function_name="get-user",
            api_name="users-api",
            stage_name="prod",
        )
    )
    dimensions = [alarm["dimensions"] for alarm in config["resource"]["aws_cloudwatch_metric_alarm"].values()]
    assert {"FunctionName": "get-user"} in dimensions
    assert {"ApiName": "users-api", "Stage": "prod"} in dimensions

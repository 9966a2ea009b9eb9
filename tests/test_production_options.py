"""Production options from the articles, each off by default: error alarms, a custom domain, a same-origin API."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from contract.config import AlarmSettings, ConfigError, DomainSettings, load_environment
from contract.headers import content_security_policy
from modules.frontend import ALL_VIEWER_EXCEPT_HOST_HEADER_POLICY_ID, CACHING_DISABLED_POLICY_ID
from tests.conftest import synthesize, validation_errors

DOMAIN = DomainSettings(domain_name="users.example.com", hosted_zone_id="Z0123456789ABCDEFGHIJ")


@pytest.fixture(scope="module")
def variants(tmp_path_factory):
    """The prod stack with each option on, synthesized once."""
    prod = load_environment("prod", {})
    settings = {
        "alarms": replace(prod, alarms=AlarmSettings(enabled=True, email="ops@example.com")),
        "domain": replace(prod, domain=DOMAIN),
        "same_origin": replace(prod, site=replace(prod.site, api_same_origin=True)),
    }
    return {name: synthesize([s], tmp_path_factory.mktemp(name))["prod"] for name, s in settings.items()}


def test_every_option_is_off_by_default(prod):
    for resource_type in ("aws_sns_topic", "aws_cloudwatch_metric_alarm", "aws_acm_certificate", "aws_route53_record"):
        assert prod.resources(resource_type) == {}
    distribution = prod.only("aws_cloudfront_distribution")
    assert "ordered_cache_behavior" not in distribution
    assert "aliases" not in distribution


# --- alarms ---------------------------------------------------------------------------------------------------


def test_alarms_watch_function_errors_and_api_5xx(variants):
    stack = variants["alarms"]
    alarms = {a["metric_name"]: a for a in stack.resources("aws_cloudwatch_metric_alarm").values()}
    assert set(alarms) == {"Errors", "5XXError"}
    assert alarms["Errors"]["namespace"] == "AWS/Lambda"
    assert alarms["Errors"]["dimensions"] == {"FunctionName": stack.ref("aws_lambda_function", "function_name")}
    assert alarms["5XXError"]["namespace"] == "AWS/ApiGateway"
    assert alarms["5XXError"]["dimensions"] == {
        "ApiName": stack.ref("aws_api_gateway_rest_api", "name"),
        "Stage": stack.ref("aws_api_gateway_stage", "stage_name"),
    }
    for alarm in alarms.values():
        assert (alarm["statistic"], alarm["threshold"], alarm["period"]) == ("Sum", 1, 60)
        assert alarm["comparison_operator"] == "GreaterThanOrEqualToThreshold"


def test_alarms_notify_only_the_stacks_own_encrypted_topic(variants):
    stack = variants["alarms"]
    topic = stack.ref("aws_sns_topic", "arn")
    for alarm in stack.resources("aws_cloudwatch_metric_alarm").values():
        assert alarm["alarm_actions"] == [topic]
        assert alarm["ok_actions"] == [topic]
    assert stack.only("aws_sns_topic")["kms_master_key_id"] == stack.ref("aws_kms_key", "arn")


def test_alarm_email_subscribes_to_the_topic(variants):
    subscription = variants["alarms"].only("aws_sns_topic_subscription")
    assert (subscription["protocol"], subscription["endpoint"]) == ("email", "ops@example.com")


def test_alarm_settings_are_validated():
    with pytest.raises(ConfigError, match=r"alarms\.period_seconds: 45 .*a multiple of 60"):
        AlarmSettings(period_seconds=45)
    with pytest.raises(ConfigError, match=r"alarms\.email: 'ops' .*an e-mail address"):
        AlarmSettings(email="ops")


# --- custom domain --------------------------------------------------------------------------------------------


def test_certificate_is_requested_in_us_east_1_and_validated_by_dns(variants):
    stack = variants["domain"]
    providers = {p.get("alias", "default"): p for p in stack.config["provider"]["aws"]}
    assert providers["us_east_1"]["region"] == "us-east-1"
    certificate = stack.only("aws_acm_certificate")
    assert (certificate["domain_name"], certificate["validation_method"]) == ("users.example.com", "DNS")
    assert certificate["provider"] == "aws.us_east_1"
    records = [r for r in stack.resources("aws_route53_record").values() if "for_each" in r]
    (validation_record,) = records
    assert validation_record["zone_id"] == "Z0123456789ABCDEFGHIJ"
    assert stack.only("aws_acm_certificate_validation")["provider"] == "aws.us_east_1"


def test_distribution_serves_the_domain_with_sni_and_tls_1_2(variants):
    stack = variants["domain"]
    distribution = stack.only("aws_cloudfront_distribution")
    assert distribution["aliases"] == ["users.example.com"]
    assert distribution["viewer_certificate"] == {
        "acm_certificate_arn": stack.ref("aws_acm_certificate_validation", "certificate_arn"),
        "ssl_support_method": "sni-only",
        "minimum_protocol_version": "TLSv1.2_2021",
    }


def test_alias_a_and_aaaa_records_point_at_the_distribution(variants):
    stack = variants["domain"]
    aliases = {r["type"]: r for r in stack.resources("aws_route53_record").values() if "alias" in r}
    assert set(aliases) == {"A", "AAAA"}
    for record in aliases.values():
        assert record["name"] == "users.example.com"
        assert record["alias"]["name"] == stack.ref("aws_cloudfront_distribution", "domain_name")
        assert record["alias"]["zone_id"] == stack.ref("aws_cloudfront_distribution", "hosted_zone_id")


def test_the_domain_becomes_the_only_cors_origin(variants):
    stack = variants["domain"]
    assert stack.only("aws_lambda_function")["environment"]["variables"]["ALLOWED_ORIGIN"] == (
        "https://users.example.com"
    )
    response = stack.only("aws_api_gateway_integration_response")
    assert response["response_parameters"]["method.response.header.Access-Control-Allow-Origin"] == (
        "'https://users.example.com'"
    )
    assert "cloudfront.net" not in json.dumps(stack.resources("aws_api_gateway_gateway_response"))
    assert stack.config["output"]["site_url"]["value"] == "https://users.example.com/"


def test_domain_settings_are_validated():
    with pytest.raises(ConfigError, match=r"domain\.domain_name: 'Not A Domain'"):
        DomainSettings(domain_name="Not A Domain", hosted_zone_id="Z0123456789ABCDEFGHIJ")
    with pytest.raises(ConfigError, match=r"domain\.hosted_zone_id: 'zone'"):
        DomainSettings(domain_name="example.com", hosted_zone_id="zone")


# --- same-origin API ------------------------------------------------------------------------------------------


def test_same_origin_adds_the_api_stage_as_a_second_origin(variants):
    stack = variants["same_origin"]
    origins = {o["origin_id"]: o for o in stack.only("aws_cloudfront_distribution")["origin"]}
    assert set(origins) == {"site-bucket", "api"}
    api = origins["api"]
    assert api["domain_name"] == stack.ref("aws_api_gateway_rest_api", "id") + ".execute-api.eu-north-1.amazonaws.com"
    assert api["origin_path"] == "/prod"
    assert api["custom_origin_config"]["origin_protocol_policy"] == "https-only"


def test_same_origin_routes_the_api_path_uncached(variants):
    (behavior,) = variants["same_origin"].only("aws_cloudfront_distribution")["ordered_cache_behavior"]
    assert behavior["path_pattern"] == "/users"
    assert behavior["target_origin_id"] == "api"
    assert behavior["allowed_methods"] == ["GET", "HEAD", "OPTIONS"]
    assert behavior["cache_policy_id"] == CACHING_DISABLED_POLICY_ID
    assert behavior["origin_request_policy_id"] == ALL_VIEWER_EXCEPT_HOST_HEADER_POLICY_ID


def test_same_origin_page_calls_a_relative_url_and_csp_allows_only_self(variants):
    stack = variants["same_origin"]
    assert stack.config["output"]["page_api_url"]["value"] == "/users"
    csp = stack.only("aws_cloudfront_response_headers_policy")["security_headers_config"]["content_security_policy"][
        "content_security_policy"
    ]
    assert csp == content_security_policy(None)
    assert "connect-src 'self';" in csp


def test_cross_origin_stays_the_default(prod):
    assert prod.config["output"]["page_api_url"]["value"] == prod.config["output"]["api_url"]["value"]


@pytest.mark.parametrize("variant", ["alarms", "domain", "same_origin"])
def test_each_option_is_valid_terraform(variants, cli_config, variant):
    assert validation_errors(variants[variant].directory, cli_config) == []

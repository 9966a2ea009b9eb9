"""AWS WAF (`waf=WafSettings(enabled=True)`): a CLOUDFRONT web ACL on the distribution, created through the
us-east-1 provider, and a REGIONAL one on the API stage; AWS's managed rule groups and a per-IP rate limit, with
metrics; logs to `aws-waf-logs-…` groups in each ACL's region. In same-origin mode (prod_all) the API's ACL admits
only the distribution's requests, and the site's ACL judges every visitor. Synthesized here, planned offline and
checked by checkov with prod_all (tests/test_real_aws_rules.py, tests/test_security.py), and applied into the
emulator below."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from cdktf import App, LocalBackend, TerraformStack
from cdktf_cdktf_provider_aws.provider import AwsProvider

from contract.config import (
    FAKE_CREDENTIALS,
    ApiSettings,
    ConfigError,
    EmulatorSettings,
    FunctionSettings,
    WafSettings,
    load_environment,
)
from modules.api import UserApi
from modules.firewall import MANAGED_RULE_GROUPS, ORIGIN_HEADER, ORIGIN_RULE, RATE_RULE, WebFirewall
from modules.stack import local_provider_options
from terraform_cli import AWS_PROVIDER_CONSTRAINT, StackWorkspace, TerraformError
from tests.conftest import synthesize


@pytest.fixture(scope="module")
def cross_origin(tmp_path_factory):
    """Prod with WAF and its logs, the page calling the API on its own origin (the default)."""
    settings = replace(load_environment("prod", {}), waf=WafSettings(enabled=True, logging=True))
    (stack,) = synthesize([settings], tmp_path_factory.mktemp("cross-origin-waf")).values()
    return stack


@pytest.fixture(params=["site, same-origin", "site, cross-origin", "api, cross-origin"])
def visitor_acl(request, prod_all, cross_origin) -> dict[str, Any]:
    """Each web ACL that judges the visitor: the site's in either mode, the API's when the page calls it directly."""
    acl, mode = request.param.split(", ")
    stack = prod_all if mode == "same-origin" else cross_origin
    return web_acls(stack)["CLOUDFRONT" if acl == "site" else "REGIONAL"]


def web_acls(stack) -> dict[str, dict[str, Any]]:
    """The web ACLs by scope."""
    return {acl["scope"]: acl for acl in stack.resources("aws_wafv2_web_acl").values()}


def acl_ref(stack, scope: str) -> str:
    (logical,) = [k for k, acl in stack.resources("aws_wafv2_web_acl").items() if acl["scope"] == scope]
    return f"${{aws_wafv2_web_acl.{logical}.arn}}"


def test_waf_is_off_by_default(prod):
    assert not [t for t in prod.config["resource"] if t.startswith("aws_wafv2_")]
    assert "web_acl_id" not in prod.only("aws_cloudfront_distribution")


# https://docs.aws.amazon.com/waf/latest/APIReference/API_CreateWebACL.html (Scope: CloudFront only in us-east-1)
def test_the_distribution_gets_a_cloudfront_web_acl_made_in_us_east_1(prod_all):
    cloudfront = web_acls(prod_all)["CLOUDFRONT"]
    assert cloudfront["provider"] == "aws.us_east_1"
    # WAF (v2) web ACLs are named by their ARN on a distribution, not by their id
    # (https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_DistributionConfig.html, WebACLId).
    assert prod_all.only("aws_cloudfront_distribution")["web_acl_id"] == acl_ref(prod_all, "CLOUDFRONT")


def test_the_api_stage_gets_a_regional_web_acl_of_its_own(prod_all):
    regional = web_acls(prod_all)["REGIONAL"]
    assert "provider" not in regional  # the stack's region, where the stage is
    association = prod_all.only("aws_wafv2_web_acl_association")
    assert association["resource_arn"] == prod_all.ref("aws_api_gateway_stage", "arn")
    assert association["web_acl_arn"] == acl_ref(prod_all, "REGIONAL")


def test_a_rate_limit_per_ip_then_awss_managed_rule_groups(visitor_acl):
    assert visitor_acl["default_action"] == {"allow": {}}
    rules = sorted(visitor_acl["rule"], key=lambda rule: rule["priority"])
    assert [rule["name"] for rule in rules] == [RATE_RULE, *MANAGED_RULE_GROUPS]
    rate = rules[0]
    assert rate["action"] == {"block": {}}
    assert rate["statement"] == {"rate_based_statement": {"limit": 2000, "aggregate_key_type": "IP"}}
    for rule in rules[1:]:
        assert rule["override_action"] == {"none": {}}  # the groups' own actions apply
        assert rule["statement"]["managed_rule_group_statement"]["vendor_name"] == "AWS"


# --- same-origin: the API behind the distribution --------------------------------------------------------------
# Behind CloudFront the stage sees CloudFront's address, not the visitor's ("the web request origin will contain
# the address of the last proxy", https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-forwarded-ip-address.html).
# X-Forwarded-For is no better: CloudFront appends the visitor's address to what the visitor sent, and WAF's
# forwarded-IP configuration reads the header's first address, which the visitor chooses. So the site's ACL judges
# the visitor once, on every path, and the API's ACL lets in only what comes through the distribution.


def api_origin(stack) -> dict[str, Any]:
    (origin,) = [o for o in stack.only("aws_cloudfront_distribution")["origin"] if "custom_origin_config" in o]
    return origin


def test_the_sites_acl_judges_the_visitor_on_the_api_path_too(prod_all):
    distribution = prod_all.only("aws_cloudfront_distribution")
    assert distribution["web_acl_id"] == acl_ref(prod_all, "CLOUDFRONT")  # an ACL covers every cache behavior
    (api_path,) = distribution["ordered_cache_behavior"]
    assert api_path["target_origin_id"] == api_origin(prod_all)["origin_id"]


def test_behind_the_distribution_the_api_acl_admits_only_requests_carrying_its_secret_header(prod_all):
    regional = web_acls(prod_all)["REGIONAL"]
    assert regional["default_action"] == {"block": {}}
    (rule,) = regional["rule"]
    assert rule["name"] == ORIGIN_RULE
    assert rule["action"] == {"allow": {}}
    assert rule["statement"]["byte_match_statement"] == {
        "field_to_match": {"single_header": {"name": ORIGIN_HEADER}},
        "positional_constraint": "EXACTLY",
        "search_string": rule["statement"]["byte_match_statement"]["search_string"],
        "text_transformation": [{"priority": 0, "type": "NONE"}],
    }


def test_the_distribution_sends_the_api_the_secret_the_api_acl_requires(prod_all):
    (rule,) = web_acls(prod_all)["REGIONAL"]["rule"]
    secret = rule["statement"]["byte_match_statement"]["search_string"]
    assert api_origin(prod_all)["custom_header"] == [{"name": ORIGIN_HEADER, "value": secret}]
    site_origins = [o for o in prod_all.only("aws_cloudfront_distribution")["origin"] if o is not api_origin(prod_all)]
    assert all("custom_header" not in o for o in site_origins)  # the bucket never sees it


# https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/add-origin-custom-headers.html (headers CloudFront
# cannot add) and .../cloudfront-limits.html (a custom header's name at most 256 characters).
# Terraform and moto accept any name; CloudFront refuses the distribution.
HEADERS_CLOUDFRONT_CANNOT_ADD = {
    "cache-control", "connection", "content-length", "cookie", "host", "if-match", "if-modified-since",
    "if-none-match", "if-range", "if-unmodified-since", "max-forwards", "pragma", "proxy-authorization",
    "proxy-connection", "range", "request-range", "te", "trailer", "transfer-encoding", "upgrade", "via",
    "x-real-ip",
}  # fmt: skip
PREFIXES_CLOUDFRONT_CANNOT_ADD = ("x-amz-", "x-edge-", "x-forwarded-")


def test_cloudfront_may_add_the_origin_header():
    assert ORIGIN_HEADER not in HEADERS_CLOUDFRONT_CANNOT_ADD
    assert not ORIGIN_HEADER.startswith(PREFIXES_CLOUDFRONT_CANNOT_ADD)
    assert len(ORIGIN_HEADER) <= 256


def test_the_origin_secret_is_made_once_by_terraform_and_marked_sensitive(prod_all):
    (logical, secret) = next(iter(prod_all.resources("terraform_data").items()))
    assert secret["input"] == "${sensitive(uuid())}"
    assert secret["lifecycle"] == {"ignore_changes": ["input"]}  # uuid() is new every plan: keep the first
    assert api_origin(prod_all)["custom_header"][0]["value"] == f"${{sensitive(terraform_data.{logical}.output)}}"


def test_the_docs_name_the_address_that_rotates_the_secret(prod_all):
    (logical,) = prod_all.resources("terraform_data")
    docs = Path(__file__).resolve().parent.parent / "docs" / "production-options.md"
    assert f"-replace='terraform_data.{logical}'" in docs.read_text()


def test_cross_origin_there_is_no_origin_secret(cross_origin):
    assert "terraform_data" not in cross_origin.config["resource"]
    assert all("custom_header" not in o for o in cross_origin.only("aws_cloudfront_distribution")["origin"])


# https://docs.aws.amazon.com/waf/latest/APIReference/API_CreateWebACL.html (Name)
def test_web_acl_names_are_what_waf_accepts(prod_all):
    names = [acl["name"] for acl in prod_all.resources("aws_wafv2_web_acl").values()]
    assert names
    assert all(re.fullmatch(r"[\w-]{1,128}", name) for name in names), names


# https://docs.aws.amazon.com/waf/latest/APIReference/API_VisibilityConfig.html (MetricName)
@pytest.mark.parametrize("mode", ["same-origin", "cross-origin"])
@pytest.mark.parametrize("scope", ["CLOUDFRONT", "REGIONAL"])
def test_every_rule_and_the_acl_publish_metrics_and_sample_requests(prod_all, cross_origin, mode, scope):
    acl = web_acls(prod_all if mode == "same-origin" else cross_origin)[scope]
    configs = [acl["visibility_config"], *(rule["visibility_config"] for rule in acl["rule"])]
    for config in configs:
        assert config["cloudwatch_metrics_enabled"] is True
        assert config["sampled_requests_enabled"] is True
        # What WAF accepts as a metric name (AWS rejects the ACL otherwise; Terraform does not check).
        assert re.fullmatch(r"[\w#:.\-/]{1,255}", config["metric_name"])
    assert len({c["metric_name"] for c in configs}) == len(configs)


# https://docs.aws.amazon.com/waf/latest/developerguide/logging-cw-logs.html (aws-waf-logs- names, the ACL's region)
def test_waf_logs_go_to_groups_named_as_waf_requires_in_each_acls_region(prod_all):
    groups = {k: g for k, g in prod_all.resources("aws_cloudwatch_log_group").items() if "Firewall_" in k}
    assert {g["name"] for g in groups.values()} == {
        "aws-waf-logs-three-tier-prod-site",
        "aws-waf-logs-three-tier-prod-api",
    }
    for logical, group in groups.items():
        assert group["retention_in_days"] == 365
        assert group.get("provider") == ("aws.us_east_1" if logical.startswith("SiteFirewall_") else None)
    for logging in prod_all.resources("aws_wafv2_web_acl_logging_configuration").values():
        (destination,) = logging["log_destination_configs"]
        construct = destination.split(".")[1].split("_")[0]
        assert logging["resource_arn"].startswith(f"${{aws_wafv2_web_acl.{construct}_")
        assert logging.get("provider") == ("aws.us_east_1" if construct == "SiteFirewall" else None)
        assert logging["depends_on"][0].startswith(f"aws_cloudwatch_log_resource_policy.{construct}_")


# https://docs.aws.amazon.com/waf/latest/developerguide/logging-cw-logs.html (the log group's resource policy)
def test_the_log_delivery_policy_is_in_the_region_of_its_group(prod_all):
    for logical, policy in prod_all.resources("aws_cloudwatch_log_resource_policy").items():
        assert policy.get("provider") == ("aws.us_east_1" if logical.startswith("SiteFirewall_") else None)
        json.loads(policy["policy_document"])  # valid JSON before Terraform fills the account in


# https://docs.aws.amazon.com/waf/latest/developerguide/logging-management.html (redacting fields, filtering logs)
# https://docs.aws.amazon.com/waf/latest/APIReference/API_LoggingConfiguration.html (RedactedFields, LoggingFilter)
REDACTED = [
    {"query_string": {}},  # GET /users?userId=…: the user asked for
    {"single_header": {"name": "authorization"}},
    {"single_header": {"name": "cookie"}},
]


def redacted_by_acl(stack) -> dict[str, list[dict[str, Any]]]:
    configurations = stack.resources("aws_wafv2_web_acl_logging_configuration").values()
    return {c["resource_arn"].split(".")[1].split("_")[0]: c["redacted_fields"] for c in configurations}


def test_waf_logs_never_hold_the_query_string_or_credentials(cross_origin):
    assert redacted_by_acl(cross_origin) == {"SiteFirewall": REDACTED, "ApiFirewall": REDACTED}


def test_waf_logs_never_hold_the_origin_secret(prod_all):
    assert redacted_by_acl(prod_all) == {
        "SiteFirewall": REDACTED,  # CloudFront adds the header after the site's ACL has seen the request
        "ApiFirewall": [*REDACTED, {"single_header": {"name": ORIGIN_HEADER}}],
    }


KEEP_BLOCKED_AND_COUNTED = {
    "default_behavior": "DROP",
    "filter": [
        {
            "behavior": "KEEP",
            "requirement": "MEETS_ANY",
            "condition": [
                {"action_condition": {"action": "BLOCK"}},
                {"action_condition": {"action": "COUNT"}},
                # a managed group's rule overridden to count (anonymous_ip_action="count") logs as this
                # (https://docs.aws.amazon.com/waf/latest/APIReference/API_ActionCondition.html)
                {"action_condition": {"action": "EXCLUDED_AS_COUNT"}},
            ],
        }
    ],
}


def test_waf_logs_keep_only_blocked_and_counted_requests_by_default(prod_all):
    assert WafSettings().log_all_requests is False
    for logging in prod_all.resources("aws_wafv2_web_acl_logging_configuration").values():
        assert logging["logging_filter"] == KEEP_BLOCKED_AND_COUNTED


def test_every_request_can_be_logged_still_redacted(tmp_path):
    settings = replace(load_environment("prod", {}), waf=WafSettings(enabled=True, logging=True, log_all_requests=True))
    (stack,) = synthesize([settings], tmp_path).values()
    configurations = stack.resources("aws_wafv2_web_acl_logging_configuration").values()
    assert len(configurations) == 2
    for logging in configurations:
        assert "logging_filter" not in logging
        assert len(logging["redacted_fields"]) == 3


def test_anonymous_ips_can_be_counted_instead_of_blocked(tmp_path):
    settings = replace(load_environment("prod", {}), waf=WafSettings(enabled=True, anonymous_ip_action="count"))
    (stack,) = synthesize([settings], tmp_path).values()
    for acl in stack.resources("aws_wafv2_web_acl").values():
        (anonymous,) = [r for r in acl["rule"] if r["name"] == "AWSManagedRulesAnonymousIpList"]
        overrides = anonymous["statement"]["managed_rule_group_statement"]["rule_action_override"]
        assert {o["name"]: o["action_to_use"] for o in overrides} == {
            "AnonymousIPList": {"count": {}},
            "HostingProviderIPList": {"count": {}},
        }


# What each rule costs in web ACL capacity units (WCUs), as AWS documents it: the managed groups on
# https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-list.html, a rate-based statement
# on https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-type-rate-based.html.
DOCUMENTED_WCUS = {
    "AWSManagedRulesAmazonIpReputationList": 25,
    "AWSManagedRulesAnonymousIpList": 50,
    "AWSManagedRulesCommonRuleSet": 700,
    "AWSManagedRulesKnownBadInputsRuleSet": 200,
}
RATE_BASED_WCUS = 2
# A string match: 2 for an exact match, 10 more for each text transformation
# (https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-type-string-match.html).
EXACT_MATCH_WCUS = 2
TEXT_TRANSFORMATION_WCUS = 10
# A web ACL's base price covers 1,500 WCUs; beyond that every 500 more are billed on each request
# (https://docs.aws.amazon.com/waf/latest/developerguide/aws-waf-capacity-units.html). Terraform and moto accept any.
BASE_PRICE_WCUS = 1500


def rule_wcus(rule: dict[str, Any]) -> int:
    statement = rule["statement"]
    if "rate_based_statement" in statement:
        assert "scope_down_statement" not in statement["rate_based_statement"], "add the scope-down's WCUs here"
        return RATE_BASED_WCUS
    if "byte_match_statement" in statement:
        match = statement["byte_match_statement"]
        assert match["positional_constraint"] == "EXACTLY", "add this match type's WCUs here"
        transformations = [t for t in match["text_transformation"] if t["type"] != "NONE"]
        return EXACT_MATCH_WCUS + TEXT_TRANSFORMATION_WCUS * len(transformations)
    name = statement["managed_rule_group_statement"]["name"]
    assert name in DOCUMENTED_WCUS, f"{name}: add its WCUs from AWS's list of managed rule groups"
    return DOCUMENTED_WCUS[name]


@pytest.mark.parametrize("mode", ["same-origin", "cross-origin"])
@pytest.mark.parametrize("scope", ["CLOUDFRONT", "REGIONAL"])
def test_each_web_acl_fits_the_capacity_its_base_price_covers(prod_all, cross_origin, mode, scope):
    acl = web_acls(prod_all if mode == "same-origin" else cross_origin)[scope]
    total = sum(rule_wcus(rule) for rule in acl["rule"])
    assert total <= BASE_PRICE_WCUS, f"{total} WCUs"


@pytest.mark.parametrize(
    ("field", "value", "allowed"),
    [
        ("rate_limit_per_5_minutes", 99, "from 100 to 2000000000"),
        ("anonymous_ip_action", "allow", "block, count"),
        ("log_retention_days", 2, "1, 3, 5"),
        ("log_all_requests", "yes", "True, False"),
    ],
)
def test_bad_waf_settings_name_the_field(field, value, allowed):
    with pytest.raises(ConfigError, match=rf"waf\.{field}: .* allowed values: .*{re.escape(allowed)}"):
        WafSettings(**{field: value})


# --- in the emulator ------------------------------------------------------------------------------------------


def test_both_web_acls_apply_attach_and_log_in_the_emulator(own_emulator, tmp_path):
    """The two firewalls and the API they protect (the logic tier alone), applied by Terraform into an emulator of
    the test's own, which goes with everything in it at the end (no destroy)."""
    emulator = own_emulator
    app = App(outdir=str(tmp_path / "out"))
    stack = TerraformStack(app, "waf")
    LocalBackend(stack, path=str(tmp_path / "waf.tfstate"))  # never beside the project
    stack.add_override("terraform.required_providers.aws.version", AWS_PROVIDER_CONSTRAINT)
    endpoints = local_provider_options(EmulatorSettings(url=emulator.url))
    AwsProvider(stack, "aws", region=emulator.region, **endpoints)
    us_east_1 = AwsProvider(stack, "us_east_1", alias="us_east_1", region="us-east-1", **endpoints)
    api = UserApi(
        stack,
        "UserApi",
        name_prefix="waftest",
        region=emulator.region,
        function=FunctionSettings(),
        api=ApiSettings(stage_name="prod"),
        table_name="users",
        table_statement={"Effect": "Allow", "Action": ["dynamodb:GetItem"], "Resource": ["arn:aws:dynamodb:*"]},
        allowed_origin="https://example.com",
    )
    settings = WafSettings(enabled=True, logging=True)
    WebFirewall(
        stack, "SiteFirewall", name="waftest-site", waf_scope="CLOUDFRONT", settings=settings, provider=us_east_1
    )
    WebFirewall(
        stack, "ApiFirewall", name="waftest-api", waf_scope="REGIONAL", settings=settings, protects=api.stage_arn
    )
    app.synth()
    # The provider's debug log: if the apply fails, the calls that failed or were resent say why. (A CreateRole
    # whose answer is lost is resent by the AWS SDK, and moto, which stored the role, answers EntityAlreadyExists.)
    log = tmp_path / "terraform.log"
    env = {**emulator.environment(), "TF_LOG_PROVIDER": "DEBUG", "TF_LOG_PATH": str(log)}
    workspace = StackWorkspace("waf", Path(app.outdir))
    workspace.write_emulator_config(emulator.url, FAKE_CREDENTIALS)
    terraform = workspace.initialized(env=env, timeout=600)
    try:
        terraform.apply()
    except TerraformError as error:
        raise AssertionError(f"{error}\nfailed or resent AWS calls:\n{failed_calls(log)}") from error

    wafv2 = emulator.client("wafv2")
    acls = {a["Name"]: a for a in wafv2.list_web_acls(Scope="REGIONAL")["WebACLs"]}
    regional = wafv2.get_web_acl(Name="waftest-api", Scope="REGIONAL", Id=acls["waftest-api"]["Id"])["WebACL"]
    assert [rule["Name"] for rule in sorted(regional["Rules"], key=lambda r: r["Priority"])] == [
        RATE_RULE,
        *MANAGED_RULE_GROUPS,
    ]
    stage_arn = f"arn:aws:apigateway:{emulator.region}::/restapis/{api_id(emulator)}/stages/prod"
    assert wafv2.get_web_acl_for_resource(ResourceArn=stage_arn)["WebACL"]["Name"] == "waftest-api"
    logging = wafv2.get_logging_configuration(ResourceArn=regional["ARN"])["LoggingConfiguration"]
    assert logging["LogDestinationConfigs"][0].endswith(":log-group:aws-waf-logs-waftest-api")
    # accepted and kept (moto stores them; it does not apply them to any log)
    assert logging["RedactedFields"] == [
        {"QueryString": {}},
        {"SingleHeader": {"Name": "authorization"}},
        {"SingleHeader": {"Name": "cookie"}},
    ]
    assert logging["LoggingFilter"]["DefaultBehavior"] == "DROP"
    (keep,) = logging["LoggingFilter"]["Filters"]
    assert [c["ActionCondition"]["Action"] for c in keep["Conditions"]] == ["BLOCK", "COUNT", "EXCLUDED_AS_COUNT"]


def failed_calls(log: Path) -> str:
    """The provider log's lines about calls that failed, were resent or got a 5xx answer, shortened."""
    wanted = re.compile(r"request failed|request send failed|attempt=[2-9]|attempt=\d\d|status_code=5\d\d")
    method = re.compile(r"rpc\.method=(\w+)")
    lines = []
    for line in log.read_text(errors="replace").splitlines():
        if wanted.search(line):
            found = method.search(line)
            lines.append(f"{found.group(1) if found else '?'}: {line[:300]}")
    return "\n".join(lines[-40:]) or "(none)"


def api_id(emulator) -> str:
    (api,) = [a for a in emulator.client("apigateway").get_rest_apis()["items"] if a["name"] == "waftest-api"]
    return str(api["id"])

"""What AWS rejects or silently breaks that the emulator accepts: each rule a test over the synthesized JSON, named
after the AWS behaviour it guards, citing the AWS documentation page. Plus a real offline `terraform plan` of prod
with every option on, which evaluates what `terraform validate` does not (for_each, counts, unknown values)."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from contract.config import AlarmSettings, ConfigError, DomainSettings, FunctionSettings, load_environment
from operations.plan import plan_stack
from terraform_cli import resource_changes
from tests.conftest import synthesize

TROUBLESHOOTING = Path(__file__).resolve().parent.parent / "docs" / "troubleshooting.md"


def local(stack, name: str, construct: str = "ErrorAlarms") -> tuple[str, str]:
    """The reference to the local `name` of `construct`, and its expression."""
    (found,) = [key for key in stack.config.get("locals", {}) if key.startswith(f"{construct}_{name}_")]
    return f"${{local.{found}}}", stack.config["locals"][found]


def named(stack, resource_type: str, construct: str) -> tuple[str, dict]:
    """The address and body of the resource of a type whose construct is called `construct`."""
    (found,) = [
        (f"{resource_type}.{k}", r)
        for k, r in stack.resources(resource_type).items()
        if r["//"]["metadata"]["path"].endswith(f"/{construct}")
    ]
    return found


def policy(stack, resource_type: str) -> dict:
    return json.loads(stack.only(resource_type)["policy"])


def statement(document: dict, sid: str) -> dict:
    (found,) = [s for s in document["Statement"] if s.get("Sid") == sid]
    return found


# --- alarms -------------------------------------------------------------------------------------------------------


# https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services
def test_cloudwatch_cannot_publish_to_a_topic_under_the_aws_managed_sns_key(prod_all):
    key = prod_all.ref("aws_kms_key", "arn")
    assert prod_all.only("aws_sns_topic")["kms_master_key_id"] == key
    assert "alias/aws/sns" not in prod_all.text


def test_the_account_and_this_stacks_alarms_are_read_from_the_keys_own_arn(prod_all):
    key_arn = prod_all.ref("aws_kms_key", "arn")[2:-1]
    partition, partition_expression = local(prod_all, "partition")
    account, account_expression = local(prod_all, "account_id")
    assert (partition_expression, account_expression) == (
        f'${{element(split(":", {key_arn}), 1)}}',
        f'${{element(split(":", {key_arn}), 4)}}',
    )
    assert local(prod_all, "alarm_arns")[1] == (
        f'${{format("arn:%s:cloudwatch:%s:%s:alarm:%s-*", {partition[2:-1]}, "eu-north-1", {account[2:-1]}, '
        '"three-tier-prod")}'
    )
    assert "aws_caller_identity" not in prod_all.text  # no look-up that would need AWS when planning


# https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services
def test_cloudwatch_may_use_the_topic_key_only_for_this_accounts_alarms_of_this_stack(prod_all):
    cloudwatch = statement(policy(prod_all, "aws_kms_key_policy"), "ThisStacksAlarmsEncryptNotifications")
    assert cloudwatch["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert cloudwatch["Action"] == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert cloudwatch["Condition"] == {
        "StringEquals": {"aws:SourceAccount": local(prod_all, "account_id")[0]},
        "ArnLike": {"aws:SourceArn": local(prod_all, "alarm_arns")[0]},
    }


# https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html#key-policy-default-allow-root-enable-iam
def test_the_account_keeps_control_of_the_alarm_key(prod_all):
    account = statement(policy(prod_all, "aws_kms_key_policy"), "TheAccountControlsTheKey")
    assert account["Principal"] == {"AWS": local(prod_all, "account_root")[0]}
    assert local(prod_all, "account_root")[1].startswith('${format("arn:%s:iam::%s:root", ')
    assert (account["Action"], account["Resource"]) == ("kms:*", "*")  # "*" in a key policy: this key


# https://docs.aws.amazon.com/kms/latest/developerguide/rotate-keys.html
def test_the_alarm_key_rotates_and_has_an_alias(prod_all):
    key = prod_all.only("aws_kms_key")
    assert key["enable_key_rotation"] is True
    assert prod_all.only("aws_kms_alias")["name"] == "alias/three-tier-prod-alarms"
    assert prod_all.only("aws_kms_key_policy")["key_id"] == prod_all.ref("aws_kms_key", "key_id")


# https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Notify_Users_Alarm_Changes.html
def test_only_this_stacks_alarms_may_publish_to_the_topic(prod_all):
    topic_arn = prod_all.ref("aws_sns_topic", "arn")
    (publish,) = policy(prod_all, "aws_sns_topic_policy")["Statement"]
    assert publish["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert (publish["Action"], publish["Resource"]) == ("sns:Publish", topic_arn)
    assert publish["Condition"] == {
        "StringEquals": {"aws:SourceAccount": local(prod_all, "account_id")[0]},
        "ArnLike": {"aws:SourceArn": local(prod_all, "alarm_arns")[0]},
    }
    assert prod_all.only("aws_sns_topic_policy")["arn"] == topic_arn


# https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics.html (metrics are published every minute)
@pytest.mark.parametrize("period", [10, 30, 90, 45])
def test_alarm_periods_shorter_than_the_metrics_one_minute_are_refused(period):
    with pytest.raises(ConfigError, match=rf"alarms\.period_seconds: {period} .*a multiple of 60 from 60 to 86400"):
        AlarmSettings(period_seconds=period)


def test_alarm_periods_are_whole_minutes(prod_all):
    assert {alarm["period"] for alarm in prod_all.resources("aws_cloudwatch_metric_alarm").values()} == {60}
    assert AlarmSettings(period_seconds=300).period_seconds == 300


# --- API Gateway logging ------------------------------------------------------------------------------------------


# https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html#set-up-access-logging-permissions
def test_the_stack_leaves_the_accounts_api_gateway_role_alone_by_default(prod):
    assert prod.resources("aws_api_gateway_account") == {}
    assert load_environment("prod", {}).api.manage_account_logging_role is False


# https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html#set-up-access-logging-permissions
def test_stage_logging_waits_for_the_account_role_the_stack_sets(prod_all):
    address, account = named(prod_all, "aws_api_gateway_account", "account")
    role, _ = named(prod_all, "aws_iam_role", "account_logging_role")
    assert account["cloudwatch_role_arn"] == f"${{{role}.arn}}"
    assert address in prod_all.only("aws_api_gateway_stage")["depends_on"]


# https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html#set-up-access-logging-permissions
def test_the_account_logging_role_trusts_api_gateway_and_writes_only_this_stacks_log_groups(prod_all):
    address, role = named(prod_all, "aws_iam_role", "account_logging_role")
    assert json.loads(role["assume_role_policy"])["Statement"] == [
        {"Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ]
    (document,) = [
        json.loads(p["policy"])
        for p in prod_all.resources("aws_iam_role_policy").values()
        if p["role"] == f"${{{address}.id}}"
    ]
    groups = {
        name: f"${{aws_cloudwatch_log_group.{logical}.arn}}"
        for logical, name in ((k, g["name"]) for k, g in prod_all.resources("aws_cloudwatch_log_group").items())
    }
    write = statement(document, "WriteThisStacksStageLogs")
    assert write["Action"] == ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"]
    assert write["Resource"] == [
        f"{groups['/aws/apigateway/three-tier-prod-api/prod']}:*",
        f"{next(v for k, v in groups.items() if k.startswith('API-Gateway'))}:*",
    ]
    assert [s["Sid"] for s in document["Statement"]] == ["WriteThisStacksStageLogs"]


# https://docs.aws.amazon.com/apigateway/latest/developerguide/view-cloudwatch-log-events-in-cloudwatch-console.html
def test_execution_logs_go_to_a_log_group_made_before_the_stage_with_the_retention(prod):
    address, group = named(prod, "aws_cloudwatch_log_group", "execution_logs")
    assert group["name"] == f"API-Gateway-Execution-Logs_{prod.ref('aws_api_gateway_rest_api', 'id')}/prod"
    assert group["retention_in_days"] == 365
    assert address in prod.only("aws_api_gateway_stage")["depends_on"]


def test_no_execution_log_group_when_execution_logging_is_off(tmp_path):
    prod = load_environment("prod", {})
    stack = synthesize([replace(prod, api=replace(prod.api, execution_logging_level="OFF"))], tmp_path)["prod"]
    assert [
        g["name"] for g in stack.resources("aws_cloudwatch_log_group").values() if g["name"].startswith("API-Gateway")
    ] == []


# https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-mapping-template-reference.html#context-variable-reference
def test_access_log_lines_stay_json_when_the_error_message_has_quotes(prod):
    log_format = prod.only("aws_api_gateway_stage")["access_log_settings"]["format"]
    assert '$context.error.message"' not in log_format
    message = 'Invalid "userId" \\ value'
    # API Gateway fills $context.error.messageString with the message quoted and escaped; the rest verbatim.
    line = log_format.replace("$context.error.messageString", json.dumps(message))
    line = re.sub(r"\$context\.[A-Za-z.]+", "x-1", line)
    assert json.loads(line)["errorMessage"] == message


# --- the bucket ---------------------------------------------------------------------------------------------------


# https://docs.aws.amazon.com/AmazonS3/latest/userguide/lifecycle-configuration-examples.html#lifecycle-config-conceptual-ex7
def test_delete_markers_left_by_pruning_expire_with_the_noncurrent_versions(prod):
    (rule,) = prod.only("aws_s3_bucket_lifecycle_configuration")["rule"]
    assert rule["expiration"] == [{"expired_object_delete_marker": True}]
    assert rule["noncurrent_version_expiration"] == [{"noncurrent_days": 30}]


# --- the custom domain --------------------------------------------------------------------------------------------


# https://docs.aws.amazon.com/acm/latest/userguide/dns-validation.html (one CNAME per name on the certificate)
def test_validation_records_are_keyed_by_names_known_when_planning(prod_all):
    record = next(r for r in prod_all.resources("aws_route53_record").values() if "for_each" in r)
    assert record["for_each"] == '${toset(["users.example.com", "www.users.example.com"])}'
    assert "each.value" in record["name"]
    assert "domain_validation_options" not in record["for_each"]


def test_alternative_names_are_on_the_certificate_the_distribution_and_in_dns(prod_all):
    certificate = prod_all.only("aws_acm_certificate")
    assert certificate["subject_alternative_names"] == ["www.users.example.com"]
    assert prod_all.only("aws_cloudfront_distribution")["aliases"] == ["users.example.com", "www.users.example.com"]
    aliases = sorted((r["name"], r["type"]) for r in prod_all.resources("aws_route53_record").values() if "alias" in r)
    assert aliases == [
        ("users.example.com", "A"),
        ("users.example.com", "AAAA"),
        ("www.users.example.com", "A"),
        ("www.users.example.com", "AAAA"),
    ]


def test_alternative_names_need_the_same_origin_api():
    prod = load_environment("prod", {})
    domain = DomainSettings(
        domain_name="users.example.com",
        hosted_zone_id="Z0123456789ABCDEFGHIJ",
        alternative_names=("www.users.example.com",),
    )
    with pytest.raises(ConfigError, match=r"domain\.alternative_names: .* not allowed with a cross-origin API"):
        replace(prod, domain=domain)


def test_the_domain_cannot_be_its_own_alternative_name():
    with pytest.raises(ConfigError, match=r"domain\.alternative_names: .*names other than domain\.domain_name"):
        DomainSettings(
            domain_name="users.example.com",
            hosted_zone_id="Z0123456789ABCDEFGHIJ",
            alternative_names=("users.example.com",),
        )


# --- headers, architecture, accounts ------------------------------------------------------------------------------


# https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/adding-response-headers.html
def test_the_api_path_through_the_site_gets_the_security_headers_too(prod_all):
    distribution = prod_all.only("aws_cloudfront_distribution")
    policy_id = prod_all.ref("aws_cloudfront_response_headers_policy", "id")
    assert distribution["default_cache_behavior"]["response_headers_policy_id"] == policy_id
    (api,) = distribution["ordered_cache_behavior"]
    assert api["response_headers_policy_id"] == policy_id


# https://docs.aws.amazon.com/lambda/latest/dg/foundation-arch.html
def test_the_function_runs_on_graviton_by_default(prod):
    assert prod.only("aws_lambda_function")["architectures"] == ["arm64"]
    assert FunctionSettings(architecture="x86_64").architecture == "x86_64"
    with pytest.raises(ConfigError, match=r"function\.architecture: 'arm' .*arm64, x86_64"):
        FunctionSettings(architecture="arm")


# https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_CreateDistribution.html (AccessDenied)
def test_the_troubleshooting_page_tells_unverified_accounts_what_cloudfront_answers():
    page = " ".join(TROUBLESHOOTING.read_text().split())
    assert (
        "AccessDenied: Your account must be verified before you can add new CloudFront resources. To verify your "
        "account, please contact AWS Support"
    ) in page


# --- plan, not only validate --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def prod_all_plan(prod_all, tmp_path_factory) -> dict:
    """`terraform show -json` of prod with every option, planned offline."""
    return plan_stack(prod_all.workspace, tmp_path_factory.mktemp("prod-all-plan"), offline=True)


def test_prod_with_every_option_plans_offline_with_the_real_provider(prod_all, prod_all_plan):
    changes = resource_changes(prod_all_plan)
    assert {change.action for change in changes} == {"create"}
    addresses = {change.address for change in changes}
    assert {a for a in addresses if "certificate_validation_record" in a} == {
        'aws_route53_record.StaticSite_certificate_validation_record_417938E6["users.example.com"]',
        'aws_route53_record.StaticSite_certificate_validation_record_417938E6["www.users.example.com"]',
    }
    declared = sum(len(resources) for resources in prod_all.config["resource"].values())
    assert len(changes) == declared + 1  # the validation record is declared once, for two names


def test_plans_never_show_the_origin_secret(prod_all_plan):
    """The secret the distribution sends the API (same-origin with WAF) is sensitive wherever it is used, so a
    plan in a pull request or a Terraform Cloud run shows "(sensitive value)"."""
    sensitive = {
        change["type"]: change["change"]["after_sensitive"]
        for change in prod_all_plan["resource_changes"]
        if change["type"] in ("terraform_data", "aws_cloudfront_distribution")
        or change["address"].startswith("aws_wafv2_web_acl.ApiFirewall_")
    }
    assert sensitive["terraform_data"]["input"] is True
    assert sensitive["aws_cloudfront_distribution"]["origin"] is True  # the set holding the header: all of it
    assert sensitive["aws_wafv2_web_acl"]["rule"] is True

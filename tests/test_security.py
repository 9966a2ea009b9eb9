"""Security gates: checkov over every stack, IAM lint, and the exact set of permissions the stack grants."""

from __future__ import annotations

import json
import os
import re
import subprocess
import tomllib
import warnings
from pathlib import Path

import pytest
from cloudsplaining.scan.policy_document import PolicyDocument

from operations.review import permissions

with warnings.catch_warnings():  # parliament imports pkg_resources, which warns on import
    warnings.simplefilter("ignore")
    from parliament import analyze_policy_string

PROJECT = Path(__file__).resolve().parent.parent
CHECKOV = PROJECT / "tools" / "checkov" / ".venv" / "bin" / "checkov"
SKIPS = tomllib.loads((PROJECT / "tools" / "checkov" / "skips.toml").read_text())
# Shapes of the ARNs Terraform fills in, for linting the synthesized (unresolved) documents.
SAMPLE_ARNS = {
    "aws_dynamodb_table": "arn:aws:dynamodb:eu-north-1:123456789012:table/three-tier-prod-users",
    "aws_cloudwatch_log_group": "arn:aws:logs:eu-north-1:123456789012:log-group:/aws/lambda/three-tier-prod-get-user",
    "aws_s3_bucket": "arn:aws:s3:::three-tier-prod-site-20260101000000000000000001",
    "aws_cloudfront_distribution": "arn:aws:cloudfront::123456789012:distribution/E2EXAMPLE12345",
}

CLOUDSPLAINING_FLAGS = (
    "allows_privilege_escalation",
    "permissions_management_without_constraints",
    "allows_data_exfiltration_actions",
    "service_wildcard",
    "credentials_exposure",
)


# --- checkov --------------------------------------------------------------------------------------------------


def expected_skips(stack_name: str) -> set[str]:
    return {check for check, entry in SKIPS.items() if stack_name in entry.get("stacks", [stack_name])}


def test_every_skip_has_a_reason():
    for check, entry in SKIPS.items():
        assert re.fullmatch(r"CKV2?_AWS_\d+", check)
        assert len(entry["reason"]) > 30, f"{check} needs a reason specific to this design"


@pytest.mark.parametrize("stack_name", ["prod", "local", "prod_all"])
def test_checkov_fails_exactly_the_reviewed_skips(synthesized, prod_all, stack_name):
    assert CHECKOV.exists(), "checkov is not installed: run scripts/setup"
    stack = prod_all if stack_name == "prod_all" else synthesized[stack_name]
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"}
    done = subprocess.run(
        [
            str(CHECKOV),
            "-d",
            str(stack.directory),
            "--framework",
            "terraform_json",
            "--quiet",
            "-o",
            "json",
            "--skip-download",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    report = json.loads(done.stdout)
    failed = {check["check_id"] for check in report["results"]["failed_checks"]}
    assert report["summary"]["passed"] > 40
    assert failed - expected_skips(stack_name) == set(), "new failing checks: fix them, or review a skip"
    assert expected_skips(stack_name) - failed == set(), "these skips no longer fail: remove them"


# --- IAM lint -------------------------------------------------------------------------------------------------


def with_sample_arns(document: str) -> dict:
    """A synthesized policy with Terraform's ARN references replaced by ARNs of the right shape."""

    def sample(match: re.Match) -> str:
        return SAMPLE_ARNS[match[1]]

    return json.loads(re.sub(r"\$\{([a-z0-9_]+)\.[A-Za-z0-9_]+\.arn\}", sample, document))


def identity_policies(stack) -> list[dict]:
    return [with_sample_arns(p["policy"]) for p in stack.resources("aws_iam_role_policy").values()]


def assert_clean(document: dict) -> None:
    findings = analyze_policy_string(json.dumps(document)).findings
    assert [(f.issue, f.detail) for f in findings] == []
    flags = PolicyDocument(document)
    for flag in CLOUDSPLAINING_FLAGS:
        assert getattr(flags, flag) == [], flag


@pytest.mark.parametrize("stack_name", ["prod", "local"])
def test_synthesized_identity_policies_pass_parliament_and_cloudsplaining(synthesized, stack_name):
    documents = identity_policies(synthesized[stack_name])
    assert documents
    for document in documents:
        assert_clean(document)


def test_applied_function_policy_passes_parliament_and_cloudsplaining(local_stack):
    iam = local_stack.emulator.client("iam")
    role = f"{local_stack.outputs.function_name}-role"
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        document = json.loads(document) if isinstance(document, str) else document
        assert "${" not in json.dumps(document)
        assert_clean(document)


def test_the_linters_do_flag_a_broad_policy():
    """The control: the same checks fail on the managed-policy style the articles started from."""
    broad = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["dynamodb:*", "iam:PassRole"], "Resource": "*"}],
    }
    with pytest.raises(AssertionError):
        assert_clean(broad)


# --- exact least privilege ------------------------------------------------------------------------------------


def grants(stack) -> set[tuple[str, str, str, str, str, str]]:
    """Every permission the stack writes down (the reviewer's listing), with the kind of policy it is in."""
    return {
        (grant.policy.rsplit(" ", 1)[0], grant.effect, grant.principal, grant.action, grant.resource, grant.condition)
        for grant in permissions(stack.config)
    }


def test_the_stack_grants_exactly_these_permissions(prod):
    table = prod.ref("aws_dynamodb_table", "arn")
    logs = [k for k, g in prod.resources("aws_cloudwatch_log_group").items() if g["name"].startswith("/aws/lambda/")]
    log_streams = f"${{aws_cloudwatch_log_group.{logs[0]}.arn}}:*"
    bucket = prod.ref("aws_s3_bucket", "arn")
    cloudfront = json.dumps({"Service": "cloudfront.amazonaws.com"})
    lambda_service = json.dumps({"Service": "lambda.amazonaws.com"})
    execute_api = prod.ref("aws_api_gateway_rest_api", "execution_arn") + "/prod/GET/users"
    only_this_distribution = json.dumps(
        {"StringEquals": {"AWS:SourceArn": prod.ref("aws_cloudfront_distribution", "arn")}}
    )
    tls_only = json.dumps({"Bool": {"aws:SecureTransport": "false"}})
    assert grants(prod) == {
        ("role policy", "Allow", "null", "dynamodb:GetItem", table, "null"),
        ("role policy", "Allow", "null", "logs:CreateLogStream", log_streams, "null"),
        ("role policy", "Allow", "null", "logs:PutLogEvents", log_streams, "null"),
        ("trust policy", "Allow", lambda_service, "sts:AssumeRole", "(this role)", "null"),
        ("bucket policy", "Allow", cloudfront, "s3:GetObject", f"{bucket}/*", only_this_distribution),
        ("bucket policy", "Allow", cloudfront, "s3:ListBucket", bucket, only_this_distribution),
        ("bucket policy", "Deny", cloudfront, "s3:GetObject", f"{bucket}/.publish/*", "null"),
        ("bucket policy", "Deny", '"*"', "s3:*", f"{bucket}/*", tls_only),
        ("bucket policy", "Deny", '"*"', "s3:*", bucket, tls_only),
        (
            "function permission",
            "Allow",
            json.dumps({"Service": "apigateway.amazonaws.com"}),
            "lambda:InvokeFunction",
            prod.ref("aws_lambda_function", "function_name"),
            json.dumps({"SourceArn": execute_api}),
        ),
    }


def test_prod_with_every_option_grants_exactly_these_permissions(prod_all, prod):
    def log_group(name_start: str) -> str:
        (logical,) = [
            k for k, g in prod_all.resources("aws_cloudwatch_log_group").items() if g["name"].startswith(name_start)
        ]
        return f"${{aws_cloudwatch_log_group.{logical}.arn}}:*"

    def local(name: str, construct: str = "ErrorAlarms") -> str:
        (found,) = [key for key in prod_all.config["locals"] if key.startswith(f"{construct}_{name}_")]
        return f"${{local.{found}}}"

    def waf_log_delivery(construct: str) -> set[tuple[str, ...]]:
        """The log delivery service may write the streams of the firewall's one log group, for this account."""
        (group,) = [k for k in prod_all.resources("aws_cloudwatch_log_group") if k.startswith(f"{construct}_")]
        only_this_account = json.dumps(
            {
                "ArnLike": {"aws:SourceArn": local("log_sources", construct)},
                "StringEquals": {"aws:SourceAccount": local("account_id", construct)},
            },
            sort_keys=True,
        )
        return {
            (
                "log resource policy",
                "Allow",
                json.dumps({"Service": "delivery.logs.amazonaws.com"}),
                action,
                f"${{aws_cloudwatch_log_group.{group}.arn}}:log-stream:*",
                only_this_account,
            )
            for action in ("logs:CreateLogStream", "logs:PutLogEvents")
        }

    cloudwatch = json.dumps({"Service": "cloudwatch.amazonaws.com"})
    from_this_stacks_alarms = json.dumps(
        {"ArnLike": {"aws:SourceArn": local("alarm_arns")}, "StringEquals": {"aws:SourceAccount": local("account_id")}},
        sort_keys=True,
    )
    stage_logs = [log_group("/aws/apigateway/"), log_group("API-Gateway-Execution-Logs_")]
    assert grants(prod_all) == grants(prod) | {
        # API Gateway's account-wide logging role: this stack's stage log groups only
        (
            "trust policy",
            "Allow",
            json.dumps({"Service": "apigateway.amazonaws.com"}),
            "sts:AssumeRole",
            "(this role)",
            "null",
        ),
        *{
            ("role policy", "Allow", "null", action, group, "null")
            for group in stage_logs
            for action in ("logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents")
        },
        # the alarm topic's key: the account, and CloudWatch for this stack's alarms only
        ("key policy", "Allow", json.dumps({"AWS": local("account_root")}), "kms:*", "*", "null"),
        ("key policy", "Allow", cloudwatch, "kms:Decrypt", "*", from_this_stacks_alarms),
        ("key policy", "Allow", cloudwatch, "kms:GenerateDataKey*", "*", from_this_stacks_alarms),
        # the alarm topic: only this stack's alarms publish
        (
            "topic policy",
            "Allow",
            cloudwatch,
            "sns:Publish",
            prod_all.ref("aws_sns_topic", "arn"),
            from_this_stacks_alarms,
        ),
        # WAF's logs: each firewall's group, written by the log delivery service for this account only
        *waf_log_delivery("SiteFirewall"),
        *waf_log_delivery("ApiFirewall"),
    }


def test_only_three_iam_actions_exist_in_the_prod_output(prod):
    actions = {grant[3] for grant in grants(prod) if grant[0] == "role policy"}
    assert actions == {"dynamodb:GetItem", "logs:CreateLogStream", "logs:PutLogEvents"}
    assert prod.resources("aws_iam_policy") == {}
    assert prod.resources("aws_iam_role_policy_attachment") == {}

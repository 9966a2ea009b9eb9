"""`pipenv run preflight <stack>`: read-only checks before a deploy, each passing and failing for real against the
emulator (reached through AWS_ENDPOINT_URL, as the hook is)."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import replace
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from contract.config import BackendSettings, DomainSettings, WafSettings, load_environment
from local_stack.emulator import start_emulator
from operations import deploy, preflight
from operations.preflight import Check, run_checks
from tests.conftest import prod_with_every_option

TRUST_API_GATEWAY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)


def settings(region: str = "eu-north-1", **changes):
    prod = load_environment("prod", {})
    return replace(prod, region=region, **changes)


def checks_of(aws, cli_config, **changes) -> dict[str, Check]:
    return {check.name: check for check in run_checks(settings(**changes), aws, cli_config)}


def logging_role(aws, region: str, trusted_by: str = TRUST_API_GATEWAY) -> str:
    role = aws.client("iam").create_role(
        RoleName=f"apigw-logs-{uuid.uuid4().hex[:8]}", AssumeRolePolicyDocument=trusted_by
    )["Role"]["Arn"]
    aws.client("apigateway", region_name=region).update_account(
        patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": role}]
    )
    return str(role)


# --- credentials --------------------------------------------------------------------------------------------------


def test_resolved_credentials_name_the_account_and_principal(aws, emulator, cli_config):
    check = checks_of(aws, cli_config)["credentials"]
    assert check.ok
    assert check.detail.startswith(f"account {emulator.account_id} as arn:aws:")


def test_no_credentials_fails_with_how_to_sign_in_and_checks_nothing_else_of_aws(
    aws, cli_config, monkeypatch, tmp_path
):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    checks = checks_of(boto3.session.Session(), cli_config)
    assert checks["credentials"].ok is False
    assert "Unable to locate credentials" in checks["credentials"].detail
    assert "aws sso login" in (checks["credentials"].fix or "")
    assert checks["region"].detail == "not checked: no usable AWS credentials"


def test_the_checks_clients_answer_within_ten_seconds_with_five_retries(monkeypatch):
    monkeypatch.delenv("AWS_MAX_ATTEMPTS", raising=False)
    monkeypatch.delenv("AWS_RETRY_MODE", raising=False)
    config: Any = preflight.aws_config(boto3.session.Session(region_name="us-east-1"))
    assert (config.connect_timeout, config.read_timeout) == (10, 10)  # with six attempts: about a minute
    assert config.retries == {"mode": "standard", "total_max_attempts": 6}


def test_retries_set_in_the_environment_are_botocores_to_decide(monkeypatch):
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    config: Any = preflight.aws_config(boto3.session.Session(region_name="us-east-1"))
    assert "total_max_attempts" not in (config.retries or {})  # none set: botocore reads AWS_MAX_ATTEMPTS itself


def test_a_silent_endpoint_fails_the_credentials_check_naming_it_and_checks_nothing_else_of_aws(
    silent_endpoint, monkeypatch, cli_config
):
    endpoint = silent_endpoint.url
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # botocore's own setting, honoured: one 10 s wait
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    started = time.monotonic()
    checks = checks_of(boto3.session.Session(region_name="eu-north-1"), cli_config)
    took = time.monotonic() - started
    print(f"the preflight against a silent endpoint gave up after {took:.1f} s")
    assert checks["credentials"].ok is False
    assert f'Read timeout on endpoint URL: "{endpoint}/"' in checks["credentials"].detail
    assert "AWS_ENDPOINT_URL" in (checks["credentials"].fix or "")
    assert checks["region"].detail == "not checked: AWS did not answer"
    assert took < 40  # a bound well above one attempt's ten seconds (six by default), not a speed target


# --- region -------------------------------------------------------------------------------------------------------


def test_a_region_of_every_service_the_stack_uses_passes(aws, cli_config):
    assert checks_of(aws, cli_config, region="eu-north-1")["region"].ok


def test_a_region_aws_does_not_have_fails_with_the_fix(aws, cli_config):
    check = checks_of(aws, cli_config, region="eu-north-9")["region"]
    assert check.ok is False
    assert check.detail.startswith("eu-north-9 is not a region of apigateway")
    assert check.fix == "set region in contract/config.py to an AWS region such as eu-north-1"


# --- API Gateway's CloudWatch role ----------------------------------------------------------------------------------


def test_a_region_without_an_api_gateway_logging_role_fails_before_anything_is_created(aws, cli_config):
    check = checks_of(aws, cli_config, region="ap-south-2")["api-gateway-logging-role"]
    assert check.ok is False
    assert "no CloudWatch Logs role is set for API Gateway in ap-south-2" in check.detail
    assert "aws apigateway update-account --region ap-south-2" in (check.fix or "")
    assert "api.manage_account_logging_role=True" in (check.fix or "")


def test_a_logging_role_trusted_by_api_gateway_passes(aws, cli_config):
    role = logging_role(aws, "ca-west-1")
    check = checks_of(aws, cli_config, region="ca-west-1")["api-gateway-logging-role"]
    assert check == Check("api-gateway-logging-role", True, f"{role} in ca-west-1")


def test_a_logging_role_api_gateway_cannot_assume_fails(aws, cli_config):
    untrusted = TRUST_API_GATEWAY.replace("apigateway.amazonaws.com", "lambda.amazonaws.com")
    role = logging_role(aws, "il-central-1", trusted_by=untrusted)
    check = checks_of(aws, cli_config, region="il-central-1")["api-gateway-logging-role"]
    assert check.ok is False
    assert check.detail == f"{role} does not trust apigateway.amazonaws.com"


def test_a_stack_that_manages_the_role_needs_none_set(aws, cli_config):
    prod = load_environment("prod", {})
    check = checks_of(aws, cli_config, region="mx-central-1", api=replace(prod.api, manage_account_logging_role=True))[
        "api-gateway-logging-role"
    ]
    assert check.ok
    assert "set by this stack" in check.detail


# --- CloudWatch Logs resource policies (10 per account and region) ------------------------------------------------
# https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutResourcePolicy.html and the quota on
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/cloudwatch_limits_cwl.html. Each test has an account of
# its own (an emulator of its own), so that other tests' policies in us-east-1 do not count.


@pytest.fixture
def own_account(monkeypatch):
    """A session on an emulator of its own: a fresh account with no resource policies anywhere."""
    running = start_emulator()
    for name, value in running.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    yield boto3.session.Session()
    running.stop()


def with_waf_logging(region: str, logging: bool = True):
    return settings(region=region, waf=WafSettings(enabled=True, logging=logging))


def resource_policies(session, region: str, count: int, *names: str) -> None:
    """`names`, then made-up ones until the region has `count` resource policies."""
    logs = session.client("logs", region_name=region)
    for index in range(count):
        name = names[index] if index < len(names) else f"someone-elses-{index}"
        logs.put_resource_policy(policyName=name, policyDocument=json.dumps({"Version": "2012-10-17"}))


def test_no_waf_logging_adds_no_resource_policy(own_account):
    for waf in (WafSettings(), WafSettings(enabled=True), WafSettings(logging=True)):
        check = preflight.log_resource_policies(settings(waf=waf), own_account)
        assert check == Check(
            "log-resource-policies", True, "none added: WAF logging is off (waf.enabled and waf.logging)"
        )


def test_the_stack_adds_one_in_us_east_1_and_one_in_its_region(own_account):
    resource_policies(own_account, "us-east-1", 3)
    check = preflight.log_resource_policies(with_waf_logging("eu-north-1"), own_account)
    assert check == Check(
        "log-resource-policies",
        True,
        "eu-north-1: 0 exist, the stack adds 1, 1 of 10; us-east-1: 3 exist, the stack adds 1, 4 of 10",
    )


def test_filling_the_quota_exactly_passes(own_account):
    resource_policies(own_account, "us-east-1", 9)
    assert preflight.log_resource_policies(with_waf_logging("eu-north-1"), own_account).ok


def test_one_over_the_quota_fails_with_what_how_many_and_what_to_do(own_account):
    resource_policies(own_account, "us-east-1", 10)
    check = preflight.log_resource_policies(with_waf_logging("eu-north-1"), own_account)
    assert check.ok is False
    assert check.detail == (
        "us-east-1 has 10 CloudWatch Logs resource policies and WAF logging adds 1 "
        "(three-tier-prod-site-log-delivery): 11, over the quota of 10 per account and region"
    )
    assert check.fix == (
        "delete 1 that are no longer needed, or merge several into one (`aws logs describe-resource-policies "
        "--region us-east-1`, then `aws logs delete-resource-policy --policy-name <name> --region us-east-1`); "
        "the quota cannot be raised; or turn WAF logging off (waf.logging=False)"
    )


def test_in_us_east_1_the_stack_adds_both_there(own_account):
    resource_policies(own_account, "us-east-1", 9)
    check = preflight.log_resource_policies(with_waf_logging("us-east-1"), own_account)
    assert check.ok is False
    assert check.detail.startswith(
        "us-east-1 has 9 CloudWatch Logs resource policies and WAF logging adds 2 "
        "(three-tier-prod-site-log-delivery, three-tier-prod-api-log-delivery): 11, over the quota"
    )
    assert "delete 1 that are no longer needed" in (check.fix or "")


def test_the_stacks_own_policies_from_an_earlier_deploy_are_not_added_again(own_account):
    own = with_waf_logging("us-east-1").log_resource_policies()["us-east-1"]
    resource_policies(own_account, "us-east-1", 10, *own)
    check = preflight.log_resource_policies(with_waf_logging("us-east-1"), own_account)
    assert check == Check("log-resource-policies", True, "us-east-1: 10 exist, the stack adds 0, 10 of 10")


def test_every_page_of_policies_is_counted(monkeypatch):
    """moto answers in one page; AWS pages, so the check follows nextToken (a stubbed client)."""
    logs = boto3.session.Session().client(
        "logs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    stub = Stubber(logs)
    page = [{"policyName": f"p{n}", "policyDocument": "{}"} for n in range(5)]
    stub.add_response(
        "describe_resource_policies", {"resourcePolicies": page, "nextToken": "more"}, {"policyScope": "ACCOUNT"}
    )
    stub.add_response(
        "describe_resource_policies",
        {"resourcePolicies": [{**p, "policyName": p["policyName"] + "b"} for p in page]},
        {"policyScope": "ACCOUNT", "nextToken": "more"},
    )

    session = boto3.session.Session()
    monkeypatch.setattr(session, "client", lambda *args, **kwargs: logs)
    with stub:
        assert len(preflight.existing_log_resource_policies(session, "us-east-1")) == 10
        stub.assert_no_pending_responses()


def test_the_policies_the_check_counts_are_those_the_stack_makes(prod_all):
    """contract/config.py names them for the preflight; the stack must make exactly those, in those regions."""
    from contract.config import CLOUDFRONT_REGION

    every_option = prod_with_every_option()
    made: dict[str, list[str]] = {}
    for policy in prod_all.resources("aws_cloudwatch_log_resource_policy").values():
        region = CLOUDFRONT_REGION if policy.get("provider") == "aws.us_east_1" else every_option.region
        made.setdefault(region, []).append(policy["policy_name"])
    assert made == {region: list(names) for region, names in every_option.log_resource_policies().items()}


# --- the custom domain's zone -------------------------------------------------------------------------------------


def zone(aws, name: str, private: bool = False) -> str:
    options = (
        {
            "HostedZoneConfig": {"PrivateZone": True, "Comment": "test"},
            "VPC": {"VPCRegion": "eu-north-1", "VPCId": "vpc-12345678"},
        }
        if private
        else {}
    )
    created = aws.client("route53").create_hosted_zone(Name=name, CallerReference=uuid.uuid4().hex, **options)
    return str(created["HostedZone"]["Id"].rsplit("/", 1)[-1])


def domain_checks(aws, cli_config, zone_id: str, *alternative_names: str) -> Check:
    prod = load_environment("prod", {})
    domain = DomainSettings(
        domain_name="users.example.com", hosted_zone_id=zone_id, alternative_names=alternative_names
    )
    return checks_of(aws, cli_config, domain=domain, site=replace(prod.site, api_same_origin=True))["hosted-zone"]


def test_a_public_zone_of_a_parent_of_every_name_passes(aws, cli_config):
    zone_id = zone(aws, "example.com")
    check = domain_checks(aws, cli_config, zone_id, "www.users.example.com")
    assert check.ok
    assert check.detail == f"example.com ({zone_id}) holds users.example.com, www.users.example.com"


def test_a_zone_of_another_domain_fails(aws, cli_config):
    check = domain_checks(aws, cli_config, zone(aws, "example.org"))
    assert check.ok is False
    assert check.detail.startswith("users.example.com is not in zone example.org")


def test_a_zone_that_does_not_exist_fails(aws, cli_config):
    check = domain_checks(aws, cli_config, "Z0000000000000NOSUCH")
    assert check.ok is False
    assert check.detail.startswith("zone Z0000000000000NOSUCH cannot be read")


def test_a_private_zone_fails(aws, cli_config):
    check = domain_checks(aws, cli_config, zone(aws, "example.com", private=True))
    assert check.ok is False
    assert "private zone" in check.detail


# --- the S3 state bucket ------------------------------------------------------------------------------------------


def state_bucket(aws, versioned: bool, encrypted: bool) -> str:
    name = f"state-{uuid.uuid4().hex[:12]}"
    s3 = aws.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=name)
    if versioned:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    if encrypted:
        s3.put_bucket_encryption(
            Bucket=name,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        )
    return name


def backend_check(aws, cli_config, bucket: str) -> Check:
    backend = BackendSettings(kind="s3", bucket=bucket, region="us-east-1")
    return checks_of(aws, cli_config, backend=backend)["state-bucket"]


def test_a_versioned_encrypted_state_bucket_passes(aws, cli_config):
    bucket = state_bucket(aws, versioned=True, encrypted=True)
    assert backend_check(aws, cli_config, bucket) == Check(
        "state-bucket", True, f"{bucket} in us-east-1: versioned, encrypted"
    )


def test_an_unversioned_state_bucket_fails_with_the_command_that_fixes_it(aws, cli_config):
    bucket = state_bucket(aws, versioned=False, encrypted=True)
    check = backend_check(aws, cli_config, bucket)
    assert check.ok is False
    assert check.detail == f"state bucket {bucket}: versioning is off"
    assert check.fix == (
        f"`aws s3api put-bucket-versioning --bucket {bucket} --versioning-configuration Status=Enabled`"
    )


def test_a_missing_state_bucket_fails(aws, cli_config):
    check = backend_check(aws, cli_config, "no-such-state-bucket-here")
    assert check.ok is False
    assert check.detail.startswith("state bucket no-such-state-bucket-here cannot be reached")


# --- Terraform and the provider -----------------------------------------------------------------------------------


def test_terraform_and_the_provider_install(aws, cli_config):
    check = checks_of(aws, cli_config)["terraform"]
    assert check.ok, check
    assert "hashicorp/aws 5.100.0 installs" in check.detail


def test_a_provider_that_cannot_be_installed_fails(aws, monkeypatch, tmp_path):
    from terraform_cli import write_cli_config

    (tmp_path / "empty-mirror").mkdir()
    monkeypatch.setenv("TF_PROVIDER_MIRROR", str(tmp_path / "empty-mirror"))
    check = preflight.terraform_and_provider(write_cli_config(tmp_path / "cli.tfrc"))
    assert check.ok is False
    assert "does not install" in check.detail
    assert "TF_PROVIDER_MIRROR" in (check.fix or "")


def test_no_terraform_fails_with_where_to_get_it(monkeypatch, tmp_path, cli_config):
    monkeypatch.setenv("PATH", str(tmp_path))
    check = preflight.terraform_and_provider(cli_config)
    assert check.ok is False
    assert check.fix == "install Terraform 1.10 or newer (https://developer.hashicorp.com/terraform/install)"


# --- the command --------------------------------------------------------------------------------------------------


def test_json_lists_every_check_and_exit_1_when_one_fails(aws, capsys):
    assert preflight.main(["prod", "--json"], session=aws) == 1  # eu-north-1 has no logging role in the emulator
    checks = json.loads(capsys.readouterr().out)["checks"]
    assert [c["name"] for c in checks] == [
        "credentials",
        "region",
        "api-gateway-logging-role",
        "log-resource-policies",
        "terraform",
    ]
    assert all(set(c) == {"name", "ok", "detail", "fix"} for c in checks)
    assert [c["ok"] for c in checks] == [True, True, False, True, True]


def test_exit_0_when_every_check_passes(aws, capsys, monkeypatch):
    logging_role(aws, "eu-south-2")
    monkeypatch.setattr(preflight, "load_environment", lambda name: settings(region="eu-south-2"))
    assert preflight.main(["prod"], session=aws) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 5
    assert all(line.startswith("ok   ") for line in lines)


def test_deploy_stops_before_anything_when_a_check_fails(aws, capsys, tmp_path, monkeypatch):
    created = []
    monkeypatch.setattr(deploy, "deploy", lambda *args: created.append(args))
    assert deploy.main(["prod", "--outdir", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert "FAIL api-gateway-logging-role" in captured.out
    assert captured.err == "deploy: error: a preflight check failed (see its fix above); nothing was deployed\n"
    assert created == []

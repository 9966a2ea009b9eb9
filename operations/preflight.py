"""Read-only checks of an AWS account before a deploy: `pipenv run preflight prod [--json]`.

Each check is one line: what it looked at and, when something is wrong, what and the exact fix — before anything
is created. Uses your usual AWS credentials (AWS_PROFILE, SSO, environment variables) and honours
AWS_ENDPOINT_URL like the hook. Changes nothing. Exit 0 when every check passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, HTTPClientError

from contract.config import (
    LOG_RESOURCE_POLICIES_PER_REGION,
    ConfigError,
    DomainSettings,
    EnvironmentSettings,
    load_environment,
)
from hooks.results import DEFAULT_AWS_TIMEOUT
from hooks.storage import client_config, default_session
from terraform_cli import AWS_PROVIDER_CONSTRAINT, Terraform, TerraformError, write_cli_config

if TYPE_CHECKING:
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sts import STSClient

MINIMUM_TERRAFORM = (1, 10)
# Every service the stack creates resources in must know the region.
STACK_SERVICES = ("apigateway", "dynamodb", "lambda", "logs", "s3", "sts")  # CloudFront and IAM are global


@dataclass(frozen=True)
class Check:
    """One check's result: `fix` says exactly what to do when `ok` is false."""

    name: str
    ok: bool
    detail: str
    fix: str | None = None

    def line(self) -> str:
        fix = f" — fix: {self.fix}" if self.fix else ""
        return f"{'ok  ' if self.ok else 'FAIL'} {self.name}: {self.detail}{fix}"


def aws_config(session: boto3.session.Session) -> Config:
    """The hook's client settings: an answer within DEFAULT_AWS_TIMEOUT seconds, and botocore's standard retries
    unless the session's own chain sets them (AWS_MAX_ATTEMPTS, AWS_RETRY_MODE, the profile). An endpoint that
    never answers fails the first check in about a minute, and nothing else of AWS is tried."""
    return client_config(DEFAULT_AWS_TIMEOUT, session)


def _without_cause(detail: str) -> str:
    return detail.split(" (", 1)[0]


def _aws_error(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'error')}: {error.get('Message', '')}".strip()
    return str(exc)


# --- the checks ---------------------------------------------------------------------------------------------------


def credentials(session: boto3.session.Session) -> Check:
    try:
        sts: STSClient = session.client("sts", config=aws_config(session))
        identity = sts.get_caller_identity()
    except (ConnectionError, HTTPClientError) as exc:  # botocore's message names the endpoint
        return Check(
            "credentials",
            False,
            f"AWS did not answer ({exc})",
            "check the network and any proxy (HTTPS_PROXY), or AWS_ENDPOINT_URL if it is set",
        )
    except (BotoCoreError, ClientError) as exc:
        return Check(
            "credentials",
            False,
            f"no usable AWS credentials ({_aws_error(exc)})",
            "sign in (`aws sso login --profile <profile>` and AWS_PROFILE=<profile>), or set "
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for a deploy role",
        )
    return Check("credentials", True, f"account {identity['Account']} as {identity['Arn']}")


def region(settings: EnvironmentSettings, session: boto3.session.Session) -> Check:
    unknown = [s for s in STACK_SERVICES if settings.region not in session.get_available_regions(s)]
    if unknown:
        return Check(
            "region",
            False,
            f"{settings.region} is not a region of {', '.join(unknown)}",
            "set region in contract/config.py to an AWS region such as eu-north-1",
        )
    try:
        sts: STSClient = session.client("sts", region_name=settings.region, config=aws_config(session))
        sts.get_caller_identity()
    except (BotoCoreError, ClientError) as exc:
        return Check(
            "region",
            False,
            f"{settings.region} does not answer for this account ({_aws_error(exc)})",
            f"enable {settings.region} for the account (Account → AWS Regions), or choose another region",
        )
    return Check("region", True, f"{settings.region} answers")


def account_logging_role(settings: EnvironmentSettings, session: boto3.session.Session) -> Check:
    """Stage logging is refused until API Gateway has a CloudWatch Logs role in the account and region."""
    name = "api-gateway-logging-role"
    if settings.api.manage_account_logging_role:
        return Check(name, True, f"set by this stack in {settings.region} (api.manage_account_logging_role)")
    fix = (
        f"set it once for {settings.region}: `aws apigateway update-account --region {settings.region} "
        "--patch-operations op=replace,path=/cloudwatchRoleArn,value=<ARN of a role trusted by "
        "apigateway.amazonaws.com with the AmazonAPIGatewayPushToCloudWatchLogs policy>`, or set "
        "api.manage_account_logging_role=True in contract/config.py"
    )
    try:
        role_arn = (
            session.client("apigateway", region_name=settings.region, config=aws_config(session))
            .get_account()
            .get("cloudwatchRoleArn")
        )
    except (BotoCoreError, ClientError) as exc:
        return Check(name, False, f"cannot read API Gateway's account settings ({_aws_error(exc)})", fix)
    if not role_arn:
        return Check(
            name,
            False,
            f"no CloudWatch Logs role is set for API Gateway in {settings.region}; the stage "
            'would fail with "CloudWatch Logs role ARN must be set in account settings to enable '
            'logging"',
            fix,
        )
    try:
        role = session.client("iam", config=aws_config(session)).get_role(RoleName=role_arn.rsplit("/", 1)[-1])["Role"]
    except (BotoCoreError, ClientError) as exc:
        return Check(name, False, f"the role set for API Gateway, {role_arn}, cannot be read ({_aws_error(exc)})", fix)
    if "apigateway.amazonaws.com" not in json.dumps(role.get("AssumeRolePolicyDocument", {})):
        return Check(name, False, f"{role_arn} does not trust apigateway.amazonaws.com", fix)
    return Check(name, True, f"{role_arn} in {settings.region}")


def existing_log_resource_policies(session: boto3.session.Session, region: str) -> list[str]:
    """The names of the account-level CloudWatch Logs resource policies in `region`, every page of them (those of
    a log group, `policyScope` RESOURCE, count against a quota of their own)."""
    logs: CloudWatchLogsClient = session.client("logs", region_name=region, config=aws_config(session))
    return [
        policy["policyName"]
        for page in logs.get_paginator("describe_resource_policies").paginate(policyScope="ACCOUNT")
        for policy in page.get("resourcePolicies", [])
        if "policyName" in policy
    ]


def log_resource_policies(settings: EnvironmentSettings, session: boto3.session.Session) -> Check:
    """WAF logging adds a CloudWatch Logs resource policy per web ACL, and an account may have only
    LOG_RESOURCE_POLICIES_PER_REGION in each region: AWS would refuse the one too many halfway through the apply."""
    name = "log-resource-policies"
    quota = LOG_RESOURCE_POLICIES_PER_REGION
    wanted = settings.log_resource_policies()
    if not wanted:
        return Check(name, True, "none added: WAF logging is off (waf.enabled and waf.logging)")
    counted, over, fixes = [], [], []
    for region, policies in sorted(wanted.items()):
        try:
            existing = existing_log_resource_policies(session, region)
        except (BotoCoreError, ClientError) as exc:
            return Check(
                name,
                False,
                f"cannot list the CloudWatch Logs resource policies in {region} ({_aws_error(exc)})",
                f"allow logs:DescribeResourcePolicies in {region} to the identity that deploys, then run the "
                "preflight again",
            )
        added = [policy for policy in policies if policy not in existing]  # the stack's own are updated in place
        total = len(existing) + len(added)
        counted.append(f"{region}: {len(existing)} exist, the stack adds {len(added)}, {total} of {quota}")
        if total > quota:
            over.append(
                f"{region} has {len(existing)} CloudWatch Logs resource policies and WAF logging adds "
                f"{len(added)} ({', '.join(added)}): {total}, over the quota of {quota} per account and region"
            )
            fixes.append(
                f"delete {total - quota} that are no longer needed, or merge several into one (`aws logs "
                f"describe-resource-policies --region {region}`, then `aws logs delete-resource-policy "
                f"--policy-name <name> --region {region}`)"
            )
    if over:
        fix = "; ".join(fixes) + "; the quota cannot be raised; or turn WAF logging off (waf.logging=False)"
        return Check(name, False, "; ".join(over), fix)
    return Check(name, True, "; ".join(counted))


def hosted_zone(domain: DomainSettings, session: boto3.session.Session) -> Check:
    name = "hosted-zone"
    fix = (
        f"set domain.hosted_zone_id to the public Route 53 zone of {domain.domain_name} or of a parent "
        "(`aws route53 list-hosted-zones-by-name`)"
    )
    try:
        route53 = session.client("route53", config=aws_config(session))
        zone = route53.get_hosted_zone(Id=domain.hosted_zone_id)["HostedZone"]
    except (BotoCoreError, ClientError) as exc:
        return Check(name, False, f"zone {domain.hosted_zone_id} cannot be read ({_aws_error(exc)})", fix)
    zone_name = zone["Name"].rstrip(".")
    outside = [n for n in domain.names if n != zone_name and not n.endswith(f".{zone_name}")]
    if outside:
        return Check(name, False, f"{', '.join(outside)} is not in zone {zone_name} ({domain.hosted_zone_id})", fix)
    if zone.get("Config", {}).get("PrivateZone"):
        return Check(name, False, f"{zone_name} is a private zone; ACM validates certificates through public DNS", fix)
    return Check(name, True, f"{zone_name} ({domain.hosted_zone_id}) holds {', '.join(domain.names)}")


def state_bucket(settings: EnvironmentSettings, session: boto3.session.Session) -> Check:
    name = "state-bucket"
    bucket = settings.backend.bucket or ""
    bucket_region = settings.backend.region or settings.region
    s3: S3Client = session.client("s3", region_name=bucket_region, config=aws_config(session))
    try:
        s3.head_bucket(Bucket=bucket)
    except (BotoCoreError, ClientError) as exc:
        return Check(
            name,
            False,
            f"state bucket {bucket} cannot be reached ({_aws_error(exc)})",
            f"create it once, outside this stack: `aws s3api create-bucket --bucket {bucket} --region "
            f"{bucket_region} --create-bucket-configuration LocationConstraint={bucket_region}`, then "
            "turn on versioning",
        )
    problems, fixes = [], []
    versioning: str | None
    try:
        versioning = s3.get_bucket_versioning(Bucket=bucket).get("Status")
    except (BotoCoreError, ClientError) as exc:
        versioning = f"unreadable ({_aws_error(exc)})"
    if versioning != "Enabled":
        problems.append(f"versioning is {versioning or 'off'}")
        fixes.append(f"`aws s3api put-bucket-versioning --bucket {bucket} --versioning-configuration Status=Enabled`")
    try:
        rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    except (BotoCoreError, ClientError):
        rules = []
    if not rules:
        problems.append("default encryption is off")
        fixes.append(
            f"`aws s3api put-bucket-encryption --bucket {bucket} --server-side-encryption-configuration "
            '\'{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"AES256"}}]}\'`'
        )
    if problems:
        return Check(name, False, f"state bucket {bucket}: {'; '.join(problems)}", "; ".join(fixes))
    return Check(name, True, f"{bucket} in {bucket_region}: versioned, encrypted")


def terraform_and_provider(cli_config: Path) -> Check:
    """Terraform is new enough and the AWS provider installs (from the mirror or the registry)."""
    name = "terraform"
    fix_terraform = "install Terraform 1.10 or newer (https://developer.hashicorp.com/terraform/install)"
    try:
        done = subprocess.run(["terraform", "version", "-json"], capture_output=True, text=True, check=True, timeout=60)
        version = json.loads(done.stdout)["terraform_version"]
    except (OSError, subprocess.SubprocessError, ValueError, KeyError) as exc:
        return Check(name, False, f"terraform cannot run ({exc})", fix_terraform)
    numbers = tuple(int(n) for n in re.findall(r"\d+", version)[:2])
    if numbers < MINIMUM_TERRAFORM:
        return Check(name, False, f"Terraform {version} is older than 1.10 (S3 native state locking)", fix_terraform)
    with tempfile.TemporaryDirectory(prefix="preflight-") as scratch:
        (Path(scratch) / "main.tf.json").write_text(
            json.dumps(
                {
                    "terraform": {
                        "required_providers": {"aws": {"source": "hashicorp/aws", "version": AWS_PROVIDER_CONSTRAINT}}
                    }
                }
            )
        )
        try:
            Terraform(Path(scratch), cli_config, timeout=600).init(backend=False)
        except TerraformError as exc:
            return Check(
                name,
                False,
                f"Terraform {version}; the hashicorp/aws provider {AWS_PROVIDER_CONSTRAINT} does not install: {exc}",
                "run scripts/setup, which finds a provider mirror, set "
                "TF_PROVIDER_MIRROR to one, or allow access to the Terraform registry",
            )
        lock = (Path(scratch) / ".terraform.lock.hcl").read_text()
    installed = re.search(r'version\s*=\s*"([^"]+)"', lock)
    return Check(name, True, f"Terraform {version}; hashicorp/aws {installed[1] if installed else '?'} installs")


def run_checks(settings: EnvironmentSettings, session: boto3.session.Session, cli_config: Path) -> list[Check]:
    checks = [credentials(session)]
    aws_checks: list[tuple[str, Callable[[], Check]]] = [
        ("region", lambda: region(settings, session)),
        ("api-gateway-logging-role", lambda: account_logging_role(settings, session)),
        ("log-resource-policies", lambda: log_resource_policies(settings, session)),
    ]
    if settings.domain is not None:
        domain = settings.domain
        aws_checks.append(("hosted-zone", lambda: hosted_zone(domain, session)))
    if settings.backend.kind == "s3":
        aws_checks.append(("state-bucket", lambda: state_bucket(settings, session)))
    first = checks[0]
    for name, check in aws_checks:
        checks.append(
            check() if first.ok else Check(name, False, f"not checked: {_without_cause(first.detail)}", first.fix)
        )
    checks.append(terraform_and_provider(cli_config))
    return checks


def main(argv: list[str] | None = None, session: boto3.session.Session | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m operations.preflight", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("stack", help="the stack (environment) to check, e.g. prod")
    parser.add_argument("--json", action="store_true", help='print {"checks": [{name, ok, detail, fix}]}')
    args = parser.parse_args(argv)
    try:
        settings = load_environment(args.stack)
    except ConfigError as exc:
        print(f"preflight: error: {exc}", file=sys.stderr)
        if args.json:
            print(json.dumps({"error": str(exc)}))
        return 1
    with tempfile.TemporaryDirectory(prefix="preflight-") as scratch:
        checks = run_checks(settings, session or default_session(), write_cli_config(Path(scratch) / "cli.tfrc"))
    if args.json:
        print(json.dumps({"checks": [asdict(check) for check in checks]}))
    else:
        print("\n".join(check.line() for check in checks))
    return 0 if all(check.ok for check in checks) else 1


if __name__ == "__main__":
    sys.exit(main())

"""Preview environments (`preview-<slug>`): prod's design, made to be thrown away, with state of its own; and the
destroy command that removes one completely and refuses anything else."""

from __future__ import annotations

from dataclasses import fields, is_dataclass, replace
from pathlib import Path

import pytest

from contract.config import (
    LOG_RETENTION_DAYS,
    PREVIEW_LOG_RETENTION_DAYS,
    ConfigError,
    EmulatorSettings,
    load_environment,
    selected_environments,
)
from contract.outputs import StackOutputs
from contract.rules import OneOf
from hooks.publish import publish_site
from hooks.results import PublishOptions, Target
from hooks.storage import SiteClients
from operations import destroy
from terraform_cli import Terraform
from tests.conftest import synthesize

WEB = Path(__file__).resolve().parent.parent / "web"


@pytest.fixture(scope="module")
def preview(tmp_path_factory):
    return synthesize([load_environment("preview-pr-42", {})], tmp_path_factory.mktemp("preview"))["preview-pr-42"]


# --- what a preview is ------------------------------------------------------------------------------------------


def test_a_preview_is_named_after_its_slug(preview):
    assert preview.only("aws_dynamodb_table")["name"] == "three-tier-preview-pr-42-users"
    assert preview.only("aws_s3_bucket")["bucket_prefix"] == "three-tier-preview-pr-42-site-"


def test_a_preview_keeps_no_data_protection(preview):
    table = preview.only("aws_dynamodb_table")
    assert table["deletion_protection_enabled"] is False
    assert table["point_in_time_recovery"] == {"enabled": False}
    assert table["lifecycle"] == {"prevent_destroy": False}


def test_a_previews_bucket_may_be_emptied_by_terraform(preview):
    assert preview.only("aws_s3_bucket")["force_destroy"] is True


def test_a_preview_keeps_logs_a_week_and_does_not_wait_for_cloudfront(preview):
    retentions = {g["retention_in_days"] for g in preview.resources("aws_cloudwatch_log_group").values()}
    assert retentions == {PREVIEW_LOG_RETENTION_DAYS}
    assert preview.only("aws_cloudfront_distribution")["wait_for_deployment"] is False


def retention_settings(settings, path: str = "") -> dict[str, int]:
    """Every log retention setting of an environment, by its dotted name (the fields whose rule is CloudWatch Logs'
    list of retention periods), however deep."""
    found: dict[str, int] = {}
    for item in fields(settings):
        value, name = getattr(settings, item.name), f"{path}{item.name}"
        if is_dataclass(value):
            found |= retention_settings(value, f"{name}.")
        elif item.metadata.get("rule") == OneOf(LOG_RETENTION_DAYS):
            found[name] = value
    return found


def test_every_log_retention_of_a_preview_is_a_week():
    retentions = retention_settings(load_environment("preview-pr-42", {}))
    assert {"function.log_retention_days", "api.access_log_retention_days", "waf.log_retention_days"} <= set(retentions)
    assert retentions == dict.fromkeys(retentions, PREVIEW_LOG_RETENTION_DAYS)


def test_a_preview_with_waf_logging_keeps_the_waf_logs_a_week_too(tmp_path):
    settings = load_environment("preview-pr-42", {})
    with_waf = replace(settings, waf=replace(settings.waf, enabled=True, logging=True))
    stack = synthesize([with_waf], tmp_path)["preview-pr-42"]
    groups = stack.resources("aws_cloudwatch_log_group").values()
    assert {g["name"] for g in groups} >= {
        "aws-waf-logs-three-tier-preview-pr-42-site",
        "aws-waf-logs-three-tier-preview-pr-42-api",
    }
    assert {g["retention_in_days"] for g in groups} == {PREVIEW_LOG_RETENTION_DAYS}


def test_a_preview_has_no_alarms_and_no_custom_domain(preview):
    for resource_type in ("aws_cloudwatch_metric_alarm", "aws_sns_topic", "aws_kms_key", "aws_acm_certificate"):
        assert preview.resources(resource_type) == {}


def test_a_preview_has_prods_design(preview, prod):
    assert set(preview.config["resource"]) == set(prod.config["resource"])


def test_a_preview_keeps_local_state_of_its_own(preview):
    assert preview.config["terraform"]["backend"]["local"]["path"].endswith("terraform.preview-pr-42.tfstate")


def test_previews_share_the_s3_backend_with_a_key_each():
    env = {"PREVIEW_BACKEND": "s3", "PREVIEW_STATE_BUCKET": "team-state", "PREVIEW_STATE_KEY": "one/for/all"}
    settings = load_environment("preview-pr-42", env)
    assert (settings.backend.kind, settings.backend.bucket, settings.backend.key) == ("s3", "team-state", None)


def test_previews_get_a_terraform_cloud_workspace_each(tmp_path):
    env = {"PREVIEW_BACKEND": "cloud", "TF_CLOUD_ORGANIZATION": "acme", "PREVIEW_TF_WORKSPACE": "shared"}
    stack = synthesize([load_environment("preview-pr-7", env)], tmp_path)["preview-pr-7"]
    assert stack.config["terraform"]["cloud"]["workspaces"]["name"] == "three-tier-preview-pr-7"


@pytest.mark.parametrize("name", ["preview-", "preview-PR-1", "preview-pr_1", "preview-pr-", "preview-abcdefghijklm"])
def test_a_preview_name_that_would_break_a_resource_name_is_refused(name):
    with pytest.raises(ConfigError, match=r"environment: .* allowed values: local, prod, or preview-<slug>"):
        load_environment(name, {})


def test_a_project_name_too_long_for_a_preview_is_refused():
    preview = load_environment("preview-abcdefghijkl", {})
    with pytest.raises(ConfigError, match=r"project: 'a-much-longer-name' .* bucket prefix"):
        replace(preview, project="a-much-longer-name")


def test_previews_are_synthesized_only_when_named():
    assert [s.name for s in selected_environments({})] == ["local", "prod"]
    assert [s.name for s in selected_environments({"APP_ENVIRONMENTS": "preview-pr-42"})] == ["preview-pr-42"]


# --- destroying a preview ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["prod", "local"])
def test_destroy_refuses_anything_but_a_preview(stack, tmp_path, capsys):
    assert destroy.main([stack, "--outdir", str(tmp_path)]) == 1
    assert "only previews are destroyed by this command" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # not even synthesized


def emulator_contents(emulator) -> dict[str, set[str]]:
    """Every resource of the kinds a stack creates, by kind, as the emulator lists them."""
    cloudfront = emulator.client("cloudfront")
    return {
        "buckets": {b["Name"] for b in emulator.client("s3").list_buckets()["Buckets"]},
        "tables": set(emulator.client("dynamodb").list_tables()["TableNames"]),
        "functions": {f["FunctionName"] for f in emulator.client("lambda").list_functions()["Functions"]},
        "roles": {r["RoleName"] for r in emulator.client("iam").list_roles()["Roles"]},
        "apis": {a["id"] for a in emulator.client("apigateway").get_rest_apis()["items"]},
        "distributions": {d["Id"] for d in cloudfront.list_distributions()["DistributionList"].get("Items", [])},
        "origin access controls": {
            c["Id"] for c in cloudfront.list_origin_access_controls()["OriginAccessControlList"].get("Items", [])
        },
        "log groups": {g["logGroupName"] for g in emulator.client("logs").describe_log_groups()["logGroups"]},
    }


def test_a_preview_applied_published_and_destroyed_leaves_nothing_behind(emulator, cli_config, tmp_path):
    before = emulator_contents(emulator)
    preview = load_environment("preview-emu", {})
    # Prod's design in the emulator: its endpoints, AWS's managed headers policy and no routing function (moto has
    # neither a response-headers-policy nor a CloudFront Functions API).
    settings = replace(
        preview,
        region=emulator.region,
        emulator=EmulatorSettings(url=emulator.url),
        site=replace(preview.site, security_headers="managed", routing_function=False),
    )
    (stack,) = synthesize([settings], tmp_path / "cdktf.out").values()
    terraform = Terraform(stack.directory, cli_config, env=emulator.environment(), timeout=600)
    terraform.init()
    outputs = StackOutputs.from_terraform(terraform.apply())
    clients = SiteClients(s3=emulator.client("s3"), cloudfront=emulator.client("cloudfront"))
    published = publish_site(Target.from_outputs(outputs), WEB, PublishOptions(), clients)
    assert published.uploaded
    versions = emulator.client("s3").list_object_versions(Bucket=outputs.bucket_name)
    assert versions["Versions"]  # a versioned bucket with objects and the hook's records in it
    terraform.destroy()
    after = emulator_contents(emulator)
    assert {kind: after[kind] - before[kind] for kind in after} == {kind: set() for kind in after}

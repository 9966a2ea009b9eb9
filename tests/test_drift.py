"""Drift reports: a refresh-only plan of a deployed stack, read through Terraform's JSON, naming each resource
changed outside Terraform with its attributes before → after. Proven in the emulator by changing resources with
boto3 behind Terraform's back."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from operations import drift
from operations.drift import AttributeChange, attribute_changes


def run_drift(stack, capsys, *extra: str) -> tuple[int, dict]:
    code = drift.main(["local", "--work-dir", str(stack.options.work_dir), "--json", *extra])
    return code, json.loads(capsys.readouterr().out)


def addresses(entries: list[dict]) -> dict[str, list[str]]:
    return {e["address"].split(".")[0]: [c["path"] for c in e["changes"]] for e in entries}


# --- reading a plan ---------------------------------------------------------------------------------------------


def test_changed_leaves_are_named_by_their_path():
    before = {"settings": [{"throttling_burst_limit": 50, "metrics_enabled": True}], "name": "x"}
    after = {"settings": [{"throttling_burst_limit": 7, "metrics_enabled": True}], "name": "x"}
    assert list(attribute_changes(before, after)) == [AttributeChange("settings[0].throttling_burst_limit", 50, 7)]


def test_null_and_empty_are_the_same_value():
    assert list(attribute_changes({"tags": None, "actions": None}, {"tags": {}, "actions": []})) == []


def test_a_change_reads_before_and_after():
    assert str(AttributeChange("point_in_time_recovery[0].enabled", True, False)) == (
        "point_in_time_recovery[0].enabled: true → false"
    )


# --- in the emulator --------------------------------------------------------------------------------------------


def test_a_fresh_stack_has_no_drift_and_the_emulators_artifacts_are_named(whole_local_stack, capsys):
    code, report = run_drift(whole_local_stack, capsys)
    assert code == drift.NO_DRIFT, report
    assert report["drift"] == []
    assert addresses(report["emulator_artifacts"]) == {
        "aws_cloudfront_distribution": ["origin[0].origin_access_control_id"]
    }
    # set by the key-policy, topic-policy and lifecycle resources, not by the resources that report them
    assert {"aws_kms_key", "aws_sns_topic", "aws_s3_bucket"} <= set(addresses(report["not_set_by_the_stack"]))


@contextmanager
def changed_behind_terraforms_back(stack) -> Iterator[None]:
    """The stage's burst limit and the table's point-in-time recovery changed with boto3; put back afterwards."""
    apigateway, dynamodb = stack.emulator.client("apigateway"), stack.emulator.client("dynamodb")
    outputs = stack.outputs

    def burst_limit(value: str) -> None:
        apigateway.update_stage(
            restApiId=outputs.api_id,
            stageName=outputs.api_stage,
            patchOperations=[{"op": "replace", "path": "/*/*/throttling/burstLimit", "value": value}],
        )

    def point_in_time_recovery(enabled: bool) -> None:
        dynamodb.update_continuous_backups(
            TableName=outputs.table_name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": enabled}
        )

    burst_limit("7")
    point_in_time_recovery(False)
    try:
        yield
    finally:
        burst_limit(str(stack.settings.api.throttling_burst_limit))
        point_in_time_recovery(True)


def test_changes_made_outside_terraform_are_reported_exactly(whole_local_stack, capsys):
    with changed_behind_terraforms_back(whole_local_stack):
        code, report = run_drift(whole_local_stack, capsys)
    assert code == drift.DRIFT
    assert addresses(report["drift"]) == {
        "aws_api_gateway_method_settings": ["settings[0].throttling_burst_limit"],
        # disabled, it has no recovery period either
        "aws_dynamodb_table": [
            "point_in_time_recovery[0].enabled",
            "point_in_time_recovery[0].recovery_period_in_days",
        ],
    }
    (burst,) = [e for e in report["drift"] if e["address"].startswith("aws_api_gateway_method_settings.")]
    assert burst["changes"] == [{"path": "settings[0].throttling_burst_limit", "before": 50, "after": 7}]


def test_the_report_reads_as_one_line_per_change(whole_local_stack, capsys):
    with changed_behind_terraforms_back(whole_local_stack):
        code = drift.main(["local", "--work-dir", str(whole_local_stack.options.work_dir)])
    lines = capsys.readouterr().out.splitlines()
    assert code == drift.DRIFT
    assert lines[0] == "drift: 2 resource(s) changed outside Terraform"
    assert "  settings[0].throttling_burst_limit: 50 → 7" in lines
    assert "  point_in_time_recovery[0].enabled: true → false" in lines


def test_putting_the_changes_back_clears_the_drift(whole_local_stack, capsys):
    with changed_behind_terraforms_back(whole_local_stack):
        pass
    code, report = run_drift(whole_local_stack, capsys)
    assert (code, report["drift"]) == (drift.NO_DRIFT, [])


def test_no_running_local_stack_is_an_error(tmp_path, capsys):
    assert drift.main(["local", "--work-dir", str(tmp_path)]) == drift.ERROR
    assert "no local stack is running" in capsys.readouterr().err


def test_a_silent_endpoint_ends_a_drift_check_naming_it_before_terraform_starts(
    silent_endpoint, tmp_path, capsys, monkeypatch
):
    endpoint = silent_endpoint.url
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # botocore's own setting, honoured: one 10 s wait
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-north-1")
    started = time.monotonic()
    code = drift.main(["prod", "--outdir", str(tmp_path / "out")])
    took = time.monotonic() - started
    err = capsys.readouterr().err
    print(f"a drift check against a silent endpoint gave up after {took:.1f} s")  # after capsys, so it shows
    assert code == drift.ERROR
    assert err.startswith(f'drift: error: AWS did not answer (Read timeout on endpoint URL: "{endpoint}/")')
    assert not (tmp_path / "out").exists()  # nothing synthesized, no Terraform started
    assert took < 40  # a bound well above one attempt's ten seconds (six by default), not a speed target


# --- resources with an index (for_each and count) ---------------------------------------------------------------


def drifted_entry(address: str, name: str, index: object, after: dict) -> dict:
    """One `resource_drift` entry as `terraform show -json` writes it."""
    return {
        "address": address,
        "mode": "managed",
        "type": "aws_cloudwatch_log_group",
        "name": name,
        "index": index,
        "change": {"actions": ["update"], "before": {"retention_in_days": 7, "tags": None}, "after": after},
    }


def test_resources_with_a_for_each_key_or_a_count_index_are_read_by_type_and_name():
    config = {
        "resource": {
            "aws_cloudwatch_log_group": {
                "ByName": {"for_each": "${toset([...])}", "name": "${each.key}", "retention_in_days": 7},
                "Numbered": {"count": 2, "name": "n-${count.index}", "retention_in_days": 7},
            }
        }
    }
    plan = {
        "resource_drift": [
            # a key with dots of its own: splitting the address on "." reads type `example`, name `com"]`
            drifted_entry(
                'aws_cloudwatch_log_group.ByName["users.example.com"]',
                "ByName",
                "users.example.com",
                {"retention_in_days": 30, "tags": {"Owner": "someone"}},
            ),
            drifted_entry("aws_cloudwatch_log_group.Numbered[1]", "Numbered", 1, {"retention_in_days": 1}),
        ]
    }
    found = drift.read_report(plan, config, emulated=False)
    assert [(d.address, [c.path for c in d.changes]) for d in found.drift] == [
        ('aws_cloudwatch_log_group.ByName["users.example.com"]', ["retention_in_days"]),
        ("aws_cloudwatch_log_group.Numbered[1]", ["retention_in_days"]),
    ]
    assert [(d.address, [c.path for c in d.changes]) for d in found.not_set_by_the_stack] == [
        ('aws_cloudwatch_log_group.ByName["users.example.com"]', ["tags"])
    ]


def test_drift_on_for_each_and_count_instances_is_reported_in_the_emulator(own_emulator, tmp_path, capsys, monkeypatch):
    """A stack of its own in an emulator of its own (gone with it at the end: no destroy): log groups made with
    for_each (keys with dots, as the certificate validation records have) and SNS topics made with count, changed
    with boto3 behind Terraform's back."""
    emulator = own_emulator
    from cdktf import App, LocalBackend, TerraformCount, TerraformIterator, TerraformStack, Token
    from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
    from cdktf_cdktf_provider_aws.provider import AwsProvider
    from cdktf_cdktf_provider_aws.sns_topic import SnsTopic

    from contract.config import FAKE_CREDENTIALS, EmulatorSettings
    from modules.stack import local_provider_options
    from terraform_cli import AWS_PROVIDER_CONSTRAINT, StackWorkspace

    app = App(outdir=str(tmp_path / "out"))
    stack = TerraformStack(app, "indexed")
    LocalBackend(stack, path=str(tmp_path / "indexed.tfstate"))  # never beside the project
    stack.add_override("terraform.required_providers.aws.version", AWS_PROVIDER_CONSTRAINT)
    AwsProvider(stack, "aws", region=emulator.region, **local_provider_options(EmulatorSettings(url=emulator.url)))
    keys = TerraformIterator.from_list(["users.example.com", "www.users.example.com"])
    CloudwatchLogGroup(
        stack, "ByName", for_each=keys, name=f"/drift-test/{Token.as_string(keys.value)}", retention_in_days=7
    )
    count = TerraformCount.of(2)
    SnsTopic(
        stack, "Numbered", count=count, name=f"drift-test-{Token.as_string(count.index)}", display_name="as configured"
    )
    app.synth()
    workspace = StackWorkspace("indexed", Path(app.outdir))
    workspace.write_emulator_config(emulator.url, FAKE_CREDENTIALS)
    terraform = workspace.initialized(env=emulator.environment(), timeout=600)
    terraform.apply()
    emulator.client("logs").put_retention_policy(logGroupName="/drift-test/www.users.example.com", retentionInDays=30)
    (topic,) = [
        t["TopicArn"] for t in emulator.client("sns").list_topics()["Topics"] if t["TopicArn"].endswith(":drift-test-1")
    ]
    emulator.client("sns").set_topic_attributes(
        TopicArn=topic, AttributeName="DisplayName", AttributeValue="changed by hand"
    )
    monkeypatch.setattr(drift, "terraform_for", lambda args: (workspace, terraform))
    code = drift.main(["local", "--json"])  # "local": the emulator's known artifacts are named as such
    found = json.loads(capsys.readouterr().out)
    assert code == drift.DRIFT  # the command alerts, as a scheduled job needs
    assert {d["address"]: d["changes"] for d in found["drift"]} == {
        'aws_cloudwatch_log_group.ByName["www.users.example.com"]': [
            {"path": "retention_in_days", "before": 7, "after": 30}
        ],
        "aws_sns_topic.Numbered[1]": [{"path": "display_name", "before": "as configured", "after": "changed by hand"}],
    }
    assert found["not_set_by_the_stack"] == []  # and nothing else: the other instances are unchanged

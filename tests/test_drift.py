"""Drift reports: a refresh-only plan of a deployed stack, read through Terraform's JSON, naming each resource
changed outside Terraform with its attributes before → after. Proven in the emulator by changing resources with
boto3 behind Terraform's back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

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

"""The one Terraform runner: Terraform's machine-readable output read as it comes, its own error messages on one
line, and a run that is stopped cleanly, naming what it waited on. Uses only Terraform's built-in provider."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from terraform_cli import Terraform, TerraformError, TerraformStopped
from terraform_cli.runner import GRACE_SECONDS


def configuration(directory: Path, sleep_seconds: int = 0, extra: dict | None = None) -> Path:
    resource: dict = {"input": "hello"}
    if sleep_seconds:
        resource["provisioner"] = [{"local-exec": {"command": f"sleep {sleep_seconds}"}}]
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "main.tf.json").write_text(
        json.dumps(
            {
                "resource": {"terraform_data": {"greeting": resource}},
                "output": {"greeting": {"value": "${terraform_data.greeting.output}"}},
                **(extra or {}),
            }
        )
    )
    return directory


def test_apply_returns_the_outputs_and_passes_on_each_message(tmp_path, cli_config):
    messages: list[tuple[str, str]] = []
    terraform = Terraform(
        configuration(tmp_path / "ok"), cli_config, on_message=lambda kind, text: messages.append((kind, text))
    )
    terraform.init()
    assert terraform.apply()["greeting"]["value"] == "hello"
    assert any(
        kind == "apply_complete" and text.startswith("terraform_data.greeting: Creation complete")
        for kind, text in messages
    )
    assert any(kind == "change_summary" and text.startswith("Apply complete!") for kind, text in messages)
    assert terraform.outputs()["greeting"]["value"] == "hello"


def test_a_plan_lists_each_change_with_what_differs(tmp_path, cli_config):
    terraform = Terraform(configuration(tmp_path / "plan"), cli_config)
    terraform.init()
    (change,) = terraform.plan_changes(tmp_path / "plan.tfplan")
    assert (change.address, change.action) == ("terraform_data.greeting", "create")
    assert "input" in change.attributes


def test_terraform_errors_are_its_own_summary_and_detail_on_one_line(tmp_path, cli_config):
    broken = configuration(tmp_path / "broken", extra={"output": {"x": {"value": "${terraform_data.nothing.id}"}}})
    terraform = Terraform(broken, cli_config)
    terraform.init()
    with pytest.raises(TerraformError) as failed:
        terraform.plan()
    message = str(failed.value)
    assert message.startswith("terraform plan failed: Reference to undeclared resource")
    assert "\n" not in message
    assert failed.value.errors[0].summary == "Reference to undeclared resource"


def test_a_run_past_its_timeout_is_stopped_and_names_what_it_waited_on(tmp_path, cli_config):
    terraform = Terraform(configuration(tmp_path / "slow", sleep_seconds=60), cli_config, timeout=3)
    terraform.init()
    started = time.monotonic()
    with pytest.raises(
        TerraformStopped,
        match=r"terraform apply timed out \(3 s\) after \d+ s; it was waiting on: "
        r"terraform_data\.greeting",
    ):
        terraform.apply()
    assert time.monotonic() - started < 30


def test_setting_stop_interrupts_terraform_promptly(tmp_path, cli_config):
    stop = threading.Event()
    terraform = Terraform(configuration(tmp_path / "stopped", sleep_seconds=60), cli_config, stop=stop)
    terraform.init()
    threading.Timer(2, stop.set).start()
    started = time.monotonic()
    with pytest.raises(TerraformStopped, match=r"terraform apply was stopped after"):
        terraform.apply()
    assert time.monotonic() - started < 30


def test_a_missing_terraform_is_one_clear_error(tmp_path, cli_config, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(TerraformError, match=r"terraform is not on PATH: install Terraform 1\.10 or newer"):
        Terraform(tmp_path, cli_config).init()


def test_an_interrupted_terraform_has_a_minute_to_save_its_state_before_it_is_killed(tmp_path, cli_config):
    assert Terraform(tmp_path, cli_config).grace == GRACE_SECONDS == 60


def test_a_plan_against_an_endpoint_that_never_answers_is_stopped_and_says_what_it_waited_on(
    local, silent_endpoint, tmp_path
):
    """The local stack planned against an 'AWS' that accepts connections and never answers. The provider's call
    never returns, so the interrupted plan does not end by itself: it is killed after its (short) grace."""
    workspace = local.workspace.copied_to(tmp_path / "out")
    config = workspace.config()
    url = silent_endpoint.url
    config["terraform"]["backend"] = {"local": {"path": str(tmp_path / "state.tfstate")}}
    workspace.write_config(config)
    workspace.write_emulator_config(url, {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"})
    env = {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}
    terraform = workspace.initialized(env=env, timeout=8, grace=2)
    started = time.monotonic()
    with pytest.raises(
        TerraformStopped,
        match=r"terraform plan timed out \(8 s\) after \d+ s; it was waiting "
        r"on: no resource yet \(the provider's first calls to AWS",
    ):
        terraform.plan()
    assert time.monotonic() - started < 8 + 30  # killed after its grace, not the default minute

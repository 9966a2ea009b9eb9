"""A fresh checkout plans and deploys offline with only a provider mirror, on the first run.

`cdktf deploy` runs `terraform providers lock` when a stack has no lock file yet, and that command asks the registry
whatever the CLI config's mirror says; `--skip-provider-lock` (as docs/troubleshooting.md says for mirrors) lets
`terraform init` install from the mirror and write the lock file. The project's own commands never run
`providers lock`.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from contract.outputs import StackOutputs
from terraform_cli import StackWorkspace, write_cli_config
from tests.terraform_log import calls_that_change

PROJECT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    """A clone of the committed project, with the CDKTF CLI `npm ci` installed and no synth output."""
    root = tmp_path_factory.mktemp("fresh") / "checkout"
    subprocess.run(["git", "clone", "--quiet", "--local", str(PROJECT), str(root)], check=True)
    (root / "node_modules").symlink_to(PROJECT / "node_modules")
    assert not list(root.rglob(".terraform.lock.hcl"))
    return root


@pytest.fixture
def separate_emulator():
    """The project's emulator in a process of its own: its state is apart from every emulator of the test process
    (and, like local mode's, it answers an SDK's resend of a create it has done with its first answer)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    serve = (
        f"import time; from local_stack.emulator import start_emulator; start_emulator(port={port}); time.sleep(3600)"
    )
    server = subprocess.Popen(
        [sys.executable, "-c", serve], cwd=PROJECT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert server.poll() is None, "the emulator's process ended"
            assert time.monotonic() < deadline, "the emulator did not start"
            time.sleep(0.2)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_a_fresh_checkout_synthesizes_installs_the_provider_and_plans_on_the_first_run(checkout, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    command = [sys.executable, "-m", "operations.plan", "prod", "--offline", "--out", str(tmp_path / "plans")]
    done = subprocess.run(
        [*command, "--outdir", str(tmp_path / "cdktf.out")],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "change(s): " in done.stdout


def test_cdktf_deploy_from_a_fresh_checkout_installs_from_the_mirror_on_the_first_run(
    checkout, separate_emulator, tmp_path
):
    env = {
        **os.environ,
        "TF_CLI_CONFIG_FILE": str(write_cli_config(tmp_path / "terraform.rc")),
        "PIPENV_PIPFILE": str(PROJECT / "Pipfile"),  # the installed environment; the code is the checkout's
        "LOCAL_EMULATOR_URL": separate_emulator,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",  # the emulator's fake credentials
        "AWS_REGION": "us-east-1",
        # The provider's debug log, so that a failed create says whether it was sent twice and why (see below).
        "TF_LOG": "DEBUG",
        "TF_LOG_PATH": str(tmp_path / "terraform.log"),
    }
    outputs_file = tmp_path / "outputs.json"
    deploy = ["node_modules/.bin/cdktf", "deploy", "local", "--auto-approve", "--skip-provider-lock"]
    done = subprocess.run(
        [*deploy, "--outputs-file", str(outputs_file)],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, "\n".join(
        [
            done.stdout[-3000:],
            done.stderr[-3000:],
            "creates sent and answered:",
            *calls_that_change(tmp_path / "terraform.log"),
        ]
    )
    outputs = StackOutputs.from_outputs_file(outputs_file, "local")
    assert outputs.table_name == "three-tier-local-users"
    lock_file = StackWorkspace("local", checkout / "cdktf.out").directory / ".terraform.lock.hcl"
    assert 'provider "registry.terraform.io/hashicorp/aws"' in lock_file.read_text()
    assert json.loads(outputs_file.read_text())["local"]["content_security_policy"].startswith("default-src 'self'")

"""The faster paths for Terraform in local mode: `terraform init` skipped when nothing it depends on changed, and a
provider shared by several Terraform commands (`TF_REATTACH_PROVIDERS`) that is killed, never reused, on a stop or
a failure. The provider here is a stand-in script that prints what a `-debug` provider prints; local mode's tests
(test_local_stack, test_watch, test_stopping) run the real one."""

from __future__ import annotations

import json
import os
import stat
import threading
import time
from pathlib import Path

import pytest

from terraform_cli import StackWorkspace, write_cli_config
from terraform_cli.provider import (
    AWS_PROVIDER_SOURCE,
    REATTACH_VARIABLE,
    ProviderUnavailable,
    SharedProvider,
    installed_provider,
    reattach_value,
)
from terraform_cli.workspace import INIT_RECORD, PROVIDER_LOCK

REATTACH = {
    AWS_PROVIDER_SOURCE: {
        "Protocol": "grpc",
        "ProtocolVersion": 5,
        "Pid": 4242,
        "Test": True,
        "Addr": {"Network": "unix", "String": "/tmp/plugin123"},
    }
}
# What `terraform-provider-aws -debug` prints (abridged), the value quoted for each shell.
DEBUG_OUTPUT = (
    "Provider started. To attach Terraform CLI, set the TF_REATTACH_PROVIDERS environment variable with the "
    "following:\n\n"
    f'\tCommand Prompt:\tset "TF_REATTACH_PROVIDERS={json.dumps(REATTACH)}"\n'
    f"\tPowerShell:\t$env:TF_REATTACH_PROVIDERS='{json.dumps(REATTACH)}'\n"
    f"\tBash:\t\texport TF_REATTACH_PROVIDERS='{json.dumps(REATTACH)}'\n"
)


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def gone_within(pid: int, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not alive(pid)


def fake_provider(tmp_path: Path, script: str) -> Path:
    binary = tmp_path / "terraform-provider-aws_v5.100.0_x5"
    binary.write_text(f"#!/bin/sh\n{script}\n")
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    return binary


@pytest.fixture
def printing_provider(tmp_path: Path) -> Path:
    (tmp_path / "out.txt").write_text(DEBUG_OUTPUT)
    return fake_provider(tmp_path, f"cat {tmp_path / 'out.txt'}\nexec sleep 300")


# --- reading the reattach line --------------------------------------------------------------------------------


def test_the_reattach_value_is_read_from_what_a_debug_provider_prints():
    assert json.loads(reattach_value(DEBUG_OUTPUT) or "null") == REATTACH


def test_a_line_still_being_written_or_another_providers_gives_no_value():
    bash = DEBUG_OUTPUT.splitlines()[-1]
    assert reattach_value(bash[: len(bash) // 2]) is None
    assert reattach_value(bash[:-2] + "'") is None  # the closing braces not yet written
    other = DEBUG_OUTPUT.replace(AWS_PROVIDER_SOURCE, "registry.terraform.io/hashicorp/random")
    assert reattach_value(other) is None
    assert reattach_value("") is None


# --- the shared provider's life --------------------------------------------------------------------------------


def test_a_started_provider_gives_its_reattach_value_and_is_killed_by_kill(printing_provider, tmp_path):
    provider = SharedProvider(printing_provider, tmp_path, dict(os.environ, AWS_CA_BUNDLE="/x.pem"))
    env = provider.reattach_env()
    assert json.loads(env[REATTACH_VARIABLE]) == REATTACH
    pid = provider.pid
    assert pid is not None
    assert alive(pid)
    assert "AWS_CA_BUNDLE" not in Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace")
    provider.kill()
    assert gone_within(pid)
    assert not provider.usable()
    provider.start()  # a killed provider is never started again
    assert provider.pid == pid


def test_setting_stop_kills_the_shared_provider(printing_provider, tmp_path):
    stop = threading.Event()
    provider = SharedProvider(printing_provider, tmp_path, dict(os.environ), stop=stop)
    provider.reattach_env()
    pid = provider.pid
    assert pid is not None
    stop.set()
    assert gone_within(pid)
    assert not provider.usable()


def test_a_provider_that_prints_no_address_in_time_is_killed_and_said_so(tmp_path):
    provider = SharedProvider(fake_provider(tmp_path, "exec sleep 300"), tmp_path, dict(os.environ), start_timeout=1)
    with pytest.raises(ProviderUnavailable, match="printed no address within 1 s"):
        provider.reattach_env()
    assert provider.pid is not None
    assert gone_within(provider.pid)


def test_a_provider_that_exits_at_once_is_said_so(tmp_path):
    provider = SharedProvider(fake_provider(tmp_path, "echo broken; exit 3"), tmp_path, dict(os.environ))
    with pytest.raises(ProviderUnavailable, match="exited before it was ready: 'broken'"):
        provider.reattach_env()


def test_the_installed_provider_is_found_in_the_stack_folder(tmp_path, printing_provider):
    assert installed_provider(tmp_path) is None
    folder = tmp_path / ".terraform" / "providers" / AWS_PROVIDER_SOURCE / "5.100.0" / "linux_amd64"
    folder.mkdir(parents=True)
    (folder / printing_provider.name).symlink_to(printing_provider)
    assert installed_provider(tmp_path) == folder / printing_provider.name


# --- init only when something it depends on changed -----------------------------------------------------------


@pytest.fixture
def workspace(tmp_path: Path) -> StackWorkspace:
    """A stack with Terraform's built-in provider only (nothing to install), initialized once."""
    workspace = StackWorkspace("skip", tmp_path / "out")
    workspace.directory.mkdir(parents=True)
    workspace.write_config(
        {
            "terraform": {"backend": {"local": {"path": str(tmp_path / "state.tfstate")}}},
            "resource": {"terraform_data": {"x": {"input": "y"}}},
        }
    )
    assert workspace.init_if_changed() is True
    return workspace


def test_init_is_skipped_when_nothing_it_depends_on_changed(workspace):
    assert workspace.init_is_current()
    assert workspace.init_if_changed() is False
    workspace.write_config({**workspace.config(), "output": {"o": {"value": "resources change, init does not"}}})
    assert workspace.init_if_changed() is False


def test_init_runs_again_when_the_lock_file_changes(workspace):
    (workspace.directory / PROVIDER_LOCK).write_text("# another provider version\n")
    assert not workspace.init_is_current()
    assert workspace.init_if_changed() is True
    assert workspace.init_if_changed() is False


def test_init_is_due_when_the_backend_or_the_cli_config_changes(workspace, tmp_path, monkeypatch):
    original = workspace.config()
    moved = json.loads(json.dumps(original))
    moved["terraform"]["backend"]["local"]["path"] = str(tmp_path / "other.tfstate")
    workspace.write_config(moved)
    assert not workspace.init_is_current()
    workspace.write_config(original)
    assert workspace.init_is_current()
    monkeypatch.setenv("TF_PROVIDER_MIRROR", str(tmp_path / "another-mirror"))
    write_cli_config(workspace.cli_config_file)
    assert not workspace.init_is_current()


def test_init_runs_again_once_its_folder_is_gone(workspace):
    assert (workspace.directory / INIT_RECORD).is_file()
    for path in sorted((workspace.directory / ".terraform").rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    assert workspace.init_if_changed() is True

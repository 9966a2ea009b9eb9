"""Stopping local mode: SIGINT, SIGTERM and SIGHUP stop it cleanly, a second signal ends it at once, and even
SIGKILL leaves nothing running; the next start, in the same work dir, works.

The end-to-end tests drive `python -m local_stack.run` as a user does, one after the other in one work dir and on
the same ports, as one developer's .local/ is: each stops a start while a Terraform command runs (with its ~540 MB
provider), and the next test's start is the proof that a start after that kind of stop works: it gets Terraform's
state lock and reaches `site:` (after SIGTERM's clean stop, as a warm restart). The last stop is a clean one, whose
kind a start already followed; that it left no process and no lock is asserted directly. Each signal is sent end to
end at least once; that the same handler takes all three is checked in a process of its own. No timing is asserted
but "within a few seconds" for what outlives a killed local mode (LEFTOVER_SECONDS); each wait is a guard.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from local_stack.process import LocalModeProcess
from local_stack.run import STOP_SIGNALS
from terraform_cli import StackWorkspace
from terraform_cli.children import ends_with_this_process, parent_death_signal_supported
from tests.warm_runs import free_port

PROJECT = Path(__file__).resolve().parent.parent
STOP_GUARD_SECONDS = 120.0  # a clean stop taking longer than this hangs (Terraform's grace period is 60 s)
# What outlives a killed local mode: Terraform, on a single interrupt, finishes the walk it is in (validate or plan,
# each starting its provider: up to ~25 s measured at load 12 here); the 25 tries per call to a gone emulator
# that `emulator.max_retries` now cuts to 2 kept it for over a minute.
LEFTOVER_SECONDS = 45.0
TERRAFORM = shutil.which("terraform")
linux_only = pytest.mark.skipif(not parent_death_signal_supported(), reason="no parent-death signal here")


@dataclass(frozen=True)
class OwnProcess:
    pid: int
    command: str


def alive(pid: int) -> bool:
    """Whether `pid` runs: a zombie (ended, not yet reaped by its parent) does not."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def processes_of(work: Path) -> list[OwnProcess]:
    """The processes running in `work` or naming it in their arguments: local mode, the synth, Terraform and its
    provider."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cwd = os.readlink(proc / "cwd")
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if (cwd.startswith(str(work)) or str(work) in command) and alive(int(proc.name)):
            found.append(OwnProcess(int(proc.name), command))
    return found


def left_after(work: Path, timeout: float = LEFTOVER_SECONDS) -> list[OwnProcess]:
    """What still runs in `work` once `timeout` has passed, or nothing as soon as nothing does."""
    deadline = time.monotonic() + timeout
    while (left := processes_of(work)) and time.monotonic() < deadline:
        time.sleep(0.5)
    return left


def terraform_running(work: Path, command: str, timeout: float = 120.0) -> list[OwnProcess]:
    """Terraform's `command` and its AWS provider, once both run in `work`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = processes_of(work)
        terraform = [p for p in running if p.command.startswith(f"{TERRAFORM} {command} ")]
        provider = [p for p in running if "terraform-provider-aws" in p.command]
        if terraform and provider:
            return terraform + provider
        time.sleep(0.2)
    raise AssertionError(f"no terraform {command} with its provider in {work} within {timeout:.0f} s")


def lock_record(work: Path) -> Path:
    """Where Terraform records who holds the local state's lock, while it does."""
    state = StackWorkspace.local(work).state_file
    return state.with_name(f".{state.name}.lock.info")


def during_the_first_apply(local: LocalModeProcess, work: Path) -> list[OwnProcess]:
    """Once `local` runs its first `terraform apply`: that apply and its provider."""
    local.wait_for("^init ")
    return terraform_running(work, "apply")


def during_the_deferred_apply(local: LocalModeProcess, work: Path) -> list[OwnProcess]:
    """Once `local` serves (its start reached `site:`): its deferred `terraform apply` and the provider."""
    local.wait_for("^serving until Ctrl-C")
    return terraform_running(work, "apply")


def stopped(local: LocalModeProcess) -> int:
    """The exit status, once the process has ended (killed after the guard, its threads' stacks in the error)."""
    return local.wait_until_stopped(STOP_GUARD_SECONDS)


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """The one work dir every start in this module shares, as one developer's .local/ is."""
    return tmp_path_factory.mktemp("stopping")


@pytest.fixture(scope="module")
def start(work):
    """Starts local mode in `work`, each on the same site and API ports, as a developer's do (the ports are in the
    synth, so a start after another has the same one)."""
    ports = ("--site-port", str(free_port()), "--api-port", str(free_port()))
    return lambda: LocalModeProcess(PROJECT, work, *ports)


# --- the stops, each during a Terraform command, in order -------------------------------------------------------


def test_a_second_signal_ends_terraform_and_local_mode_at_once(work, start):
    with start() as local:
        running = during_the_first_apply(local, work)
        # The apply reattached to the shared provider, which is not Terraform's child: the stop must kill it too.
        assert any(p.command.rstrip().endswith(" -debug") for p in running), running
        local.process.send_signal(signal.SIGHUP)  # a closed terminal
        local.wait_for("^local: SIGHUP: stopping")
        local.process.send_signal(signal.SIGINT)
        assert stopped(local) == 1, "\n".join(local.lines)
        local.wait_for("^local: SIGINT again: ended Terraform and its providers at once")
    assert left_after(work) == []  # its Terraform had no time to release the lock: the next start deals with that


@linux_only
def test_sigkill_during_the_deferred_apply_leaves_nothing_running(work, start):
    with start() as local:
        terraform = during_the_deferred_apply(local, work)  # so the start after two signals reached the site
        local.process.kill()
        assert stopped(local) == -signal.SIGKILL
    assert left_after(work) == []  # Terraform, interrupted by the kernel, stopped its provider and itself
    assert not any(alive(p.pid) for p in terraform)
    assert not lock_record(work).exists()  # and released the state's lock


@linux_only
def test_sigkill_leaves_nothing_running_even_when_terraform_gets_a_single_interrupt(work, start):
    # The kernel sends the parent-death signal again each time the thread Terraform was handed to dies, so how
    # many interrupts Terraform gets depends on the order local mode's threads die in: two end it at once, one
    # lets it stop gracefully, against an emulator that died with local mode. Terraform stopped (SIGSTOP) while
    # local mode dies usually gets them as one pending signal, the graceful path (3 of 4 runs here had one).
    with start() as local:
        terraform = during_the_deferred_apply(local, work)  # so the start after a SIGKILL reached the site
        os.kill(terraform[0].pid, signal.SIGSTOP)
        try:
            local.process.kill()
            assert stopped(local) == -signal.SIGKILL
        finally:
            os.kill(terraform[0].pid, signal.SIGCONT)
    assert left_after(work) == []  # each call to the gone emulator failed after two tries, not 25
    assert not any(alive(p.pid) for p in terraform)
    assert not lock_record(work).exists()


def test_sigterm_during_the_deferred_apply_stops_terraform_the_servers_and_the_emulator(work, start):
    with start() as local:
        terraform = during_the_deferred_apply(local, work)  # so the start after two SIGKILLs reached the site
        with urllib.request.urlopen(local.value("site"), timeout=10) as response:
            assert response.status == 200
        local.process.send_signal(signal.SIGTERM)
        assert stopped(local) == 0, "\n".join(local.lines)
        local.wait_for(r"^local: stopped \(SIGTERM\): no Terraform, server or emulator of it runs on$")
    assert left_after(work) == []
    assert not any(alive(p.pid) for p in terraform)
    assert not lock_record(work).exists()
    with pytest.raises(urllib.error.URLError, match="Connection refused"):  # the site server is gone with it
        urllib.request.urlopen(local.value("site"), timeout=5)


def test_sigint_during_the_deferred_apply_stops_terraform_and_local_mode_cleanly(work, start):
    with start() as local:
        terraform = during_the_deferred_apply(local, work)  # so the start after a clean stop reached the site
        with urllib.request.urlopen(local.value("site"), timeout=10) as response:
            assert response.status == 200
        local.process.send_signal(signal.SIGINT)
        assert stopped(local) == 0, "\n".join(local.lines)
        local.wait_for(r"^local: stopped \(SIGINT\): no Terraform, server or emulator of it runs on$")
    assert left_after(work) == []  # what the next start needs: nothing of this one running, no lock held
    assert not any(alive(p.pid) for p in terraform)
    assert not lock_record(work).exists()


# --- the pieces ---------------------------------------------------------------------------------------------


@linux_only
def test_a_child_started_to_end_with_its_parent_gets_the_signal_when_the_parent_is_killed(tmp_path):
    pid_file = tmp_path / "child.pid"
    parent_code = (
        "import signal, subprocess, sys, time\n"
        "from terraform_cli.children import ends_with_this_process\n"
        "child = subprocess.Popen(['sleep', '60'], preexec_fn=ends_with_this_process(signal.SIGTERM))\n"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        "child.wait()\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", parent_code], cwd=PROJECT)
    deadline = time.monotonic() + 30
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline, "the parent did not start its child"
        time.sleep(0.1)
    child = int(pid_file.read_text())
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 5
    while alive(child):
        assert time.monotonic() < deadline, "the child outlived its parent"
        time.sleep(0.1)


def test_without_a_parent_death_signal_children_start_as_usual(monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    assert ends_with_this_process(signal.SIGTERM) is None


def test_forgetting_the_local_state_removes_a_stale_lock_record(tmp_path):
    workspace = StackWorkspace.local(tmp_path)
    record = lock_record(tmp_path)
    record.parent.mkdir(parents=True, exist_ok=True)
    workspace.state_file.write_text("{}")
    record.write_text('{"ID": "left by a Terraform that was killed"}')
    workspace.forget_state()
    assert not record.exists()
    assert not workspace.state_file.exists()


@pytest.mark.parametrize("stop_signal", STOP_SIGNALS, ids=lambda s: s.name)
def test_a_stop_signal_handed_to_another_thread_still_stops_the_wait_for_it(stop_signal):
    """The kernel may deliver a process's signal to any thread; Python runs the handler only in the main thread,
    which must wake up to run it (a wait with no timeout slept on: the stop hang). In a process of its own, a
    helper thread sends the signal to itself while the main thread waits; each of the three stops it."""
    code = (
        "import signal, threading, time\n"
        "from local_stack.run import StopOnSignals, wait_for_signal\n"
        "stopping = threading.Event()\n"
        "StopOnSignals(stopping).install()\n"
        "def helper():\n"
        "    time.sleep(0.5)\n"
        f"    signal.pthread_kill(threading.get_ident(), signal.{stop_signal.name})\n"
        "threading.Thread(target=helper).start()\n"
        "wait_for_signal(stopping)\n"
        "print('stopped')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT, capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "stopped"

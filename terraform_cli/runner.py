"""One way to run Terraform for local mode, deploy, review and the tests: its machine-readable output.

Every command that can runs with `-json`: Terraform then writes one JSON object per line (diagnostics, each
resource starting, progressing and finishing, the change summary, the outputs). `Terraform` reads that stream,
passes each human-readable message to `on_message`, keeps the error diagnostics for `TerraformError`, and stops
Terraform cleanly (an interrupt, as Ctrl-C would) when a timeout passes or `stop` is set, naming what it was
waiting on.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from terraform_cli.children import ends_with_this_process
from terraform_cli.config import terraform_env

# After an interrupt Terraform finishes the calls in flight and saves state; this long, then it is killed.
GRACE_SECONDS = 60.0
LOCK_TIMEOUT = "-lock-timeout=60s"
# How often a running command's output is read: a file has no "more data" event to wait on.
READ_INTERVAL_SECONDS = 0.05

# The streamed commands running now (any thread), so that `end_every_command` can find them.
_RUNNING: set[subprocess.Popen[bytes]] = set()
_RUNNING_LOCK = threading.Lock()


@dataclass(frozen=True)
class Diagnostic:
    """One of Terraform's errors or warnings."""

    severity: str
    summary: str
    detail: str = ""
    address: str | None = None

    def __str__(self) -> str:
        where = f" ({self.address})" if self.address else ""
        detail = " ".join(self.detail.split())
        return f"{self.summary}{where}: {detail}" if detail else f"{self.summary}{where}"


class TerraformError(RuntimeError):
    """A Terraform command failed; the message is Terraform's own error (summary and detail), on one line."""

    def __init__(self, message: str, diagnostics: Sequence[Diagnostic] = ()) -> None:
        super().__init__(message)
        self.diagnostics = list(diagnostics)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]


class TerraformStopped(TerraformError):
    """Terraform was interrupted: its timeout passed or the caller asked it to stop."""


@dataclass(frozen=True)
class ResourceChange:
    """One resource a plan would change: its address, the actions, and the top-level attributes that differ."""

    address: str
    actions: tuple[str, ...]
    attributes: tuple[str, ...]

    @property
    def action(self) -> str:
        """One word: create, update, delete, replace or read."""
        return "replace" if set(self.actions) == {"create", "delete"} else "/".join(self.actions)


def render_changes(changes: Sequence[ResourceChange], *, one_line: bool = False) -> str:
    """What a plan or an apply changes. One line: "1 create (aws_b.y); 2 update (aws_a.x, aws_c.z)", naming up
    to three resources per action; otherwise a line per resource, then the totals ("3 change(s): 1 create, …")."""
    by_action: dict[str, list[str]] = {}
    for change in changes:
        by_action.setdefault(change.action, []).append(change.address)
    if one_line:
        return "; ".join(
            f"{len(addresses)} {action} ({', '.join(addresses[:3])}"
            + (f", … {len(addresses) - 3} more)" if len(addresses) > 3 else ")")
            for action, addresses in sorted(by_action.items())
        )
    lines = [f"{change.action:<14} {change.address}" for change in changes]
    totals = ", ".join(f"{len(addresses)} {action}" for action, addresses in sorted(by_action.items()))
    lines.append(f"{len(changes)} change(s): {totals or 'none'}")
    return "\n".join(lines)


def resource_changes(plan: Mapping[str, Any], key: str = "resource_changes") -> list[ResourceChange]:
    """The changes in `terraform show -json` of a plan (`key`="resource_drift" for what changed outside)."""
    found = []
    for change in plan.get(key) or []:
        actions = tuple(change["change"]["actions"])
        if actions == ("no-op",):
            continue
        before, after = change["change"].get("before") or {}, change["change"].get("after") or {}
        differing = tuple(sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k)))
        found.append(ResourceChange(change["address"], actions, differing))
    return found


@dataclass
class _Run:
    """What one Terraform command said: its messages, the resources still in flight, its outputs."""

    diagnostics: list[Diagnostic] = field(default_factory=list)
    in_flight: dict[str, str] = field(default_factory=dict)  # address -> what Terraform was doing
    outputs: dict[str, Any] = field(default_factory=dict)
    plain: deque[str] = field(default_factory=lambda: deque(maxlen=20))  # lines that were not JSON
    planned: list[ResourceChange] = field(default_factory=list)  # a plan's changes (no attributes in -json)

    def read(self, message: dict[str, Any], *, stopping: bool = False) -> None:
        """Take in one message; once stopping, what was in flight stays as it was (what it waited on)."""
        kind = message.get("type")
        if kind == "diagnostic":
            d = message.get("diagnostic", {})
            self.diagnostics.append(
                Diagnostic(
                    d.get("severity", message.get("@level", "error")),
                    d.get("summary", ""),
                    d.get("detail", ""),
                    d.get("address"),
                )
            )
        elif kind in ("apply_start", "apply_progress", "refresh_start"):
            hook = message.get("hook", {})
            self.in_flight[hook.get("resource", {}).get("addr", "?")] = message.get("@message", kind)
        elif kind in ("apply_complete", "apply_errored", "refresh_complete") and not stopping:
            self.in_flight.pop(message.get("hook", {}).get("resource", {}).get("addr", "?"), None)
        elif kind == "outputs":
            self.outputs = message.get("outputs", {})
        elif kind == "planned_change":
            change = message.get("change", {})
            address = str(change.get("resource", {}).get("addr"))
            self.planned.append(ResourceChange(address, (str(change.get("action")),), ()))

    def reason(self) -> str:
        errors = [d for d in self.diagnostics if d.severity == "error"]
        if errors:
            return " | ".join(str(d) for d in errors[:3])
        lines = [line.strip(" │╷╵") for line in self.plain if line.strip(" │╷╵")]
        return " | ".join(lines[-3:]) or "no output"


@dataclass
class Terraform:
    """Terraform in one stack folder, with the project's CLI config.

    `env` is added to this process's environment. `on_message` receives the type and the human-readable text of
    each of Terraform's messages ("apply_progress", "aws_s3_bucket.x: Still creating... [10s elapsed]"). A command
    that runs longer than `timeout` seconds, or while `stop` is set, is interrupted and raises `TerraformStopped`;
    if it has not ended `grace` seconds after the interrupt (a provider call that never returns), it is killed.
    """

    directory: Path
    cli_config: Path
    env: Mapping[str, str] = field(default_factory=dict)
    on_message: Callable[[str, str], None] | None = None
    timeout: float | None = None
    stop: threading.Event | None = None
    grace: float = GRACE_SECONDS

    # --- commands -------------------------------------------------------------------------------------------

    def init(self, *, backend: bool = True) -> None:
        self._stream("init", ["init", "-input=false", *([] if backend else ["-backend=false"])])

    def validate(self) -> list[Diagnostic]:
        """Diagnostics of `terraform validate` (empty when valid); raises when Terraform itself fails."""
        done = self._capture(["validate", "-json"])
        report = self._json(done, "validate")
        return [
            Diagnostic(d.get("severity", "error"), d.get("summary", ""), d.get("detail", ""), d.get("address"))
            for d in report.get("diagnostics", [])
        ]

    def plan(
        self,
        plan_file: Path | None = None,
        *,
        destroy: bool = False,
        refresh_only: bool = False,
        refresh: bool = True,
        targets: Iterable[str] = (),
    ) -> list[ResourceChange]:
        """Plan (into `plan_file`, if given); returns each change it plans (without attributes)."""
        args = ["plan", "-input=false", LOCK_TIMEOUT]
        args += ["-destroy"] if destroy else []
        args += ["-refresh-only"] if refresh_only else []
        args += [] if refresh else ["-refresh=false"]
        args += [f"-target={t}" for t in targets]
        args += [f"-out={plan_file.resolve()}"] if plan_file else []
        return self._stream("plan", args).planned

    def apply(self, plan_file: Path | None = None, *, targets: Iterable[str] = ()) -> dict[str, Any]:
        """Apply (a saved plan, or the configuration with -auto-approve); returns the outputs by name."""
        args = ["apply", "-input=false", LOCK_TIMEOUT]
        args += [str(plan_file.resolve())] if plan_file else ["-auto-approve", *[f"-target={t}" for t in targets]]
        return self._stream("apply", args).outputs

    def apply_changes(self, *, refresh: bool = True) -> tuple[list[ResourceChange], dict[str, Any]]:
        """Plan and apply in one run (-auto-approve); returns each change it made (without attributes), and the
        outputs. One run loads the provider's schema once, where plan-then-apply loads it twice."""
        args = ["apply", "-input=false", LOCK_TIMEOUT, "-auto-approve", *([] if refresh else ["-refresh=false"])]
        run = self._stream("apply", args)
        return run.planned, run.outputs

    def destroy(self) -> None:
        self._stream("destroy", ["destroy", "-input=false", "-auto-approve", LOCK_TIMEOUT])

    def show(self, plan_file: Path) -> dict[str, Any]:
        """`terraform show -json` of a saved plan."""
        return self._json(self._capture(["show", "-json", str(plan_file.resolve())]), "show")

    def outputs(self) -> dict[str, Any]:
        """`terraform output -json`: {name: {"value": …, "type": …, "sensitive": …}}."""
        return self._json(self._capture(["output", "-json"]), "output")

    def plan_changes(self, plan_file: Path, **plan_options: Any) -> list[ResourceChange]:
        """Plan into `plan_file` and return what it would change."""
        self.plan(plan_file, **plan_options)
        return resource_changes(self.show(plan_file))

    # --- running Terraform ----------------------------------------------------------------------------------

    def _command(self, args: Sequence[str]) -> list[str]:
        binary = shutil.which("terraform")
        if binary is None:
            raise TerraformError(
                "terraform is not on PATH: install Terraform 1.10 or newer "
                "(https://developer.hashicorp.com/terraform/install), then run scripts/setup"
            )
        return [binary, *args]

    def _environment(self) -> dict[str, str]:
        return terraform_env(self.cli_config, {**os.environ, **self.env})

    def _capture(self, args: Sequence[str]) -> subprocess.CompletedProcess[str]:
        """A short command whose whole output is one JSON document (written into files, as in `_stream`)."""
        with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
            done = subprocess.run(
                self._command(args),
                cwd=self.directory,
                env=self._environment(),
                stdout=stdout,
                stderr=stderr,
                check=False,
                timeout=self.timeout,
                stdin=subprocess.DEVNULL,
                preexec_fn=ends_with_this_process(signal.SIGINT),
            )
            stdout.seek(0)
            stderr.seek(0)
            return subprocess.CompletedProcess(
                done.args,
                done.returncode,
                stdout.read().decode(errors="replace"),
                stderr.read().decode(errors="replace"),
            )

    @staticmethod
    def _json(done: subprocess.CompletedProcess[str], command: str) -> dict[str, Any]:
        try:
            document = json.loads(done.stdout)
        except ValueError:
            document = None
        if not isinstance(document, dict) or (done.returncode != 0 and "diagnostics" not in document):
            lines = [line.strip(" │╷╵") for line in (done.stderr + done.stdout).splitlines() if line.strip(" │╷╵")]
            reason = next((line for line in lines if line.startswith("Error:")), lines[-1] if lines else "no output")
            raise TerraformError(f"terraform {command} failed: {reason}")
        return document

    def _stream(self, command: str, args: Sequence[str]) -> _Run:
        """Run a long command with -json, reading its messages as they come."""
        run = _Run()
        # Terraform writes into a file rather than a pipe: were this process killed, a write into a pipe with no
        # reader would kill Terraform at once (Go dies of SIGPIPE on stdout), leaving its provider running and
        # its state locked, instead of letting it stop cleanly on the parent-death signal.
        descriptor, output_path = tempfile.mkstemp(prefix="terraform-", suffix=".jsonl")
        with open(descriptor, "wb") as writer, open(output_path, encoding="utf-8", errors="replace") as reader:
            os.unlink(output_path)  # nothing but these two descriptors needs it
            process = subprocess.Popen(
                self._command([args[0], "-json", *args[1:]]),  # before a plan file, which must come last
                cwd=self.directory,
                env=self._environment(),
                stdout=writer,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C reaches this process, which interrupts Terraform once
                # Should this process die without interrupting it (SIGKILL), Terraform is interrupted anyway.
                preexec_fn=ends_with_this_process(signal.SIGINT),
            )
            self._run_and_read(command, process, reader, run)
        return run

    def _run_and_read(self, command: str, process: subprocess.Popen[bytes], output: IO[str], run: _Run) -> None:
        """Read `process`'s messages into `run` until it exits; raise if it failed or was stopped."""
        finished = threading.Event()
        stopped_because: list[str] = []  # the watchdog's reason, if it interrupted Terraform
        threading.Thread(target=self._watch, args=(process, finished, stopped_because), daemon=True).start()
        started = time.monotonic()
        with _RUNNING_LOCK:
            _RUNNING.add(process)
        try:
            for line in _lines_until_exit(process, output):
                try:
                    message = json.loads(line)
                except ValueError:
                    run.plain.append(line.rstrip())
                    continue
                if not isinstance(message, dict):
                    continue
                run.read(message, stopping=bool(stopped_because))
                if self.on_message and message.get("type") not in ("version", "log"):
                    self.on_message(str(message.get("type")), str(message.get("@message", "")))
        except BaseException:
            _interrupt(process, self.grace)
            raise
        finally:
            finished.set()
            with _RUNNING_LOCK:
                _RUNNING.discard(process)
        if stopped_because:
            waiting = "; ".join(f"{address} ({doing})" for address, doing in run.in_flight.items()) or (
                "no resource yet (the provider's first calls to AWS, or the state backend)"
            )
            raise TerraformStopped(
                f"terraform {command} {stopped_because[0]} after {time.monotonic() - started:.0f} s;"
                f" it was waiting on: {waiting}",
                run.diagnostics,
            )
        if process.returncode != 0:
            raise TerraformError(f"terraform {command} failed: {run.reason()}", run.diagnostics)

    def _watch(self, process: subprocess.Popen[bytes], finished: threading.Event, because: list[str]) -> None:
        """Interrupt `process` when the timeout passes or `stop` is set; kill it if it does not stop."""
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        while not finished.wait(0.2):
            if self.stop is not None and self.stop.is_set():
                because.append("was stopped")
            elif deadline is not None and time.monotonic() > deadline:
                because.append(f"timed out ({self.timeout:.0f} s)")
            else:
                continue
            _interrupt(process, self.grace)
            return


def end_every_command() -> None:
    """Kill every streamed Terraform command this process is running, with its providers, at once: no grace
    period, so a local state may be left with a stale lock. For a second Ctrl-C; the first one waits."""
    with _RUNNING_LOCK:
        running = list(_RUNNING)
    for process in running:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # its session's group: Terraform and the providers it started


def _lines_until_exit(process: subprocess.Popen[bytes], output: IO[str]) -> Iterator[str]:
    """Each line `process` writes into `output` (a file it appends to), as it writes it, until it has exited."""
    pending = ""
    while True:
        pending += output.readline()
        if pending.endswith("\n"):
            yield pending
            pending = ""
        elif process.poll() is None:
            time.sleep(READ_INTERVAL_SECONDS)
        else:  # it has exited: what is left was written before that
            yield from (pending + output.read()).splitlines(keepends=True)
            return


def print_message(kind: str, text: str) -> None:
    """An `on_message` that prints Terraform's progress as it comes, as the CLI would."""
    print(text, flush=True)


def _interrupt(process: subprocess.Popen[bytes], grace: float) -> None:
    """Ask Terraform to stop as Ctrl-C does (it finishes calls in flight and saves state); kill it if it has not
    ended `grace` seconds later."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        pass

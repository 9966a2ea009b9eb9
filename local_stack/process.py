"""`pipenv run local` in a process of its own, for scripts and test suites that drive local mode as a user does:
start it in a project folder, read what it prints (`site:`, `api:`, `emulator:`, `outputs:` and one line per
action), talk to its emulator, stop it with a signal.

    with LocalModeProcess(project_dir, work_dir) as local:
        local.wait_for("^serving until Ctrl-C")
        site = local.value("site")
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from local_stack.emulator import emulator_client


class LocalModeProcess:
    """`python -m local_stack.run` in `project`, on free ports: every line it prints, as it prints them."""

    def __init__(self, project: Path, work_dir: Path, *extra_args: str) -> None:
        self.project = project
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._output_ended = False  # every line it printed is in `lines`
        command = [sys.executable, "-m", "local_stack.run", "--site-port", "0", "--api-port", "0"]
        self.process = subprocess.Popen(
            [*command, "--work-dir", str(work_dir), *extra_args],
            cwd=project,
            env={**os.environ, "PYTHONPATH": str(project)},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def __enter__(self) -> LocalModeProcess:
        return self

    def __exit__(self, *exc_info: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._output_ended = True
            self._changed.notify_all()

    def mark(self) -> int:
        """Where the output is now: `wait_for` can look only at what comes after a mark."""
        with self._changed:
            return len(self.lines)

    def wait_for(self, pattern: str, after: int = 0, timeout: float = 240.0) -> str:
        """The first line after `after` matching `pattern` (a regular expression). Raises RuntimeError, with the
        last lines printed, when the process exits or `timeout` passes first."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self.lines[after:]:
                    if re.search(pattern, line):
                        return line
                recent = "\n".join(self.lines[-40:])
                if self._output_ended:  # it exited (or closed its output): no line will come
                    raise RuntimeError(f"local mode exited before printing {pattern!r}:\n{recent}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"no line matching {pattern!r} within {timeout:.0f} s:\n{recent}")
                self._changed.wait(1.0)

    def value(self, name: str) -> str:
        """What a `name: value` line said: site, api, emulator or outputs."""
        return self.wait_for(f"^{name}: ").split(": ", 1)[1]

    def client(self, service: str) -> Any:
        """A boto3 client of the process's emulator."""
        return emulator_client(self.value("emulator"), service)

    def edit(self, relative: str, old: str, new: str) -> None:
        """Replace the first `old` in the project's file `relative` with `new`, as an editor saving it would."""
        path = self.project / relative
        text = path.read_text()
        if old not in text:
            raise ValueError(f"{old!r} is not in {relative}")
        path.write_text(text.replace(old, new, 1))

    def stop(self, timeout: float = 120.0) -> int:
        """SIGTERM, and wait for the process to end (`wait_until_stopped`); returns its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.wait_until_stopped(timeout)

    def wait_until_stopped(self, timeout: float = 120.0) -> int:
        """Wait for the process to end; returns its exit code. If it has not ended within `timeout`, it is asked
        for every thread's stack (SIGUSR1), killed, and RuntimeError shows what it printed last."""
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.send_signal(signal.SIGUSR1)
            time.sleep(2.0)  # for the stacks to be written and read
            self.process.kill()
            self.process.wait()
            recent = "\n".join(self.lines[-400:])
            raise RuntimeError(f"local mode did not stop within {timeout:.0f} s:\n{recent}") from None


def project_copy(project: Path, destination: Path) -> Path:
    """A copy of `project`'s files as git sees them (tracked, and new ones not ignored): no environment, no
    synth output, no state."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=project,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for relative in filter(None, listed.split("\0")):
        if (project / relative).is_file():
            (destination / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(project / relative, destination / relative)
    return destination

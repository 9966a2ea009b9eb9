"""Helpers for the warm-restart tests: one work dir and one pair of ports per test module, so that the starts
in it run one after the other as a user's do, each stop leaving the recording the next start uses."""

from __future__ import annotations

import shutil
import socket
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from local_stack.process import LocalModeProcess

PROJECT = Path(__file__).resolve().parent.parent
COLD_LINE = r"^warm restart: .*; starting cold$"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Runs:
    """Starts of `python -m local_stack.run` in one work dir on the same ports (the ports are in the synth)."""

    work: Path
    ports: tuple[str, ...]

    @classmethod
    def in_folder(cls, work: Path) -> Runs:
        return cls(work, ("--site-port", str(free_port()), "--api-port", str(free_port())))

    def start(self, *extra: str) -> LocalModeProcess:
        return LocalModeProcess(PROJECT, self.work, "--no-watch", *self.ports, *extra)

    def why_it_started_cold(self, *extra: str, serve: bool = False) -> str:
        """Start, check it says it starts cold and takes the cold path, then stop; the line saying why. The cold
        path is seen once it has run init (a warm start into a work dir with an init has none); with `serve`, it
        is followed until it has applied and serves."""
        return self.cold_path(*extra, serve=serve)[0]

    def cold_path(self, *extra: str, serve: bool = False) -> list[str]:
        """As `why_it_started_cold`, but every line from the one saying why to init (or to serving)."""
        with self.start(*extra) as local:
            reason = local.lines.index(local.wait_for(COLD_LINE))
            if serve:
                started_cold(local)
            else:
                local.wait_for("^init ", after=reason)
            local.stop()
        return local.lines[reason:]

    @property
    def warm(self) -> Path:
        return self.work / "warm"

    def keep_recording(self) -> Path:
        """A copy of what the last stop left for the next start, for `restore_recording`."""
        kept = self.work.with_name(f"{self.work.name}-kept")
        shutil.rmtree(kept, ignore_errors=True)
        shutil.copytree(self.warm, kept)
        return kept

    def restore_recording(self, kept: Path) -> None:
        """Put back what `keep_recording` copied, as if the last stop had just left it."""
        shutil.rmtree(self.warm, ignore_errors=True)
        shutil.copytree(kept, self.warm)


def started_cold(local: LocalModeProcess) -> None:
    """It applied with Terraform and serves."""
    local.wait_for("^serving until Ctrl-C", timeout=400)
    assert any(line.startswith("apply ") for line in local.lines)
    with urllib.request.urlopen(local.value("api") + "?userId=1", timeout=30) as response:
        assert response.status == 200

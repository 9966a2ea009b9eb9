"""The site's build (`site.build_command`, e.g. `npm ci && npm run build`): run by `pipenv run deploy` in the
project root before it synthesizes, since the stack's content security policy lists the hashes of the built
pages' inline code. Its output is printed as it goes; a failure names the command, its exit code and the last
lines it printed."""

from __future__ import annotations

import collections
import subprocess
from pathlib import Path

# How many of the command's last lines a failure repeats: enough for a compiler's error, short enough to read.
TAIL_LINES = 20


class BuildError(RuntimeError):
    """The build command failed; the message names it, its exit code and the end of its output."""


def run_build(command: str, project_dir: Path, *, echo: bool = True) -> None:
    """Run `command` with the shell in `project_dir`, printing its output (stdout and stderr, in order) when
    `echo`; raise BuildError when it exits with another status than 0."""
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
    with subprocess.Popen(
        command,
        shell=True,  # the setting is a shell command line by design: `npm ci && npm run build`
        cwd=project_dir,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    ) as process:
        assert process.stdout is not None  # asked for above
        for line in process.stdout:
            tail.append(line.rstrip("\n"))
            if echo:
                print(line, end="", flush=True)
    if process.returncode != 0:
        last = "\n".join(f"  {line}" for line in tail) or "  (no output)"
        raise BuildError(
            f"site.build_command {command!r} failed with exit code {process.returncode} in {project_dir}; "
            f"its last {len(tail)} line(s) of output:\n{last}"
        )

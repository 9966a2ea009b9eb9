"""Local mode as a development loop: how long until an edit is visible, against a full restart.

Runs `pipenv run local` (as `python -m local_stack.run`, in a copy of the project, on free ports) and prints:

- the cold start to the `site:` line, with its phases, and when the deferred resources were applied;
- edit-to-visible for a web change (a page served with the edit) and a function change (the API answering
  with the edit), median of 5 each;
- an incremental infrastructure change (the stage's throttling burst limit, read back from the emulator),
  median of 3;
- a cold start (`--fresh`: synth, init, apply, publish) and a warm restart (the same synth: the last run's
  emulator recording replayed, no apply), median of 3 each, to the `site:` line, with their ratio;
- a full restart (stop, start cold again, `site:`) for comparison, and each figure's ratio to it.

Every start uses the same two ports: they are in the synthesized stack, which a warm restart needs unchanged.

    pipenv run python benchmarks/local_loop.py
"""

from __future__ import annotations

import functools
import socket
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from contract.outputs import StackOutputs  # noqa: E402
from local_stack.process import LocalModeProcess, project_copy  # noqa: E402

SAMPLES = 5
INFRA_SAMPLES = 3
START_SAMPLES = 3


def body(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return str(response.read().decode())
    except urllib.error.HTTPError as error:
        return str(error.read().decode())


def shows(url: str, text: str) -> bool:
    return text in body(url)


def seconds_until(visible: Callable[[], bool], timeout: float = 120.0) -> float:
    """Seconds from now until `visible()` is true, polling every 20 ms."""
    started = time.perf_counter()
    while not visible():
        if time.perf_counter() - started > timeout:
            raise RuntimeError(f"not visible after {timeout:.0f} s")
        time.sleep(0.02)
    return time.perf_counter() - started


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


PORTS = ("--site-port", str(free_port()), "--api-port", str(free_port()))


def cold_start(project: Path, work: Path, *extra: str) -> tuple[LocalModeProcess, float, str]:
    started = time.perf_counter()
    local = LocalModeProcess(project, work, *PORTS, *extra)
    local.wait_for("^site: ", timeout=400)
    to_site = time.perf_counter() - started
    phases = ", ".join(
        line.split()[0] + " " + line.split()[1]
        for line in local.lines
        if line.split()[:1] in (["synth"], ["init"], ["apply"], ["replay"], ["publish"])
    )
    local.wait_for("^serving until Ctrl-C")
    return local, to_site, phases


def web_edits(local: LocalModeProcess) -> list[float]:
    site, times = local.value("site"), []
    for n in range(SAMPLES):
        marker = f"User lookup {n}"
        local.edit("web/index.html", "<h1>User lookup", f"<h1>{marker}<!-- -->")
        times.append(seconds_until(functools.partial(shows, site, marker)))
    return times


def function_edits(local: LocalModeProcess) -> list[float]:
    api, times = local.value("api") + "?userId=nobody", []
    current = "No user found with userId"
    for n in range(SAMPLES):
        edited = f"No user ({n}) found with userId"
        local.edit("functions/get_user/handler.py", current, edited)
        current = edited
        times.append(seconds_until(functools.partial(shows, api, edited)))
    return times


def infrastructure_edits(local: LocalModeProcess) -> list[float]:
    local.wait_for(r"^deferred ", timeout=300)  # an apply waits for the deferred resources anyway
    api_id = StackOutputs.from_outputs_file(Path(local.value("outputs")), "local").api_id
    apigateway = local.client("apigateway")

    def burst_limit_is(limit: int) -> bool:
        stage = apigateway.get_stage(restApiId=api_id, stageName="local")
        return int(stage["methodSettings"]["*/*"]["throttlingBurstLimit"]) == limit

    times, current = [], 50
    for limit in (41, 42, 43)[:INFRA_SAMPLES]:
        setting = '        {},\n        "Stage-wide burst'
        local.edit("contract/config.py", setting.format(current), setting.format(limit))
        current = limit
        times.append(seconds_until(functools.partial(burst_limit_is, limit)))
    return times


def starts(project: Path, work: Path) -> tuple[list[float], list[float], str, str]:
    """Cold starts (`--fresh`) and warm restarts to `site:`, each stopped once it serves (the last cold one once
    the deferred resources are applied too, so the warm restarts replay the whole stack)."""
    cold, warm, cold_phases, warm_phases = [], [], "", ""
    for n in range(START_SAMPLES):
        local, to_site, cold_phases = cold_start(project, work, "--fresh", "--no-watch")
        if n == START_SAMPLES - 1:
            local.wait_for(r"^deferred ", timeout=300)
        local.stop()
        cold.append(to_site)
    for _ in range(START_SAMPLES):
        local, to_site, warm_phases = cold_start(project, work, "--no-watch")
        if not any(line.startswith("warm restart: ") and line.endswith("no Terraform apply") for line in local.lines):
            raise RuntimeError("the restart was not warm:\n" + "\n".join(local.lines))
        local.stop()
        warm.append(to_site)
    return cold, warm, cold_phases, warm_phases


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="local-loop-") as scratch:
        project = project_copy(PROJECT, Path(scratch) / "project")
        local, to_site, phases = cold_start(project, Path(scratch) / "work")
        try:
            deferred = local.wait_for(r"^deferred ", timeout=300)
            web = web_edits(local)
            function = function_edits(local)
            infrastructure = infrastructure_edits(local)
        finally:
            stopping = time.perf_counter()
            local.stop()
        stopped = time.perf_counter() - stopping
        again, restart_site, _ = cold_start(project, Path(scratch) / "work", "--fresh")
        again.stop()
        cold, warm, cold_phases, warm_phases = starts(project, Path(scratch) / "starts")
    restart = stopped + restart_site

    print(f"cold start to site:      {to_site:6.1f} s  ({phases}; the rest: {deferred})")
    print(f"full restart (stop+start): {restart:4.1f} s  (stop {stopped:.1f} s, start {restart_site:.1f} s)")
    cold_median, warm_median = statistics.median(cold), statistics.median(warm)
    print(f"cold start (--fresh)       {cold_median:5.2f} s  median of {len(cold)} ({cold_phases})")
    print(
        f"warm restart               {warm_median:5.2f} s  median of {len(warm)} ({warm_phases}); "
        f"a cold start takes {cold_median / warm_median:.1f}x as long"
    )
    for name, times in (
        ("web edit → served", web),
        ("function edit → answering", function),
        ("infra edit → applied", infrastructure),
    ):
        median = statistics.median(times)
        print(f"{name:<26} {median:5.2f} s  median of {len(times)}; a restart takes {restart / median:.1f}x as long")
    return 0


if __name__ == "__main__":
    sys.exit(main())

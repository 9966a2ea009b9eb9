"""Soak of the local stack: concurrent page and API traffic on 127.0.0.1, with a publish in the middle.

Starts the local stack (emulator, Terraform apply, publish, both servers) on free ports in a work dir of its own,
then runs the same traffic twice in this process: a baseline with no publish, and the soak, half-way through
which web/ is published again with a changed stylesheet (so the page points at new asset names). Each virtual
user loops: load the page, load every file the page references, call the API for the seeded user.

Prints, per run, the requests, the errors (anything but 200), the pages that referenced a file that was missing,
the latency percentiles of pages, assets and API calls, and the soak's p95 against the baseline's. Exits 1 if the
soak saw an error or a broken page.

    pipenv run python benchmarks/soak.py [--seconds 60] [--users 8]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from contract.site_files import INDEX_DOCUMENT  # noqa: E402
from hooks.release import page_references  # noqa: E402
from local_stack.stack import LocalOptions, LocalStack  # noqa: E402

KINDS = ("page", "asset", "api")


@dataclass
class Tally:
    """What the virtual users saw; shared by their threads."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: {kind: [] for kind in KINDS})
    errors: list[str] = field(default_factory=list)
    broken_pages: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, kind: str, seconds: float, status: int, url: str) -> None:
        with self.lock:
            self.latencies[kind].append(seconds)
            if status != 200:
                self.errors.append(f"{status} {url}")

    def broken(self) -> None:
        with self.lock:
            self.broken_pages += 1

    @property
    def requests(self) -> int:
        return sum(len(values) for values in self.latencies.values())


def get(url: str) -> tuple[int, bytes, float]:
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            body, status = response.read(), response.status
    except urllib.error.HTTPError as error:
        body, status = error.read(), error.code
    except OSError as error:  # refused, reset, timed out: an error like any other
        body, status = str(error).encode(), 0
    return status, body, time.perf_counter() - started


def virtual_user(site_url: str, api_url: str, until: float, tally: Tally) -> None:
    while time.monotonic() < until:
        status, body, seconds = get(site_url)
        tally.record("page", seconds, status, site_url)
        missing = False
        if status == 200:
            for key in sorted(page_references(body.decode("utf-8", errors="replace"), INDEX_DOCUMENT)):
                asset_status, _, asset_seconds = get(site_url + key)
                tally.record("asset", asset_seconds, asset_status, site_url + key)
                missing = missing or asset_status in (403, 404)
        if missing:
            tally.broken()
        status, _, seconds = get(f"{api_url}?userId=1")
        tally.record("api", seconds, status, api_url)


def run_traffic(stack: LocalStack, seconds: float, users: int, midway: Callable[[], str] | None) -> tuple[Tally, str]:
    """`users` virtual users for `seconds`; `midway` (if any) runs half-way through and describes what it did."""
    tally = Tally()
    until = time.monotonic() + seconds
    threads = [
        threading.Thread(target=virtual_user, args=(stack.site_url, stack.api_url, until, tally), daemon=True)
        for _ in range(users)
    ]
    for thread in threads:
        thread.start()
    note = ""
    if midway:
        time.sleep(seconds / 2)
        note = midway()
    for thread in threads:
        thread.join()
    return tally, note


def percentiles(values: list[float]) -> tuple[float, float, float]:
    """p50, p95 and p99 in milliseconds."""
    if len(values) < 2:
        return (values[0] * 1000,) * 3 if values else (0.0, 0.0, 0.0)
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[49] * 1000, cuts[94] * 1000, cuts[98] * 1000


def report(name: str, tally: Tally, seconds: float) -> None:
    figures = "  ".join(
        f"{kind} p50/p95/p99 {'/'.join(f'{ms:.1f}' for ms in percentiles(tally.latencies[kind]))} ms" for kind in KINDS
    )
    print(
        f"{name:<8} {tally.requests:>6} requests ({tally.requests / seconds:.0f}/s)  {len(tally.errors)} errors  "
        f"{tally.broken_pages} broken pages  {figures}",
        flush=True,
    )
    for error in sorted(set(tally.errors))[:5]:
        print(f"         error: {error}")


def changed_site(stack: LocalStack, into: Path) -> Path:
    """A copy of web/ whose stylesheet differs: publishing it renames the stylesheet and rewrites the page."""
    source = into / "web"
    shutil.copytree(stack.options.web_dir, source)
    with (source / "style.css").open("a") as stylesheet:
        stylesheet.write("\n/* soak: a new release */\n")
    return source


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the soak (default 60)")
    parser.add_argument("--baseline-seconds", type=float, default=20.0, help="length of the baseline (default 20)")
    parser.add_argument("--users", type=int, default=8, help="concurrent virtual users (default 8)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="soak-") as scratch:
        started = time.perf_counter()
        stack = LocalStack(LocalOptions(site_port=0, api_port=0, work_dir=Path(scratch) / "work"), log=lambda _: None)
        try:
            stack.start()
            print(f"local stack up in {time.perf_counter() - started:.1f} s; {args.users} users", flush=True)
            baseline, _ = run_traffic(stack, args.baseline_seconds, args.users, None)
            report("baseline", baseline, args.baseline_seconds)
            source = changed_site(stack, Path(scratch))

            def publish() -> str:
                began = time.perf_counter()
                result = stack.publish(source)
                return f"publish mid-soak: {len(result.uploaded)} uploaded in {time.perf_counter() - began:.1f} s"

            soak, note = run_traffic(stack, args.seconds, args.users, publish)
            report("soak", soak, args.seconds)
            print(f"         {note}")
        finally:
            stack.stop()

    ratios = "  ".join(
        f"{kind} {percentiles(soak.latencies[kind])[1] / max(percentiles(baseline.latencies[kind])[1], 1e-9):.2f}"
        for kind in KINDS
    )
    print(f"soak/baseline p95: {ratios}")
    return 1 if soak.errors or soak.broken_pages else 0


if __name__ == "__main__":
    sys.exit(main())

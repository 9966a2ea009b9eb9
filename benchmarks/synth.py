"""Synth time and memory: the lean provider import (modules/provider_imports.py) against the stock import.

Runs a full synth of every stack in a fresh interpreter, alternating the two ways, several times each, and prints
the median wall time and peak memory of each and their ratios. Memory is sampled every 20 ms from /proc: the peak
resident set of the Python process, and of the whole process tree (Python plus the jsii Node.js kernel). The
kernel loads the provider's whole type assembly (about 600 MB) whichever way Python imports, so the tree shrinks
far less than the Python process does.

    pipenv run python benchmarks/synth.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
SYNTH = (
    "import main; from contract.config import selected_environments; main.build_app(selected_environments()).synth()"
)


def tree_rss_kb(root: int) -> tuple[int, int]:
    """VmRSS from /proc: (`root` and all its descendants summed, `root` alone)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            pid, ppid = int(stat.parent.name), int(stat.read_text().rsplit(")", 1)[1].split()[1])
            status = (stat.parent / "status").read_text()
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(pid)
        rss[pid] = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS")), 0)
    sizes, stack = [], [root]
    while stack:
        pid = stack.pop()
        sizes.append(rss.get(pid, 0))
        stack.extend(children.get(pid, []))
    return sum(sizes), rss.get(root, 0)


def synth_once(stock: bool) -> tuple[float, int, int]:
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    env.pop("STOCK_PROVIDER_IMPORT", None)
    if stock:
        env["STOCK_PROVIDER_IMPORT"] = "1"
    with tempfile.TemporaryDirectory() as outdir:
        env["CDKTF_OUTDIR"] = outdir
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-c", SYNTH], cwd=PROJECT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        peak_tree = peak_python = 0
        while process.poll() is None:
            tree, python = tree_rss_kb(process.pid)
            peak_tree, peak_python = max(peak_tree, tree), max(peak_python, python)
            time.sleep(0.02)
        elapsed = time.perf_counter() - started
        if process.returncode != 0:
            raise SystemExit(f"synth failed (stock={stock}, exit {process.returncode})")
    return elapsed, peak_tree, peak_python


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    results: dict[str, list[tuple[float, int, int]]] = {"stock": [], "lean": []}
    for _ in range(runs):
        results["stock"].append(synth_once(stock=True))
        results["lean"].append(synth_once(stock=False))
    summary = {}
    for name, samples in results.items():
        summary[name] = [statistics.median(s[i] for s in samples) for i in range(3)]
        wall, tree, python = summary[name]
        print(
            f"{name:>5}: median {wall:6.2f} s; peak memory: Python {python / 1024:4.0f} MB, with the Node.js "
            f"kernel {tree / 1024:5.0f} MB   runs: {', '.join(f'{s[0]:.2f}s' for s in samples)}"
        )
    lean, stock = summary["lean"], summary["stock"]
    print(
        f"ratio lean/stock: time {lean[0] / stock[0]:.2f} (target <= 0.33); memory: Python "
        f"{lean[2] / stock[2]:.2f}, with the Node.js kernel {lean[1] / stock[1]:.2f} (target < 0.50)"
    )


if __name__ == "__main__":
    main()

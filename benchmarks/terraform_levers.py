"""What each of local mode's Terraform levers saves, measured against its baseline in the same run.

Starts the local stack once (in a work dir of its own, every resource applied), then times, alternating so that
the machine's load weighs on both alike, median of 5 each:

- `terraform init` against the check that skips it (`StackWorkspace.init_if_changed` with nothing changed);
- a watch-mode apply with no change (`apply -refresh=false`) with Terraform starting its own provider, against
  the same apply reattached to the shared provider (`TF_REATTACH_PROVIDERS`);
- the same apply with a refresh (as the deferred apply runs), reattached, for what `-refresh=false` saves.

    pipenv run python benchmarks/terraform_levers.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from local_stack.stack import LocalOptions, LocalStack  # noqa: E402

SAMPLES = 5


def seconds(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="terraform-levers-") as scratch:
        options = LocalOptions(work_dir=Path(scratch), site_port=0, api_port=0, defer=False, fresh=True)
        stack = LocalStack(options, log=lambda line: None)
        stack.start()
        try:
            deployment, workspace = stack.deployment, stack.workspace
            assert deployment is not None
            own_provider = deployment.terraform("levers")
            timings: dict[str, list[float]] = {name: [] for name in ("init", "skip", "own", "shared", "refresh")}
            for _ in range(SAMPLES):
                timings["init"].append(seconds(lambda: deployment.terraform("levers").init()))
                timings["skip"].append(seconds(lambda: workspace.init_if_changed(deployment.terraform("levers"))))
                timings["own"].append(seconds(lambda: own_provider.apply_changes(refresh=False)))
                timings["shared"].append(
                    seconds(lambda: deployment.with_shared_provider("levers", lambda t: t.apply_changes(refresh=False)))
                )
                timings["refresh"].append(
                    seconds(lambda: deployment.with_shared_provider("levers", lambda t: t.apply_changes()))
                )
        finally:
            stack.stop()
    median = {name: statistics.median(times) for name, times in timings.items()}
    print(f"terraform init                     {median['init']:5.2f} s  median of {SAMPLES}")
    print(f"init skipped (nothing changed)     {median['skip']:5.2f} s  saves {median['init'] - median['skip']:.2f} s")
    print(f"no-change apply, its own provider  {median['own']:5.2f} s  median of {SAMPLES}")
    print(
        f"no-change apply, shared provider   {median['shared']:5.2f} s  "
        f"{median['own'] / median['shared']:.2f}x faster, saves {median['own'] - median['shared']:.2f} s"
    )
    print(
        f"no-change apply, shared, refresh   {median['refresh']:5.2f} s  "
        f"-refresh=false is {median['refresh'] / median['shared']:.2f}x faster"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

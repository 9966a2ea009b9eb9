"""What each of local mode's Terraform levers saves, measured against its baseline in the same run.

Starts the local stack once (in a work dir of its own, every resource applied), then times, alternating so that
the machine's load weighs on both alike, median of 5 each:

- `terraform init` against the check that skips it (`StackWorkspace.init_if_changed` with nothing changed);
- a watch-mode apply with no change (`apply -refresh=false`) with Terraform starting its own provider, against
  the same apply reattached to the shared provider (`TF_REATTACH_PROVIDERS`);
- the same apply with a refresh (as the deferred apply runs), reattached, for what `-refresh=false` saves;
- the reattached no-change apply with the emulator's address in the provider's `endpoints` block, against the
  AWS profile beside the configuration that local mode uses (`StackWorkspace.write_emulator_config`).

    pipenv run python benchmarks/terraform_levers.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from local_stack.stack import LocalOptions, LocalStack  # noqa: E402

SAMPLES = 5
# Services the `endpoints` variant names (validating the block costs the same with one service or all of them).
ENDPOINT_SERVICES = ("apigateway", "cloudfront", "cloudwatch", "dynamodb", "iam", "kms", "lambda", "s3", "sns", "sts")


def seconds(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def with_endpoints_block(config: dict[str, Any], url: str) -> dict[str, Any]:
    """The configuration with the emulator's address in each provider's `endpoints` block instead of a profile."""
    providers = [
        {
            **{k: v for k, v in provider.items() if k not in ("profile", "shared_config_files")},
            "endpoints": [dict.fromkeys(ENDPOINT_SERVICES, url)],
        }
        for provider in config["provider"]["aws"]
    ]
    return {**config, "provider": {**config["provider"], "aws": providers}}


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="terraform-levers-") as scratch:
        options = LocalOptions(work_dir=Path(scratch), site_port=0, api_port=0, defer=False, fresh=True)
        stack = LocalStack(options, log=lambda line: None)
        stack.start()
        try:
            deployment, workspace = stack.deployment, stack.workspace
            assert deployment is not None
            own_provider = deployment.terraform("levers")
            names = ("init", "skip", "own", "shared", "refresh", "endpoints")
            timings: dict[str, list[float]] = {name: [] for name in names}
            profile_config = workspace.config()
            endpoints_config = with_endpoints_block(profile_config, stack.emulator_url)
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
                workspace.write_config(endpoints_config)
                try:
                    timings["endpoints"].append(
                        seconds(
                            lambda: deployment.with_shared_provider("levers", lambda t: t.apply_changes(refresh=False))
                        )
                    )
                finally:
                    workspace.write_config(profile_config)
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
    print(
        f"no-change apply, endpoints block   {median['endpoints']:5.2f} s  "
        f"the profile is {median['endpoints'] / median['shared']:.2f}x faster, "
        f"saves {median['endpoints'] - median['shared']:.2f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`terraform plan` of a synthesized stack, saved for CI artifacts: `python -m operations.plan prod --out plans/`.

Writes <out>/<stack>.tfplan (the binary plan, for `terraform apply <file>`) and <out>/<stack>.plan.json
(`terraform show -json`), and prints each change. Credentials and the state backend are the stack's own: run it
where `cdktf deploy` would run. Exit 0 when the plan was made (changes or not), 1 with Terraform's error otherwise.

`--offline` plans without AWS at all: the real provider with fake credentials and its account, credential,
region and metadata look-ups skipped, empty local state, no refresh. It shows what a first deploy creates and
proves the configuration plans (for_each, counts and unknown values evaluated), which `validate` does not.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from terraform_cli import PROJECT_DIR, ResourceChange, Terraform, TerraformError, resource_changes, write_cli_config

OFFLINE_PROVIDER = {
    "access_key": "offline",
    "secret_key": "offline",
    "skip_credentials_validation": True,
    "skip_requesting_account_id": True,
    "skip_metadata_api_check": "true",
    "skip_region_validation": True,
}


def offline_copy(directory: Path, scratch: Path) -> Path:
    """A copy of a synthesized stack that plans without AWS: fake credentials, no look-ups, empty local state."""
    copy = scratch / directory.name
    shutil.copytree(directory, copy, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*", "*.tfplan"))
    config = json.loads((copy / "cdk.tf.json").read_text())
    for provider in config["provider"]["aws"]:
        provider.update(OFFLINE_PROVIDER)
    config["terraform"].pop("cloud", None)
    config["terraform"]["backend"] = {"local": {"path": "offline.tfstate"}}
    (copy / "cdk.tf.json").write_text(json.dumps(config, indent=2))
    return copy


def plan_stack(
    directory: Path, out: Path, cli_config: Path, *, offline: bool = False, timeout: float | None = None
) -> dict[str, Any]:
    """Init and plan the stack synthesized into `directory`; return `terraform show -json` of the plan. A plan
    running longer than `timeout` seconds is stopped, naming what it waited on; Terraform's progress goes to
    stderr as it comes."""
    if not (directory / "cdk.tf.json").is_file():
        raise TerraformError(f"{directory}/cdk.tf.json not found: synthesize first (drop --skip-synth)")
    out.mkdir(parents=True, exist_ok=True)
    plan_file = out / f"{directory.name}.tfplan"
    with tempfile.TemporaryDirectory(prefix="offline-plan-") as scratch:
        terraform = Terraform(
            offline_copy(directory, Path(scratch)) if offline else directory,
            cli_config,
            on_message=_progress,
            timeout=timeout,
        )
        terraform.init()
        terraform.plan(plan_file, refresh=not offline)
        plan = terraform.show(plan_file)
    (out / f"{directory.name}.plan.json").write_text(json.dumps(plan))
    return plan


def _progress(kind: str, text: str) -> None:
    if kind in ("refresh_start", "apply_progress", "diagnostic"):
        print(f"  {text}", file=sys.stderr, flush=True)


def render(changes: list[ResourceChange]) -> str:
    counts = Counter(change.action for change in changes)
    lines = [f"{change.action:<14} {change.address}" for change in changes]
    lines.append(f"{len(changes)} change(s): " + (", ".join(f"{n} {a}" for a, n in sorted(counts.items())) or "none"))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m operations.plan", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("stack", help="the stack (environment) to plan, e.g. prod")
    parser.add_argument("--out", type=Path, default=PROJECT_DIR / "plans", help="where to save the plan (plans/)")
    parser.add_argument("--skip-synth", action="store_true", help="plan the synthesized stack as it is")
    parser.add_argument(
        "--offline",
        action="store_true",
        help="plan without AWS: fake credentials, no look-ups, empty local state, no refresh",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=1800.0,
        help="stop a Terraform phase after this many seconds (default %(default)s)",
    )
    parser.add_argument(
        "--outdir",
        type=Path,
        default=PROJECT_DIR / "cdktf.out",
        help="where the app is synthesized (cdktf.out; local mode uses .local/cdktf.out)",
    )
    args = parser.parse_args(argv)
    directory = args.outdir / "stacks" / args.stack
    if not args.skip_synth:
        from contract.config import load_environment
        from main import synth

        (directory,) = synth([load_environment(args.stack)], args.outdir).values()
    try:
        plan = plan_stack(
            directory, args.out, write_cli_config(args.out / "terraform.rc"), offline=args.offline, timeout=args.timeout
        )
    except TerraformError as exc:
        print(f"plan: error: {exc}", file=sys.stderr)
        return 1
    print(render(resource_changes(plan)))
    print(f"saved {args.out / (args.stack + '.tfplan')} and {args.out / (args.stack + '.plan.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

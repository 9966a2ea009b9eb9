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
import sys
import tempfile
from pathlib import Path
from typing import Any

from terraform_cli import PROJECT_DIR, StackWorkspace, TerraformError, render_changes, resource_changes
from terraform_cli.workspace import DEFAULT_OUTDIR

OFFLINE_PROVIDER = {
    "access_key": "offline",
    "secret_key": "offline",
    "skip_credentials_validation": True,
    "skip_requesting_account_id": True,
    "skip_metadata_api_check": "true",
    "skip_region_validation": True,
}


def offline_copy(workspace: StackWorkspace, scratch: Path) -> StackWorkspace:
    """A copy of a synthesized stack that plans without AWS: fake credentials, no look-ups, empty local state."""
    copy = workspace.copied_to(scratch)
    config = copy.config()
    for provider in config["provider"]["aws"]:
        provider.update(OFFLINE_PROVIDER)
    config["terraform"].pop("cloud", None)
    config["terraform"]["backend"] = {"local": {"path": "offline.tfstate"}}
    copy.write_config(config)
    return copy


def plan_stack(
    workspace: StackWorkspace, out: Path, *, offline: bool = False, timeout: float | None = None
) -> dict[str, Any]:
    """Init and plan the synthesized stack; return `terraform show -json` of the plan, also saved in `out`. A
    plan running longer than `timeout` seconds is stopped, naming what it waited on; Terraform's progress goes to
    stderr as it comes."""
    if not workspace.is_synthesized():
        raise TerraformError(f"{workspace.config_file} not found: synthesize first (drop --skip-synth)")
    out.mkdir(parents=True, exist_ok=True)
    plan_file = out / f"{workspace.stack}.tfplan"
    with tempfile.TemporaryDirectory(prefix="offline-plan-") as scratch:
        planned = offline_copy(workspace, Path(scratch)) if offline else workspace
        terraform = planned.initialized(on_message=_progress, timeout=timeout)
        terraform.plan(plan_file, refresh=not offline)
        plan = terraform.show(plan_file)
    (out / f"{workspace.stack}.plan.json").write_text(json.dumps(plan))
    return plan


def _progress(kind: str, text: str) -> None:
    if kind in ("refresh_start", "apply_progress", "diagnostic"):
        print(f"  {text}", file=sys.stderr, flush=True)


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
        default=DEFAULT_OUTDIR,
        help="where the app is synthesized (cdktf.out; local mode uses .local/cdktf.out)",
    )
    args = parser.parse_args(argv)
    workspace = StackWorkspace(args.stack, args.outdir)
    try:
        if not args.skip_synth:
            workspace.synthesize()
        plan = plan_stack(workspace, args.out, offline=args.offline, timeout=args.timeout)
    except TerraformError as exc:
        print(f"plan: error: {exc}", file=sys.stderr)
        return 1
    print(render_changes(resource_changes(plan)))
    print(f"saved {args.out / (args.stack + '.tfplan')} and {args.out / (args.stack + '.plan.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

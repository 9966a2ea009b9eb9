"""`terraform plan` of a synthesized stack, saved for CI artifacts: `python -m review.plan prod --out plans/`.

Writes <out>/<stack>.tfplan (the binary plan, for `terraform apply <file>`) and <out>/<stack>.plan.json
(`terraform show -json`), and prints each change. Credentials and the state backend are the stack's own: run it
where `cdktf deploy` would run. Exit 0 when the plan was made (changes or not), 1 with Terraform's error otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from terraform_cli import PROJECT_DIR, ResourceChange, Terraform, TerraformError, resource_changes, write_cli_config


def plan_stack(directory: Path, out: Path, cli_config: Path) -> dict[str, Any]:
    """Init and plan the stack synthesized into `directory`; return `terraform show -json` of the plan."""
    if not (directory / "cdk.tf.json").is_file():
        raise TerraformError(f"{directory}/cdk.tf.json not found: synthesize first (drop --skip-synth)")
    out.mkdir(parents=True, exist_ok=True)
    plan_file = out / f"{directory.name}.tfplan"
    terraform = Terraform(directory, cli_config)
    terraform.init()
    terraform.plan(plan_file)
    plan = terraform.show(plan_file)
    (out / f"{directory.name}.plan.json").write_text(json.dumps(plan))
    return plan


def render(changes: list[ResourceChange]) -> str:
    counts = Counter(change.action for change in changes)
    lines = [f"{change.action:<14} {change.address}" for change in changes]
    lines.append(f"{len(changes)} change(s): " + (", ".join(f"{n} {a}" for a, n in sorted(counts.items())) or "none"))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m review.plan", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("stack", help="the stack (environment) to plan, e.g. prod")
    parser.add_argument("--out", type=Path, default=PROJECT_DIR / "plans", help="where to save the plan (plans/)")
    parser.add_argument("--skip-synth", action="store_true", help="plan the synthesized stack as it is")
    parser.add_argument(
        "--outdir",
        type=Path,
        default=PROJECT_DIR / "cdktf.out",
        help="where the app is synthesized (cdktf.out; local mode uses .local/cdktf.out)",
    )
    args = parser.parse_args(argv)
    directory = args.outdir / "stacks" / args.stack
    if not args.skip_synth:
        from main import synth
        from modules.config import load_environment

        (directory,) = synth([load_environment(args.stack)], args.outdir).values()
    try:
        plan = plan_stack(directory, args.out, write_cli_config(args.out / "terraform.rc"))
    except TerraformError as exc:
        print(f"plan: error: {exc}", file=sys.stderr)
        return 1
    print(render(resource_changes(plan)))
    print(f"saved {args.out / (args.stack + '.tfplan')} and {args.out / (args.stack + '.plan.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

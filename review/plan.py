"""`terraform plan` of a synthesized stack, saved for CI artifacts: `python -m review.plan prod --out plans/`.

Writes <out>/<stack>.tfplan (the binary plan, for `terraform apply <file>`) and <out>/<stack>.plan.json
(`terraform show -json`), and prints each change. Credentials and the state backend are the stack's own: run it
where `cdktf deploy` would run. Exit 0 when the plan was made (changes or not), 1 with Terraform's error otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path

from terraform_cli import PROJECT_DIR, terraform, write_cli_config


def _error(done) -> str:
    lines = [line.strip(" │╷╵") for line in done.stderr.splitlines() if line.strip(" │╷╵")]
    return next((line for line in lines if line.startswith("Error:")), lines[-1] if lines else "unknown error")


def plan_stack(stack: str, outdir: Path, out: Path, cli_config: Path) -> dict:
    """Init and plan the stack synthesized into `outdir`; return `terraform show -json` of the plan."""
    directory = outdir / "stacks" / stack
    if not (directory / "cdk.tf.json").is_file():
        raise RuntimeError(f"{directory}/cdk.tf.json not found: synthesize first (drop --skip-synth)")
    out.mkdir(parents=True, exist_ok=True)
    plan_file = (out / f"{stack}.tfplan").resolve()
    for args in (["init", "-input=false", "-no-color"],
                 ["plan", "-input=false", "-no-color", "-lock-timeout=60s", f"-out={plan_file}"]):
        done = terraform(args, directory, cli_config)
        if done.returncode != 0:
            raise RuntimeError(f"terraform {args[0]} failed: {_error(done)}")
    shown = terraform(["show", "-json", str(plan_file)], directory, cli_config)
    if shown.returncode != 0:
        raise RuntimeError(f"terraform show failed: {_error(shown)}")
    (out / f"{stack}.plan.json").write_text(shown.stdout)
    return json.loads(shown.stdout)


def changes(plan: dict) -> list[tuple[str, str]]:
    """(action, address) for every resource the plan would change."""
    found = []
    for change in plan.get("resource_changes", []):
        actions = change["change"]["actions"]
        if actions != ["no-op"]:
            found.append(("replace" if set(actions) == {"create", "delete"} else "/".join(actions),
                          change["address"]))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m review.plan", description=__doc__.split("\n\n")[0])
    parser.add_argument("stack", help="the stack (environment) to plan, e.g. prod")
    parser.add_argument("--out", type=Path, default=PROJECT_DIR / "plans", help="where to save the plan (plans/)")
    parser.add_argument("--skip-synth", action="store_true", help="plan the synthesized stack as it is")
    parser.add_argument("--outdir", type=Path, default=PROJECT_DIR / "cdktf.out",
                        help="where the app is synthesized (cdktf.out; local mode uses .local/cdktf.out)")
    args = parser.parse_args(argv)
    if not args.skip_synth:
        from main import build_app
        from modules.config import load_environment

        build_app([load_environment(args.stack)], str(args.outdir)).synth()
    with tempfile.TemporaryDirectory(prefix="plan-") as scratch:
        try:
            plan = plan_stack(args.stack, args.outdir, args.out, write_cli_config(Path(scratch) / "cli.tfrc"))
        except RuntimeError as exc:
            print(f"plan: error: {exc}", file=sys.stderr)
            return 1
    found = changes(plan)
    for action, address in found:
        print(f"{action:<14} {address}")
    counts = Counter(action for action, _ in found)
    print(f"{len(found)} change(s): " + (", ".join(f"{n} {a}" for a, n in sorted(counts.items())) or "none"))
    print(f"saved {args.out / (args.stack + '.tfplan')} and {args.out / (args.stack + '.plan.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Destroy a preview environment: `python -m operations.destroy preview-<slug>` (`pipenv run destroy`).

Refuses every environment that is not a preview: prod's data is protected, and local mode's stack lives in its
emulator. Synthesizes the preview into cdktf.out (as `deploy` does) and runs `terraform init` and `terraform
destroy` with its state backend. A preview's bucket is one Terraform may empty (`force_destroy`), so the bucket
goes too, with every object version, release record and delete marker in it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from contract.config import ConfigError, is_preview
from terraform_cli import StackWorkspace, TerraformError
from terraform_cli.runner import print_message
from terraform_cli.workspace import DEFAULT_OUTDIR


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m operations.destroy", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("stack", help="the preview environment to destroy, e.g. preview-pr-42")
    parser.add_argument("--outdir", type=Path, default=DEFAULT_OUTDIR, help="where to synthesize")
    parser.add_argument("--timeout", type=float, default=3600.0, help="give up after this many seconds")
    return parser.parse_args(argv)


def destroy(stack: str, outdir: Path, timeout: float) -> None:
    """`terraform destroy` of the preview `stack`; raises ConfigError for any other environment."""
    if not is_preview(stack):
        raise ConfigError(
            f"environment: {stack!r} is not allowed; allowed values: a preview, preview-<slug> (only previews are "
            "destroyed by this command; prod keeps its data, and local mode's stack ends with its emulator)"
        )
    workspace = StackWorkspace(stack, outdir).synthesize()
    workspace.initialized(on_message=print_message, timeout=timeout).destroy()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        destroy(args.stack, args.outdir, args.timeout)
    except (ConfigError, TerraformError) as exc:
        print(f"destroy: error: {exc}", file=sys.stderr)
        return 1
    print(f"destroyed {args.stack}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

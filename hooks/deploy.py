"""Deploy a stack and publish its site in one command: `python -m hooks.deploy prod [hook options]`.

Runs `cdktf deploy <stack> --auto-approve --outputs-file …` with the pinned CDKTF CLI, then the post-apply hook
with that outputs file. Options after the stack name go to the hook (e.g. --prune, --no-wait).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from hooks import post_apply
from terraform_cli import PROJECT_DIR, cdktf_command, terraform_env, write_cli_config


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0].startswith("-"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    stack, hook_args = argv[0], argv[1:]
    with tempfile.TemporaryDirectory(prefix="deploy-") as scratch:
        outputs = Path(scratch) / "outputs.json"
        cli_config = write_cli_config(Path(scratch) / "cli.tfrc")
        deploy = subprocess.run(
            cdktf_command(["deploy", stack, "--auto-approve", "--outputs-file", str(outputs)]),
            cwd=PROJECT_DIR, env=terraform_env(cli_config), check=False,
        )
        if deploy.returncode != 0:
            print(f"deploy: error: cdktf deploy {stack} failed (exit {deploy.returncode}); nothing was published",
                  file=sys.stderr)
            return deploy.returncode
        return post_apply.main(["--outputs-file", str(outputs), "--stack", stack, *hook_args])


if __name__ == "__main__":
    sys.exit(main())

"""The project's own Terraform CLI configuration, and the environment Terraform runs in.

Terraform installs providers from the registry by default. Where a filesystem mirror is given (offline machines,
CI), the config installs them from the mirror instead; Terraform then links the provider rather than copying it.
The mirror directory comes from TF_PROVIDER_MIRROR (scripts discover it); nothing here hard-wires a path.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

MIRROR_ENV = "TF_PROVIDER_MIRROR"
# The provider the stack is synthesized for: the 20.x bindings are generated for 5.99; 5.100.0 is the final 5.x.
AWS_PROVIDER_CONSTRAINT = "~> 5.99"
PROJECT_DIR = Path(__file__).resolve().parent.parent


def cli_config_text(mirror_dir: str | None) -> str:
    """A Terraform CLI config: the mirror for everything it holds when given, the registry otherwise."""
    if mirror_dir:
        block = (
            f"  filesystem_mirror {{\n    path    = {json.dumps(str(mirror_dir))}\n"
            f'    include = ["registry.terraform.io/*/*"]\n  }}\n'
            '  direct {\n    exclude = ["registry.terraform.io/*/*"]\n  }\n'
        )
    else:
        block = "  direct {}\n"
    return f"provider_installation {{\n{block}}}\n"


def write_cli_config(path: Path, env: Mapping[str, str] | None = None) -> Path:
    """Write the CLI config for this machine to `path` and return it. Written whole or not at all (a Terraform
    command starting meanwhile reads the old file or the new one, never half of one)."""
    env = os.environ if env is None else env
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text(cli_config_text(env.get(MIRROR_ENV) or None))
    partial.replace(path)
    return path


def terraform_env(cli_config: Path, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a Terraform run: our CLI config, no prompts, no update checks."""
    result = dict(os.environ if env is None else env)
    result.update(TF_CLI_CONFIG_FILE=str(cli_config), TF_IN_AUTOMATION="1", TF_INPUT="0", CHECKPOINT_DISABLE="1")
    return result


def cdktf_command(args: Sequence[str]) -> list[str]:
    """The pinned CDKTF CLI (node_modules, from package-lock.json) with `args`."""
    local = PROJECT_DIR / "node_modules" / ".bin" / "cdktf"
    if not local.exists():
        raise FileNotFoundError("the CDKTF CLI is not installed: run scripts/setup (npm ci)")
    return [str(local), *args]

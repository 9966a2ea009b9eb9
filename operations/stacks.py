"""A stack ready for Terraform, as `cdktf deploy` prepares it: synthesized into an outdir and initialized with the
project's Terraform CLI config (registry or provider mirror) and the stack's own state backend."""

from __future__ import annotations

from pathlib import Path

from contract.config import load_environment
from main import synth
from terraform_cli import Terraform, write_cli_config


def initialized(stack: str, outdir: Path, timeout: float, *, progress: bool = True) -> Terraform:
    """Synthesize `stack` into `outdir` and `terraform init` it; Terraform's messages printed if `progress`."""
    (directory,) = synth([load_environment(stack)], outdir).values()
    terraform = Terraform(
        directory,
        write_cli_config(outdir / "terraform.rc"),
        on_message=(lambda kind, text: print(text, flush=True)) if progress else None,
        timeout=timeout,
    )
    terraform.init()
    return terraform

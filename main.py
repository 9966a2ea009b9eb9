"""The CDKTF app: one stack per environment (all of them, or those named in APP_ENVIRONMENTS)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from cdktf import App

from contract.config import EnvironmentSettings, selected_environments
from modules.stack import UserAppStack
from terraform_cli.workspace import StackWorkspace


def build_app(environments: Iterable[EnvironmentSettings], outdir: str | None = None) -> App:
    """An app with one stack per environment; `outdir` defaults to what the cdktf CLI asks for (cdktf.out)."""
    app = App(outdir=outdir) if outdir else App()
    for settings in environments:
        UserAppStack(app, settings)
    return app


def synth(environments: Iterable[EnvironmentSettings], outdir: Path) -> dict[str, StackWorkspace]:
    """Synthesize the stacks into `outdir`; returns each stack's workspace (where Terraform runs) by name."""
    environments = list(environments)
    build_app(environments, str(outdir)).synth()
    return {settings.name: StackWorkspace(settings.name, outdir) for settings in environments}


if __name__ == "__main__":
    build_app(selected_environments()).synth()

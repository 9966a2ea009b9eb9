"""The CDKTF app: one stack per environment (all of them, or those named in APP_ENVIRONMENTS)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from cdktf import App

from contract.config import FAKE_CREDENTIALS, EnvironmentSettings, selected_environments
from hooks.release import site_code_hashes
from modules.stack import UserAppStack
from terraform_cli import PROJECT_DIR
from terraform_cli.workspace import StackWorkspace


def build_app(environments: Iterable[EnvironmentSettings], outdir: str | None = None) -> App:
    """An app with one stack per environment; `outdir` defaults to what the cdktf CLI asks for (cdktf.out). Each
    stack's CSP lists the hashes of the inline code in its site's pages, read here as the hook reads them."""
    app = App(outdir=outdir) if outdir else App()
    for settings in environments:
        UserAppStack(app, settings, site_code=site_code_hashes(settings.site, PROJECT_DIR))
    return app


def synth(environments: Iterable[EnvironmentSettings], outdir: Path) -> dict[str, StackWorkspace]:
    """Synthesize the stacks into `outdir`; returns each stack's workspace (where Terraform runs) by name."""
    environments = list(environments)
    build_app(environments, str(outdir)).synth()
    return write_emulator_configs(environments, outdir)


def write_emulator_configs(environments: Iterable[EnvironmentSettings], outdir: Path) -> dict[str, StackWorkspace]:
    """Beside each emulated stack's configuration, the AWS profile its provider reads (the emulator's URL and fake
    credentials); returns each stack's workspace by name."""
    workspaces = {}
    for settings in environments:
        workspaces[settings.name] = workspace = StackWorkspace(settings.name, outdir)
        if settings.emulator:
            workspace.write_emulator_config(settings.emulator.url, FAKE_CREDENTIALS)
    return workspaces


if __name__ == "__main__":
    selected = selected_environments()
    app = build_app(selected)
    app.synth()
    write_emulator_configs(selected, Path(app.outdir))

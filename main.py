"""The CDKTF app: one stack per environment (all of them, or those named in APP_ENVIRONMENTS)."""

from __future__ import annotations

from collections.abc import Iterable

from cdktf import App

from modules.config import EnvironmentSettings, selected_environments
from modules.stack import UserAppStack


def build_app(environments: Iterable[EnvironmentSettings], outdir: str | None = None) -> App:
    """An app with one stack per environment; `outdir` defaults to what the cdktf CLI asks for (cdktf.out)."""
    app = App(outdir=outdir) if outdir else App()
    for settings in environments:
        UserAppStack(app, settings)
    return app


if __name__ == "__main__":
    build_app(selected_environments()).synth()

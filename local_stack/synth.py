"""Synthesize the local stack in a process of its own, from a project's current code:
`python -m local_stack.synth OUTDIR --emulator-url URL --site-origin ORIGIN --api-origin ORIGIN [--same-origin]
[--single-page-app] [--project NAME] [--source-dir DIR]`.

Local mode runs this at start and, in watch mode, after an edit to modules/ or contract/: a fresh process imports
the edited code (a running one would keep the old), and a broken edit fails here, printing Python's own error,
while the running stack keeps serving.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

from contract.config import EnvironmentSettings
from terraform_cli.children import ends_with_this_process


def synth_command(settings: EnvironmentSettings, outdir: Path, project: str | None = None) -> list[str]:
    """The command that synthesizes `settings` (a local environment) into `outdir`; `project` overrides the
    project's name (otherwise the synthesizing code's own default, which an edit may change)."""
    emulator = settings.emulator
    assert emulator is not None, "only the local environment is synthesized this way"
    command = [sys.executable, "-m", "local_stack.synth", str(outdir), "--emulator-url", emulator.url]
    command += ["--site-origin", settings.site.site_origin or "", "--api-origin", emulator.api_origin or ""]
    command += ["--project", project] if project else []
    command += ["--single-page-app"] if settings.site.single_page_app else []
    command += ["--source-dir", settings.site.source_dir]
    return command + (["--same-origin"] if settings.site.api_same_origin else [])


def synth_in_project(
    project_dir: Path,
    settings: EnvironmentSettings,
    outdir: Path,
    *,
    project: str | None = None,
    timeout: float = 120.0,
) -> str:
    """Synthesize with the code in `project_dir`; returns "" on success, otherwise what the process printed."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(project_dir), os.environ.get("PYTHONPATH", "")])}
    try:
        done = subprocess.run(
            synth_command(settings, outdir, project),
            cwd=project_dir,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            # Should local mode be killed meanwhile, the synth (and its jsii kernel) ends too.
            preexec_fn=ends_with_this_process(signal.SIGTERM),
        )
    except subprocess.TimeoutExpired:
        return f"synth did not finish in {timeout:.0f} s"
    return "" if done.returncode == 0 else (done.stderr or done.stdout).strip()


def main(argv: list[str] | None = None) -> int:
    from contract.config import local_environment
    from main import synth

    parser = argparse.ArgumentParser(prog="python -m local_stack.synth")
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--emulator-url", required=True)
    parser.add_argument("--site-origin", required=True)
    parser.add_argument("--api-origin", default="")
    parser.add_argument("--same-origin", action="store_true")
    parser.add_argument("--single-page-app", action="store_true")
    parser.add_argument("--project", default=None)
    parser.add_argument("--source-dir", default=None)
    args = parser.parse_args(argv)
    settings = local_environment(
        emulator_url=args.emulator_url,
        site_origin=args.site_origin,
        api_origin=args.api_origin or None,
        same_origin=args.same_origin,
        single_page_app=args.single_page_app,
        project=args.project,
        source_dir=args.source_dir,
    )
    synth([settings], args.outdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Synthesize the local stack in a process of its own, from a project's current code:
`python -m local_stack.synth OUTDIR --emulator-url URL --site-origin ORIGIN --api-origin ORIGIN [--same-origin]
[--single-page-app] [--project NAME] [--source-dir DIR]`.

Local mode runs this at start and, in watch mode, after an edit to modules/ or contract/: a fresh process imports
the edited code (a running one would keep the old), and a broken edit fails here, printing Python's own error,
while the running stack keeps serving.

A synth starts Python, CDKTF and jsii's Node.js kernel with the provider's whole type assembly: seconds on a quiet
machine, far more on a busy one, and most of a warm restart. So it is skipped when its output folder already holds
a synth of the same inputs: the command, the interpreter, the packages that synthesize, and every file of the
project and of the site's folder (a superset of what the synth reads; an edit anywhere, docs included, synthesizes
again, which costs only time).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from contract.config import EnvironmentSettings
from terraform_cli.children import ends_with_this_process
from terraform_cli.workspace import StackWorkspace, synthesized_stacks


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


# Written into the output folder after a synth: what it was made from, and the stacks' configs it made.
INPUTS_FILE = "synth-inputs.json"
# Packages whose version changes what a synth writes.
SYNTH_PACKAGES = ("cdktf", "cdktf-cdktf-provider-aws", "constructs", "jsii")
# Folders of a project that hold no synth input (and may be large, or written by the run itself).
NOT_INPUTS = frozenset({"node_modules", "cdktf.out", "__pycache__", "artifacts"})


def _files(folder: Path, outdir: Path) -> Iterator[Path]:
    """Every file under `folder` but in hidden folders (.git, .venv, .local…), NOT_INPUTS and `outdir`, in order."""
    for root, folders, names in os.walk(folder):
        here = Path(root)
        folders[:] = sorted(f for f in folders if not f.startswith(".") and f not in NOT_INPUTS and here / f != outdir)
        yield from (here / name for name in sorted(names))


def synth_inputs(project_dir: Path, command: list[str], source_dir: Path, outdir: Path) -> str:
    """A digest of everything a synth by `command` in `project_dir` depends on."""
    digest = hashlib.sha256()
    versions = {name: importlib.metadata.version(name) for name in SYNTH_PACKAGES}
    digest.update(json.dumps([sys.version, command, versions]).encode())
    folders = [project_dir.resolve()]
    if not source_dir.resolve().is_relative_to(folders[0]):
        folders.append(source_dir.resolve())
    for folder in folders:
        for file in _files(folder, outdir.resolve()):
            try:
                body = file.read_bytes()
            except OSError:  # a socket, a file gone meanwhile: not something a synth reads
                continue
            digest.update(f"{file}\0{len(body)}\0".encode())
            digest.update(body)
    return digest.hexdigest()


def _configs(outdir: Path) -> dict[str, str]:
    """The digest of each stack synthesized into `outdir`, by stack."""
    try:
        stacks = synthesized_stacks(outdir)
    except OSError:  # nothing synthesized there yet
        return {}
    return {stack: _digest(StackWorkspace(stack, outdir)) for stack in stacks}


def _digest(workspace: StackWorkspace) -> str:
    """A digest of a synthesized stack's configuration and its emulator profile (if it has one)."""
    digest = hashlib.sha256(workspace.config_file.read_bytes())
    if workspace.emulator_config_file.is_file():
        digest.update(workspace.emulator_config_file.read_bytes())
    return digest.hexdigest()


def _already_synthesized(outdir: Path, inputs: str) -> bool:
    """Whether `outdir` holds, unchanged, what a synth of `inputs` wrote."""
    try:
        recorded = json.loads((outdir / INPUTS_FILE).read_text())
    except (OSError, ValueError):
        return False
    return (
        isinstance(recorded, dict)
        and recorded.get("inputs") == inputs
        and recorded.get("configs") == _configs(outdir) != {}
    )


class SynthFailed(Exception):
    """A synth that failed: what its process printed (Python's own error for a broken edit), or that it timed out."""


def synth_in_project(
    project_dir: Path,
    settings: EnvironmentSettings,
    outdir: Path,
    *,
    project: str | None = None,
    timeout: float = 120.0,
) -> bool:
    """Synthesize with the code in `project_dir`, unless `outdir` already holds a synth of the same inputs: whether
    it synthesized (False: skipped). SynthFailed with what the process printed, if it failed."""
    command = synth_command(settings, outdir, project)
    source_dir = project_dir / settings.site.source_dir  # an absolute source_dir stays itself
    inputs = synth_inputs(project_dir, command, source_dir, outdir)
    if _already_synthesized(outdir, inputs):
        return False
    (outdir / INPUTS_FILE).unlink(missing_ok=True)  # a synth that fails half-way leaves no claim behind
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(project_dir), os.environ.get("PYTHONPATH", "")])}
    try:
        done = subprocess.run(
            command,
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
        raise SynthFailed(f"synth did not finish in {timeout:.0f} s") from None
    if done.returncode != 0:
        raise SynthFailed((done.stderr or done.stdout).strip())
    (outdir / INPUTS_FILE).write_text(json.dumps({"inputs": inputs, "configs": _configs(outdir)}, indent=1) + "\n")
    return True


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

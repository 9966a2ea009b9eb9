"""How the code is layered: the tools that run after or beside a synth never load CDKTF, and one module knows
where a stack's files are."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent
# What synthesizing loads: CDKTF, its jsii runtime, the provider bindings, the constructs and the app.
SYNTH_ONLY = ("cdktf", "cdktf_cdktf_provider_aws", "constructs", "jsii", "imports", "modules", "main")
# Building a stack's paths, or reading its synthesized JSON by name.
STACK_LAYOUT = re.compile(r'"cdk\.tf\.json"|/\s*"stacks"|"stacks"\s*/|/stacks/\{')
WORKSPACE = PROJECT / "terraform_cli" / "workspace.py"


def modules_loaded_by(*imports: str) -> set[str]:
    """The top-level packages a fresh interpreter has loaded after importing `imports`."""
    code = f"import sys; import {', '.join(imports)}; print('\\n'.join(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True, text=True, check=True)
    return {name.split(".")[0] for name in done.stdout.split()}


@pytest.mark.parametrize(
    "entry_point",
    [
        "hooks.post_apply",
        "hooks.rollback",
        "local_stack.run",
        "operations.deploy",
        "operations.destroy",
        "operations.drift",
        "operations.plan",
        "operations.preflight",
        "operations.review",
    ],
)
def test_the_hook_local_mode_and_the_operations_never_import_cdktf(entry_point):
    assert modules_loaded_by(entry_point) & set(SYNTH_ONLY) == set()


def test_the_contract_is_plain_python():
    every_module = [f"contract.{path.stem}" for path in sorted((PROJECT / "contract").glob("[!_]*.py"))]
    assert modules_loaded_by(*every_module) & set(SYNTH_ONLY) == set()


def project_sources() -> list[Path]:
    """The project's Python files as git sees them (tracked, and new ones not ignored)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z", "*.py"],
        cwd=PROJECT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [PROJECT / name for name in filter(None, listed.split("\0")) if (PROJECT / name).is_file()]


def test_only_the_workspace_knows_where_a_stacks_files_are():
    found = [
        f"{path.relative_to(PROJECT)}:{number}: {line.strip()}"
        for path in project_sources()
        if path not in (WORKSPACE, Path(__file__).resolve())
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if STACK_LAYOUT.search(line)
    ]
    assert found == []

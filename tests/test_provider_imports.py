"""The lean provider import: same output as the stock import, loaded lean in this session, safe fallback."""

from __future__ import annotations

import filecmp
import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from modules.provider_imports import DISABLE_ENV, PACKAGE, install_lean_provider_import
from terraform_cli.workspace import synthesized_stacks

PROJECT = Path(__file__).resolve().parent.parent
SYNTH = (
    "import main; from contract.config import selected_environments; main.build_app(selected_environments()).synth()"
)


def synth(outdir: Path, stock: bool) -> None:
    env = {**os.environ, "CDKTF_OUTDIR": str(outdir), "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    env.pop(DISABLE_ENV, None)
    if stock:
        env[DISABLE_ENV] = "1"
    subprocess.run([sys.executable, "-c", SYNTH], cwd=PROJECT, env=env, check=True, capture_output=True)


def differences(left: Path, right: Path) -> list[str]:
    comparison = filecmp.dircmp(left, right)
    found = [str(left / name) for name in comparison.left_only + comparison.right_only + comparison.funny_files]
    _, mismatch, errors = filecmp.cmpfiles(left, right, comparison.common_files, shallow=False)
    found += [str(left / name) for name in mismatch + errors]
    for sub in comparison.common_dirs:
        found += differences(left / sub, right / sub)
    return found


def test_lean_synth_is_byte_identical_to_the_stock_synth(tmp_path):
    synth(tmp_path / "lean", stock=False)
    synth(tmp_path / "stock", stock=True)
    assert synthesized_stacks(tmp_path / "lean") == ["local", "prod"]
    assert differences(tmp_path / "lean", tmp_path / "stock") == []


def test_this_session_loaded_only_the_submodules_it_uses(synthesized):
    named = {f"{PACKAGE}._jsii"}
    for source in [*PROJECT.glob("modules/*.py"), *PROJECT.glob("tests/*.py")]:
        named |= {f"{PACKAGE}.{m}" for m in re.findall(rf"from {PACKAGE}\.(\w+) import", source.read_text())}
    loaded = {name for name in sys.modules if name.startswith(f"{PACKAGE}.") and name.count(".") == 1}
    assert loaded <= named  # the stock __init__ loads about 2,200
    assert f"{PACKAGE}.accessanalyzer_analyzer" not in sys.modules


def make_package(root: Path, name: str, *, complete: bool) -> None:
    package = root / name
    (package / "_jsii").mkdir(parents=True)
    (package / "__init__.py").write_text("raise RuntimeError('the stock __init__ ran')\n")
    (package / "_jsii" / "__init__.py").write_text("LOADED = True\n")
    if complete:
        for sub in ("provider", "s3_bucket"):
            (package / sub).mkdir()
            (package / sub / "__init__.py").write_text("from .._jsii import *\n")


def test_expected_layout_is_registered_without_running_its_init(tmp_path, monkeypatch):
    make_package(tmp_path, "fake_provider_complete", complete=True)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv(DISABLE_ENV, raising=False)
    try:
        assert install_lean_provider_import("fake_provider_complete") is True
        importlib.import_module("fake_provider_complete.s3_bucket")  # the import itself is the check

        assert sys.modules["fake_provider_complete._jsii"].LOADED
    finally:
        for name in [n for n in sys.modules if n.startswith("fake_provider_complete")]:
            del sys.modules[name]


def test_unexpected_layout_falls_back_with_a_warning(tmp_path, monkeypatch):
    make_package(tmp_path, "fake_provider_partial", complete=False)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv(DISABLE_ENV, raising=False)
    with pytest.warns(RuntimeWarning, match="not laid out as expected"):
        assert install_lean_provider_import("fake_provider_partial") is False
    assert "fake_provider_partial" not in sys.modules


def test_stock_import_can_be_forced(monkeypatch):
    monkeypatch.setenv(DISABLE_ENV, "1")
    assert install_lean_provider_import("any_package_at_all") is False

"""Settings are documented once, next to their fields; the README's table is generated from them."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from contract import tables as settings_table
from contract.config import EnvironmentSettings
from contract.rules import Nested, Optional

README = Path(__file__).resolve().parent.parent / "README.md"


def leaf_fields(kind: type, prefix: str = "") -> list[str]:
    found = []
    for item in fields(kind):
        rule = item.metadata["rule"]
        inner = rule.rule if isinstance(rule, Optional) else rule
        if isinstance(inner, Nested):
            found += leaf_fields(inner.kind, f"{prefix}{item.name}.")
        else:
            found.append(f"{prefix}{item.name}")
    return found


def test_the_readme_table_is_generated_from_the_current_settings():
    assert settings_table.main(["--check", str(README)]) == 0, "run: python -m contract.tables --write README.md"


def test_a_stale_table_is_detected(tmp_path, capsys):
    stale = tmp_path / "README.md"
    stale.write_text(README.read_text().replace("`function.memory_mb` | `256`", "`function.memory_mb` | `128`"))
    assert settings_table.main(["--check", str(stale)]) == 1
    assert "the settings table is stale" in capsys.readouterr().err


def test_every_setting_says_what_it_controls_and_what_it_may_be():
    for name, default, allowed, doc in settings_table.rows():
        assert len(doc) > 15, name
        assert allowed, name
        assert default, name


def test_the_table_has_a_row_for_every_setting():
    names = [row[0] for row in settings_table.rows()]
    assert set(leaf_fields(EnvironmentSettings)) <= set(names)
    assert len(names) == len(set(names))


def test_a_readme_without_the_markers_is_an_error():
    with pytest.raises(ValueError, match="the settings table markers are missing"):
        settings_table.with_table("# no table here\n")

"""Settings and stack outputs are documented once, next to their fields; the README's tables are generated from
them."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from contract import tables as settings_table
from contract.config import EnvironmentSettings
from contract.outputs import StackOutputs
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


# --- the outputs table ----------------------------------------------------------------------------------------


def readme_outputs_rows(text: str) -> list[str]:
    """The output names in the rows between the outputs table's markers."""
    body = text.split(settings_table.OUTPUTS_BEGIN, 1)[1].split(settings_table.OUTPUTS_END, 1)[0]
    rows = [line for line in body.strip().splitlines()[2:] if line.startswith("| `")]
    return [row.split("`")[1] for row in rows]


def test_the_readme_outputs_table_is_generated_from_stack_outputs():
    readme = README.read_text()
    assert settings_table.with_table(readme, settings_table.OUTPUTS) == readme, (
        "run: python -m contract.tables --write README.md"
    )


def test_a_stale_outputs_table_is_detected(tmp_path, capsys):
    stale = tmp_path / "README.md"
    current = README.read_text()
    row = "| `distribution_id` | The post-apply hook invalidates this |"
    assert row in current
    stale.write_text(current.replace(row, "| `distribution_id` | The CloudFront distribution |"))
    assert settings_table.main(["--check", str(stale)]) == 1
    err = capsys.readouterr().err
    assert "the outputs table is stale" in err
    assert "the settings table is stale" not in err


def test_write_brings_both_tables_up_to_date(tmp_path):
    stale = tmp_path / "README.md"
    current = README.read_text()
    stale.write_text(
        current.replace("`function.memory_mb` | `256`", "`function.memory_mb` | `128`").replace(
            "| `api_url` |", "| `api_endpoint` |"
        )
    )
    assert settings_table.stale_tables(stale.read_text()) == ["settings", "outputs"]
    assert settings_table.main(["--write", str(stale)]) == 0
    assert stale.read_text() == current


def test_the_outputs_table_has_a_row_for_every_stack_output():
    names = [item.name for item in fields(StackOutputs)]
    assert "content_security_policy" in names
    assert [name for name, _ in settings_table.output_rows()] == names
    assert readme_outputs_rows(README.read_text()) == names
    for name, doc in settings_table.output_rows():
        assert len(doc) > 10, name


def test_a_readme_without_the_outputs_markers_is_an_error(tmp_path, capsys):
    only_settings = f"{settings_table.BEGIN}\n{settings_table.END}\n"
    with pytest.raises(ValueError, match="the outputs table markers are missing"):
        settings_table.with_table(only_settings, settings_table.OUTPUTS)
    readme = tmp_path / "README.md"
    readme.write_text(only_settings)
    assert settings_table.main(["--check", str(readme)]) == 2
    assert "the outputs table markers are missing" in capsys.readouterr().err

"""Local mode synthesizes only when something it synthesizes from changed: a synth of the same inputs into the same
folder is skipped (it costs seconds, and most of a warm restart), and any change to them synthesizes again."""

from __future__ import annotations

from pathlib import Path

import pytest

from contract.config import local_environment
from local_stack.process import project_copy
from local_stack.synth import INPUTS_FILE, SynthFailed, synth_in_project
from terraform_cli import StackWorkspace

PROJECT = Path(__file__).resolve().parent.parent


def settings(*, same_origin: bool = False):
    return local_environment(
        emulator_url="http://127.0.0.1:4566", site_origin="http://127.0.0.1:8080", same_origin=same_origin
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return project_copy(PROJECT, tmp_path_factory.mktemp("project"))


@pytest.fixture(scope="module")
def outdir(project) -> Path:
    """A folder holding a synth of the project (the first test that needs one makes it)."""
    folder = project / ".local" / "cdktf.out"
    folder.parent.mkdir()
    assert synth_in_project(project, settings(), folder)
    return folder


def config_of(outdir: Path) -> Path:
    return StackWorkspace("local", outdir).config_file


def test_a_synth_of_the_same_inputs_into_the_same_folder_is_skipped(project, outdir):
    written = config_of(outdir).stat().st_mtime_ns

    assert synth_in_project(project, settings(), outdir) is False

    assert config_of(outdir).stat().st_mtime_ns == written


def test_an_edit_anywhere_in_the_project_synthesizes_again(project, outdir):
    before = config_of(outdir).read_text()
    written = config_of(outdir).stat().st_mtime_ns
    with (project / "contract" / "rules.py").open("a") as rules:
        rules.write("\n# an edit\n")

    assert synth_in_project(project, settings(), outdir) is True

    assert config_of(outdir).stat().st_mtime_ns != written
    assert config_of(outdir).read_text() == before  # a comment changes nothing it writes


def test_an_edit_to_the_site_synthesizes_again(project, outdir):
    # The pages' inline code is hashed into the content security policy at synth.
    written = config_of(outdir).stat().st_mtime_ns
    page = project / "web" / "index.html"
    page.write_text(page.read_text().replace("</body>", "<script>console.log('edit')</script></body>"))

    assert synth_in_project(project, settings(), outdir) is True

    assert config_of(outdir).stat().st_mtime_ns != written
    assert "console.log" not in config_of(outdir).read_text()  # only its hash is in the stack


def test_a_changed_synth_output_is_synthesized_again(project, outdir):
    config = config_of(outdir)
    good = config.read_text()
    config.write_text(good.replace('"local"', '"edited"', 1))

    assert synth_in_project(project, settings(), outdir) is True

    assert config.read_text() == good


def test_other_options_synthesize_again(project, outdir):
    cross_origin = config_of(outdir).read_text()

    assert synth_in_project(project, settings(same_origin=True), outdir) is True

    assert config_of(outdir).read_text() != cross_origin


def test_a_failed_synth_leaves_no_record_of_its_inputs(tmp_path):
    broken = project_copy(PROJECT, tmp_path / "broken")
    (broken / "modules" / "api.py").write_text("def broken(:\n")
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / INPUTS_FILE).write_text('{"inputs": "of an earlier synth"}')

    with pytest.raises(SynthFailed, match="SyntaxError"):
        synth_in_project(broken, settings(), folder)

    assert not (folder / INPUTS_FILE).exists()

"""Choosing the site: `site.source_dir` is the folder deploy, local mode and the hook publish; `site.build_command`
builds it before `pipenv run deploy` synthesizes; `pipenv run local --source DIR` publishes and watches DIR, with
the CSP of DIR's inline code, kept up to date as the pages change."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from contract.config import ConfigError, SiteSettings, load_environment, local_environment
from contract.headers import csp_hash
from contract.outputs import StackOutputs
from hooks import post_apply
from local_stack.process import LocalModeProcess, project_copy
from local_stack.stack import LocalOptions
from local_stack.synth import synth_command
from operations import deploy
from operations.build import TAIL_LINES, BuildError, run_build
from terraform_cli import PROJECT_DIR, StackWorkspace

WEB = PROJECT_DIR / "web"


# --- the setting ----------------------------------------------------------------------------------------------------


def test_the_site_is_web_unless_set():
    assert SiteSettings().source_dir == "web"
    assert SiteSettings().source_folder(PROJECT_DIR) == WEB
    assert SiteSettings(source_dir="/srv/site").source_folder(PROJECT_DIR) == Path("/srv/site")


@pytest.mark.parametrize("value", ["", "   ", "dist\n", 3, None])
def test_source_dir_is_validated_naming_the_field(value):
    with pytest.raises(ConfigError, match=r"^site\.source_dir: .* is not allowed; allowed values: a folder path"):
        SiteSettings(source_dir=value)


@pytest.mark.parametrize("value", ["", "npm ci\nnpm run build", 1])
def test_build_command_is_one_shell_line(value):
    with pytest.raises(ConfigError, match=r"^site\.build_command: .* allowed values: None \(nothing to build\)"):
        SiteSettings(build_command=value)


# --- the build ------------------------------------------------------------------------------------------------------


def test_a_build_runs_in_the_given_folder_with_the_shell(tmp_path, capsys):
    (tmp_path / "index.html").write_text("<p>hi</p>\n")
    run_build("mkdir -p dist && cp index.html dist/ && echo built", tmp_path)
    assert (tmp_path / "dist" / "index.html").read_text() == "<p>hi</p>\n"
    assert capsys.readouterr().out == "built\n"


def test_a_failing_build_names_the_command_its_exit_code_and_its_last_lines(tmp_path):
    command = "for n in $(seq 1 30); do echo line $n; done; echo 'error: no such module' >&2; exit 3"
    with pytest.raises(BuildError) as error:
        run_build(command, tmp_path, echo=False)
    message = str(error.value)
    assert message.startswith(f"site.build_command {command!r} failed with exit code 3 in {tmp_path}; ")
    assert f"its last {TAIL_LINES} line(s) of output:\n" in message
    assert message.endswith("  line 29\n  line 30\n  error: no such module")
    assert "line 11\n" not in message


def with_site(monkeypatch: pytest.MonkeyPatch, **site: Any) -> None:
    """`pipenv run deploy prod` with these site settings (the project's config is not edited for a test)."""
    prod = load_environment("prod", {})
    settings = replace(prod, site=replace(prod.site, **site))
    monkeypatch.setattr(deploy, "load_environment", lambda name: settings)


def test_a_failing_build_stops_the_deploy_before_anything_is_synthesized(monkeypatch, tmp_path, capsys):
    with_site(monkeypatch, build_command="echo compiling; exit 7")
    out = tmp_path / "out"
    assert deploy.main(["prod", "--skip-preflight", "--outdir", str(out)]) == 1
    captured = capsys.readouterr()
    assert captured.out == "build: echo compiling; exit 7\ncompiling\n"
    assert captured.err == (
        "deploy: error: site.build_command 'echo compiling; exit 7' failed with exit code 7 in "
        f"{PROJECT_DIR}; its last 1 line(s) of output:\n  compiling\n"
        "deploy: nothing was synthesized, deployed or published\n"
    )
    assert not out.exists()


def test_the_build_runs_in_the_project_root_before_synth_which_reads_what_it_built(monkeypatch, tmp_path, capsys):
    built = tmp_path / "dist"
    built.mkdir()
    # The command copies web/ by its relative path, so it ran in the project root; the page gets an inline script.
    command = f"cp -r web/. {built}/ && printf '<script>built()</script>' >> {built}/index.html"
    with_site(monkeypatch, source_dir=str(built), build_command=command)
    (tmp_path / "empty-mirror").mkdir()
    monkeypatch.setenv("TF_PROVIDER_MIRROR", str(tmp_path / "empty-mirror"))  # init fails, after the synth
    assert deploy.main(["prod", "--skip-preflight", "--outdir", str(tmp_path / "out")]) == 1
    assert capsys.readouterr().err.startswith("deploy: error: terraform init failed: ")
    outputs = StackWorkspace("prod", tmp_path / "out").config()["output"]
    assert csp_hash("built()") in outputs["content_security_policy"]["value"]


# --- the hook -------------------------------------------------------------------------------------------------------


def test_publish_without_source_takes_the_stacks_source_dir_or_web(monkeypatch, tmp_path):
    assert post_apply.source_of(post_apply.parse_args(["--bucket", "b"])) == WEB
    assert post_apply.source_of(post_apply.parse_args(["--stack", "prod"])) == WEB
    assert post_apply.source_of(post_apply.parse_args(["--stack", "my-own"])) == WEB
    chosen = post_apply.parse_args(["--stack", "prod", "--source", str(tmp_path)])
    assert post_apply.source_of(chosen) == tmp_path
    prod = load_environment("prod", {})
    dist = replace(prod, site=replace(prod.site, source_dir="dist"))
    monkeypatch.setattr(post_apply, "load_environment", lambda name: dist)
    assert post_apply.source_of(post_apply.parse_args(["--stack", "prod"])) == PROJECT_DIR / "dist"


# --- local mode -----------------------------------------------------------------------------------------------------


def test_local_source_overrides_the_local_environments_folder(tmp_path):
    assert LocalOptions().web_dir == WEB
    assert LocalOptions(source=tmp_path).web_dir == tmp_path
    settings = local_environment(emulator_url="http://127.0.0.1:1", site_origin="http://127.0.0.1:2")
    assert settings.site.source_dir == "web"
    chosen = replace(settings, site=replace(settings.site, source_dir=str(tmp_path)))
    assert synth_command(chosen, tmp_path / "out")[-2:] == ["--source-dir", str(tmp_path)]


INLINE = '<script>document.documentElement.dataset.inline = "one";</script>'


@pytest.fixture(scope="module")
def local_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalModeProcess, Path]]:
    """Local mode with `--source` a copy of web/ whose page carries an inline script and a style attribute."""
    site = tmp_path_factory.mktemp("mine") / "site"
    shutil.copytree(WEB, site)
    index = site / "index.html"
    index.write_text(index.read_text().replace("</body>", f'<p style="margin: 0">x</p>{INLINE}</body>'))
    project = project_copy(PROJECT_DIR, tmp_path_factory.mktemp("project"))
    with LocalModeProcess(project, tmp_path_factory.mktemp("work"), "--source", str(site)) as running:
        running.wait_for("^serving until Ctrl-C")
        yield running, site
        assert running.stop() == 0, "\n".join(running.lines)


def inline_marker(browser: Any, url: str) -> tuple[str | None, list[str]]:
    """What the page's inline script wrote, and every CSP message of the console."""
    context = browser.new_context()
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    try:
        page.goto(url)
        page.wait_for_load_state("load")
        marker = page.evaluate("document.documentElement.dataset.inline || null")
        return marker, [line for line in console if "Content Security Policy" in line]
    finally:
        context.close()


def test_local_mode_publishes_and_watches_the_given_folder(local_site):
    local, site = local_site
    assert (
        local.wait_for("^watching ")
        == f"watching {site}/, functions/, modules/ and contract/ (--no-watch turns it off)"
    )
    outputs = StackOutputs.from_outputs_file(Path(local.value("outputs")), "local")
    assert csp_hash('document.documentElement.dataset.inline = "one";') in outputs.content_security_policy


def test_the_local_site_sends_the_stacks_csp_and_the_inline_code_runs(local_site, browser):
    local, _ = local_site
    assert inline_marker(browser, local.value("site")) == ("one", [])


def test_an_edit_of_inline_code_applies_the_new_policy_before_publishing(local_site, browser):
    local, site = local_site
    mark = local.mark()
    index = site / "index.html"
    index.write_text(index.read_text().replace('"one"', '"two"'))
    local.wait_for("^web: the pages' inline code changed: synthesizing and applying the stack", after=mark)
    line = local.wait_for("^infra: (?!waiting for the deferred)", after=mark)
    # (The emulator drops the distribution's OAC id, so an apply also updates the distribution: not ours.)
    assert re.search(r"; republished \(1 file\(s\)\) \(\d+\.\d s\)$", line), line
    # Then the edit's own publish finds the site published already: the watcher is done with this edit.
    assert local.wait_for("^web: (?!the pages)", after=mark).startswith("web: no change to publish")
    assert inline_marker(browser, local.value("site")) == ("two", [])

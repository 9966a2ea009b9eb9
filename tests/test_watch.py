"""Local mode as a development loop: `pipenv run local` serves before the slow resources are applied, and brings
the running stack up to date with each edit to web/, functions/, modules/ and contract/.

The end-to-end tests drive the command as a user does: `python -m local_stack.run` in a copy of the project, whose
files they edit, watching what it prints and what it serves. No timing is asserted; each wait is a guard.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest
import watchfiles

from contract.config import FAKE_CREDENTIALS
from contract.outputs import StackOutputs
from local_stack.deployment import DEFERRED, split_resources
from local_stack.packaging import function_package
from local_stack.process import LocalModeProcess, project_copy
from local_stack.site import RELOAD_TAG, with_reload_script
from local_stack.watch import Edits, WatchedFolders, Watcher
from terraform_cli import ResourceChange, render_changes

PROJECT = Path(__file__).resolve().parent.parent

# --- what watch mode does with an edit --------------------------------------------------------------------------

FOLDERS = WatchedFolders(
    web=Path("/p/web"), functions=Path("/p/functions"), infrastructure=(Path("/p/modules"), Path("/p/contract"))
)


def test_an_edit_in_web_is_a_publish():
    assert FOLDERS.classify(["/p/web/style.css", "/p/web/img/logo.svg"]).web


def test_an_edit_in_a_function_folder_updates_that_function():
    edits = FOLDERS.classify(["/p/functions/get_user/handler.py", "/p/functions/README.md"])
    assert edits.functions == {"get_user"}
    assert not edits.web
    assert not edits.infrastructure


def test_an_edit_of_the_cloudfront_routing_function_deploys_nothing_locally():
    """Local mode routes with contract/routing.py; the JavaScript runs only on CloudFront."""
    edits = FOLDERS.classify(["/p/functions/site_router/site_router.js"])
    assert not edits.functions
    assert not edits.web
    assert not edits.infrastructure


def test_an_edit_in_modules_is_an_infrastructure_change():
    edits = FOLDERS.classify(["/p/modules/api.py"])
    assert edits.infrastructure
    assert not edits.functions


def test_an_edit_of_the_settings_is_an_infrastructure_change():
    assert FOLDERS.classify(["/p/contract/config.py"]).infrastructure


def test_a_burst_across_folders_is_one_set_of_edits():
    edits = FOLDERS.classify(["/p/modules/api.py", "/p/web/index.html", "/p/functions/get_user/handler.py"])
    assert (edits.web, edits.functions, edits.infrastructure) == (True, frozenset({"get_user"}), True)


CHANGES = [("update", "aws_a.x"), ("create", "aws_b.y"), ("update", "aws_c.z")]


def test_an_apply_is_summarized_on_one_line():
    changes = [ResourceChange(address, (action,), ()) for action, address in CHANGES]
    assert render_changes(changes, one_line=True) == "1 create (aws_b.y); 2 update (aws_a.x, aws_c.z)"


def test_a_plan_is_rendered_a_line_per_change_then_the_totals():
    changes = [ResourceChange(address, (action,), ()) for action, address in CHANGES]
    assert render_changes(changes).splitlines() == [
        "update         aws_a.x",
        "create         aws_b.y",
        "update         aws_c.z",
        "3 change(s): 1 create, 2 update",
    ]


class RecordingWatcher(Watcher):
    """A watcher that records each set of edits instead of acting on it."""

    def __init__(self, project: Path, stop: threading.Event) -> None:
        stack = SimpleNamespace(options=SimpleNamespace(web_dir=project / "web", project_dir=project))
        super().__init__(stack, print, stop)  # type: ignore[arg-type]
        self.seen: queue.Queue[Edits] = queue.Queue()

    def handle(self, edits: Edits) -> None:
        self.seen.put(edits)


def test_an_edit_saved_as_soon_as_watching_starts_is_seen(tmp_path, monkeypatch):
    """As on a busy machine, where the watch thread sets its watches up a while after it was started: what is saved
    once `start` returned is seen all the same."""
    watch = watchfiles.watch

    def slow_to_set_up(*args, **kwargs):
        time.sleep(0.5)
        yield from watch(*args, **kwargs)

    monkeypatch.setattr(watchfiles, "watch", slow_to_set_up)
    (tmp_path / "web").mkdir()
    stop = threading.Event()
    watcher = RecordingWatcher(tmp_path, stop)
    watcher.start()
    try:
        (tmp_path / "web" / "index.html").write_text("<h1>saved at once</h1>")
        assert watcher.seen.get(timeout=10).web
    finally:
        stop.set()
        watcher.join()


def test_the_reload_script_goes_before_the_end_of_the_body():
    page = b"<html><body><p>hi</p></body>\n</html>"
    assert with_reload_script(page) == b"<html><body><p>hi</p>" + RELOAD_TAG + b"</body>\n</html>"
    assert with_reload_script(b"<p>no body tag") == b"<p>no body tag" + RELOAD_TAG


# --- what is deferred, and what is applied first -----------------------------------------------------------------


def test_only_what_no_request_needs_is_deferred(local):
    serving, deferred = split_resources(local.workspace)
    assert {address.split(".")[0] for address in deferred} == DEFERRED
    assert not set(serving) & set(deferred)
    assert len(serving) + len(deferred) == sum(len(v) for v in local.config["resource"].values())
    for needed in ("aws_s3_bucket", "aws_cloudfront_distribution", "aws_lambda_function", "aws_api_gateway_stage"):
        assert any(address.startswith(needed + ".") for address in serving)


# --- `pipenv run local` as a development loop ---------------------------------------------------------------------


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.fixture(scope="module")
def local_mode(tmp_path_factory):
    project = project_copy(PROJECT, tmp_path_factory.mktemp("project"))
    with LocalModeProcess(project, tmp_path_factory.mktemp("work")) as running:
        running.wait_for("^serving until Ctrl-C")
        yield running
        assert running.stop() == 0, "\n".join(running.lines)


def test_it_prints_where_the_emulator_and_the_outputs_are(local_mode):
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", local_mode.value("emulator"))
    outputs = StackOutputs.from_outputs_file(Path(local_mode.value("outputs")), "local")
    assert outputs.site_url == local_mode.value("site")


def test_a_web_edit_is_published_and_served(local_mode):
    mark = local_mode.mark()
    local_mode.edit("web/index.html", "<h1>User lookup</h1>", "<h1>User lookup, edited</h1>")
    line = local_mode.wait_for("^web: ", after=mark)
    assert re.fullmatch(r"web: published 1 file\(s\), invalidated / /index\.html \(\d+\.\d s\)", line)
    assert "User lookup, edited" in get(local_mode.value("site"))[1]


def test_a_burst_of_saves_is_one_action(local_mode):
    mark = local_mode.mark()
    for name in ("style.css", "script.js"):
        with (local_mode.project / "web" / name).open("a") as file:
            file.write(f"\n/* burst {name} */\n")
    local_mode.wait_for(r"^web: published 3 file\(s\)", after=mark)  # both, and the page pointing at them
    time.sleep(2)  # a second action, if there were one, would come well within this
    assert len([line for line in local_mode.lines[mark:] if line.startswith("web: ")]) == 1


def test_open_pages_reload_after_a_publish_and_the_script_is_never_published(local_mode, browser):
    page = browser.new_context().new_page()
    page.goto(local_mode.value("site"))
    local_mode.edit("web/index.html", '<section id="result"', '<p id="fresh">new</p><section id="result"')
    page.wait_for_selector("#fresh", timeout=30_000)  # the page reloaded itself
    page.context.close()
    bucket = StackOutputs.from_outputs_file(Path(local_mode.value("outputs")), "local").bucket_name
    published = local_mode.client("s3").get_object(Bucket=bucket, Key="index.html")["Body"].read()
    assert b"__local" not in published
    assert RELOAD_TAG.decode() in get(local_mode.value("site"))[1]


def test_a_broken_edit_is_reported_and_the_stack_keeps_serving(local_mode):
    mark = local_mode.mark()
    config = local_mode.project / "contract" / "config.py"
    working = config.read_text()
    config.write_text(working + "\nbroken = (\n")
    local_mode.wait_for("^infra: error: synth failed", after=mark)
    local_mode.wait_for("SyntaxError", after=mark)
    assert get(local_mode.value("site"))[0] == 200
    assert get(local_mode.value("api") + "?userId=1")[0] == 200
    mark = local_mode.mark()
    config.write_text(working)
    assert local_mode.wait_for("^infra: ", after=mark).startswith("infra: no change to the synthesized stack")


HOOK = [sys.executable, "-m", "hooks.post_apply"]


def test_another_frontend_is_published_into_the_running_stack_with_the_hook(local_mode, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "index.html").write_text("<!doctype html><title>Mine</title><p>my own frontend</p>\n")
    done = subprocess.run(
        [*HOOK, "--outputs-file", local_mode.value("outputs"), "--stack", "local", "--source", str(other)],
        cwd=local_mode.project,
        env={
            **os.environ,
            **FAKE_CREDENTIALS,
            "AWS_ENDPOINT_URL": local_mode.value("emulator"),
            "AWS_REGION": "us-east-1",
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "my own frontend" in get(local_mode.value("site"))[1]


def test_a_function_edit_runs_on_the_next_request_and_reaches_the_emulator(local_mode):
    lambda_client = local_mode.client("lambda")
    name = StackOutputs.from_outputs_file(Path(local_mode.value("outputs")), "local").function_name
    before = lambda_client.get_function_configuration(FunctionName=name)["CodeSha256"]
    mark = local_mode.mark()
    local_mode.edit("functions/get_user/handler.py", "No user found with userId", "Nobody here with userId")
    local_mode.wait_for(r"^functions: get_user/ deployed to three-tier-local-get-user", after=mark)
    status, body = get(local_mode.value("api") + "?userId=nobody")
    assert (status, json.loads(body)) == (404, {"error": "Nobody here with userId: nobody"})
    after = lambda_client.get_function_configuration(FunctionName=name)["CodeSha256"]
    package = function_package(local_mode.project, "get_user")
    assert after != before
    assert after == base64.b64encode(hashlib.sha256(package).digest()).decode()


# --- once the deferred apply is done (the tests above run while it is still going) ---------------------------------


def test_the_site_is_served_before_the_deferred_resources_are_applied(local_mode):
    site_line = local_mode.lines.index(local_mode.wait_for("^site: "))
    deferred_line = local_mode.lines.index(local_mode.wait_for(r"^deferred .* s \(bucket lifecycle rules"))
    assert site_line < deferred_line
    assert get(local_mode.value("site"))[0] == 200


def test_an_infrastructure_edit_applies_only_what_changed(local_mode):
    local_mode.wait_for(r"^deferred ")  # before that, an infrastructure edit waits for the deferred apply
    mark = local_mode.mark()
    local_mode.edit(
        "contract/config.py",
        '        50,\n        "Stage-wide burst limit',
        '        40,\n        "Stage-wide burst limit',
    )
    line = local_mode.wait_for("^infra: ", after=mark)
    assert "aws_api_gateway_method_settings." in line, line
    assert not re.search(r"\d+ (create|delete|replace) \(", line), line
    api_id = StackOutputs.from_outputs_file(Path(local_mode.value("outputs")), "local").api_id
    stage = local_mode.client("apigateway").get_stage(restApiId=api_id, stageName="local")
    assert stage["methodSettings"]["*/*"]["throttlingBurstLimit"] == 40

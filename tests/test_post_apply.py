"""The post-apply hook against a real moto server over HTTP: publish, republish, faults, dry run."""

from __future__ import annotations

import json
import re

import boto3
import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders

from hooks.post_apply import main
from hooks.publish import publish_site
from hooks.release import IMMUTABLE, REVALIDATE
from hooks.results import PublishOptions, PublishResult, Target
from hooks.storage import SiteClients
from tests.publishing import (
    API_URL,
    SITE_CSP,
    invalidations,
    live_then_changed,
    make_site,
    objects,
    references,
    run,
    stack_outputs,
)


@pytest.fixture
def site(aws, tmp_path):
    return make_site(aws, tmp_path)


# --- first publish ------------------------------------------------------------------------------------------


def test_first_publish_uploads_everything_with_the_right_headers(aws, site, capsys):
    code, summary = run(site, capsys=capsys)
    assert code == 0
    stored = objects(aws, site["bucket"])
    assert set(summary["uploaded"]) == set(stored)
    assert summary["unchanged"] == 0
    assert summary["deleted"] == []
    html = stored.pop("index.html")
    assert html["ContentType"] == "text/html; charset=utf-8"
    assert html["CacheControl"] == REVALIDATE
    expected_types = {
        "css": "text/css; charset=utf-8",
        "js": "text/javascript; charset=utf-8",
        "svg": "image/svg+xml; charset=utf-8",
    }
    for key, obj in stored.items():
        assert re.fullmatch(r"(config|script|style|favicon)\.[0-9a-f]{12}\.(js|css|svg)", key)
        assert obj["CacheControl"] == IMMUTABLE
        assert obj["ContentType"] == expected_types[key.rsplit(".", 1)[1]]


def test_published_html_points_only_at_objects_that_exist(aws, site):
    run(site)
    stored = objects(aws, site["bucket"])
    html = stored["index.html"]["Body"].read().decode()
    refs = references(html)
    assert len(refs) == 4
    assert all(ref in stored for ref in refs)
    assert "style.css" not in refs
    assert "script.js" not in refs
    assert "config.js" not in refs


def test_published_config_carries_the_api_url(aws, site):
    run(site)
    stored = objects(aws, site["bucket"])
    (config_key,) = [k for k in stored if k.startswith("config.")]
    assert stored[config_key]["Body"].read().decode() == (f'window.APP_CONFIG = {{"apiUrl": "{API_URL}"}};\n')


def test_first_publish_invalidates_nothing_and_says_why(aws, site, capsys):
    _, summary = run(site, capsys=capsys)
    assert summary["invalidation"]["id"] is None
    assert summary["invalidation"]["paths"] == []
    assert summary["invalidation"]["why"] == [
        "2 new path(s) not invalidated: nothing was served there but an error, which the distribution caches for 10 s"
    ]
    assert invalidations(aws, site["distribution"]) == []


def test_a_changed_page_is_invalidated_and_waited_for(aws, site, capsys):
    live_then_changed(site)
    _, summary = run(site, capsys=capsys)
    assert summary["invalidation"]["paths"] == ["/", "/index.html"]
    (item,) = invalidations(aws, site["distribution"])
    assert item["Id"] == summary["invalidation"]["id"]
    assert item["Status"].lower() == "completed"


# --- republish ----------------------------------------------------------------------------------------------


def test_second_publish_with_no_change_uploads_nothing_and_invalidates_nothing(aws, site, capsys):
    run(site, capsys=capsys)
    code, summary = run(site, capsys=capsys)
    assert code == 0
    assert {k: summary[k] for k in ("uploaded", "unchanged", "deleted", "invalidation")} == {
        "uploaded": [],
        "unchanged": 5,
        "deleted": [],
        "invalidation": None,
    }
    assert invalidations(aws, site["distribution"]) == []


def test_one_css_change_uploads_that_asset_and_the_html_and_invalidates_only_html(aws, site, capsys):
    run(site, capsys=capsys)
    css = site["source"] / "style.css"
    css.write_text(css.read_text() + "\nbody { margin: 0; }\n")
    code, summary = run(site, capsys=capsys)
    assert code == 0
    (new_css,) = [k for k in summary["uploaded"] if k.endswith(".css")]
    assert summary["uploaded"] == sorted([new_css, "index.html"])
    assert summary["unchanged"] == 3
    assert summary["invalidation"]["paths"] == ["/", "/index.html"]
    assert new_css in references(objects(aws, site["bucket"])["index.html"]["Body"].read().decode())


def test_prune_deletes_unreferenced_objects_but_keeps_the_previous_release(aws, site, capsys):
    aws.client("s3").put_object(Bucket=site["bucket"], Key="stale.txt", Body=b"old")
    run(site, capsys=capsys)
    first = set(objects(aws, site["bucket"]))
    css = site["source"] / "style.css"
    css.write_text(css.read_text() + "\n/* v2 */\n")
    run(site, capsys=capsys)
    css.write_text(css.read_text() + "\n/* v3 */\n")
    code, summary = run(site, "--prune", "--keep-releases", "2", capsys=capsys)
    assert code == 0
    remaining = set(objects(aws, site["bucket"]))
    v1_css = [k for k in first if k.endswith(".css")]
    assert summary["deleted"] == sorted(["stale.txt", *v1_css])  # v1 is two releases before v3
    assert len([k for k in remaining if k.endswith(".css")]) == 2  # v3 (live) and v2 (previous)
    assert "stale.txt" not in remaining


# --- safety -------------------------------------------------------------------------------------------------


def failing_put_for(key_prefix: str):
    def handler(params, **_):
        # before-call sees the serialized request: the key is the last part of its path.
        if params["url_path"].rsplit("/", 1)[-1].startswith(key_prefix):
            error = {
                "Error": {"Code": "AccessDenied", "Message": "injected failure"},
                "ResponseMetadata": {"HTTPStatusCode": 403},
            }
            return AWSResponse("https://injected", 403, HTTPHeaders(), None), error
        return None

    return handler


def test_failed_asset_upload_keeps_the_previous_html_and_exits_non_zero(aws, site, capsys):
    run(site, capsys=capsys)
    previous_html = objects(aws, site["bucket"])["index.html"]["Body"].read()
    script = site["source"] / "script.js"
    script.write_text(script.read_text() + "\n// v2\n")
    faulty = boto3.session.Session()
    faulty.events.register("before-call.s3.PutObject", failing_put_for("script."))
    code, _ = run(site, session=faulty)
    assert code == 1
    assert "injected failure" in capsys.readouterr().err
    assert objects(aws, site["bucket"])["index.html"]["Body"].read() == previous_html
    assert invalidations(aws, site["distribution"]) == []


def test_failure_is_reported_on_one_line(aws, site, capsys):
    faulty = boto3.session.Session()
    faulty.events.register("before-call.s3.PutObject", failing_put_for("style."))
    code, _ = run(site, "--csp", SITE_CSP, session=faulty)
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1
    assert err.startswith("post_apply: error: upload of 1 file(s) failed, first style.")


def test_running_again_after_a_failure_converges(aws, site, capsys):
    faulty = boto3.session.Session()
    faulty.events.register("before-call.s3.PutObject", failing_put_for("style."))
    run(site, session=faulty, capsys=capsys)
    code, summary = run(site, capsys=capsys)
    assert code == 0
    assert any(k.startswith("style.") for k in summary["uploaded"])
    assert "index.html" in summary["uploaded"]
    code, summary = run(site, capsys=capsys)
    assert summary["uploaded"] == []
    assert summary["invalidation"] is None


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_):
        yield self.data


def test_throttled_invalidation_is_retried(aws, site, capsys):
    attempts = []

    def throttle_first(**_):
        attempts.append(1)
        if len(attempts) == 1:
            body = (
                b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>"
                b"<Message>Rate exceeded</Message></Error><RequestId>1</RequestId></ErrorResponse>"
            )
            return AWSResponse("https://injected", 400, HTTPHeaders(), _Body(body))
        return None

    live_then_changed(site)
    session = boto3.session.Session()
    session.events.register("before-send.cloudfront.CreateInvalidation", throttle_first)
    code, summary = run(site, session=session, capsys=capsys)
    assert code == 0
    assert len(attempts) == 2
    assert [i["Id"] for i in invalidations(aws, site["distribution"])] == [summary["invalidation"]["id"]]


# --- interface ----------------------------------------------------------------------------------------------


def test_dry_run_changes_nothing(aws, site, capsys):
    code, summary = run(site, "--dry-run", capsys=capsys)
    assert code == 0
    assert len(summary["uploaded"]) == 5
    assert summary["invalidation"]["paths"] == []  # a first publish: nothing was live
    assert objects(aws, site["bucket"]) == {}
    assert invalidations(aws, site["distribution"]) == []


def test_json_summary_matches_what_happened(aws, site, capsys):
    live_then_changed(site)
    _, summary = run(site, capsys=capsys)
    assert sorted(k for k in objects(aws, site["bucket"]) if k.startswith("index")) == summary["uploaded"]
    assert [i["Id"] for i in invalidations(aws, site["distribution"])] == [summary["invalidation"]["id"]]


def test_no_wait_returns_without_polling(aws, site, capsys):
    polls = []
    session = boto3.session.Session()
    session.events.register("before-call.cloudfront.GetInvalidation", lambda **_: polls.append(1))
    live_then_changed(site)
    code, summary = run(site, "--no-wait", session=session, capsys=capsys)
    assert code == 0
    assert summary["invalidation"] is not None
    assert polls == []


def test_invalidate_all_only_on_request(aws, site, capsys):
    _, summary = run(site, "--invalidate-all", capsys=capsys)
    assert summary["invalidation"]["paths"] == ["/*"]


def test_outputs_file_supplies_the_stack_outputs(aws, site, tmp_path, capsys):
    outputs = tmp_path / "outputs.json"
    stack_outputs(site).to_outputs_file(outputs, "prod")
    code = main(["--outputs-file", str(outputs), "--stack", "prod", "--source", str(site["source"]), "--json"])
    assert code == 0
    assert "index.html" in json.loads(capsys.readouterr().out)["uploaded"]


def test_the_page_calls_the_url_the_stack_says_it_calls(aws, site, tmp_path):
    outputs = tmp_path / "outputs.json"
    stack_outputs(site, page_api_url="/users").to_outputs_file(outputs, "prod")
    assert main(["--outputs-file", str(outputs), "--source", str(site["source"])]) == 0
    (config_key,) = [k for k in objects(aws, site["bucket"]) if k.startswith("config.")]
    body = aws.client("s3").get_object(Bucket=site["bucket"], Key=config_key)["Body"].read()
    assert body == b'window.APP_CONFIG = {"apiUrl": "/users"};\n'


def test_outputs_file_without_an_output_of_the_contract_names_it(tmp_path, capsys):
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"prod": {"bucket_name": "b", "distribution_id": "E1", "api_url": API_URL}}))
    assert main(["--outputs-file", str(outputs), "--stack", "prod"]) == 2
    assert "missing output(s) site_url, page_api_url, table_name, function_name, api_id, api_stage" in (
        capsys.readouterr().err
    )


# --- the library ----------------------------------------------------------------------------------------------


def test_publish_site_is_a_library_call_returning_one_result_type(aws, site):
    target = Target(site["bucket"], site["distribution"], API_URL)
    clients = SiteClients.from_session(aws)
    live_then_changed(site)
    planned = publish_site(target, site["source"], PublishOptions(dry_run=True), clients)
    done = publish_site(target, site["source"], PublishOptions(wait=False), clients)
    assert isinstance(planned, PublishResult)
    assert isinstance(done, PublishResult)
    assert (planned.dry_run, done.dry_run) == (True, False)
    assert planned.uploaded == done.uploaded
    assert planned.invalidation is not None
    assert done.invalidation is not None
    assert planned.invalidation.id is None
    assert done.invalidation.id is not None
    assert planned.invalidation.paths == done.invalidation.paths


def test_unknown_stack_in_outputs_file_is_a_clear_error(tmp_path, capsys):
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"prod": {}}))
    assert main(["--outputs-file", str(outputs), "--stack", "staging"]) == 2
    assert (
        capsys.readouterr().err
        == "post_apply: error: stack 'staging' is not in " + str(outputs) + "; it holds ['prod']\n"
    )


def test_missing_inputs_are_named(capsys):
    assert main(["--bucket", "b"]) == 2
    assert "missing distribution_id, api_url" in capsys.readouterr().err


def test_help_describes_the_hook(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "--outputs-file" in out
    assert "--dry-run" in out
    assert "--prune" in out

"""Release history and rollback: every publish is recorded; any recorded release can be made live again, its
assets checked first and its pages restored last; a rollback is recorded too, so it can be undone."""

from __future__ import annotations

import json

import pytest

from hooks.post_apply import main
from hooks.records import RELEASES_PREFIX
from tests.publishing import body, change_style, hook_argv, invalidations, live_page_is_whole, make_site, objects, run


@pytest.fixture
def site(aws, tmp_path):
    return make_site(aws, tmp_path)


def three_versions(aws, site, capsys) -> dict[str, tuple[str, str]]:
    versions = {}
    for version in ("v1", "v2", "v3"):
        change_style(site, version)
        code, summary = run(site, capsys=capsys)
        assert code == 0
        versions[version] = (summary["release"], body(aws, site["bucket"], "index.html"))
    return versions


def releases(site, capsys) -> list[dict]:
    code, listed = run(site, "--releases", capsys=capsys)
    assert code == 0
    return listed


def test_every_publish_is_listed_newest_first_with_the_live_one_marked(aws, site, capsys):
    versions = three_versions(aws, site, capsys)
    listed = releases(site, capsys)
    assert [r["id"] for r in listed] == [versions[v][0] for v in ("v3", "v2", "v1")]
    assert [r["live"] for r in listed] == [True, False, False]
    assert all(r["created"] and r["kind"] == "publish" for r in listed)


def test_the_release_list_is_readable_without_json(aws, site, capsys):
    versions = three_versions(aws, site, capsys)
    capsys.readouterr()
    assert main(hook_argv(site, "--releases")) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-3].startswith(f"* {versions['v3'][0]}")
    assert lines[-1].startswith(f"  {versions['v1'][0]}")


def test_rollback_makes_the_release_before_the_live_one_live(aws, site, capsys):
    versions = three_versions(aws, site, capsys)
    code, summary = run(site, "--rollback", capsys=capsys)
    assert code == 0
    assert body(aws, site["bucket"], "index.html") == versions["v2"][1]
    assert live_page_is_whole(aws, site)
    assert summary["invalidation"]["paths"] == ["/", "/index.html"]
    assert summary["uploaded"] == ["index.html"]  # the v2 assets were still there


def test_rollback_to_a_named_release_and_forward_again(aws, site, capsys):
    versions = three_versions(aws, site, capsys)
    assert run(site, "--rollback", capsys=capsys)[0] == 0
    assert live_page_is_whole(aws, site)
    assert run(site, "--rollback", versions["v1"][0], capsys=capsys)[0] == 0
    assert body(aws, site["bucket"], "index.html") == versions["v1"][1]
    assert live_page_is_whole(aws, site)
    assert run(site, "--rollback", versions["v3"][0], capsys=capsys)[0] == 0
    assert body(aws, site["bucket"], "index.html") == versions["v3"][1]
    assert live_page_is_whole(aws, site)


def test_a_rollback_is_recorded_and_can_be_undone(aws, site, capsys):
    versions = three_versions(aws, site, capsys)
    code, summary = run(site, "--rollback", versions["v1"][0], capsys=capsys)
    assert code == 0
    live = releases(site, capsys)[0]
    assert (live["id"], live["kind"], live["restored"]) == (summary["release"], "rollback", versions["v1"][0])
    assert run(site, "--rollback", capsys=capsys)[0] == 0  # the release before the rollback: v3
    assert body(aws, site["bucket"], "index.html") == versions["v3"][1]


def test_pruning_keeps_what_the_kept_releases_reference_so_rollback_still_works(aws, site, capsys):
    versions = three_versions(aws, site, capsys)
    change_style(site, "v4")
    assert run(site, "--prune", "--keep-releases", "2", capsys=capsys)[0] == 0
    assert live_page_is_whole(aws, site)
    assert run(site, "--rollback", capsys=capsys)[0] == 0  # back to v3, kept
    assert body(aws, site["bucket"], "index.html") == versions["v3"][1]
    assert live_page_is_whole(aws, site)


def test_a_release_whose_assets_are_gone_is_refused_and_nothing_changes(aws, site, capsys):
    versions = three_versions(aws, site, capsys)
    change_style(site, "v4")
    assert run(site, "--prune", "--keep-releases", "1", capsys=capsys)[0] == 0
    s3 = aws.client("s3")
    v1_stylesheet = next(k for k in json.loads(_record(aws, site, versions["v1"][0]))["objects"] if k.endswith(".css"))
    for version in s3.list_object_versions(Bucket=site["bucket"], Prefix=v1_stylesheet).get("Versions", []):
        s3.delete_object(Bucket=site["bucket"], Key=v1_stylesheet, VersionId=version["VersionId"])  # expired
    live_before = body(aws, site["bucket"], "index.html")
    sent_before = len(invalidations(aws, site["distribution"]))
    code, error = run(site, "--rollback", versions["v1"][0], capsys=capsys)
    assert code == 1
    assert v1_stylesheet in error["error"]
    assert "nothing was changed" in error["error"]
    assert body(aws, site["bucket"], "index.html") == live_before
    assert len(invalidations(aws, site["distribution"])) == sent_before


def test_rolling_back_with_one_release_says_there_is_nothing_to_roll_back_to(aws, site, capsys):
    assert run(site, capsys=capsys)[0] == 0
    code, error = run(site, "--rollback", capsys=capsys)
    assert code == 1
    assert "nothing to roll back to" in error["error"]


def test_an_unknown_release_is_named_in_the_error(aws, site, capsys):
    assert run(site, capsys=capsys)[0] == 0
    code, error = run(site, "--rollback", "20200101T000000000000Z-abcdef", capsys=capsys)
    assert code == 1
    assert "no release 20200101T000000000000Z-abcdef" in error["error"]


def test_a_dry_run_rollback_changes_nothing(aws, site, capsys):
    three_versions(aws, site, capsys)
    before = {key: obj["ETag"] for key, obj in objects(aws, site["bucket"]).items()}
    code, summary = run(site, "--rollback", "--dry-run", capsys=capsys)
    assert code == 0
    assert summary["uploaded"] == ["index.html"]
    assert {key: obj["ETag"] for key, obj in objects(aws, site["bucket"]).items()} == before


def _record(aws, site, release_id: str) -> bytes:
    key = f"{RELEASES_PREFIX}{release_id}.json"
    return bytes(aws.client("s3").get_object(Bucket=site["bucket"], Key=key)["Body"].read())

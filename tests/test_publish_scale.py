"""Publishing at scale (issue 22, items 2 and 4): a republish asks S3 only about what changed since the live
record, releases are listed from their summaries, a rollback after every file changed restores the earlier release,
and pruning among many releases deletes exactly what no kept release references. Timings: benchmarks/publish.py."""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

import boto3
import pytest
from botocore.utils import parse_timestamp

from hooks.records import RELEASES_PREFIX, SUMMARY_METADATA
from hooks.storage import missing_versions, timestamp
from tests.publishing import body, change_style, live_page_is_whole, make_site, objects, run


@pytest.fixture
def site(aws, tmp_path):
    return make_site(aws, tmp_path)


def counting(operations: Counter[str]) -> boto3.session.Session:
    """A session that counts the S3 operations its clients call."""
    session = boto3.session.Session()

    def count(model, **_):
        operations[model.name] += 1

    session.events.register("before-call.s3", count)
    return session


def record(aws, site, release_id: str) -> dict[str, Any]:
    key = f"{RELEASES_PREFIX}{release_id}.json"
    return dict(json.loads(aws.client("s3").get_object(Bucket=site["bucket"], Key=key)["Body"].read()))


def test_pruning_with_twelve_releases_deletes_exactly_what_the_three_newest_do_not_reference(aws, site, capsys):
    """Each release has a stylesheet of its own (a new fingerprinted name) and a fixed-name file of its own."""
    published = []
    for number in range(1, 13):
        change_style(site, f"release {number}")
        (site["source"] / f"notes-{number - 1}.txt").unlink(missing_ok=True)
        (site["source"] / f"notes-{number}.txt").write_text(f"release {number}\n")
        extra = ("--prune", "--keep-releases", "3") if number == 12 else ()
        code, summary = run(site, *extra, capsys=capsys)
        assert code == 0
        published.append(record(aws, site, summary["release"]))
    kept = set().union(*(set(r["objects"]) for r in published[-3:]))
    older = set().union(*(set(r["objects"]) for r in published[:-3])) - kept
    assert sorted(summary["deleted"]) == sorted(older)
    assert {key for key in older if key.endswith(".txt")} == {f"notes-{n}.txt" for n in range(1, 10)}
    assert len([key for key in older if key.endswith(".css")]) == 9
    assert set(objects(aws, site["bucket"])) == kept


def test_a_republish_asks_s3_about_the_metadata_of_no_object_the_live_record_vouches_for(aws, site, capsys):
    """An object S3 last modified before the live release's record was written is as the record says: no HEAD."""
    assert run(site, capsys=capsys)[0] == 0
    time.sleep(1.1)  # S3's LastModified counts seconds: objects of the record's second are asked about
    assert run(site, capsys=capsys)[0] == 0  # its record is written a second after every object
    operations: Counter[str] = Counter()
    code, summary = run(site, session=counting(operations), capsys=capsys)
    assert code == 0
    assert summary["uploaded"] == []
    assert operations["HeadObject"] == 0


def test_an_object_rewritten_after_the_live_record_is_asked_about_and_fixed(aws, site, capsys):
    assert run(site, capsys=capsys)[0] == 0
    time.sleep(1.1)
    s3 = aws.client("s3")
    html = s3.get_object(Bucket=site["bucket"], Key="index.html")["Body"].read()
    s3.put_object(Bucket=site["bucket"], Key="index.html", Body=html, ContentType="text/plain")
    operations: Counter[str] = Counter()
    code, summary = run(site, session=counting(operations), capsys=capsys)
    assert code == 0
    assert summary["uploaded"] == ["index.html"]
    assert objects(aws, site["bucket"])["index.html"]["ContentType"] == "text/html; charset=utf-8"


def test_the_releases_are_listed_from_the_summaries_in_their_records_metadata(aws, site, capsys):
    for number in range(3):
        change_style(site, f"v{number}")
        assert run(site, capsys=capsys)[0] == 0
    operations: Counter[str] = Counter()
    code, listed = run(site, "--releases", session=counting(operations), capsys=capsys)
    assert code == 0
    assert len(listed) == 3
    assert operations["GetObject"] == 0
    assert operations["HeadObject"] == 3
    head = aws.client("s3").head_object(Bucket=site["bucket"], Key=f"{RELEASES_PREFIX}{listed[0]['id']}.json")
    assert json.loads(head["Metadata"][SUMMARY_METADATA])["objects"] == listed[0]["objects"]


def test_a_record_written_without_a_summary_is_still_listed(aws, site, capsys):
    """Records an older hook wrote carry no summary in their metadata: the record itself is read."""
    _, summary = run(site, capsys=capsys)
    s3 = aws.client("s3")
    key = f"{RELEASES_PREFIX}{summary['release']}.json"
    s3.put_object(Bucket=site["bucket"], Key=key, Body=s3.get_object(Bucket=site["bucket"], Key=key)["Body"].read())
    code, listed = run(site, "--releases", capsys=capsys)
    assert code == 0
    assert [(r["id"], r["objects"]) for r in listed] == [
        (summary["release"], len(record(aws, site, summary["release"])["objects"]))
    ]


def test_a_rollback_after_every_file_changed_makes_the_earlier_release_whole_again(aws, site, capsys):
    assert run(site, capsys=capsys)[0] == 0
    first = body(aws, site["bucket"], "index.html")
    for path in site["source"].rglob("*"):
        if path.is_file():
            path.write_bytes(path.read_bytes() + b"\n")
    assert run(site, capsys=capsys)[0] == 0
    code, summary = run(site, "--rollback", capsys=capsys)
    assert code == 0
    assert body(aws, site["bucket"], "index.html") == first
    assert live_page_is_whole(aws, site)
    assert "index.html" in summary["uploaded"]


def test_the_versions_a_rollback_needs_and_the_bucket_no_longer_has_are_named(aws, site):
    s3 = aws.client("s3")
    versions = {}
    for key in ("a.txt", "b.txt", "c.txt"):
        versions[key] = s3.put_object(Bucket=site["bucket"], Key=key, Body=b"1")["VersionId"]
        s3.put_object(Bucket=site["bucket"], Key=key, Body=b"2")  # a newer version: the old one is still there
    s3.delete_object(Bucket=site["bucket"], Key="b.txt", VersionId=versions["b.txt"])
    wanted = versions | {"d.txt": "no-such-version"}
    assert missing_versions(s3, site["bucket"], wanted) == ["b.txt", "d.txt"]


@pytest.mark.parametrize(
    "value", ["2026-12-04T14:50:01.000Z", "2026-12-04T14:50:01Z", "Fri, 04 Dec 2026 14:50:01 GMT", "1796396401"]
)
def test_timestamps_are_parsed_as_botocore_would(value):
    assert timestamp(value) == parse_timestamp(value)

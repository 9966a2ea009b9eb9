"""Memory that stays flat as the site grows: a release keeps no file's bytes (each upload reads its file again and
checks it is the one planned), uploads are bounded, so only the bodies being sent are in memory, and the recent
release records share what they have in common."""

from __future__ import annotations

import dataclasses
import hashlib
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from hooks import storage
from hooks.records import RELEASES_PREFIX, PublishedObject, ReleaseRecord
from hooks.release import SourceChanged, build_release
from hooks.storage import IN_FLIGHT, UPLOAD_WORKERS, StorageError, upload
from tests.publishing import API_URL, body, live_page_is_whole, make_site, objects, run

BIG = 256 * 1024  # far more than anything a release needs to keep of a file
SMALL = 4096  # the most a release may hold in one string or bytes (a start tag, the generated config)


def large_site(root: Path) -> Path:
    """A site whose files are each far larger than anything the release should keep: a page with an image and a
    stylesheet (which loads another image), a `name.html` page (published twice) and a fixed-name file."""
    (root / "img").mkdir(parents=True)
    (root / "img" / "hero.png").write_bytes(b"\x89PNG" + b"h" * BIG)
    (root / "img" / "paper.png").write_bytes(b"\x89PNG" + b"p" * BIG)
    (root / "style.css").write_text("body{background:url(img/paper.png)}\n" + "/* padding */\n" * (BIG // 14))
    text = "<p>" + "lorem ipsum " * (BIG // 12) + "</p>"
    head = '<!doctype html><link rel="stylesheet" href="style.css"><img src="img/hero.png">'
    (root / "index.html").write_text(f"{head}{text}<a href='about.html'>about</a>\n")
    (root / "about.html").write_text(f"{head}{text}\n")
    (root / "report.json").write_text('{"rows": "' + "r" * BIG + '"}')
    return root


def held_values(value: Any, seen: set[int] | None = None) -> Iterator[Any]:
    """Every value reachable from `value` through dataclass fields and containers."""
    seen = set() if seen is None else seen
    if id(value) in seen:
        return
    seen.add(id(value))
    yield value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        children: list[Any] = [getattr(value, f.name) for f in dataclasses.fields(value)]
    elif isinstance(value, dict):
        children = [*value.keys(), *value.values()]
    elif isinstance(value, (list, tuple, set, frozenset)):
        children = list(value)
    else:
        return
    for child in children:
        yield from held_values(child, seen)


def test_a_release_holds_no_files_bytes(tmp_path):
    release = build_release(large_site(tmp_path / "site"), API_URL)
    largest = max(len(v) for v in held_values(release) if isinstance(v, (bytes, str)))
    assert largest <= SMALL
    assert {"about/index.html", "index.html", "report.json"} <= release.keys  # what it plans to publish


def test_each_upload_reads_its_bytes_again_as_planned(tmp_path):
    release = build_release(large_site(tmp_path / "site"), API_URL)
    for asset in release.assets + release.documents:
        data = asset.read()
        assert (hashlib.md5(data).hexdigest(), len(data)) == (asset.md5, asset.size), asset.key
    (page,) = [a for a in release.documents if a.key == "index.html"]
    assert b'href="style.' in page.read()  # rewritten again: pointed at the fingerprinted stylesheet


def test_a_file_changed_after_planning_is_not_uploaded(tmp_path):
    source = large_site(tmp_path / "site")
    release = build_release(source, API_URL)
    (source / "img" / "hero.png").write_bytes(b"\x89PNG other")
    (hero,) = [a for a in release.assets if a.key.startswith("img/hero.")]
    with pytest.raises(SourceChanged, match=r"img/hero\.png: changed since this publish read it"):
        hero.read()
    (source / "about.html").unlink()
    (about,) = [a for a in release.documents if a.key == "about/index.html"]
    with pytest.raises(SourceChanged, match=r"about\.html: changed since this publish read it"):
        about.read()


# --- release records: the recent ones share what they have in common -------------------------------------------


def record(objects: dict[str, PublishedObject]) -> ReleaseRecord:
    return ReleaseRecord(id="r", created="2026-12-05T00:00:00Z", source_hash="h", objects=objects)


def test_records_read_together_share_their_equal_objects():
    same = PublishedObject(hashlib.md5(b"a").hexdigest(), "text/html; charset=utf-8", "no-cache", "v1")
    older, newer = record({"a.html": same}), record({"a.html": same, "b.html": replace(same, version_id="v2")})
    shared: dict[Any, Any] = {}
    read_older, read_newer = (ReleaseRecord.from_json(r.to_json(), shared) for r in (older, newer))
    assert (read_older, read_newer) == (older, newer)
    assert read_older.objects["a.html"] is read_newer.objects["a.html"]


def test_a_record_of_files_named_like_an_objects_fields_reads_back():
    published = PublishedObject("m", "text/plain; charset=utf-8", "public, max-age=300")
    named = record(dict.fromkeys(("md5", "content_type", "cache_control", "version_id"), published))
    assert ReleaseRecord.from_json(named.to_json()) == named
    assert ReleaseRecord.from_json(record({}).to_json()) == record({})


# --- publishing: a changed file fails the publish, the live site stays as it was ---------------------------------


@pytest.fixture
def site(aws, tmp_path):
    return make_site(aws, tmp_path)


def changing_during_assets(source: Path, key: str, marker: str) -> Any:
    """A session whose first upload of an asset (a fingerprinted name) changes `key` in the source folder: after
    the release was built, before its pages are uploaded."""
    import boto3

    session = boto3.session.Session()
    done = threading.Event()

    def change(params: dict[str, Any], **_: Any) -> None:
        if not done.is_set() and ".publish/" not in params["url_path"] and "style." in params["url_path"]:
            done.set()
            path = source / key
            path.write_text(path.read_text() + marker)

    session.events.register("before-call.s3.PutObject", change)
    return session


def release_records(aws: Any, bucket: str) -> list[str]:
    answer = aws.client("s3").list_objects_v2(Bucket=bucket, Prefix=RELEASES_PREFIX)
    return sorted(o["Key"] for o in answer.get("Contents", []))


def test_a_page_changed_during_the_publish_fails_it_naming_the_file_and_the_live_site_stays(aws, site, capsys):
    assert run(site, capsys=capsys)[0] == 0
    live_page, recorded = body(aws, site["bucket"], "index.html"), release_records(aws, site["bucket"])
    style = site["source"] / "style.css"
    style.write_text(style.read_text() + "\n/* v2 */\n")  # a new asset, so a new page pointing at it
    session = changing_during_assets(site["source"], "index.html", "<!-- edited by hand -->\n")

    code, answer = run(site, session=session, capsys=capsys)

    assert code == 1
    assert f"{site['source'] / 'index.html'} changed since this publish read it" in answer["error"]
    assert "no page was replaced" in answer["error"]
    assert body(aws, site["bucket"], "index.html") == live_page
    assert live_page_is_whole(aws, site)
    assert release_records(aws, site["bucket"]) == recorded  # no release recorded for it
    assert run(site, capsys=capsys)[0] == 0  # run again: the edited page is published
    assert "edited by hand" in body(aws, site["bucket"], "index.html")


def test_a_file_changed_while_pages_upload_is_not_uploaded_and_names_the_file(aws, site, tmp_path):
    release = build_release(large_site(tmp_path / "big"), API_URL)
    (tmp_path / "big" / "report.json").write_text("{}")
    with pytest.raises(StorageError, match=r"first report\.json: .*big/report\.json: changed since this publish"):
        upload(aws.client("s3"), site["bucket"], release.documents, "pages")
    assert "report.json" not in objects(aws, site["bucket"])


# --- bounded work in flight -------------------------------------------------------------------------------------


@dataclasses.dataclass
class Watch:
    """What the uploads and the pool saw: bodies held at once (read, not yet sent), uploads submitted and not done."""

    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)
    held: int = 0
    most_held: int = 0
    pending: int = 0
    most_pending: int = 0
    go: threading.Event = dataclasses.field(default_factory=threading.Event)  # set: PutObject may answer

    def count(self, name: str, step: int) -> None:
        with self.lock:
            setattr(self, name, getattr(self, name) + step)
            most = f"most_{name}"
            setattr(self, most, max(getattr(self, most), getattr(self, name)))


@dataclasses.dataclass
class Counted:
    """An upload whose body is counted while held."""

    key: str
    watch: Watch
    md5: str = hashlib.md5(b"x").hexdigest()
    size: int = 1
    content_type: str = "text/plain"
    cache_control: str = "no-cache"

    def read(self) -> bytes:
        self.watch.count("held", 1)
        return b"x"


class HeldS3:
    """An S3 client whose PutObject waits until the test lets it go; the body is then let go too."""

    def __init__(self, watch: Watch) -> None:
        self.watch = watch

    def put_object(self, **_: Any) -> dict[str, str]:
        self.watch.go.wait(timeout=60)
        self.watch.count("held", -1)
        return {"VersionId": "v"}


def counting_pool(watch: Watch) -> type[ThreadPoolExecutor]:
    class Pool(ThreadPoolExecutor):
        def submit(self, *args: Any, **kwargs: Any) -> Future[Any]:
            watch.count("pending", 1)
            future = super().submit(*args, **kwargs)
            future.add_done_callback(lambda _: watch.count("pending", -1))
            return future

    return Pool


def test_uploads_hold_only_the_bodies_being_sent(monkeypatch):
    watch = Watch()
    monkeypatch.setattr(storage, "ThreadPoolExecutor", counting_pool(watch))
    uploads = [Counted(f"f/{n}", watch) for n in range(20 * IN_FLIGHT)]
    versions: dict[str, str | None] = {}
    s3: Any = HeldS3(watch)
    sending = threading.Thread(target=lambda: versions.update(upload(s3, "b", uploads, "t")))
    sending.start()
    while watch.held < UPLOAD_WORKERS and sending.is_alive():  # until every worker sends, and waits
        time.sleep(0.01)
    time.sleep(0.2)  # room for more to be submitted or read, were they not bounded
    submitted, held = watch.pending, watch.held
    watch.go.set()
    sending.join(timeout=120)
    assert (held, submitted) == (UPLOAD_WORKERS, IN_FLIGHT)  # not 20 x IN_FLIGHT: the rest wait, unread
    assert (watch.most_held, watch.most_pending) == (UPLOAD_WORKERS, IN_FLIGHT)
    assert len(versions) == len(uploads)

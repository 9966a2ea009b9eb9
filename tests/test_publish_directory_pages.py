"""Pages written as `name.html` (Next's static export, Eleventy): the routing redirects `/about` to `/about/`, so the
hook also publishes `about.html` as `about/index.html` where the site has no such page, its relative references
made root-relative so that they still point where the page's do."""

from __future__ import annotations

from pathlib import Path

from hooks.release import REVALIDATE, build_release, directory_copy_key, page_references
from tests.publishing import API_URL

ABOUT = (
    '<!doctype html><html><head><link rel="stylesheet" href="style.css?v=2">'
    '<script src="_next/static/chunks/main-4bd1b696.js"></script></head>'
    '<body><a href="./">home</a> <a href="team/">team</a> <a href="#bio">bio</a> <a href="/contact">contact</a>'
    ' <a href="https://example.com/x">out</a> <img src="img/me.png" alt=""></body></html>'
)


def site(root: Path, files: dict[str, str]) -> Path:
    for key, text in files.items():
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_text(text)
    return root


def documents(root: Path) -> dict[str, bytes]:
    return {a.key: a.read() for a in build_release(root, API_URL).documents}


def test_a_name_html_page_is_also_published_as_its_folders_index(tmp_path):
    published = documents(site(tmp_path, {"index.html": "<h1>home</h1>", "about.html": ABOUT, "style.css": ""}))
    assert "about/index.html" in published
    assert "about.html" in published


def test_the_copy_is_a_page_revalidated_like_the_original(tmp_path):
    release = build_release(site(tmp_path, {"index.html": "", "about.html": ABOUT}), API_URL)
    copy = next(a for a in release.documents if a.key == "about/index.html")
    assert copy.cache_control == REVALIDATE
    assert copy.content_type.startswith("text/html")


def test_the_copys_references_point_where_the_pages_do(tmp_path):
    files = {"index.html": "", "about.html": ABOUT, "style.css": "body{}", "img/me.png": "png", "team/index.html": ""}
    files["_next/static/chunks/main-4bd1b696.js"] = "1"
    published = documents(site(tmp_path, files))
    original = page_references(published["about.html"].decode(), "about.html")
    copied = page_references(published["about/index.html"].decode(), "about/index.html")
    assert copied == original
    assert original  # the page does reference files


def test_the_copy_keeps_queries_fragments_and_other_sites_urls(tmp_path):
    published = documents(site(tmp_path, {"index.html": "", "about.html": ABOUT}))
    copy = published["about/index.html"].decode()
    assert 'href="/style.css?v=2"' in copy
    assert 'href="#bio"' in copy
    assert 'href="/contact"' in copy
    assert 'href="https://example.com/x"' in copy
    assert 'href="/team/"' in copy
    assert 'href="/"' in copy


def test_a_page_the_site_already_has_as_a_folder_index_is_not_copied_over(tmp_path):
    published = documents(site(tmp_path, {"index.html": "", "about.html": ABOUT, "about/index.html": "<h1>own</h1>"}))
    assert published["about/index.html"] == b"<h1>own</h1>"


def test_index_pages_and_the_404_page_are_never_copied():
    assert directory_copy_key("index.html") is None
    assert directory_copy_key("guide/index.html") is None
    assert directory_copy_key("404.html") is None
    assert directory_copy_key("page.htm") is None
    assert directory_copy_key("blog/post.html") == "blog/post/index.html"


def test_a_site_of_index_pages_only_publishes_what_it_did(tmp_path):
    published = documents(site(tmp_path, {"index.html": "<h1>home</h1>", "guide/index.html": "<h1>guide</h1>"}))
    assert sorted(published) == ["guide/index.html", "index.html"]

"""A real mkdocs-material site (tests/fixtures/mkdocs-material: nested pages, search) built with
`mkdocs build`, published by local mode into a stack of its own, and used in headless Chromium: directory URLs on
first load, with and without their slash, following links and on reload; search through its worker; its own
404 page with status 404 for a missing page; a missing asset; and a console with no CSP violation in it, though
material writes inline scripts (their hashes are in the policy).

One build and one local stack for the module; the stack's deferred apply is left to stop with it.
"""

from __future__ import annotations

import http.client
import re
import urllib.parse

import pytest
from playwright.sync_api import expect

from hooks.release import IMMUTABLE
from tests.conftest import running_local_stack
from tests.real_sites import PAGE_TIMEOUT_MS, build_mkdocs_site, recorded_page

# Each page, by its directory URL, and its title.
PAGES = {"/": "Fixture docs", "/guide/": "Guide", "/guide/setup/": "Setup", "/guide/deploy/": "Deploy"}
PAGES["/reference/api/"] = "API"


@pytest.fixture(scope="module")
def docs_stack(tmp_path_factory):
    site = build_mkdocs_site(tmp_path_factory.mktemp("mkdocs") / "site")
    with running_local_stack(tmp_path_factory.mktemp("docs-stack"), source=site, project="docssite") as stack:
        yield stack


def url(stack, path: str) -> str:
    return stack.site_url.rstrip("/") + path


def request(stack, path: str) -> http.client.HTTPResponse:
    """One GET, redirects not followed."""
    address = urllib.parse.urlsplit(stack.site_url)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=10)
    connection.request("GET", path)
    return connection.getresponse()


def shows(page, title: str) -> None:
    """The page's title is `title`."""
    expect(page.locator("article h1")).to_have_text(title, timeout=PAGE_TIMEOUT_MS)


@pytest.mark.parametrize("path", PAGES)
def test_every_directory_url_serves_its_page_on_first_load(docs_stack, browser, path):
    with recorded_page(browser) as seen:
        response = seen.page.goto(url(docs_stack, path))
        assert response.status == 200
        shows(seen.page, PAGES[path])


@pytest.mark.parametrize("path", [p for p in PAGES if p != "/"])
def test_a_directory_url_without_its_slash_is_redirected_to_it(docs_stack, path):
    answer = request(docs_stack, path.rstrip("/"))
    assert answer.status == 301
    assert answer.getheader("Location") in (path, url(docs_stack, path))


def test_the_browser_follows_the_redirect_to_the_page(docs_stack, browser):
    with recorded_page(browser) as seen:
        seen.page.goto(url(docs_stack, "/guide/setup"))
        assert seen.page.url == url(docs_stack, "/guide/setup/")
        shows(seen.page, "Setup")


@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders_again_on_reload(docs_stack, browser, path):
    with recorded_page(browser) as seen:
        seen.page.goto(url(docs_stack, path))
        response = seen.page.reload()
        assert response.status == 200
        shows(seen.page, PAGES[path])


# From the home page, link by link: the text of a link in each page and the page it leads to.
LINKS = [("setup", "/guide/setup/"), ("deploy", "/guide/deploy/"), ("API reference", "/reference/api/")]


def follow_links(stack, seen) -> None:
    """From the home page along LINKS, checking each page's title."""
    seen.page.goto(url(stack, "/"))
    for link, path in LINKS:
        seen.page.locator("article").get_by_role("link", name=link, exact=True).click()
        seen.page.wait_for_url(url(stack, path))
        shows(seen.page, PAGES[path])


def search(seen, text: str):
    """Type into material's search box (in the header at a desktop width) as a person does, key by key: material
    searches on key events; the first result."""
    seen.page.locator("input.md-search__input").press_sequentially(text)
    return seen.page.locator(".md-search-result__item").first


def test_following_links_reaches_every_page(docs_stack, browser):
    with recorded_page(browser) as seen:
        follow_links(docs_stack, seen)
        assert seen.document_loads == [url(docs_stack, path) for path in ["/", *(path for _, path in LINKS)]]


def test_search_finds_a_page_through_its_worker(docs_stack, browser):
    with recorded_page(browser) as seen:
        seen.page.goto(url(docs_stack, "/"))
        assert "Setup" in search(seen, "minute").inner_text(), seen.console
        assert any("/assets/javascripts/workers/search." in a.url and a.status == 200 for a in seen.answers)


def test_a_missing_page_gets_the_sites_404_page_with_status_404(docs_stack, browser):
    with recorded_page(browser) as seen:
        response = seen.page.goto(url(docs_stack, "/guide/nowhere/"))
        assert response.status == 404
        shows(seen.page, "404 - Not found")
        stylesheets = [a for a in seen.answers if a.resource_type == "stylesheet"]
        assert stylesheets
        assert all(a.status == 200 for a in stylesheets)  # styled as the other pages, though two folders down


def test_materials_own_fingerprinted_names_are_published_as_built_and_cached_as_immutable(docs_stack):
    built = docs_stack.options.web_dir
    named = re.compile(r"\.[0-9a-f]{8}\.min\.(js|css)$")
    hashed = sorted(p.relative_to(built).as_posix() for p in (built / "assets").rglob("*") if named.search(p.name))
    assert len(hashed) == 4  # the bundle, the search worker and two stylesheets
    for name in hashed:
        answer = request(docs_stack, "/" + name)
        assert (answer.status, answer.getheader("Cache-Control")) == (200, IMMUTABLE), name


@pytest.mark.parametrize("path", ["/assets/javascripts/bundle.00000000.min.js", "/assets/stylesheets/gone.css"])
def test_a_missing_asset_answers_404_with_the_sites_404_page(docs_stack, path):
    """Not a page's 200: a script or stylesheet that is not there fails as such. The body is the site's 404 page,
    as for any missing object (CloudFront's error page is per distribution, not per path)."""
    answer = request(docs_stack, path)
    assert answer.status == 404
    assert b"404 - Not found" in answer.read()


def test_the_pages_are_served_under_a_policy_that_allows_their_inline_scripts_by_hash_only(docs_stack):
    """What makes the console check below mean something: the policy is there, strict, with hashes."""
    policy = request(docs_stack, "/guide/setup/").getheader("Content-Security-Policy") or ""
    assert "'sha256-" in policy
    assert "'unsafe-inline'" not in policy
    assert "'unsafe-eval'" not in policy


def test_the_console_shows_no_csp_violation_and_no_failed_load_on_any_page(docs_stack, browser):
    with recorded_page(browser) as seen:
        for path in PAGES:
            seen.page.goto(url(docs_stack, path))
            seen.page.wait_for_load_state("networkidle")
        follow_links(docs_stack, seen)
        search(seen, "minute").wait_for()
        assert seen.csp_violations == []
        assert seen.problems == []

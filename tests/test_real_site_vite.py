"""A real Vite + React app (tests/fixtures/vite-react: react-router, a lazy() route, an image imported from JS, the
API URL from /config.js) built with `npm run build`, published by local mode into a stack of its own in
single-page-app mode, and used in headless Chromium as people use it: first loads, client-side navigation and
reloads of every route, the lazy chunk, the API call, a missing asset, and a console with nothing in it.

One build and one local stack for the module; the stack's deferred apply is left to stop with it.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from email.message import Message

import pytest
from playwright.sync_api import expect

from hooks.release import IMMUTABLE
from tests.conftest import running_local_stack
from tests.real_sites import PAGE_TIMEOUT_MS, build_vite_app, recorded_page

# Each route and what its page shows.
ROUTES = {"/": "Home", "/about": "About", "/users/1": "User 1"}


@pytest.fixture(scope="module")
def vite_stack(tmp_path_factory):
    dist = build_vite_app(tmp_path_factory.mktemp("vite") / "dist")
    work_dir = tmp_path_factory.mktemp("vite-stack")
    with running_local_stack(work_dir, source=dist, single_page_app=True, project="vitesite") as stack:
        yield stack


def url(stack, path: str) -> str:
    return stack.site_url.rstrip("/") + path


def fetch(address: str) -> tuple[int, Message]:
    """Status and headers, whatever the status."""
    try:
        with urllib.request.urlopen(address, timeout=10) as response:
            return response.status, response.headers
    except urllib.error.HTTPError as error:
        return error.code, error.headers


def shows(page, title: str) -> None:
    """The page's heading becomes `title` (React renders a lazy route once its chunk has loaded)."""
    expect(page.locator("main h1")).to_have_text(title, timeout=PAGE_TIMEOUT_MS)


@pytest.mark.parametrize("path", ROUTES)
def test_every_route_renders_on_first_load(vite_stack, browser, path):
    with recorded_page(browser) as seen:
        response = seen.page.goto(url(vite_stack, path))
        assert response.status == 200
        shows(seen.page, ROUTES[path])


@pytest.mark.parametrize("path", ROUTES)
def test_a_first_load_of_every_route_leaves_no_csp_violation_and_no_failed_load(vite_stack, browser, path):
    with recorded_page(browser) as seen:
        seen.page.goto(url(vite_stack, path))
        shows(seen.page, ROUTES[path])
        seen.page.wait_for_load_state("networkidle")
        assert seen.csp_violations == []
        assert seen.problems == []


@pytest.mark.parametrize("path", ROUTES)
def test_every_route_renders_again_on_reload(vite_stack, browser, path):
    with recorded_page(browser) as seen:
        seen.page.goto(url(vite_stack, "/"))
        seen.page.click(f"nav a[href='{path}']")
        seen.page.wait_for_url(url(vite_stack, path))
        response = seen.page.reload()
        assert response.status == 200
        shows(seen.page, ROUTES[path])


def test_client_side_navigation_reaches_every_route_without_loading_a_document(vite_stack, browser):
    with recorded_page(browser) as seen:
        seen.page.goto(url(vite_stack, "/"))
        for path, title in [("/about", "About"), ("/users/1", "User 1"), ("/", "Home")]:
            seen.page.click(f"nav a[href='{path}']")
            seen.page.wait_for_url(url(vite_stack, path))
            shows(seen.page, title)
        assert seen.document_loads == [url(vite_stack, "/")]


def test_the_lazy_route_loads_its_own_chunk_only_when_visited(vite_stack, browser):
    with recorded_page(browser) as seen:
        seen.page.goto(url(vite_stack, "/"))
        seen.page.wait_for_load_state("networkidle")
        chunk = re.compile(r"/assets/User-[\w-]{8}\.js$")
        assert not [a for a in seen.answers if chunk.search(a.url)]
        seen.page.click("nav a[href='/users/1']")
        seen.page.wait_for_selector("#user-name")
        (loaded,) = [a for a in seen.answers if chunk.search(a.url)]
        assert loaded.status == 200
        assert "javascript" in loaded.content_type


def test_the_user_page_calls_the_api_and_shows_the_name(vite_stack, browser):
    with recorded_page(browser) as seen:
        seen.page.goto(url(vite_stack, "/"))
        seen.page.click("nav a[href='/users/1']")
        seen.page.wait_for_selector("#user-name:has-text('Test User')")
        api_calls = [a for a in seen.answers if a.url.startswith(vite_stack.api_url)]
        assert [(a.url, a.status) for a in api_calls] == [(f"{vite_stack.api_url}?userId=1", 200)]


def test_the_image_imported_from_javascript_loads_under_its_vite_name(vite_stack, browser):
    with recorded_page(browser) as seen:
        seen.page.goto(url(vite_stack, "/"))
        seen.page.wait_for_load_state("networkidle")
        (image,) = [a for a in seen.answers if re.search(r"/assets/hero-[\w-]{8}\.png$", a.url)]
        assert (image.status, image.content_type) == (200, "image/png")
        assert seen.page.locator("#hero").get_attribute("src") == image.url.removeprefix(vite_stack.site_url[:-1])


def test_vites_own_file_names_are_published_as_built_and_cached_as_immutable(vite_stack):
    built = {p.relative_to(vite_stack.options.web_dir).as_posix() for p in vite_stack.options.web_dir.rglob("*.*")}
    chunks = sorted(name for name in built if name.startswith("assets/"))
    assert len(chunks) == 4  # the entry chunk, the lazy chunk, the stylesheet and the image
    for name in chunks:
        status, headers = fetch(url(vite_stack, "/" + name))
        assert (status, headers["Cache-Control"]) == (200, IMMUTABLE), name


def test_an_unknown_route_gets_the_apps_own_not_found_page(vite_stack, browser):
    with recorded_page(browser) as seen:
        seen.page.goto(url(vite_stack, "/no/such/page"))
        shows(seen.page, "Page not found")


@pytest.mark.parametrize("path", ["/assets/index-DoesNotExist.js", "/assets/gone.css", "/logo.png"])
def test_a_missing_asset_is_a_404_that_is_not_html(vite_stack, path):
    status, headers = fetch(url(vite_stack, path))
    assert status == 404
    assert not (headers["Content-Type"] or "").startswith("text/html")


def test_the_console_shows_no_csp_violation_and_no_failed_load_through_the_whole_app(vite_stack, browser):
    with recorded_page(browser) as seen:
        seen.page.goto(url(vite_stack, "/"))
        shows(seen.page, "Home")
        seen.page.click("nav a[href='/about']")
        shows(seen.page, "About")
        seen.page.click("nav a[href='/users/1']")
        expect(seen.page.locator("#user-name")).to_have_text("Test User", timeout=PAGE_TIMEOUT_MS)
        seen.page.click("nav a[href='/']")
        shows(seen.page, "Home")
        seen.page.wait_for_load_state("networkidle")
        assert seen.csp_violations == []
        assert seen.problems == []

"""CORS proven in a real browser: headless Chromium (Debian's package) drives the page served by the local stack.

The site and the API run on different ports, so every API call is cross-origin and the browser enforces CORS
exactly as it would against CloudFront and API Gateway.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from hooks.publish import publish_site
from hooks.results import PublishOptions, Target
from hooks.storage import SiteClients
from local_stack.servers import bind_server
from local_stack.site import LocalSite

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
WEB = Path(__file__).resolve().parent.parent / "web"


@dataclass
class Visit:
    """A page plus everything it logged and every API exchange it made."""

    page: Page
    api_url: str
    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    api_calls: list[tuple[str, int]] = field(default_factory=list)  # (method, status)
    failed_requests: list[str] = field(default_factory=list)

    def look_up(self, user_id: str) -> str:
        self.page.fill("#user-id", user_id)
        self.page.click("#lookup-button")
        # A selector, not a JS predicate: Playwright evaluates predicates with eval, which the site's CSP forbids.
        self.page.wait_for_selector("#lookup-button:not([disabled])")
        return self.page.inner_text("#result")


@pytest.fixture
def visit(browser, local_stack):
    def open_site(site_url: str | None = None) -> Visit:
        context = browser.new_context()
        page = context.new_page()
        seen = Visit(page, local_stack.api_url)
        page.on("console", lambda message: seen.console.append(f"{message.type}: {message.text}"))
        page.on("pageerror", lambda error: seen.errors.append(str(error)))
        page.on(
            "response",
            lambda response: (
                seen.api_calls.append((response.request.method, response.status))
                if response.url.startswith(local_stack.api_url)
                else None
            ),
        )
        page.on("requestfailed", lambda request: seen.failed_requests.append(request.url))
        page.goto(site_url or local_stack.site_url)
        page.wait_for_selector("#lookup-button")
        contexts.append(context)
        return seen

    contexts: list[Any] = []
    yield open_site
    for context in contexts:
        context.close()


def console_errors(seen: Visit) -> list[str]:
    return [line for line in seen.console if line.startswith("error:")] + seen.errors


def test_user_one_is_shown_and_the_api_answered_200(visit):
    seen = visit()
    result = seen.look_up("1")
    assert "Test User" in result
    assert "test@example.com" in result
    assert ("GET", 200) in seen.api_calls
    assert all(status == 200 for method, status in seen.api_calls if method == "OPTIONS")
    assert console_errors(seen) == []
    ARTIFACTS.mkdir(exist_ok=True)
    seen.page.screenshot(path=str(ARTIFACTS / "success.png"), full_page=True)


def test_unknown_user_shows_the_404_message(visit):
    seen = visit()
    assert seen.look_up("4242") == 'No user found with ID "4242".'
    assert ("GET", 404) in seen.api_calls


def test_empty_id_shows_the_400_message(visit):
    seen = visit()
    assert seen.look_up("").startswith("Please enter a valid user ID.")
    assert ("GET", 400) in seen.api_calls  # answered by the request validator, readable thanks to CORS


def test_stopped_api_shows_the_network_failure_message(visit, local_stack):
    seen = visit()
    serving = local_stack.serving
    host, port = serving.api.server.server_address[:2]
    app = serving.api.slot.app
    serving.api.stop()
    try:
        assert seen.look_up("1") == "Could not reach the API. Check your connection and try again."
    finally:
        serving.api = bind_server(host, port, "the local API")
        serving.api.slot.app = app
        serving.api.start()
    assert seen.api_calls == []


def test_page_from_an_origin_that_is_not_allowed_is_blocked_by_cors(visit, local_stack):
    """The negative control: the same page from another origin must fail, or the tests above prove nothing."""
    other = bind_server("127.0.0.1", 0, "a second site origin")
    other.slot.app = LocalSite(local_stack.emulator.client("s3"), local_stack.outputs.bucket_name, "index.html")
    other.start()
    try:
        seen = visit(f"{other.origin}/")
        assert seen.look_up("1") == "Could not reach the API. Check your connection and try again."
    finally:
        other.stop()
    assert any("blocked by CORS policy" in line for line in console_errors(seen)), seen.console
    assert "Test User" not in seen.page.inner_text("#result")


# --- the content security policy, as on AWS -------------------------------------------------------------------

TUTORIAL_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tutorial style</title></head>
<body>
  <button id="go" onclick="document.getElementById('out').textContent = 'ran'">Go</button>
  <p id="out">not run</p>
</body></html>
"""


@pytest.fixture(scope="module")
def tutorial_page(local_stack, tmp_path_factory):
    """A page written the tutorial way (an inline onclick), published into the local stack on request."""
    source = tmp_path_factory.mktemp("tutorial") / "web"
    shutil.copytree(WEB, source)
    (source / "tutorial.html").write_text(TUTORIAL_PAGE)
    clients = SiteClients(s3=local_stack.emulator.client("s3"), cloudfront=local_stack.emulator.client("cloudfront"))
    publish_site(Target.from_outputs(local_stack.outputs), source, PublishOptions(allow_csp_violations=True), clients)
    return "tutorial.html"


def click_go(browser, url: str) -> tuple[str, list[str]]:
    context = browser.new_context()
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    try:
        page.goto(url)
        page.click("#go")
        page.wait_for_timeout(300)  # a handler that runs does so at once
        return page.inner_text("#out"), console
    finally:
        context.close()


def test_an_inline_event_handler_is_blocked_locally_as_on_aws(browser, local_stack, tutorial_page):
    text, console = click_go(browser, local_stack.site_url + tutorial_page)
    assert text == "not run"
    # Chromium's wording changes between versions; the kind of violation and the directive do not.
    assert any(
        "inline event handler" in line and "Content Security Policy directive" in line and "default-src 'self'" in line
        for line in console
    ), console


def test_the_same_page_without_the_policy_runs_its_handler(browser, local_stack, tutorial_page):
    """The negative control: served without the headers, the handler runs, so the test above is the CSP's doing."""
    bare = bind_server("127.0.0.1", 0, "a site without the policy")
    bare.slot.app = LocalSite(local_stack.emulator.client("s3"), local_stack.outputs.bucket_name, "index.html")
    bare.start()
    try:
        text, _ = click_go(browser, f"{bare.origin}/{tutorial_page}")
    finally:
        bare.stop()
    assert text == "ran"


def test_the_projects_own_page_works_under_the_policy(visit, local_stack):
    seen = visit()
    assert "Test User" in seen.look_up("1")
    assert not [line for line in seen.console if "Content Security Policy" in line]

"""CORS proven in a real browser: headless Chromium (Debian's package) drives the page served by the local stack.

The site and the API run on different ports, so every API call is cross-origin and the browser enforces CORS
exactly as it would against CloudFront and API Gateway.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from local_stack.servers import bind_server
from local_stack.site import LocalSite

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"


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
        self.page.wait_for_function("!document.getElementById('lookup-button').disabled")
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
    host, port = local_stack.api.server.server_address[:2]
    app = local_stack.api.slot.app
    local_stack.api.stop()
    try:
        assert seen.look_up("1") == "Could not reach the API. Check your connection and try again."
    finally:
        local_stack.api = bind_server(host, port, "the local API")
        local_stack.api.slot.app = app
        local_stack.api.start()
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

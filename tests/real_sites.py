"""Real generators' sites in a real browser: building the fixtures under tests/fixtures/ and recording everything a
page does in Chromium (console, failed loads, responses, document loads), for tests/test_real_site_*.py."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent / "fixtures"
VITE_APP = FIXTURES / "vite-react"
MKDOCS_SITE = FIXTURES / "mkdocs-material"
BUILD_TIMEOUT_SECONDS = 120
# What a page may take to show what it should: everything is on loopback, so a page that is not there in 10 s will
# not come (Playwright's default, 30 s, only makes a failing run slower).
PAGE_TIMEOUT_MS = 10_000


def run_build(command: list[str], cwd: Path) -> None:
    """Run a generator; its own output is the failure message."""
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=BUILD_TIMEOUT_SECONDS, check=False)
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}"


def build_vite_app(out_dir: Path) -> Path:
    """`npm run build` of the Vite + React fixture into `out_dir` (its node_modules come from scripts/setup's
    `npm ci`, so a build never reaches a registry)."""
    assert (VITE_APP / "node_modules").is_dir(), f"{VITE_APP}/node_modules is missing: run scripts/setup"
    run_build(["npm", "run", "build", "--", "--outDir", str(out_dir), "--emptyOutDir"], VITE_APP)
    return out_dir


def build_mkdocs_site(out_dir: Path) -> Path:
    """`mkdocs build --strict` of the mkdocs-material fixture into `out_dir`."""
    run_build(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "-f", "mkdocs.yml", "-d", str(out_dir)],
        MKDOCS_SITE,
    )
    return out_dir


@dataclass(frozen=True)
class Answer:
    """One response the page received."""

    url: str
    status: int
    content_type: str
    resource_type: str


@dataclass
class Recording:
    """Everything one page did: console lines, uncaught errors, failed requests, responses, document loads."""

    page: Any
    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)

    @property
    def document_loads(self) -> list[str]:
        """The URLs the browser loaded as a whole new document (not client-side navigation)."""
        return [a.url for a in self.answers if a.resource_type == "document"]

    @property
    def csp_violations(self) -> list[str]:
        return [line for line in self.console if "Content Security Policy" in line]

    @property
    def problems(self) -> list[str]:
        """Console errors, uncaught exceptions, requests that failed and answers of 400 or more."""
        return (
            [line for line in self.console if line.startswith("error:")]
            + self.errors
            + [f"failed: {url}" for url in self.failed]
            + [f"{a.status}: {a.url}" for a in self.answers if a.status >= 400]
        )

    def answers_for(self, path_prefix: str, site_url: str) -> list[Answer]:
        return [a for a in self.answers if a.url.startswith(site_url.rstrip("/") + path_prefix)]


@contextmanager
def recorded_page(browser: Any) -> Iterator[Recording]:
    """A fresh browser context (no cache, no storage) and its page, recording what it does."""
    context = browser.new_context()
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    page = context.new_page()
    seen = Recording(page)
    page.on("console", lambda message: seen.console.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: seen.errors.append(str(error)))
    page.on("requestfailed", lambda request: seen.failed.append(request.url))
    page.on(
        "response",
        lambda response: seen.answers.append(
            Answer(
                response.url, response.status, response.headers.get("content-type", ""), response.request.resource_type
            )
        ),
    )
    try:
        yield seen
    finally:
        context.close()

"""The site's content security policy with hashes: the inline code of the pages in `site.source_dir`, hashed at
synth as browsers hash it, and the extra origins of `site.csp_sources`, in the stack's response-headers policy;
proven in Chromium, bounded by CloudFront's cap, and planned offline."""

from __future__ import annotations

import http.server
import shutil
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from contract.config import ConfigError, SiteSettings, load_environment
from contract.headers import MAX_CSP_LENGTH, InlineHashes, content_security_policy, csp_hash
from hooks.release import site_inline_hashes
from operations.plan import plan_stack
from terraform_cli import resource_changes
from tests.conftest import synthesize

WEB = Path(__file__).resolve().parent.parent / "web"
# A generator's kind of page: an inline script (with a CR LF, which browsers turn into LF before hashing), a
# <style> block and a style attribute.
PAGE = (
    b"<!doctype html>\n<html><head><title>t</title>\n"
    b"<style>p.x { color: rgb(1, 2, 3) }</style></head>\n"
    b'<body><p class="x" id="p" style="margin-left: 7px">x</p>\n'
    b'<script>document.body.dataset.ran = "yes";\r\nwindow.ranToo = 1;</script>\n'
    b"</body></html>\n"
)
FONTS = ("https://fonts.example.com",)
ANALYTICS = ("https://analytics.example.com",)


def policy_of(stack: Any) -> str:
    headers = stack.only("aws_cloudfront_response_headers_policy")["security_headers_config"]
    policy: str = headers["content_security_policy"]["content_security_policy"]
    return policy


def directive(policy: str, name: str) -> list[str]:
    (found,) = [part.split()[1:] for part in policy.split("; ") if part.split()[0] == name]
    return found


def site_with(tmp_path: Path, page: bytes = PAGE) -> Path:
    source = tmp_path / "site"
    shutil.copytree(WEB, source)
    (source / "index.html").write_bytes(page)
    return source


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Prod synthesized for a site with inline code and extra origins for fonts and an analytics host."""
    source = site_with(tmp_path_factory.mktemp("generated"))
    prod = load_environment("prod", {})
    sources = {"font-src": FONTS, "connect-src": ANALYTICS, "script-src": ANALYTICS, "style-src": FONTS}
    settings = replace(prod, site=replace(prod.site, source_dir=str(source), csp_sources=sources))
    return synthesize([settings], tmp_path_factory.mktemp("generated-out"))["prod"]


# --- the hashes, as browsers compute them --------------------------------------------------------------------------


def test_each_inline_text_is_hashed_as_base64_of_its_utf8_sha256():
    # The example of the CSP Level 3 specification (https://www.w3.org/TR/CSP3/#grammardef-hash-source).
    assert csp_hash("alert('Hello, world.');") == "'sha256-qznLcsROx4GACP2dm0UCKCzCG+HiZ1guq6ZZDob/Tng='"


def test_the_site_hashes_are_of_the_text_as_the_html_parser_hands_it_on(tmp_path):
    hashes = site_inline_hashes(site_with(tmp_path))
    assert hashes == InlineHashes(
        scripts=(csp_hash('document.body.dataset.ran = "yes";\nwindow.ranToo = 1;'),),
        styles=(csp_hash("p.x { color: rgb(1, 2, 3) }"),),
        style_attributes=(csp_hash("margin-left: 7px"),),
    )


def test_the_same_snippet_on_many_pages_is_listed_once(tmp_path):
    source = site_with(tmp_path)
    (source / "guide").mkdir()
    (source / "guide" / "index.html").write_bytes(PAGE)
    assert site_inline_hashes(source).count == 3


# --- in a real browser ----------------------------------------------------------------------------------------------


class _Pages(http.server.BaseHTTPRequestHandler):
    page = b""
    policy = ""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Security-Policy", self.policy)
        self.end_headers()
        self.wfile.write(self.page)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def serve() -> Iterator[Any]:
    """Serve one page with one CSP header on loopback; returns its URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def serving(page: bytes, policy: str) -> str:
        _Pages.page, _Pages.policy = page, policy
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield serving
    server.shutdown()
    server.server_close()


def load(browser: Any, url: str) -> dict[str, Any]:
    """What the page did: whether its script ran, the styles applied, and every CSP violation it reported."""
    context = browser.new_context()
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.add_init_script(
        "window.violations = [];"
        "document.addEventListener('securitypolicyviolation', e => window.violations.push(e.violatedDirective));"
    )
    try:
        page.goto(url)
        return {
            "ran": page.evaluate("document.body.dataset.ran || null"),
            "color": page.evaluate("getComputedStyle(document.getElementById('p')).color"),
            "margin": page.evaluate("getComputedStyle(document.getElementById('p')).marginLeft"),
            "violations": page.evaluate("window.violations"),
            "console": [line for line in console if "Content Security Policy" in line],
        }
    finally:
        context.close()


def test_chromium_runs_the_inline_code_the_generated_policy_lists(browser, serve, tmp_path):
    policy = content_security_policy(None, site_inline_hashes(site_with(tmp_path)))
    seen = load(browser, serve(PAGE, policy))
    assert seen == {"ran": "yes", "color": "rgb(1, 2, 3)", "margin": "7px", "violations": [], "console": []}


@pytest.mark.parametrize(
    ("original", "changed", "blocked", "directive"),
    [
        (b'"yes";', b'"yes!";', ("ran", None), "script-src-elem"),
        (b"rgb(1, 2, 3) }", b"rgb(1, 2, 3)  }", ("color", "rgb(0, 0, 0)"), "style-src-elem"),
        (b"margin-left: 7px", b"margin-left: 7px;", ("margin", "0px"), "style-src-attr"),
    ],
)
def test_chromium_blocks_inline_code_changed_by_one_byte(
    browser, serve, tmp_path, original, changed, blocked, directive
):
    policy = content_security_policy(None, site_inline_hashes(site_with(tmp_path)))
    seen = load(browser, serve(PAGE.replace(original, changed), policy))
    what, value = blocked
    assert seen[what] == value
    assert seen["violations"] == [directive]
    assert len(seen["console"]) == 1


# --- the synthesized policy -----------------------------------------------------------------------------------------


def test_the_policy_of_a_site_without_inline_code_is_unchanged(prod, synthesized):
    assert policy_of(prod) == content_security_policy(_api_origin(prod))
    assert "sha256" not in synthesized["local"].outputs()["content_security_policy"]
    assert "script-src" not in policy_of(prod)
    assert "style-src" not in policy_of(prod)


def _api_origin(stack: Any) -> str:
    (origin,) = [s for s in directive(policy_of(stack), "connect-src") if s != "'self'"]
    return origin


def test_inline_scripts_get_script_src_hashes_and_never_unsafe_keywords(generated):
    script_src = directive(policy_of(generated), "script-src")
    assert script_src == ["'self'", csp_hash('document.body.dataset.ran = "yes";\nwindow.ranToo = 1;'), *ANALYTICS]
    assert not [s for s in script_src if s.startswith("'unsafe-") or "*" in s]


def test_style_blocks_and_attributes_get_style_src_hashes_with_unsafe_hashes(generated):
    assert directive(policy_of(generated), "style-src") == [
        "'self'",
        csp_hash("p.x { color: rgb(1, 2, 3) }"),
        "'unsafe-hashes'",
        csp_hash("margin-left: 7px"),
        *FONTS,
    ]


def test_extra_origins_go_into_their_directives(generated):
    policy = policy_of(generated)
    assert directive(policy, "font-src") == ["'self'", *FONTS]
    assert directive(policy, "connect-src")[-1] == ANALYTICS[0]
    assert directive(policy, "default-src") == ["'self'"]


def test_the_output_the_hook_checks_against_is_the_policy_the_distribution_sends(generated):
    assert generated.outputs()["content_security_policy"] == policy_of(generated)


def test_the_generated_prod_stack_plans_offline_with_the_real_provider(generated, tmp_path):
    plan = plan_stack(generated.workspace, tmp_path / "plan", offline=True)
    changes = resource_changes(plan)
    assert {change.action for change in changes} == {"create"}
    assert len(changes) == sum(len(resources) for resources in generated.config["resource"].values())
    assert [c for c in changes if c.address.startswith("aws_cloudfront_response_headers_policy.")]


# --- CloudFront's cap -----------------------------------------------------------------------------------------------


def many_snippets(tmp_path: Path, count: int) -> Path:
    scripts = "".join(f"<script>window.s{n} = {n};</script>\n" for n in range(count))
    return site_with(tmp_path, f"<!doctype html><html><body>\n{scripts}</body></html>\n".encode())


# https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cloudfront-limits.html
# ("Maximum length of a value for the Content-Security-Policy header: 1,783 characters"): moto does not check it.
def test_a_policy_over_cloudfronts_cap_fails_synth_naming_the_count_and_what_to_change(tmp_path):
    prod = load_environment("prod", {})
    settings = replace(prod, site=replace(prod.site, source_dir=str(many_snippets(tmp_path, 40))))
    with pytest.raises(ConfigError) as error:
        synthesize([settings], tmp_path / "out")
    message = str(error.value)
    assert message.startswith("site.source_dir: the content security policy would be ")
    assert f"characters, and CloudFront allows {MAX_CSP_LENGTH} in a response-headers policy" in message
    assert "40 hash(es) of distinct inline code (40 script(s)" in message
    assert "move inline scripts and styles into .js and .css files" in message
    assert "or list fewer origins" in message


def test_the_cap_is_counted_with_the_api_origin_as_long_as_it_will_be(tmp_path):
    """The policy names the API's origin, a Terraform reference at synth: counted at its real length (a 10
    character id), a site just under the cap that way passes, one character more fails."""
    from modules.frontend import SiteApi, site_content_security_policy

    origin = "https://abcdefghij.execute-api.eu-north-1.amazonaws.com"
    api = SiteApi(origin="${TfToken[TOKEN.1]}", domain="", origin_path="", path="", counted_origin=origin)
    source = many_snippets(tmp_path, 1)
    base = len(content_security_policy(origin, site_inline_hashes(source)))
    room = MAX_CSP_LENGTH - base - len(" https://.io")  # what one more img-src origin may take
    fits = SiteSettings(source_dir=str(source), csp_sources={"img-src": (f"https://{'a' * room}.io",)})
    assert len(content_security_policy(origin, site_inline_hashes(source), fits.csp_sources)) == MAX_CSP_LENGTH
    site_content_security_policy(fits, api)
    over = replace(fits, csp_sources={"img-src": (f"https://{'a' * (room + 1)}.io",)})
    with pytest.raises(ConfigError, match=f"would be {MAX_CSP_LENGTH + 1} characters"):
        site_content_security_policy(over, api)


def test_a_missing_site_folder_fails_synth_naming_the_setting_and_the_build(tmp_path):
    prod = load_environment("prod", {})
    site = replace(prod.site, source_dir="dist", build_command="npm ci && npm run build")
    with pytest.raises(ConfigError) as error:
        synthesize([replace(prod, site=site)], tmp_path / "out")
    message = str(error.value)
    assert message.startswith("site.source_dir: 'dist' cannot be read (")
    assert "site.build_command ('npm ci && npm run build') builds it" in message
    assert "`pipenv run deploy` runs it before synth" in message


# --- the setting -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sources",
    [
        {"script-src": ("https://*.example.com",)},
        {"script-src": ("*",)},
        {"script-src": ("'unsafe-inline'",)},
        {"style-src": ("'unsafe-eval'",)},
        {"script-src": ("data:",)},
        {"img-src": ("http://images.example.com",)},
        {"font-src": ("https://fonts.example.com/path",)},
        {"default-src": ("https://example.com",)},
        {"font-src": "https://fonts.example.com"},
        {"font-src": ("https://a.example.com", "https://a.example.com")},
    ],
)
def test_csp_sources_refuses_what_would_let_more_than_a_host(sources):
    with pytest.raises(ConfigError) as error:
        SiteSettings(csp_sources=sources)
    assert str(error.value).startswith(f"site.csp_sources: {sources!r} is not allowed; allowed values: a mapping ")
    assert "font-src" in str(error.value)
    assert "https origins" in str(error.value)


def test_csp_sources_takes_https_origins_and_data_outside_scripts():
    sources = {"font-src": ("https://fonts.example.com", "data:"), "connect-src": ("https://a.example.com:8443",)}
    assert SiteSettings(csp_sources=sources).csp_sources == sources

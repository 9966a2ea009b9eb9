"""The hook checks pages against the site's content security policy before publishing: each thing the policy would
block is one line naming the file, the line and the fix; by default nothing is uploaded then."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders

from contract.headers import InlineHashes, content_security_policy, csp_hash
from hooks.post_apply import main
from hooks.release import build_release
from tests.publishing import API_URL, hook_argv, make_site, objects, run, stack_outputs

API_ORIGIN = "https://abc123.execute-api.eu-north-1.amazonaws.com"
CSP = content_security_policy(API_ORIGIN)


@pytest.fixture
def site(aws, tmp_path):
    return make_site(aws, tmp_path)


def with_body(site, html: str, head: str = "") -> None:
    index = site["source"] / "index.html"
    index.write_text(index.read_text().replace("</head>", f"{head}</head>").replace("</main>", f"{html}</main>"))


def line_of(site, text: str) -> int:
    lines = (site["source"] / "index.html").read_text().splitlines()
    return next(number for number, line in enumerate(lines, 1) if text in line)


def findings(site, csp: str = CSP) -> list[str]:
    release = build_release(site["source"], API_URL)
    return [str(f) for f in release.csp_findings(csp, "https://d1.cloudfront.net")]


# --- what the policy blocks -------------------------------------------------------------------------------------


def test_the_projects_own_pages_pass_the_policy_of_each_mode(site):
    assert findings(site) == []
    assert [
        str(f) for f in build_release(site["source"], "/users").csp_findings(content_security_policy(None), None)
    ] == []


def test_an_inline_event_handler_is_one_line_naming_the_file_the_line_and_the_fix(site):
    with_body(site, '\n<button onclick="fetchUser()">Get</button>\n')
    assert findings(site) == [
        f"web/index.html:{line_of(site, 'onclick')}: onclick attribute: inline event handlers are blocked by "
        "default-src 'self'; move it into a script file (addEventListener)"
    ]


@pytest.mark.parametrize(
    ("html", "what", "blocked"),
    [
        ("<script>fetchUser()</script>", "inline script", "inline scripts are blocked by default-src 'self'"),
        ('<a href="javascript:fetchUser()">x</a>', "javascript: URL", "javascript: URLs are blocked by"),
        ('<p style="color: red">x</p>', "style attribute", "inline styles are blocked by default-src 'self'"),
        ("<style>p { color: red }</style>", "<style> block", "inline <style> blocks are blocked by"),
        (
            '<script src="https://cdn.example.com/lib.js"></script>',
            "<script src>",
            "scripts from https://cdn.example.com are blocked by default-src 'self'",
        ),
        (
            '<img src="https://images.example.com/a.png" alt="">',
            "<img src>",
            "images from https://images.example.com are blocked by img-src 'self' data:",
        ),
        (
            '<form action="https://collect.example.com/"></form>',
            "<form action>",
            "forms posting to https://collect.example.com are blocked by form-action 'self'",
        ),
    ],
)
def test_each_kind_of_inline_code_and_foreign_origin_is_found(site, html, what, blocked):
    with_body(site, f"\n{html}\n")
    (finding,) = findings(site)
    assert finding.startswith(f"web/index.html:{line_of(site, html[:12])}: {what}: {blocked}")


def test_stylesheets_and_fonts_from_other_hosts_are_found(site):
    with_body(
        site,
        "",
        head='\n<link rel="stylesheet" href="https://fonts.example.com/css2">\n'
        '<link rel="preload" href="https://fonts.example.com/a.woff2" as="font">\n',
    )
    assert [f.split(": ", 2)[2].split(" are ")[0] for f in findings(site)] == [
        "stylesheets from https://fonts.example.com",
        "fonts from https://fonts.example.com",
    ]


def test_a_font_a_stylesheet_loads_from_another_host_is_found(site):
    css = site["source"] / "style.css"
    css.write_text(css.read_text() + "\n@font-face { font-family: X; src: url(https://fonts.example.com/x.woff2); }\n")
    (finding,) = findings(site)
    assert finding.startswith("web/style.css:")
    assert "fonts from https://fonts.example.com are blocked by default-src 'self'" in finding


def test_api_calls_to_an_origin_the_policy_does_not_name_are_found(site):
    release = build_release(site["source"], "https://other-api.example.com/prod/users")
    (finding,) = [str(f) for f in release.csp_findings(CSP, None)]
    assert finding == (
        "web/config.js:1: apiUrl (the generated config): API calls to https://other-api.example.com "
        f"are blocked by connect-src 'self' {API_ORIGIN}; publish the page with the stack whose API "
        "it calls"
    )


def test_data_urls_for_images_and_data_scripts_are_allowed(site):
    with_body(
        site,
        '\n<img src="data:image/png;base64,iVBORw0KGgo=" alt="">\n'
        '<script type="application/ld+json">{"@type": "WebSite"}</script>\n',
    )
    assert findings(site) == []


# --- inline code the policy lists by hash ----------------------------------------------------------------------

PAGE_CODE = (
    '\n<script>document.body.dataset.ran = "yes";</script>\n'
    "<style>main { color: rebeccapurple }</style>\n"
    '<p style="margin: 0">x</p>\n'
)


def policy_for(site, **sources: tuple[str, ...]) -> str:
    """The policy the stack synthesizes for the site's folder as it is now (hooks.release.site_inline_hashes)."""
    from hooks.release import site_inline_hashes

    return content_security_policy(API_ORIGIN, site_inline_hashes(site["source"]), sources)


def test_inline_scripts_styles_and_style_attributes_whose_hashes_the_policy_lists_pass(site):
    with_body(site, PAGE_CODE)
    csp = policy_for(site)
    assert findings(site, csp) == []
    assert "script-src 'self' 'sha256-" in csp
    assert "'unsafe-hashes'" in csp.split("; style-src ")[1].split(";")[0]


def test_inline_code_changed_by_one_byte_is_refused_naming_its_hash_and_the_redeploy(site):
    with_body(site, PAGE_CODE)
    csp = policy_for(site)
    index = site["source"] / "index.html"
    index.write_text(index.read_text().replace('"yes"', '"yes!"'))
    release = build_release(site["source"], API_URL)
    (finding,) = [str(f) for f in release.csp_findings(csp, "https://d1.cloudfront.net", "prod")]
    changed = csp_hash('document.body.dataset.ran = "yes!";')
    assert finding == (
        f"web/index.html:{line_of(site, 'dataset.ran')}: inline script: inline scripts are blocked by script-src "
        f"'self' (and 1 hash(es)); its hash {changed} is not in the "
        "policy: redeploy (pipenv run deploy prod) so that the policy lists the hashes of the site's inline code, "
        "or move it into a .js file loaded with <script src>"
    )


def test_a_style_attribute_needs_unsafe_hashes_beside_its_hash(site):
    with_body(site, '\n<p style="margin: 0">x</p>\n')
    without = content_security_policy(API_ORIGIN, InlineHashes(styles=(csp_hash("margin: 0"),)))
    (finding,) = findings(site, without)
    assert "style attribute: inline styles are blocked by style-src 'self' (and 1 hash(es))" in finding
    assert findings(site, policy_for(site)) == []


def test_event_handlers_and_javascript_urls_stay_refused_whatever_the_policy_lists(site):
    with_body(site, '\n<button onclick="go()">Go</button>\n<a href="javascript:go()">Go</a>\n')
    csp = policy_for(site)
    assert "script-src" not in csp  # nothing for the policy to list: handlers get no hash
    listed = content_security_policy(API_ORIGIN, InlineHashes(scripts=(csp_hash("go()"), csp_hash("javascript:go()"))))
    found = findings(site, listed)
    assert [f.split(":", 2)[2].split(": inline")[0].split(": javascript")[0].strip() for f in found] == [
        "onclick attribute",
        "javascript: URL",
    ]
    assert all("addEventListener" in f and "redeploy" not in f for f in found)


def test_inline_data_scripts_get_no_hash(site):
    with_body(site, '\n<script type="application/json">{"a": 1}</script>\n')
    assert policy_for(site) == CSP


def test_a_font_from_another_origin_names_the_setting_to_add_it_to(site):
    with_body(site, "", head='\n<link rel="stylesheet" href="https://fonts.example.com/css2">\n')
    release = build_release(site["source"], API_URL)
    (finding,) = [str(f) for f in release.csp_findings(CSP, "https://d1.cloudfront.net", "prod")]
    assert finding.endswith(
        "stylesheets from https://fonts.example.com are blocked by default-src 'self'; add "
        '"https://fonts.example.com" to site.csp_sources["style-src"] and redeploy (pipenv run deploy prod), or '
        "publish the file with the site"
    )
    assert findings(site, policy_for(site, **{"style-src": ("https://fonts.example.com",)})) == []


# --- what the hook does with them -------------------------------------------------------------------------------


def test_findings_stop_the_publish_before_anything_is_uploaded(aws, site, capsys):
    with_body(site, '\n<button onclick="fetchUser()">Get</button>\n')
    code, _ = run(site, "--csp", CSP)
    assert code == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith(
        "post_apply: error: 1 thing(s) in the pages would be blocked by the site's content "
        "security policy; nothing was published"
    )
    assert err[1].startswith("web/index.html:")
    assert objects(aws, site["bucket"]) == {}


def test_a_refused_publish_leaves_the_live_site_as_it_was(aws, site, capsys):
    run(site, "--csp", CSP)
    live = objects(aws, site["bucket"])["index.html"]["Body"].read()
    with_body(site, "<script>alert(1)</script>")
    assert run(site, "--csp", CSP)[0] == 1
    assert objects(aws, site["bucket"])["index.html"]["Body"].read() == live


def test_allowing_violations_publishes_and_prints_them_as_warnings(aws, site, capsys):
    with_body(site, '\n<button onclick="fetchUser()">Get</button>\n')
    assert run(site, "--csp", CSP, "--allow-csp-violations")[0] == 0
    assert "index.html" in objects(aws, site["bucket"])
    code = main(hook_argv(site, "--csp", CSP, "--allow-csp-violations"))
    assert code == 0
    out = capsys.readouterr().out
    assert "warning: web/index.html:" in out
    assert "onclick attribute" in out


def test_dry_run_and_json_include_the_findings(aws, site, capsys):
    with_body(site, '\n<p style="color: red">x</p>\n')
    code, summary = run(site, "--csp", CSP, "--dry-run", "--allow-csp-violations", capsys=capsys)
    assert code == 0
    (finding,) = summary["csp_findings"]
    assert "style attribute: inline styles are blocked" in finding
    code, error = run(site, "--csp", CSP, capsys=capsys)
    assert code == 1
    assert error["csp_findings"] == [finding]
    assert error["error"].startswith("1 thing(s) in the pages would be blocked")


def test_the_policy_comes_from_the_stacks_outputs(aws, site, tmp_path, capsys):
    outputs = tmp_path / "outputs.json"
    stack_outputs(site, csp=CSP).to_outputs_file(outputs, "prod")
    with_body(site, "<script>alert(1)</script>")
    assert main(["--outputs-file", str(outputs), "--source", str(site["source"]), "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["csp_findings"][0].endswith(
        f"inline scripts are blocked by default-src 'self'; its hash {csp_hash('alert(1)')} is not in the "
        "policy: redeploy (pipenv run deploy <stack>) so that the policy lists the hashes of the site's inline "
        "code, or move it into a .js file loaded with <script src>"
    )


# --- explicit values: the live policy ----------------------------------------------------------------------------


def serving_a_policy(aws, csp: str) -> Any:
    """A session whose distribution reads back with a response-headers policy sending `csp` (moto has no such
    API: its GetDistributionConfig answer gains the policy's id, and GetResponseHeadersPolicy answers here)."""
    session = boto3.session.Session()

    def add_policy(parsed: dict[str, Any], **_: Any) -> None:
        parsed["DistributionConfig"]["DefaultCacheBehavior"]["ResponseHeadersPolicyId"] = "site-headers"

    def answer_policy(params: dict[str, Any], **_: Any) -> Any:  # (response, parsed): botocore uses it as the answer
        assert params["url_path"].endswith("/response-headers-policy/site-headers")
        config = {"Name": "site", "SecurityHeadersConfig": {"ContentSecurityPolicy": {"ContentSecurityPolicy": csp}}}
        parsed = {"ResponseHeadersPolicy": {"Id": "site-headers", "ResponseHeadersPolicyConfig": config}}
        return AWSResponse("https://cloudfront.amazonaws.com", 200, HTTPHeaders(), None), parsed

    session.events.register("after-call.cloudfront.GetDistributionConfig", add_policy)
    session.events.register("before-call.cloudfront.GetResponseHeadersPolicy", answer_policy)
    return session


def test_explicit_values_without_a_policy_are_checked_against_the_live_one(aws, site, capsys):
    with_body(site, "<script>alert(1)</script>")
    code, error = run(site, session=serving_a_policy(aws, CSP), capsys=capsys)
    assert code == 1
    assert error["csp_findings"][0].endswith(
        "redeploy (pipenv run deploy <stack>) so that the policy lists the hashes of the site's inline code, or "
        "move it into a .js file loaded with <script src>"
    )
    assert objects(aws, site["bucket"]) == {}


def test_a_live_policy_that_cannot_be_read_is_one_warning_naming_what_was_not_checked(aws, site, capsys):
    code = main(hook_argv(site))  # moto has no response-headers-policy API
    err = capsys.readouterr().err
    assert code == 0
    assert err.count("\n") == 1
    assert err.startswith("post_apply: warning: the pages were not checked against a content security policy: ")
    assert "pass --csp or --outputs-file to check them" in err


def test_a_given_policy_is_used_without_reading_the_live_one(aws, site, capsys):
    code, _ = run(site, "--csp", CSP, capsys=capsys)
    assert code == 0
    assert "warning" not in capsys.readouterr().err

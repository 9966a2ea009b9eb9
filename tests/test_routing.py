"""The site's routing (contract/routing.py): one table of cases (tests/routing_cases.json), run against the Python
definition local mode's site server uses and against the CloudFront Function's real JavaScript in Node.

CloudFront Functions' limits (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cloudfront-limits.html#limits-functions):
10 KB of code; runtime 2.0 (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/functions-javascript-runtime-20.html)
has no network and no modules, which running the code in a context without `require` proves.
"""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from contract.config import ConfigError, SiteSettings
from contract.routing import MAX_FUNCTION_BYTES, ROUTER_SOURCE, RoutingSettings, not_found_page, render_router, route

HERE = Path(__file__).resolve().parent
CASES: list[dict[str, Any]] = json.loads((HERE / "routing_cases.json").read_text())["cases"]
HARNESS = HERE / "site_router_harness.js"
EVERY_SETTINGS = [
    RoutingSettings(index, spa) for index, spa in itertools.product(("index.html", "default.html"), (False, True))
]


def settings_of(case: dict[str, Any]) -> RoutingSettings:
    return RoutingSettings(single_page_app=case.get("single_page_app", False))


def run_in_node(code: str, requests: list[dict[str, str]]) -> list[dict[str, Any]]:
    """The rendered function's answers, from Node, to viewer requests for these uris and raw query strings."""
    node = shutil.which("node")
    assert node, "node is not on PATH"
    done = subprocess.run(
        [node, str(HARNESS)],
        input=json.dumps({"code": code, "requests": requests}),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    answers: list[dict[str, Any]] = json.loads(done.stdout)
    return answers


def as_decision(answer: dict[str, Any], uri: str) -> dict[str, str]:
    if answer["status"] == 301:
        return {"action": "redirect", "uri": answer["location"]}
    return {"action": "pass" if answer["uri"] == uri else "rewrite", "uri": answer["uri"]}


@pytest.fixture(scope="module")
def node_decisions() -> dict[str, dict[str, str]]:
    """Every case's decision by the JavaScript, one Node run per settings."""
    decisions: dict[str, dict[str, str]] = {}
    for spa in (False, True):
        cases = [c for c in CASES if c.get("single_page_app", False) == spa]
        code = render_router(RoutingSettings(single_page_app=spa))
        answers = run_in_node(code, [{"uri": c["uri"], "query": c.get("query", "")} for c in cases])
        decisions |= {c["name"]: as_decision(a, c["uri"]) for c, a in zip(cases, answers, strict=True)}
    return decisions


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_the_python_routing_decides_every_case_of_the_table(case):
    decision = route(settings_of(case), case["uri"], case.get("query", ""))
    assert {"action": decision.action, "uri": decision.uri} == case["expected"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_the_cloudfront_function_decides_every_case_of_the_table(node_decisions, case):
    assert node_decisions[case["name"]] == case["expected"]


def test_the_function_answers_a_redirect_with_301_and_moved_permanently():
    code = render_router(RoutingSettings()) + "\n;handler({request: {uri: '/a', querystring: {}}})"
    script = f"console.log(JSON.stringify(require('vm').runInNewContext({json.dumps(code)}, {{}})))"
    result = subprocess.run(["node", "-e", script], capture_output=True, text=True, check=True)
    assert json.loads(result.stdout) == {
        "statusCode": 301,
        "statusDescription": "Moved Permanently",
        "headers": {"location": {"value": "/a/"}},
    }


def test_a_rewritten_request_keeps_its_query_string_for_the_origin():
    (answer,) = run_in_node(render_router(RoutingSettings()), [{"uri": "/guide/", "query": "v=1&v=2"}])
    assert answer["querystring"] == {"v": {"value": "1", "multiValue": [{"value": "1"}, {"value": "2"}]}}


def test_the_rendered_settings_reach_the_function():
    (answer,) = run_in_node(render_router(RoutingSettings("default.html", True)), [{"uri": "/users/1"}])
    assert answer["uri"] == "/default.html"


@pytest.mark.parametrize("settings", EVERY_SETTINGS, ids=str)
def test_the_rendered_code_is_within_cloudfront_functions_10_kb(settings):
    assert len(render_router(settings).encode()) <= MAX_FUNCTION_BYTES


@pytest.mark.parametrize("settings", EVERY_SETTINGS, ids=str)
def test_the_rendered_code_has_nothing_terraform_would_interpolate(settings):
    """The code goes into Terraform JSON as a string: `${` and `%{` there would be template syntax."""
    code = render_router(settings)
    assert "${" not in code
    assert "%{" not in code


def test_rendering_changes_only_the_settings_line():
    source = ROUTER_SOURCE.read_text()
    rendered = render_router(RoutingSettings(single_page_app=True))
    changed = [(a, b) for a, b in zip(source.splitlines(), rendered.splitlines(), strict=True) if a != b]
    assert changed == [
        (
            'const SETTINGS = { indexDocument: "index.html", singlePageApp: false };',
            'const SETTINGS = {"indexDocument": "index.html", "singlePageApp": true};',
        )
    ]


def test_rendering_refuses_a_source_without_its_settings_line():
    with pytest.raises(ValueError, match="const SETTINGS"):
        render_router(RoutingSettings(), "function handler(event) { return event.request; }")


def test_the_function_needs_no_module():
    assert "require(" not in ROUTER_SOURCE.read_text()


def test_the_404_page_is_served_only_where_it_touches_nothing_but_the_bucket():
    assert not_found_page(SiteSettings()) == "404.html"
    assert not_found_page(SiteSettings(api_same_origin=True)) is None
    assert not_found_page(SiteSettings(single_page_app=True)) is None
    assert not_found_page(SiteSettings(not_found_page=None)) is None
    assert not_found_page(SiteSettings(not_found_page="errors/missing.html")) == "errors/missing.html"


@pytest.mark.parametrize("page", ["/404.html", "../404.html", "404", "a/../404.html", "404.html\n", ""])
def test_the_404_page_setting_is_validated(page):
    with pytest.raises(ConfigError, match=r"site\.not_found_page"):
        SiteSettings(not_found_page=page)

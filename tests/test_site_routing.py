"""The site's routing in the synthesized stack: the CloudFront Function on the default behavior only, and the
site's 404 page only where an error page touches nothing but the bucket. moto has no CloudFront Functions API, so
these rules are checked here, over the JSON, and by an offline plan with the real provider.

AWS pages: CloudFront Functions quotas, 10 KB of code
(https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cloudfront-limits.html#limits-functions);
JavaScript runtime 2.0, `cloudfront-js-2.0`
(https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/functions-javascript-runtime-20.html);
the LIVE stage a distribution runs is what publishing updates
(https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/publish-function.html);
custom error responses apply to the whole distribution, every origin
(https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/GeneratingCustomErrorResponses.html).
"""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from contract.config import load_environment
from contract.routing import MAX_FUNCTION_BYTES, RoutingSettings, render_router
from hooks.invalidation import BRIEF_ERROR_CACHING_SECONDS
from operations.plan import plan_stack
from terraform_cli import resource_changes
from tests.conftest import synthesize

FUNCTION = "aws_cloudfront_function"
DISTRIBUTION = "aws_cloudfront_distribution"
# CreateFunction: a name of 1-64 letters, digits, '-' or '_'; a comment of at most 128 characters. moto checks
# neither (it has no CloudFront Functions API), the provider's validation only the name's length.
# (https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_CreateFunction.html,
# https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_FunctionConfig.html)
FUNCTION_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
MAX_FUNCTION_COMMENT = 128


@pytest.fixture(scope="module")
def variants(tmp_path_factory):
    """Prod in single-page-app mode, and in same-origin mode, synthesized once."""
    prod = load_environment("prod", {})
    settings = {
        "spa": replace(prod, site=replace(prod.site, single_page_app=True)),
        "same_origin": replace(prod, site=replace(prod.site, api_same_origin=True)),
        "no_404": replace(prod, site=replace(prod.site, not_found_page=None)),
    }
    return {name: synthesize([s], tmp_path_factory.mktemp(name))["prod"] for name, s in settings.items()}


def distribution(stack):
    return stack.only(DISTRIBUTION)


def test_the_router_runs_on_cloudfront_js_2_0_and_is_published(prod):
    router = prod.only(FUNCTION)
    assert router["runtime"] == "cloudfront-js-2.0"
    assert router["publish"] is True
    assert router["name"] == "three-tier-prod-site-router"


def test_the_routers_name_and_comment_are_what_cloudfront_accepts_with_the_longest_names(tmp_path):
    # The longest resource-name prefix the settings allow: a 21-character project and a preview, 30 together.
    longest = replace(load_environment("preview-a", {}), project="p" * 21)
    router = synthesize([longest], tmp_path)["preview-a"].only(FUNCTION)
    assert router["name"] == f"{'p' * 21}-preview-a-site-router"
    assert FUNCTION_NAME.fullmatch(router["name"])
    assert len(router["comment"]) <= MAX_FUNCTION_COMMENT


def test_the_routers_code_is_the_rendered_file(prod, variants):
    assert prod.only(FUNCTION)["code"] == render_router(RoutingSettings())
    assert variants["spa"].only(FUNCTION)["code"] == render_router(RoutingSettings(single_page_app=True))


def test_the_routers_code_is_within_10_kb(prod, variants):
    for stack in (prod, variants["spa"]):
        assert len(stack.only(FUNCTION)["code"].encode()) <= MAX_FUNCTION_BYTES


def test_the_router_runs_at_viewer_request_of_the_default_behavior(prod):
    associations = distribution(prod)["default_cache_behavior"]["function_association"]
    assert associations == [{"event_type": "viewer-request", "function_arn": prod.ref(FUNCTION, "arn")}]


def test_the_api_path_never_runs_the_router(variants):
    (api_behavior,) = distribution(variants["same_origin"])["ordered_cache_behavior"]
    assert "function_association" not in api_behavior
    assert distribution(variants["same_origin"])["default_cache_behavior"]["function_association"]


def test_the_local_environment_leaves_the_router_out_of_the_emulator(local):
    assert local.resources(FUNCTION) == {}
    assert "function_association" not in distribution(local)["default_cache_behavior"]


def test_a_missing_page_gets_the_sites_404_page_with_status_404(prod):
    assert distribution(prod)["custom_error_response"] == [
        {"error_code": 404, "response_code": 404, "response_page_path": "/404.html", "error_caching_min_ttl": 10}
    ]


def test_the_404_page_is_cached_briefly_so_new_paths_need_no_invalidation(prod):
    """hooks/invalidation.py leaves never-live paths out only while the distribution caches errors briefly."""
    (response,) = distribution(prod)["custom_error_response"]
    assert response["error_caching_min_ttl"] <= BRIEF_ERROR_CACHING_SECONDS


@pytest.mark.parametrize("variant", ["spa", "same_origin", "no_404"])
def test_no_error_page_where_it_would_touch_more_than_the_bucket(variants, variant):
    """Same-origin: the API's own 404 answers reach the page unchanged. Single-page app: a missing script stays a
    404 that is not HTML. Error pages are distribution-wide, so these modes get none."""
    assert "custom_error_response" not in distribution(variants[variant])


@pytest.mark.parametrize("variant", ["spa", "same_origin", "no_404"])
def test_nothing_maps_an_error_to_the_index_page(prod, variants, variant):
    for stack in (prod, variants[variant]):
        for response in distribution(stack).get("custom_error_response", []):
            assert response["response_page_path"] != "/index.html"


@pytest.fixture(scope="module")
def spa_plan(variants, tmp_path_factory):
    return plan_stack(variants["spa"].workspace, tmp_path_factory.mktemp("spa-plan"), offline=True)


@pytest.fixture(scope="module")
def prod_plan(prod, tmp_path_factory):
    return plan_stack(prod.workspace, tmp_path_factory.mktemp("prod-plan"), offline=True)


def planned_router(plan) -> dict:
    (change,) = [c for c in plan["resource_changes"] if c["type"] == FUNCTION]
    return change["change"]["after"]


def test_prod_with_the_router_and_the_404_page_plans_offline_with_the_real_provider(prod, prod_plan):
    assert {change.action for change in resource_changes(prod_plan)} == {"create"}
    assert planned_router(prod_plan)["code"] == render_router(RoutingSettings())
    (planned,) = [c for c in prod_plan["resource_changes"] if c["type"] == DISTRIBUTION]
    assert [r["response_page_path"] for r in planned["change"]["after"]["custom_error_response"]] == ["/404.html"]


def test_prod_in_single_page_app_mode_plans_offline_with_the_real_provider(spa_plan):
    assert {change.action for change in resource_changes(spa_plan)} == {"create"}
    assert planned_router(spa_plan)["code"] == render_router(RoutingSettings(single_page_app=True))

"""The same-origin option in local mode: the site origin routes /users to the API, as the deployed distribution
says, and the page calls a relative URL — no CORS, no preflight.

The stack is this module's own, with names of its own (`project`), in an emulator that is an account of its own;
its last test tears it down.
"""

from __future__ import annotations

import json
import re
import urllib.request

import pytest

from tests.conftest import running_local_stack


@pytest.fixture(scope="module")
def same_origin_stack(tmp_path_factory):
    with running_local_stack(tmp_path_factory.mktemp("same-origin"), same_origin=True, project="sameorigin") as stack:
        yield stack


def get(url: str) -> tuple[int, dict, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, dict(response.headers), response.read()


def test_page_is_published_with_a_relative_api_url(same_origin_stack):
    _, _, html = get(same_origin_stack.site_url)
    (config,) = re.findall(r'src="(config\.[0-9a-f]{12}\.js)"', html.decode())
    _, _, body = get(same_origin_stack.site_url + config)
    assert json.loads(body.decode().split("=", 1)[1].rstrip().rstrip(";")) == {"apiUrl": "/users"}


def test_site_origin_answers_the_api_path_through_the_deployed_route(same_origin_stack):
    status, _, body = get(same_origin_stack.site_url + "users?userId=1")
    assert status == 200
    assert json.loads(body) == {"userId": "1", "name": "Test User", "email": "test@example.com"}


def test_browser_calls_its_own_origin_with_no_preflight(same_origin_stack, browser):
    context = browser.new_context()
    page = context.new_page()
    requests = []
    page.on("request", lambda request: requests.append((request.method, request.url)))
    try:
        page.goto(same_origin_stack.site_url)
        page.fill("#user-id", "1")
        page.click("#lookup-button")
        page.wait_for_selector("#lookup-button:not([disabled])")  # a selector: the CSP forbids eval, so no JS predicate
        assert "Test User" in page.inner_text("#result")
    finally:
        context.close()
    api_calls = [(method, url) for method, url in requests if "/users" in url]
    assert api_calls == [("GET", same_origin_stack.site_url + "users?userId=1")]
    assert all(url.startswith(same_origin_stack.site_url) for _, url in requests)


# --- tear-down (the module's last test) ---------------------------------------------------------------------------


def test_destroy_removes_everything(same_origin_stack):
    """Destroy right after the tests above: it stops the deferred apply if that is still running (it usually is,
    waiting on the bucket's lifecycle rules), then destroys everything the state holds."""
    outputs, emulated = same_origin_stack.outputs, same_origin_stack.emulator
    same_origin_stack.destroy()
    assert outputs.table_name not in emulated.client("dynamodb").list_tables()["TableNames"]
    functions = [f["FunctionName"] for f in emulated.client("lambda").list_functions()["Functions"]]
    assert outputs.function_name not in functions
    assert outputs.api_id not in [a["id"] for a in emulated.client("apigateway").get_rest_apis()["items"]]
    assert outputs.bucket_name not in [b["Name"] for b in emulated.client("s3").list_buckets()["Buckets"]]
    roles = [r["RoleName"] for r in emulated.client("iam").list_roles()["Roles"]]
    assert f"{outputs.function_name}-role" not in roles
    prefix = f"/aws/lambda/{same_origin_stack.settings.name_prefix}"
    assert emulated.client("logs").describe_log_groups(logGroupNamePrefix=prefix)["logGroups"] == []
    name_prefix = same_origin_stack.settings.name_prefix
    assert emulated.client("cloudwatch").describe_alarms(AlarmNamePrefix=name_prefix)["MetricAlarms"] == []
    topics = [t["TopicArn"] for t in emulated.client("sns").list_topics()["Topics"]]
    assert not [arn for arn in topics if name_prefix in arn]
    assert json.loads(same_origin_stack.state_file.read_text())["resources"] == []

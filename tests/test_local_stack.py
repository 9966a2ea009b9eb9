"""The whole stack applied by real Terraform into the emulator, published, and served locally (`pipenv run local`).

One deployment per test session and worker (the `local_stack` fixture); tearing a stack down is tested on a stack
of its own (tests/test_same_origin_local.py).
"""

from __future__ import annotations

import configparser
import http.client
import io
import json
import os
import re
import socket
import threading
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

import pytest

from contract.outputs import StackOutputs
from local_stack import run
from local_stack.deployment import constant_outputs
from local_stack.emulator import deployed_function_code
from local_stack.packaging import function_package
from local_stack.stack import LocalOptions, LocalStack, LocalStackError

PROJECT = Path(__file__).resolve().parent.parent
# What moto changes on the distribution after apply (see docs/local-mode.md, "How local mode differs from AWS").
EMULATOR_DRIFT = {"origin", "default_cache_behavior", "viewer_certificate"}


def fetch(url: str, method: str = "GET", headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def users(local_stack, query: str = "") -> tuple[int, dict[str, str], Any]:
    status, headers, body = fetch(local_stack.api_url + query)
    return status, headers, json.loads(body)


def site_origin(local_stack) -> str:
    return str(local_stack.site_url.rstrip("/"))


@pytest.fixture
def emulated(local_stack):
    """Clients of the local stack's own emulator."""
    return local_stack.emulator


# --- what it prints and writes ----------------------------------------------------------------------------------


def test_urls_are_on_loopback_on_two_ports(local_stack):
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", local_stack.site_url)
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/local/users", local_stack.api_url)
    assert local_stack.serving.site.origin != local_stack.serving.api.origin


def test_every_phase_is_timed(local_stack):
    assert list(local_stack.timings) == ["synth", "init", "apply", "publish"]
    assert all(seconds > 0 for seconds in local_stack.timings.values())


def test_the_applied_configuration_itself_sends_every_service_to_the_emulator(local_stack):
    """Terraform run by hand in the work dir, or `operations drift local`, has none of local mode's environment:
    the emulator must be named by the configuration, whatever the shared provider was started with."""
    (provider,) = local_stack.workspace.config()["provider"]["aws"]
    assert provider["shared_config_files"] == ["${path.module}/emulator.aws-config"]
    profile = configparser.ConfigParser()
    profile.read_string(local_stack.workspace.emulator_config_file.read_text())
    assert profile[f"profile {provider['profile']}"]["endpoint_url"] == local_stack.emulator_url


def test_the_foreground_apply_reattached_to_a_shared_provider_that_still_runs(local_stack):
    shared = local_stack.deployment.shared_provider
    assert shared is not None
    assert shared.alive()  # any failure or stop would have killed it


def test_the_stack_outputs_name_the_local_servers(local_stack):
    outputs = StackOutputs.from_outputs_file(local_stack.outputs_file, "local")
    assert outputs == local_stack.outputs
    assert outputs.site_url == f"{local_stack.serving.site.origin}/"
    assert outputs.api_url == f"{local_stack.serving.api.origin}/local/users"
    assert outputs.page_api_url == outputs.api_url


# --- the site origin ------------------------------------------------------------------------------------------


def test_site_root_serves_the_published_page(local_stack):
    status, headers, body = fetch(local_stack.site_url)
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Cache-Control"] == "no-cache"
    assert b"User lookup" in body


def test_site_serves_fingerprinted_assets_as_immutable(local_stack):
    _, _, html = fetch(local_stack.site_url)
    (script,) = re.findall(r'src="(script\.[0-9a-f]{12}\.js)"', html.decode())
    status, headers, _ = fetch(local_stack.site_url + script)
    assert status == 200
    assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert headers["Content-Type"] == "text/javascript; charset=utf-8"


def test_published_config_points_at_the_local_gateway(local_stack):
    _, _, html = fetch(local_stack.site_url)
    (config,) = re.findall(r'src="(config\.[0-9a-f]{12}\.js)"', html.decode())
    _, _, body = fetch(local_stack.site_url + config)
    assert json.loads(body.decode().split("=", 1)[1].rstrip().rstrip(";"))["apiUrl"] == local_stack.api_url


def test_missing_page_is_404(local_stack):
    assert fetch(local_stack.site_url + "no-such-page.html")[0] == 404


@pytest.mark.parametrize("path", ["", "index.html", "no-such-page.html"])
def test_every_response_gets_the_headers_the_distributions_policy_adds(local_stack, prod, path):
    """Field by field against the prod stack's response-headers policy: the same names and values, the CSP naming
    the local API instead of the execute-api host."""
    policy = prod.only("aws_cloudfront_response_headers_policy")["security_headers_config"]
    hsts = policy["strict_transport_security"]
    prod_csp = policy["content_security_policy"]["content_security_policy"]
    prod_api = f"https://{prod.ref('aws_api_gateway_rest_api', 'id')}.execute-api.eu-north-1.amazonaws.com"
    _, headers, _ = fetch(local_stack.site_url + path)
    assert headers["Strict-Transport-Security"] == (
        f"max-age={hsts['access_control_max_age_sec']}"
        + ("; includeSubDomains" if hsts["include_subdomains"] else "")
        + ("; preload" if hsts["preload"] else "")
    )
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert policy["content_type_options"] == {"override": True}
    assert headers["X-Frame-Options"] == policy["frame_options"]["frame_option"]
    assert headers["Referrer-Policy"] == policy["referrer_policy"]["referrer_policy"]
    assert prod_api in prod_csp
    assert headers["Content-Security-Policy"] == prod_csp.replace(prod_api, local_stack.serving.api.origin)
    assert headers["Content-Security-Policy"] == local_stack.outputs.content_security_policy


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("%00", 400),
        ("a%0Ab.html", 400),
        (".publish/lock", 403),
        (".publish/releases/", 403),
        ("..%2f..%2fetc%2fpasswd", 404),
        ("%ff%fe", 404),
    ],
)
def test_bad_paths_get_a_client_error_and_never_a_traceback(local_stack, path, status):
    code, _, answer = fetch(local_stack.site_url + path)
    assert code == status
    assert b"Traceback" not in answer


def test_the_hooks_records_are_in_the_bucket_but_never_served(local_stack, emulated):
    keys = [o["Key"] for o in emulated.client("s3").list_objects_v2(Bucket=local_stack.outputs.bucket_name)["Contents"]]
    records = [k for k in keys if k.startswith(".publish/releases/")]
    assert records
    assert {fetch(local_stack.site_url + record)[0] for record in records} == {403}


def test_the_deployed_site_routes_directory_urls_and_answers_its_404_page(local_stack, emulated):
    """The distribution's routing (its CloudFront Function on AWS) and its 404 page (read from the distribution
    the emulator holds), served by the local site: a page put straight into the bucket, then removed again."""
    s3, bucket = emulated.client("s3"), local_stack.outputs.bucket_name
    pages = {"routing-check/index.html": b"<h1>directory page</h1>", "404.html": b"<h1>the site's 404</h1>"}
    for key, body in pages.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="text/html; charset=utf-8")
    try:
        assert fetch(local_stack.site_url + "routing-check/")[::2] == (200, pages["routing-check/index.html"])
        site = urllib.parse.urlsplit(local_stack.site_url)
        connection = http.client.HTTPConnection(site.hostname, site.port, timeout=10)
        connection.request("GET", "/routing-check?from=test")
        redirect = connection.getresponse()
        assert (redirect.status, redirect.getheader("Location")) == (301, "/routing-check/?from=test")
        connection.close()
        assert fetch(local_stack.site_url + "routing-check/missing/")[::2] == (404, pages["404.html"])
    finally:
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": key} for key in pages]})


# --- the API origin -------------------------------------------------------------------------------------------


def test_get_user_runs_the_deployed_function_against_the_seeded_table(local_stack):
    status, headers, body = users(local_stack, "?userId=1")
    assert status == 200
    assert body == {"userId": "1", "name": "Test User", "email": "test@example.com"}
    assert headers["Access-Control-Allow-Origin"] == site_origin(local_stack)


def test_preflight_answers_from_the_deployed_mock(local_stack):
    status, headers, body = fetch(
        local_stack.api_url, "OPTIONS", {"Origin": site_origin(local_stack), "Access-Control-Request-Method": "GET"}
    )
    assert status == 200
    assert body == b""
    assert headers["Access-Control-Allow-Origin"] == site_origin(local_stack)
    assert headers["Access-Control-Allow-Methods"] == "GET,OPTIONS"
    assert headers["Access-Control-Allow-Headers"] == "Content-Type,Authorization"


def test_unknown_user_is_404_from_the_function(local_stack):
    status, headers, body = users(local_stack, "?userId=does-not-exist")
    assert status == 404
    assert body == {"error": "No user found with userId: does-not-exist"}
    assert headers["Access-Control-Allow-Origin"] == site_origin(local_stack)


def test_missing_user_id_is_400_from_the_request_validator(local_stack):
    status, headers, body = users(local_stack)
    assert status == 400
    assert body == {"message": "Missing required request parameters: [userId]"}
    assert headers["Access-Control-Allow-Origin"] == site_origin(local_stack)


@pytest.mark.parametrize(
    ("path", "method"), [("", "GET"), ("/users", "GET"), ("/local/users", "DELETE"), ("/local/nope", "GET")]
)
def test_unknown_route_is_403_missing_authentication_token(local_stack, path, method):
    status, headers, body = fetch(local_stack.serving.api.origin + path, method)
    assert status == 403
    assert json.loads(body) == {"message": "Missing Authentication Token"}
    assert headers["Access-Control-Allow-Origin"] == site_origin(local_stack)


def test_the_function_runs_in_its_own_process_with_its_deployed_environment(local_stack, emulated):
    (container,) = local_stack.gateway.containers.values()
    deployed = emulated.client("lambda").get_function_configuration(FunctionName=local_stack.outputs.function_name)
    environment = container.environment()
    assert deployed["Environment"]["Variables"].items() <= environment.items()
    assert environment["AWS_ENDPOINT_URL"] == local_stack.emulator.url
    assert "TABLE_NAME" not in os.environ  # the gateway's own process is left alone


def test_concurrent_requests_all_get_answers(local_stack):
    answers: list[int] = []

    def get() -> None:
        answers.append(users(local_stack, "?userId=1")[0])

    threads = [threading.Thread(target=get) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [200] * 8


# --- what Terraform created in the emulator -------------------------------------------------------------------


def test_function_role_policy_resolves_to_the_table_arn(local_stack, emulated):
    iam = emulated.client("iam")
    role = f"{local_stack.outputs.function_name}-role"
    (name,) = iam.list_role_policies(RoleName=role)["PolicyNames"]
    document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
    document = json.loads(document) if isinstance(document, str) else document
    table_arn = emulated.client("dynamodb").describe_table(TableName=local_stack.outputs.table_name)["Table"][
        "TableArn"
    ]
    (read,) = [s for s in document["Statement"] if s["Action"] == ["dynamodb:GetItem"]]
    assert read["Resource"] == [table_arn]
    assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []


def test_bucket_policy_names_the_deployed_distribution(local_stack, emulated):
    policy = json.loads(emulated.client("s3").get_bucket_policy(Bucket=local_stack.outputs.bucket_name)["Policy"])
    distribution = emulated.client("cloudfront").get_distribution(Id=local_stack.outputs.distribution_id)
    allows = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    assert len(allows) == 2
    for allow in allows:
        assert allow["Condition"]["StringEquals"]["AWS:SourceArn"] == distribution["Distribution"]["ARN"]


def test_options_integration_response_carries_the_local_origin(local_stack, emulated):
    api_id = local_stack.outputs.api_id
    apigateway = emulated.client("apigateway")
    (resource,) = [r for r in apigateway.get_resources(restApiId=api_id)["items"] if r["path"] == "/users"]
    response = apigateway.get_integration_response(
        restApiId=api_id, resourceId=resource["id"], httpMethod="OPTIONS", statusCode="200"
    )
    assert response["responseParameters"]["method.response.header.Access-Control-Allow-Origin"] == (
        f"'{site_origin(local_stack)}'"
    )


def test_bucket_blocks_public_access_in_the_emulator(local_stack, emulated):
    block = emulated.client("s3").get_public_access_block(Bucket=local_stack.outputs.bucket_name)
    assert all(block["PublicAccessBlockConfiguration"].values())


# --- what watch mode relies on -----------------------------------------------------------------------------


def test_the_outputs_a_targeted_apply_leaves_out_are_read_from_the_config(local_stack):
    constants = constant_outputs(local_stack.workspace)
    assert set(constants) == {"site_url", "api_url", "page_api_url", "content_security_policy"}
    assert all(getattr(local_stack.outputs, name) == value for name, value in constants.items())


def test_a_function_is_packaged_as_terraform_deployed_it(local_stack):
    (function_arn,) = local_stack.gateway.api.functions
    deployed = deployed_function_code(function_arn)
    package = function_package(PROJECT, "get_user")
    with zipfile.ZipFile(io.BytesIO(deployed)) as terraform, zipfile.ZipFile(io.BytesIO(package)) as ours:
        assert sorted(ours.namelist()) == sorted(terraform.namelist())
        assert all(ours.read(name) == terraform.read(name) for name in ours.namelist())


# --- bad situations ---------------------------------------------------------------------------------------


def test_port_in_use_is_one_clear_line(capsys, tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        assert run.main(["--site-port", str(port), "--work-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err == (
        f"local: error: port {port} on 127.0.0.1 is in use (the local site); choose another with the "
        "matching --*-port option or stop what holds it\n"
    )


def test_missing_terraform_says_how_to_get_it(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(LocalStackError, match=r"terraform is not on PATH: install Terraform 1\.10 or newer"):
        LocalStack(LocalOptions(site_port=0, api_port=0, work_dir=tmp_path)).start()


def test_a_second_local_stack_in_the_same_work_dir_is_refused(local_stack):
    second = LocalStack(LocalOptions(site_port=0, api_port=0, work_dir=local_stack.options.work_dir))
    with pytest.raises(
        LocalStackError,
        match=r"another local stack \(pid \d+\) is running in .*; stop it first, "
        r"or give this one its own --work-dir",
    ):
        second.start()
    second.stop()
    assert users(local_stack, "?userId=1")[0] == 200  # the first one is untouched
    assert local_stack.state_file.exists()


def test_missing_provider_says_how_to_get_it(tmp_path, monkeypatch):
    """An empty provider mirror on a machine without registry access: one line naming the ways out."""
    monkeypatch.setenv("TF_PROVIDER_MIRROR", str(tmp_path / "empty-mirror"))
    (tmp_path / "empty-mirror").mkdir()
    stack = LocalStack(LocalOptions(site_port=0, api_port=0, work_dir=tmp_path / "work"), log=lambda line: None)
    try:
        with pytest.raises(
            LocalStackError,
            match=r"terraform init could not install the hashicorp/aws provider "
            r"\(mirror: .*\); run scripts/setup.*TF_PROVIDER_MIRROR",
        ):
            stack.start()
    finally:
        stack.stop()


# --- the whole stack (last: the deferred apply goes on while the tests above run) -----------------------------


def test_second_plan_shows_only_the_known_emulator_drift(whole_local_stack, tmp_path):
    changes = whole_local_stack.deployment.terraform("plan").plan_changes(tmp_path / "second.tfplan")
    assert [change.address for change in changes] == ["aws_cloudfront_distribution.StaticSite_distribution_FF41CC3F"]
    assert set(changes[0].attributes) <= EMULATOR_DRIFT

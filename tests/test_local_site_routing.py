"""Local mode's site server routes as the distribution's CloudFront Function does (contract/routing.py), serves the
404 page the distribution names, and keeps the API routes first: a bucket in the emulator and the WSGI app."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
from werkzeug.test import Client
from werkzeug.wrappers import Response

from contract.config import SiteSettings
from contract.routing import RoutingSettings
from local_stack.site import ApiRoute, ErrorPage, LocalSite, error_pages

PAGES = {
    "index.html": "<h1>home</h1>",
    "guide/setup/index.html": "<h1>setup</h1>",
    "v1.2/guide/index.html": "<h1>v1.2 guide</h1>",
    "docs/café/index.html": "<h1>café</h1>",
    "404.html": "<h1>not here</h1>",
    "app.js": "console.log(1);",
}
NOT_FOUND = {404: ErrorPage("/404.html", 404)}


@pytest.fixture
def bucket(aws):
    s3 = aws.client("s3")
    name = f"site-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    for key, body in PAGES.items():
        kind = "text/javascript" if key.endswith(".js") else "text/html; charset=utf-8"
        s3.put_object(Bucket=name, Key=key, Body=body.encode(), ContentType=kind)
    return s3, name


def site(bucket, **options) -> Client:
    s3, name = bucket
    options.setdefault("routing", RoutingSettings())
    return Client(LocalSite(s3, name, "index.html", **options))


def test_a_directory_url_serves_its_index_page(bucket):
    answer = site(bucket).get("/guide/setup/")
    assert answer.status_code == 200
    assert answer.text == "<h1>setup</h1>"


def test_a_directory_url_without_its_slash_is_redirected_to_it_with_its_query(bucket):
    answer = site(bucket).get("/guide/setup?q=install&tag=a&tag=b")
    assert answer.status_code == 301
    assert answer.headers["Location"] == "/guide/setup/?q=install&tag=a&tag=b"


def test_the_root_serves_the_index_page(bucket):
    assert site(bucket).get("/").text == "<h1>home</h1>"


def test_a_dotted_folder_is_still_a_folder(bucket):
    client = site(bucket)
    assert client.get("/v1.2/guide").headers["Location"] == "/v1.2/guide/"
    assert client.get("/v1.2/guide/").text == "<h1>v1.2 guide</h1>"


def test_an_encoded_folder_name_is_redirected_and_served(bucket):
    client = site(bucket)
    assert client.get("/docs/caf%C3%A9").headers["Location"] == "/docs/caf%C3%A9/"
    assert client.get("/docs/caf%C3%A9/").text == "<h1>café</h1>"


def test_a_missing_page_gets_the_404_page_with_status_404(bucket):
    answer = site(bucket, errors=NOT_FOUND).get("/nowhere/")
    assert answer.status_code == 404
    assert answer.text == "<h1>not here</h1>"
    assert answer.content_type.startswith("text/html")


def test_a_missing_file_gets_the_404_page_where_the_distribution_names_one(bucket):
    assert site(bucket, errors=NOT_FOUND).get("/missing.css").status_code == 404


def test_a_missing_page_gets_the_plain_404_when_the_site_has_no_404_page(bucket):
    answer = site(bucket, errors={404: ErrorPage("/errors/404.html", 404)}).get("/nowhere/")
    assert answer.status_code == 404
    assert answer.content_type.startswith("text/plain")


def test_a_missing_page_gets_the_plain_404_when_the_distribution_names_no_page(bucket):
    answer = site(bucket).get("/nowhere/")
    assert answer.status_code == 404
    assert answer.text == "Not found"


def test_single_page_app_serves_the_app_for_a_client_route(bucket):
    answer = site(bucket, routing=RoutingSettings(single_page_app=True)).get("/users/1?tab=2")
    assert answer.status_code == 200
    assert answer.text == "<h1>home</h1>"


def test_single_page_app_leaves_a_missing_script_a_404_that_is_not_html(bucket):
    answer = site(bucket, routing=RoutingSettings(single_page_app=True)).get("/assets/missing.js")
    assert answer.status_code == 404
    assert not answer.content_type.startswith("text/html")


def test_a_file_is_served_as_it_is(bucket):
    answer = site(bucket).get("/app.js")
    assert answer.status_code == 200
    assert answer.text == "console.log(1);"


def test_without_routing_a_directory_url_is_a_404_as_on_a_bare_distribution(bucket):
    assert site(bucket, routing=None).get("/guide/setup/").status_code == 404


def test_the_api_routes_come_before_the_routing(bucket):
    def api(environ, start_response):
        return Response(json.dumps({"error": "No user found"}), status=404, content_type="application/json")(
            environ, start_response
        )

    answer = site(bucket, routes=[ApiRoute("/users", "/local")], api=api, errors=NOT_FOUND).get("/users?userId=9")
    assert answer.status_code == 404
    assert answer.json == {"error": "No user found"}


def test_error_pages_are_read_from_the_distribution_config():
    config = {
        "CustomErrorResponses": {
            "Quantity": 2,
            "Items": [
                {"ErrorCode": 404, "ResponsePagePath": "/404.html", "ResponseCode": "404", "ErrorCachingMinTTL": 10},
                {"ErrorCode": 503, "ErrorCachingMinTTL": 5},  # caching only: no page
            ],
        }
    }
    assert error_pages(config) == {404: ErrorPage("/404.html", 404)}
    assert error_pages({}) == {}


def test_local_single_page_app_flag_reaches_the_synthesized_settings():
    """`pipenv run local --single-page-app` is parsed, and the local environment's setting becomes the flag the synth
    process (a process of its own) is given."""
    from contract.config import local_environment
    from local_stack import run
    from local_stack.synth import synth_command

    assert run.parse_args(["--single-page-app"]).single_page_app
    assert not run.parse_args([]).single_page_app
    settings = local_environment(
        emulator_url="http://127.0.0.1:1", site_origin="http://127.0.0.1:2", single_page_app=True
    )
    assert settings.site.single_page_app
    assert "--single-page-app" in synth_command(settings, Path("out"))
    assert "--single-page-app" not in synth_command(replace(settings, site=SiteSettings()), Path("out"))

"""The get-user handler against DynamoDB in the emulator (moto over HTTP), one test per answer it can give."""

from __future__ import annotations

import json

import pytest

from tests.conftest import ORIGIN, load_handler


def get(user_id=None, method="GET", **params):
    query = dict(params)
    if user_id is not None:
        query["userId"] = user_id
    return {
        "httpMethod": method,
        "path": "/users",
        "queryStringParameters": query or None,
        "requestContext": {"requestId": "req-1"},
    }


def body(response):
    return json.loads(response["body"])


def assert_cors(response):
    assert response["headers"]["Access-Control-Allow-Origin"] == ORIGIN
    assert response["headers"]["Access-Control-Allow-Methods"] == "GET,OPTIONS"
    assert response["headers"]["Access-Control-Allow-Headers"] == "Content-Type,Authorization"
    assert response["headers"]["Content-Type"] == "application/json"


def test_found_user_is_200_with_the_item(handler):
    response = handler.lambda_handler(get("1"), None)
    assert response["statusCode"] == 200
    assert body(response) == {"userId": "1", "name": "Test User", "email": "test@example.com", "age": 42}
    assert_cors(response)


def test_unknown_user_is_404_naming_the_id(handler):
    response = handler.lambda_handler(get("999"), None)
    assert response["statusCode"] == 404
    assert body(response) == {"error": "No user found with userId: 999"}
    assert_cors(response)


@pytest.mark.parametrize("event", [get(), get(""), {"httpMethod": "GET"}, get(other="x")])
def test_missing_or_empty_user_id_is_400(handler, event):
    response = handler.lambda_handler(event, None)
    assert response["statusCode"] == 400
    assert body(response) == {"error": "Missing required query parameter: userId"}
    assert_cors(response)


def test_overlong_user_id_is_400(handler):
    response = handler.lambda_handler(get("x" * 257), None)
    assert response["statusCode"] == 400
    assert body(response) == {"error": "userId must be at most 256 characters"}


def test_user_id_of_exactly_256_characters_is_looked_up(handler):
    assert handler.lambda_handler(get("x" * 256), None)["statusCode"] == 404


@pytest.mark.parametrize("user_id", ["a\nb", "\x00", "a\x7fb", "\u0085"])
def test_control_characters_in_user_id_are_400(handler, user_id):
    response = handler.lambda_handler(get(user_id), None)
    assert response["statusCode"] == 400
    assert body(response) == {"error": "userId must not contain control characters"}


def test_options_is_200_with_cors_headers_and_empty_body(handler):
    response = handler.lambda_handler(get(method="OPTIONS"), None)
    assert response["statusCode"] == 200
    assert response["body"] == ""
    assert_cors(response)


@pytest.mark.parametrize("method", ["POST", "DELETE", "PUT", None])
def test_other_methods_are_405_with_allow(handler, method):
    response = handler.lambda_handler(get("1", method=method), None)
    assert response["statusCode"] == 405
    assert response["headers"]["Allow"] == "GET, OPTIONS"
    assert_cors(response)


def test_datastore_error_is_a_generic_500_and_logged(handler, monkeypatch, capsys):
    monkeypatch.setenv("TABLE_NAME", "no-such-table")
    response = handler.lambda_handler(get("1"), None)
    assert response["statusCode"] == 500
    assert body(response) == {"error": "Internal server error"}
    assert "no-such-table" not in response["body"]
    assert "ResourceNotFound" not in response["body"]
    assert_cors(response)
    (line,) = capsys.readouterr().out.splitlines()
    log = json.loads(line)
    assert log["level"] == "ERROR"
    assert log["error"] == "ResourceNotFoundException"


def test_each_request_logs_one_structured_line(handler, capsys):
    class Context:
        aws_request_id = "abc-123"

    handler.lambda_handler(get("1"), Context())
    (line,) = capsys.readouterr().out.splitlines()
    log = json.loads(line)
    assert {k: log[k] for k in ("level", "requestId", "userId", "found", "status")} == {
        "level": "INFO",
        "requestId": "abc-123",
        "userId": "1",
        "found": True,
        "status": 200,
    }
    assert isinstance(log["durationMs"], float)
    assert log["durationMs"] >= 0


def test_not_found_is_logged_as_not_found(handler, capsys):
    handler.lambda_handler(get("999"), None)
    log = json.loads(capsys.readouterr().out)
    assert (log["found"], log["requestId"], log["status"]) == (False, "req-1", 404)


def test_one_dynamodb_client_serves_every_warm_invocation(handler):
    handler.lambda_handler(get("1"), None)
    first = handler._dynamodb()
    handler.lambda_handler(get("1"), None)
    assert handler._dynamodb() is first


def test_endpoint_follows_the_standard_aws_endpoint_url(handler, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    fresh = load_handler()
    assert fresh._dynamodb().meta.endpoint_url == "http://127.0.0.1:1"


def test_a_long_user_id_is_logged_as_a_bounded_prefix(handler, capsys):
    response = handler.lambda_handler(get("x" * 5000), None)
    assert response["statusCode"] == 400
    log = json.loads(capsys.readouterr().out)
    assert log["userId"] == "x" * 64 + "…"

"""GET /users?userId=… behind API Gateway's Lambda proxy integration.

Standard library and boto3 only, so it runs on the stock Lambda runtime. The DynamoDB client honours the standard
AWS_ENDPOINT_URL, so the same code runs unchanged against an emulator.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import time
import unicodedata
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import boto3
from boto3.dynamodb.types import Binary, TypeDeserializer
from botocore.exceptions import ClientError

if TYPE_CHECKING:  # type stubs exist in development only; the deployed function needs none
    from mypy_boto3_dynamodb import DynamoDBClient

MAX_USER_ID_LENGTH = 256
MAX_LOGGED_USER_ID = 64


@functools.cache
def _dynamodb() -> DynamoDBClient:
    """One client per container: created on first use, reused by every warm invocation."""
    return boto3.client("dynamodb")


def _cors_headers() -> dict[str, str]:
    # The same values as the API's preflight answer: the stack passes them in, so they are written once.
    origin = os.environ.get("ALLOWED_ORIGIN", "")
    headers = {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": os.environ.get("ALLOWED_METHODS", ""),
        "Access-Control-Allow-Headers": os.environ.get("ALLOWED_HEADERS", ""),
    }
    if origin != "*":
        headers["Vary"] = "Origin"  # the answer depends on the origin: keep caches from mixing them up
    return headers


def _respond(status: int, body: Any, extra_headers: dict[str, str] | None = None) -> dict[str, Any]:
    headers = {"Content-Type": "application/json", **_cors_headers(), **(extra_headers or {})}
    return {"statusCode": status, "headers": headers, "body": "" if body is None else json.dumps(body)}


def _log(**fields: Any) -> None:
    # One JSON object per line: CloudWatch Logs Insights parses it without a pattern.
    print(json.dumps(fields, default=str), flush=True)


def _plain(value: Any) -> Any:
    """DynamoDB's types as JSON-friendly values: numbers as int/float, sets as sorted lists, binary as base64."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"stored number is not finite: {value}")  # JSON has no NaN or Infinity
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Binary):
        return base64.b64encode(value.value).decode("ascii")  # type: ignore[attr-defined]  # missing from the stubs
    if isinstance(value, (set, frozenset)):
        return sorted((_plain(v) for v in value), key=str)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _user_id_problem(user_id: Any) -> str | None:
    """Why a userId cannot be looked up, or None when it can."""
    if not isinstance(user_id, str) or user_id == "":
        return "Missing required query parameter: userId"
    if len(user_id) > MAX_USER_ID_LENGTH:
        return f"userId must be at most {MAX_USER_ID_LENGTH} characters"
    if any(unicodedata.category(ch) == "Cc" for ch in user_id):
        return "userId must not contain control characters"
    return None


def _loggable(user_id: Any) -> str | None:
    if not isinstance(user_id, str):
        return None
    return user_id if len(user_id) <= MAX_LOGGED_USER_ID else f"{user_id[:MAX_LOGGED_USER_ID]}…"


def _request_id(event: dict[str, Any], context: Any) -> str | None:
    request_id = getattr(context, "aws_request_id", None) or (
        event["requestContext"].get("requestId") if isinstance(event.get("requestContext"), dict) else None
    )
    return request_id if isinstance(request_id, str) else None


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    """Answer one API Gateway proxy event; never raises, never returns internals."""
    started = time.perf_counter()
    event = event if isinstance(event, dict) else {}
    method = event.get("httpMethod")
    params = event.get("queryStringParameters")
    user_id = params.get("userId") if isinstance(params, dict) else None
    log = {
        "level": "INFO",
        "requestId": _request_id(event, context),
        "method": method,
        # A bounded prefix: a caller controls this value, and the log must not grow with it.
        "userId": _loggable(user_id),
        "found": False,
    }

    def finish(response: dict[str, Any]) -> dict[str, Any]:
        log["status"] = response["statusCode"]
        log["durationMs"] = round((time.perf_counter() - started) * 1000, 3)
        _log(**log)
        return response

    if method == "OPTIONS":
        return finish(_respond(200, None))
    if method != "GET":
        allow = ", ".join(os.environ.get("ALLOWED_METHODS", "").split(","))
        return finish(_respond(405, {"error": "Method not allowed"}, {"Allow": allow}))
    problem = _user_id_problem(user_id)
    if problem:
        return finish(_respond(400, {"error": problem}))
    try:
        result = _dynamodb().get_item(TableName=os.environ["TABLE_NAME"], Key={"userId": {"S": user_id}})
        item = result.get("Item")
        user = None if item is None else {k: _plain(TypeDeserializer().deserialize(v)) for k, v in item.items()}
    except Exception as exc:  # noqa: BLE001 - any datastore failure is a 500; details go to the log only
        code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else None
        log.update(level="ERROR", error=code or type(exc).__name__, detail=str(exc))
        return finish(_respond(500, {"error": "Internal server error"}))
    if user is None:
        return finish(_respond(404, {"error": f"No user found with userId: {user_id}"}))
    log["found"] = True
    return finish(_respond(200, user))

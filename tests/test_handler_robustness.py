"""The handler under hostile input (fuzzed with hypothesis) and under datastore faults (injected with Stubber)."""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.exceptions import ReadTimeoutError
from botocore.stub import Stubber
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.aws_resources import users_table
from tests.conftest import ORIGIN, function_environment, load_handler

GENERIC_500 = {"error": "Internal server error"}

text = st.text(max_size=300)
odd_values = st.one_of(
    st.none(), text, st.integers(), st.lists(text, max_size=3), st.booleans(), st.dictionaries(text, text, max_size=2)
)
events = st.fixed_dictionaries(
    {},
    optional={
        "httpMethod": st.one_of(
            st.sampled_from(["GET", "OPTIONS", "POST", "PUT", "DELETE", "HEAD", "PATCH"]),
            text,
            st.none(),
            st.integers(),
        ),
        "queryStringParameters": st.one_of(
            st.none(),
            odd_values,
            st.dictionaries(st.sampled_from(["userId", "userid", "id", ""]) | text, odd_values, max_size=4),
            st.fixed_dictionaries(
                {
                    "userId": st.one_of(
                        text,
                        st.text(min_size=250, max_size=2000),
                        st.sampled_from(["1", " ", "\x00", "é", "😀", "1' OR 1=1"]),
                    )
                }
            ),
        ),
        "headers": st.one_of(st.none(), st.dictionaries(text, text, max_size=4), odd_values),
        "body": st.one_of(st.none(), text, st.binary(max_size=100).map(repr)),
        "requestContext": st.one_of(st.none(), odd_values, st.fixed_dictionaries({"requestId": text})),
        "isBase64Encoded": st.booleans(),
    },
)


@pytest.fixture(scope="module")
def fuzz_handler(emulator):
    """A handler over a real table in the emulator, for all fuzz examples of this module."""
    import boto3

    table = f"users-{uuid.uuid4().hex[:12]}"
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {**emulator.environment(), **function_environment(table)}.items():
            patch.setenv(name, value)
        users_table(boto3.client("dynamodb"), table)
        yield load_handler()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(event=st.one_of(events, odd_values))
def test_any_event_gets_a_json_answer_with_cors_and_no_5xx(fuzz_handler, event, capsys):
    response = fuzz_handler.lambda_handler(event, None)
    capsys.readouterr()
    assert isinstance(response["statusCode"], int)
    assert response["statusCode"] < 500
    assert response["headers"]["Access-Control-Allow-Origin"] == ORIGIN
    assert response["headers"]["Content-Type"] == "application/json"
    if response["body"]:
        json.loads(response["body"])
    else:
        assert response["statusCode"] == 200  # only the preflight answers with an empty body


# --- injected datastore faults ----------------------------------------------------------------------------


@pytest.fixture
def faulty(handler):
    """The handler with its DynamoDB client under a Stubber that will answer what a test queues."""
    client = handler._dynamodb()
    with Stubber(client) as stubber:
        yield handler, stubber


def call(handler, capsys) -> tuple[dict, list[dict]]:
    response = handler.lambda_handler({"httpMethod": "GET", "queryStringParameters": {"userId": "1"}}, None)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    return response, lines


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("ProvisionedThroughputExceededException", "Rate of requests exceeds the allowed throughput"),
        ("ThrottlingException", "Rate exceeded for table arn:aws:dynamodb:eu-north-1:123456789012:table/users"),
        ("AccessDeniedException", "User: arn:aws:sts::123456789012:assumed-role/get-user-role is not authorized"),
        ("InternalServerError", "Internal server error (Service: DynamoDb)"),
        ("ResourceNotFoundException", "Requested resource not found: Table: users not found"),
    ],
)
def test_datastore_error_is_a_generic_500_with_one_error_log_line(faulty, capsys, code, message):
    handler, stubber = faulty
    stubber.add_client_error("get_item", service_error_code=code, service_message=message, http_status_code=400)
    response, lines = call(handler, capsys)
    assert response["statusCode"] == 500
    assert json.loads(response["body"]) == GENERIC_500
    assert response["headers"]["Access-Control-Allow-Origin"] == ORIGIN
    (line,) = lines
    assert (line["level"], line["error"], line["status"]) == ("ERROR", code, 500)
    for leak in (code, "arn:aws", "Traceback", message):
        assert leak not in response["body"]


def test_datastore_timeout_is_a_generic_500(handler, capsys):
    client = handler._dynamodb()

    def time_out(**_):
        raise ReadTimeoutError(endpoint_url="https://dynamodb.eu-north-1.amazonaws.com")

    client.meta.events.register("before-send.dynamodb.GetItem", time_out)
    try:
        response, lines = call(handler, capsys)
    finally:
        client.meta.events.unregister("before-send.dynamodb.GetItem", time_out)
    assert response["statusCode"] == 500
    assert json.loads(response["body"]) == GENERIC_500
    assert [line["error"] for line in lines] == ["ReadTimeoutError"]
    assert "amazonaws" not in response["body"]


@pytest.mark.parametrize(
    "item",
    [
        {"userId": {"S": "1"}, "score": {"N": "Infinity"}},
        {"userId": {"S": "1"}, "name": {}},
        {"userId": {"S": "1"}, "age": {"N": "not-a-number"}},
    ],
)
def test_malformed_item_is_a_generic_500(faulty, capsys, item):
    handler, stubber = faulty
    stubber.add_response("get_item", {"Item": item})
    response, lines = call(handler, capsys)
    assert response["statusCode"] == 500
    assert json.loads(response["body"]) == GENERIC_500
    (line,) = lines
    assert line["level"] == "ERROR"

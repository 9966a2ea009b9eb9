"""Local mode runs each deployed function as Lambda does: in a process of its own, with exactly its deployed
environment, one invocation at a time, stopped at its timeout, and replaced after a crash."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from local_stack.functions import DeployedFunction, FunctionContainer, FunctionFailed

HANDLER = """
import json, os, sys, time

STARTED = time.time()


def handler(event, context):
    print(json.dumps({"log": "invoked", "action": event["action"]}))
    if event["action"] == "env":
        return {name: os.environ.get(name) for name in event["names"]}
    if event["action"] == "sleep":
        time.sleep(event["seconds"])
    if event["action"] == "raise":
        raise ValueError("the handler failed")
    if event["action"] == "exit":
        os._exit(3)
    if event["action"] == "started":
        return STARTED
    return {"request": context.aws_request_id, "function": context.function_name,
            "remaining": context.get_remaining_time_in_millis()}
"""


@pytest.fixture
def container(tmp_path):
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text(HANDLER)
    function = DeployedFunction(
        name="demo",
        arn="arn:aws:lambda:us-east-1:123456789012:function:demo",
        handler="app.handler",
        code_dir=code,
        environment={"TABLE_NAME": "users"},
        timeout_seconds=2,
        memory_mb=256,
    )
    logs: list[str] = []
    running = FunctionContainer(function, {"AWS_ENDPOINT_URL": "http://127.0.0.1:1"}, logs.append)
    running.logs = logs  # type: ignore[attr-defined]
    yield running
    running.stop()


def test_the_handler_gets_a_lambda_context(container):
    answer = container.invoke({"action": "hello"})
    assert answer["function"] == "demo"
    assert 0 < answer["remaining"] <= 2000
    assert len(answer["request"]) == 36


def test_the_function_sees_its_deployed_environment_and_not_the_callers(container, monkeypatch):
    monkeypatch.setenv("SECRET_OF_THE_CALLER", "do-not-leak")
    answer = container.invoke(
        {
            "action": "env",
            "names": ["TABLE_NAME", "AWS_ENDPOINT_URL", "AWS_LAMBDA_FUNCTION_NAME", "SECRET_OF_THE_CALLER"],
        }
    )
    assert answer == {
        "TABLE_NAME": "users",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:1",
        "AWS_LAMBDA_FUNCTION_NAME": "demo",
        "SECRET_OF_THE_CALLER": None,
    }
    assert "TABLE_NAME" not in os.environ


def test_what_the_handler_prints_is_its_log(container):
    container.invoke({"action": "hello"})
    container.stop()  # waits for the process, so its log is read
    assert any(
        json.loads(line.split(" | ", 1)[1]) == {"log": "invoked", "action": "hello"}
        for line in container.logs
        if line.startswith("demo | {")
    )


def test_what_the_handler_printed_last_is_logged_before_stop_returns(container):
    """As on a busy machine, where the log is read a while after the function printed it."""
    logged = container._log

    def slow_log(line: str) -> None:
        time.sleep(0.5)
        logged(line)

    container._log = slow_log
    container.invoke({"action": "hello"})
    container.stop()
    assert any(line.startswith("demo | {") for line in container.logs)


def test_a_warm_container_is_reused(container):
    assert container.invoke({"action": "started"}) == container.invoke({"action": "started"})


def test_an_exception_fails_the_invocation_and_the_container_stays_warm(container):
    started = container.invoke({"action": "started"})
    with pytest.raises(FunctionFailed, match=r"demo: ValueError: the handler failed"):
        container.invoke({"action": "raise"})
    assert container.invoke({"action": "started"}) == started


def test_an_invocation_past_the_timeout_fails_and_a_fresh_container_follows(container):
    started = container.invoke({"action": "started"})
    with pytest.raises(FunctionFailed, match=r"demo: Task timed out after 2 seconds"):
        container.invoke({"action": "sleep", "seconds": 30})
    assert container.invoke({"action": "started"}) != started


def test_a_crashed_container_is_replaced(container):
    with pytest.raises(FunctionFailed, match=r"the function's process exited"):
        container.invoke({"action": "exit"})
    assert container.invoke({"action": "hello"})["function"] == "demo"


def test_code_that_cannot_be_imported_fails_every_invocation(tmp_path):
    code = tmp_path / "broken"
    code.mkdir()
    (code / "app.py").write_text("import no_such_module\n")
    function = DeployedFunction(
        name="broken",
        arn="arn:aws:lambda:us-east-1:1:function:broken",
        handler="app.handler",
        code_dir=Path(code),
        environment={},
        timeout_seconds=2,
        memory_mb=128,
    )
    container = FunctionContainer(function, {}, lambda line: None)
    try:
        with pytest.raises(FunctionFailed, match=r"Runtime\.ImportModuleError: No module named 'no_such_module'"):
            container.invoke({})
    finally:
        container.stop()

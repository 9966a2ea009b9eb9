"""The inside of a local function container: `python -m local_stack.lambda_runtime <code dir> <module.handler>`.

Imports the handler from the deployed code, then answers invocations one at a time, as a Lambda execution
environment does: one JSON line per request on stdin ({"event": …, "context": {…}}), one JSON line per answer on
the answers pipe ({"result": …} or {"error": {"type": …, "message": …}}). Whatever the handler prints goes to
stderr, which the gateway shows as the function's log. Standard library only: it runs beside the function's own
imports.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any, TextIO


class Context:
    """The parts of Lambda's context object handlers commonly read."""

    def __init__(self, fields: dict[str, Any]) -> None:
        self.aws_request_id: str = fields.get("aws_request_id", "")
        self.function_name: str = fields.get("function_name", "")
        self.invoked_function_arn: str = fields.get("invoked_function_arn", "")
        self.memory_limit_in_mb: str = str(fields.get("memory_limit_in_mb", ""))
        self._deadline_ms: int = int(fields.get("deadline_ms", 0))

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def load_handler(code_dir: str, handler: str) -> Callable[[Any, Context], Any]:
    """The function's handler, imported with its code first on the path (and nothing of this project)."""
    project = os.getcwd()
    sys.path[:] = [code_dir, *(p for p in sys.path if p not in ("", project))]
    module_name, _, attribute = handler.rpartition(".")
    handler_function: Callable[[Any, Context], Any] = getattr(importlib.import_module(module_name), attribute)
    return handler_function


def serve(handler: Callable[[Any, Context], Any], requests: TextIO, answers: TextIO) -> None:
    for line in requests:
        request = json.loads(line)
        try:
            answer: dict[str, Any] = {"result": handler(request["event"], Context(request["context"]))}
            json.dumps(answer)  # an answer Lambda could not serialize is an error, as there
        except Exception as exc:  # noqa: BLE001 - the handler's failure is the invocation's result
            traceback.print_exc()
            answer = {"error": {"type": type(exc).__name__, "message": str(exc)}}
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


def main(argv: list[str]) -> int:
    code_dir, handler = argv
    # Answers get a pipe of their own; stdout becomes stderr, so a handler's print() is a log line.
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    try:
        handler_function = load_handler(code_dir, handler)
    except Exception as exc:  # noqa: BLE001 - reported as every invocation's error (Runtime.ImportModuleError)
        traceback.print_exc()
        failure = json.dumps({"error": {"type": "Runtime.ImportModuleError", "message": str(exc)}})
        for _ in sys.stdin:
            answers.write(failure + "\n")
            answers.flush()
        return 1
    serve(handler_function, sys.stdin, answers)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

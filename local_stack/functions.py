"""Deployed Lambda functions, run locally as Lambda runs them: each in a process of its own (a warm container)
with exactly its deployed code, handler, environment and timeout, answering one invocation at a time.

moto stores functions but runs no code without Docker; local mode reads the deployed function back from the
emulator and runs it here. Its own process means its own environment variables, module state and crashes:
nothing of the gateway's process leaks into the function or back.
"""

from __future__ import annotations

import fnmatch
import json
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from terraform_cli import PROJECT_DIR

# A cold start (a new Python process importing boto3) counts against nothing on Lambda either.
COLD_START_ALLOWANCE_SECONDS = 10.0


class FunctionFailed(RuntimeError):
    """The invocation failed: the handler raised, timed out, or its process died."""


class ContainerRetired(RuntimeError):
    """The function's code was replaced: invoke the container that replaced this one."""


@dataclass(frozen=True)
class DeployedFunction:
    """A function as the emulator holds it, with its code unpacked in `code_dir`."""

    name: str
    arn: str
    handler: str  # module.attribute
    code_dir: Path
    environment: Mapping[str, str]
    timeout_seconds: int
    memory_mb: int
    resource_policy: Mapping[str, Any] = field(default_factory=dict)

    def allows(self, source_arn: str) -> bool:
        """Whether the function's resource policy lets API Gateway invoke it for `source_arn`."""
        for statement in self.resource_policy.get("Statement", []):
            principal = statement.get("Principal", {})
            service = principal.get("Service") if isinstance(principal, dict) else principal
            if statement.get("Effect") != "Allow" or service != "apigateway.amazonaws.com":
                continue
            pattern = statement.get("Condition", {}).get("ArnLike", {}).get("AWS:SourceArn")
            if pattern is None or fnmatch.fnmatchcase(source_arn, pattern):
                return True
        return False


# How long a stop waits for the log of a stopped function's process to be read to its end (the pipe closes with
# the process; a child the handler started could hold it open).
LOG_DRAIN_SECONDS = 5.0


class FunctionContainer:
    """One warm execution environment of a function; started on the first invocation, replaced after a crash
    or a timeout. `aws_environment` says where AWS is (the emulator) and with which credentials."""

    def __init__(
        self, function: DeployedFunction, aws_environment: Mapping[str, str], log: Callable[[str], None]
    ) -> None:
        self.function = function
        self._aws_environment = dict(aws_environment)
        self._log = log
        self._lock = threading.Lock()
        self._process: subprocess.Popen[str] | None = None
        self._answers: queue.Queue[str | None] = queue.Queue()
        self._log_reader: threading.Thread | None = None
        self._retired = False

    def environment(self) -> dict[str, str]:
        """What the function's process sees: Lambda's own variables, where AWS is, and its deployed ones."""
        region = self._aws_environment.get("AWS_REGION", "us-east-1")
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONUNBUFFERED": "1",
            "AWS_LAMBDA_FUNCTION_NAME": self.function.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.function.memory_mb),
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            **self._aws_environment,
            **self.function.environment,
        }

    def invoke(self, event: Any) -> Any:
        """Run the handler on `event` and return what it returned; raises FunctionFailed."""
        with self._lock:
            if self._retired:
                raise ContainerRetired(self.function.name)
            cold = self._process is None or self._process.poll() is not None
            if cold:
                self._start()
            process = self._process
            assert process is not None
            assert process.stdin is not None
            deadline_ms = int(time.time() * 1000) + self.function.timeout_seconds * 1000
            request = {
                "event": event,
                "context": {
                    "aws_request_id": str(uuid.uuid4()),
                    "function_name": self.function.name,
                    "invoked_function_arn": self.function.arn,
                    "memory_limit_in_mb": self.function.memory_mb,
                    "deadline_ms": deadline_ms,
                },
            }
            try:
                process.stdin.write(json.dumps(request) + "\n")
                process.stdin.flush()
            except OSError as exc:
                self._stop_process()
                raise FunctionFailed(f"{self.function.name}: the function's process is gone ({exc})") from exc
            wait = self.function.timeout_seconds + (COLD_START_ALLOWANCE_SECONDS if cold else 0.0)
            try:
                line = self._answers.get(timeout=wait)
            except queue.Empty:
                self._stop_process()
                raise FunctionFailed(
                    f"{self.function.name}: Task timed out after {self.function.timeout_seconds} seconds"
                ) from None
            if line is None:
                self._stop_process()
                raise FunctionFailed(f"{self.function.name}: the function's process exited")
            answer = json.loads(line)
            if "error" in answer:
                error = answer["error"]
                raise FunctionFailed(f"{self.function.name}: {error.get('type')}: {error.get('message')}")
            return answer["result"]

    def stop(self) -> None:
        with self._lock:
            self._stop_process()

    def retire(self) -> None:
        """Stop for good once the invocation in progress (if any) ends: the function's code was replaced."""
        with self._lock:
            self._retired = True
            self._stop_process()

    def _start(self) -> None:
        self._answers = queue.Queue()
        self._process = subprocess.Popen(
            [sys.executable, "-m", "local_stack.lambda_runtime", str(self.function.code_dir), self.function.handler],
            cwd=PROJECT_DIR,
            env=self.environment(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        threading.Thread(target=self._read_answers, args=(self._process, self._answers), daemon=True).start()
        self._log_reader = threading.Thread(target=self._read_log, args=(self._process,), daemon=True)
        self._log_reader.start()

    @staticmethod
    def _read_answers(process: subprocess.Popen[str], answers: queue.Queue[str | None]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            answers.put(line)
        answers.put(None)  # the process ended

    def _read_log(self, process: subprocess.Popen[str]) -> None:
        assert process.stderr is not None
        for line in process.stderr:
            self._log(f"{self.function.name} | {line.rstrip()}")

    def _stop_process(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        if self._log_reader is not None:
            # What the function printed before it stopped is still in the pipe: log it before saying stopped.
            self._log_reader.join(timeout=LOG_DRAIN_SECONDS)
            self._log_reader = None
        self._process = None

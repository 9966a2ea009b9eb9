"""The emulator's record of what changed it, so that a fresh emulator can be brought to the same state (warm
restart, `local_stack.warm`).

moto 5 has a recorder of its own (`MOTO_ENABLE_RECORDING`, `/moto-api/recorder/...`), but it is one per process
(one file, named at import), records reads as well, keeps no response status and replays over HTTP without
looking at the answers. This one belongs to an emulator, records what it served in the order it served it, and a
replay compares every status with the one recorded.

Replaying gives the same ids only if moto draws them in the same order: its ids (and every response's request id)
come from one seeded generator (`moto_random`). So the emulator serves one request at a time, and a read, which
is not recorded, leaves the generator as it found it.
"""

from __future__ import annotations

import base64
import io
import logging
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from moto.moto_api._internal import mock_random
from werkzeug.test import EnvironBuilder, run_wsgi_app

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

# What a request is, as the emulator's WSGI app reads it: everything else comes from the server.
REQUEST_KEYS = ("REQUEST_METHOD", "PATH_INFO", "QUERY_STRING", "REQUEST_URI", "RAW_URI", "CONTENT_TYPE")
# HTTP methods that only read (API Gateway, Lambda, S3 and CloudFront are REST APIs).
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Actions of the JSON and query protocols (DynamoDB, STS, IAM, SNS, KMS, CloudWatch…) that only read.
READ_ACTIONS = ("Get", "Describe", "List", "Query", "Scan", "BatchGet")
# One request at a time in the whole process: moto's id generator is shared by every emulator of it.
_ONE_AT_A_TIME = threading.Lock()
# An answer slower than this is logged: the AWS provider resends a create whose answer it has waited for longer
# than the resource's retry timeout (often 1-2 min), and the resent one then fails as "already exists".
SLOW_ANSWER_SECONDS = 10.0
_log = logging.getLogger(__name__)


def seed_ids(seed: int) -> None:
    """Make moto's generated ids a function of `seed` and of the requests served since."""
    mock_random.seed(seed)


@dataclass(frozen=True)
class RecordedRequest:
    """One request the emulator served, and the status it answered."""

    environ: dict[str, str]  # REQUEST_KEYS and the HTTP_ headers
    body: bytes
    status: int

    def to_json(self) -> dict[str, Any]:
        return {"environ": self.environ, "body": base64.b64encode(self.body).decode(), "status": self.status}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RecordedRequest:
        environ = data["environ"]
        if not isinstance(environ, dict) or not all(isinstance(v, str) for v in environ.values()):
            raise ValueError("a recorded request without its environ")
        return cls(dict(environ), base64.b64decode(data["body"], validate=True), int(data["status"]))

    @property
    def line(self) -> str:
        """The request in one line, for a message."""
        path = self.environ.get("RAW_URI") or self.environ.get("PATH_INFO", "")
        action = self.environ.get("HTTP_X_AMZ_TARGET") or _form_action(self.environ, self.body) or ""
        return f"{self.environ.get('REQUEST_METHOD')} {path} {action}".strip()


def _form_action(environ: dict[str, str], body: bytes) -> str | None:
    """The Action of a query-protocol request (STS, IAM, SNS, CloudWatch), if it is one."""
    if not environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        return None
    actions = urllib.parse.parse_qs(body.decode(errors="replace")).get("Action")
    return actions[0] if actions else None


def only_reads(environ: dict[str, str], body: bytes) -> bool:
    """Whether a request only reads the emulator's state (so a replay does not need it)."""
    if environ.get("REQUEST_METHOD", "GET") in READ_METHODS:
        return True
    target = environ.get("HTTP_X_AMZ_TARGET")
    action = target.rsplit(".", 1)[-1] if target else _form_action(environ, body)
    return bool(action and action.startswith(READ_ACTIONS))


@dataclass(frozen=True)
class _Answer:
    """The emulator's answer to one SDK call."""

    status_line: str
    headers: tuple[tuple[str, str], ...]
    content: tuple[bytes, ...]
    seconds: float

    @property
    def status(self) -> int:
        return int(self.status_line.split()[0])


def _sdk_call(environ: dict[str, str]) -> tuple[str | None, int]:
    """The AWS SDK's id of the call a request belongs to (`amz-sdk-invocation-id`), and which attempt it is."""
    attempt = environ.get("HTTP_AMZ_SDK_REQUEST", "").partition("attempt=")[2].partition(";")[0]
    return environ.get("HTTP_AMZ_SDK_INVOCATION_ID"), int(attempt) if attempt.isdigit() else 1


@dataclass
class Recording:
    """The requests that may have changed one emulator, in the order it served them."""

    requests: list[RecordedRequest] = field(default_factory=list)
    # The latest answers to SDK calls that may change the emulator, by the SDK's invocation id: a resend of one
    # (an SDK retry) is answered from here, see `serve`.
    _answers: dict[str, _Answer] = field(default_factory=dict, repr=False)

    def serve(self, app: WSGIApplication, environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        """Serve one request with `app`, recording it unless it only reads.

        An SDK resends a call whose answer did not reach it (measured in CI: a CreateDistributionWithTags answered
        201 in 0.0 s was sent again). Served again, a create fails as "already exists" and fails the whole apply,
        though the first attempt did the work. So a resend of a call this emulator already did, with a 2xx answer,
        gets that answer again, without doing it twice (the idempotency CloudFront gives a CallerReference it has
        seen), and a line in the log says so."""
        body = _read_body(environ)
        request_environ = {
            key: str(value)
            for key, value in environ.items()
            if (key in REQUEST_KEYS or key.startswith("HTTP_")) and key != "HTTP_TRANSFER_ENCODING"
        }
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)  # the body is read whole, no longer chunked
        environ.pop("wsgi.input_terminated", None)
        reads = only_reads(request_environ, body)
        invocation, attempt = _sdk_call(request_environ)
        done_before = self._answers.get(invocation) if invocation and attempt > 1 and not reads else None
        if done_before and 200 <= done_before.status < 300:
            _log.warning(
                "the emulator got attempt %d of %s, which it had answered %d (%.1f s): answered the same again, "
                "not done twice",
                attempt,
                RecordedRequest(request_environ, body, done_before.status).line,
                done_before.status,
                done_before.seconds,
            )
            start_response(done_before.status_line, list(done_before.headers))
            return list(done_before.content)
        answered: list[tuple[str, list[tuple[str, str]]]] = []

        def keep_status(status_line: str, headers: Any, exc_info: Any = None) -> Callable[[bytes], object]:
            answered.append((status_line, list(headers)))
            return start_response(status_line, headers, exc_info)

        arrived = time.monotonic()
        with _ONE_AT_A_TIME:
            started = time.monotonic()
            generator = mock_random.getstate() if reads else None
            try:
                answer = app(environ, keep_status)
                try:
                    content = list(answer)  # the app's work is done only once its answer is read
                finally:
                    close = getattr(answer, "close", None)
                    if close:
                        close()
            finally:
                if generator is not None:
                    mock_random.setstate(generator)
            status = int(answered[0][0].split()[0]) if answered else 0
            if not reads and status:
                self.requests.append(RecordedRequest(request_environ, body, status))
        _log_if_slow(request_environ, body, arrived, started)
        if invocation and not reads and answered:
            if attempt > 1:
                said = f"{done_before.status}" if done_before else "nothing this emulator saw"
                _log.warning(
                    "the emulator got attempt %d of %s (answered %d); the attempt before it got %s",
                    attempt,
                    RecordedRequest(request_environ, body, status).line,
                    status,
                    said,
                )
            self._remember(
                invocation, _Answer(answered[0][0], tuple(answered[0][1]), tuple(content), time.monotonic() - arrived)
            )
        return content

    def _remember(self, invocation: str, answer: _Answer) -> None:
        self._answers[invocation] = answer
        if len(self._answers) > 256:  # only the latest calls can still be resent
            del self._answers[next(iter(self._answers))]

    def replay(self, app: WSGIApplication, requests: Iterable[RecordedRequest]) -> str | None:
        """Serve `requests` again through `app` (which records them anew); None once every one got its recorded
        status, or what differed first (the replay stops there)."""
        for number, request in enumerate(requests, 1):
            environ = EnvironBuilder(
                method=request.environ.get("REQUEST_METHOD", "GET"), data=request.body
            ).get_environ()
            environ.update(request.environ)
            environ["CONTENT_LENGTH"] = str(len(request.body))
            answer, status_line, _ = run_wsgi_app(app, environ, buffered=True)
            if hasattr(answer, "close"):
                answer.close()
            status = int(status_line.split()[0])
            if status != request.status:
                return f"request {number} ({request.line}) answered {status}, not {request.status} as recorded"
        return None


def _log_if_slow(environ: dict[str, str], body: bytes, arrived: float, started: float) -> None:
    answered = time.monotonic()
    if answered - arrived >= SLOW_ANSWER_SECONDS:
        _log.warning(
            "the emulator took %.1f s to answer %s (%.1f s of it waiting for another request)",
            answered - arrived,
            RecordedRequest(environ, body, 0).line,
            started - arrived,
        )


def _read_body(environ: WSGIEnvironment) -> bytes:
    stream = environ["wsgi.input"]
    if environ.get("wsgi.input_terminated"):  # chunked: the server ends the stream
        return bytes(stream.read())
    length = int(environ.get("CONTENT_LENGTH") or 0)
    return bytes(stream.read(length)) if length > 0 else b""

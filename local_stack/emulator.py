"""The embedded AWS emulator: moto's server in a thread of this process, on 127.0.0.1.

moto keeps its state per process, by account. Each emulator answers as an account of its own (moto's
`x-moto-account-id`, set on every request it serves), so two emulators in one process see each other's resources
no more than two AWS accounts would. As on AWS, bucket names are global: stacks in one process also need names
of their own (`LocalOptions.project`), or Terraform's random bucket suffixes.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from contract.config import FAKE_CREDENTIALS, LOCAL_HOST, LOCAL_REGION
from local_stack.recording import RecordedRequest, Recording, seed_ids

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

# The emulator answers at once or not at all: fail in seconds rather than hang.
CLIENT_CONFIG = Config(connect_timeout=5, read_timeout=60, retries={"mode": "standard", "max_attempts": 3})


class PortInUse(RuntimeError):
    """A port the local stack wants is taken."""


def ensure_free(host: str, port: int, what: str) -> None:
    """Fail with one clear line if `port` is taken (moto's thread would otherwise wait forever)."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise PortInUse(
                f"port {port} on {host} is in use ({what}); choose another with the matching "
                "--*-port option or stop what holds it"
            ) from exc


def _evaluate_the_owners_statements_only() -> None:
    """Make moto's bucket policies behave as AWS does for the requests local mode makes: the owner's.

    moto has no request context for policy conditions, so it treats every statement with a Condition as a
    *deny*: the CloudFront-only read grant (AWS:SourceArn) would lock the owner out of its own bucket, and the
    TLS-only deny would refuse every call over the emulator's plain HTTP. Nor does it look at principals, so a
    statement about a service (CloudFront may not read the hook's records) would bind the owner. On AWS none of
    these applies to the owner over HTTPS. Here statements with conditions or a service principal are set aside;
    the rest are still enforced. (The local site server plays CloudFront and keeps to its statements itself.)
    """
    from moto.iam.access_control import IAMPolicy, PermissionResult
    from moto.s3.models import FakeBucket

    def get_permission(self: FakeBucket, action: str, resource: str) -> PermissionResult:
        if self.policy is None:
            return PermissionResult.NEUTRAL
        document = json.loads(self.policy)
        statements = document["Statement"] if isinstance(document["Statement"], list) else [document["Statement"]]
        owners = [
            s
            for s in statements
            if "Condition" not in s and not (isinstance(s.get("Principal"), dict) and "Service" in s["Principal"])
        ]
        if not owners:
            return PermissionResult.NEUTRAL
        return IAMPolicy(json.dumps({**document, "Statement": owners})).is_action_permitted(action, resource)

    FakeBucket.get_permission = get_permission  # type: ignore[method-assign]  # the point: replace moto's


def _let_delete_markers_be_disposed() -> None:
    """Let a bucket whose versioning was suspended be emptied, as Terraform's force_destroy does.

    Destroying `aws_s3_bucket_versioning` suspends versioning first; moto then drops a key's whole version list
    and calls `dispose()` on each entry, which only its stored objects have: a delete marker in the list turns
    every DeleteObjects into a 500 and the bucket's destroy into an endless retry. A marker holds no file.
    """
    from moto.s3.models import FakeDeleteMarker

    if not hasattr(FakeDeleteMarker, "dispose"):
        FakeDeleteMarker.dispose = lambda self, garbage=False: None  # type: ignore[attr-defined]


class _AsAccount:
    """moto's WSGI app, answering every request as `account_id`, one request at a time, recording each request
    that may change the emulator (`local_stack.recording`) so that a later emulator can be brought to the same
    state."""

    def __init__(self, app: WSGIApplication, account_id: str) -> None:
        self.app = app
        self.account_id = account_id
        self.recording = Recording()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        environ = {**environ, "HTTP_X_MOTO_ACCOUNT_ID": self.account_id}
        if str(environ.get("PATH_INFO", "")).startswith("/moto-api/"):
            return self.app(environ, start_response)
        return self.recording.serve(self.app, environ, start_response)


@dataclass
class Emulator:
    """A running emulator; `url` is its endpoint for every service, `account_id` the account it answers as."""

    server: BaseWSGIServer
    url: str
    account_id: str
    seed: int = 0  # what moto's generated ids (and request ids) were drawn from
    region: str = LOCAL_REGION
    _thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def recording(self) -> Recording:
        """Every request that may have changed this emulator, in the order it served them."""
        app = self.server.app
        assert isinstance(app, _AsAccount)
        return app.recording

    def replay(self, requests: Iterable[RecordedRequest]) -> str | None:
        """Send `requests` (another emulator's recording) to this one, in order; None once every one got the
        status it got then, or what differed first (the replay stops there)."""
        app = self.server.app
        assert isinstance(app, _AsAccount)
        return app.recording.replay(app, requests)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        if self._thread:
            self._thread.join()

    def environment(self) -> dict[str, str]:
        """The standard variables that send an AWS SDK, CLI or Terraform to the emulator, for child processes."""
        return {
            **FAKE_CREDENTIALS,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_ENDPOINT_URL": self.url,
        }

    def client(self, service: str) -> Any:
        """A boto3 client of `service` that talks to the emulator, whatever this process's environment says."""
        return emulator_client(self.url, service, self.region)


def emulator_client(url: str, service: str, region: str = LOCAL_REGION) -> Any:
    """A boto3 client of `service` at the emulator at `url`, with its fake credentials."""
    return boto3.session.Session().client(
        service,
        endpoint_url=url,
        region_name=region,
        config=CLIENT_CONFIG,  # type: ignore[call-overload]
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


# Accounts an emulator of this process has answered as: moto keeps an account's state as long as the process
# lives, even once its emulator has stopped, so none is used twice.
_USED_ACCOUNTS: set[str] = set()


def account_used(account_id: str) -> bool:
    """Whether an emulator of this process already answered as `account_id` (its state is still in moto)."""
    return account_id in _USED_ACCOUNTS


def start_emulator(
    host: str = LOCAL_HOST, port: int = 0, *, account_id: str | None = None, seed: int | None = None
) -> Emulator:
    """Start moto on `host:port` (0: any free port), as an account of its own (`account_id`, or a new one), its
    generated ids drawn from `seed` (or a new one), and return it once it accepts connections."""
    if "MOTO_ACCOUNT_ID" in os.environ:  # moto would answer every emulator as that one account
        raise RuntimeError("MOTO_ACCOUNT_ID is set: unset it; each local emulator answers as an account of its own")
    account_id = account_id or f"{10**11 + secrets.randbelow(9 * 10**11)}"
    if account_used(account_id):
        raise RuntimeError(f"an emulator of this process already answered as account {account_id}")
    ensure_free(host, port, "the AWS emulator")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request would drown the output
    _evaluate_the_owners_statements_only()
    _let_delete_markers_be_disposed()
    _USED_ACCOUNTS.add(account_id)
    seed = secrets.randbelow(2**31) if seed is None else seed
    seed_ids(seed)
    app = _AsAccount(DomainDispatcherApplication(create_backend_app), account_id)
    server = make_server(host, port, app, threaded=True, request_handler=MotoRequestHandler)
    bound_host, bound_port = str(server.server_address[0]), int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, name=f"emulator :{bound_port}", daemon=True)
    thread.start()
    return Emulator(server, f"http://{bound_host}:{bound_port}", app.account_id, seed, _thread=thread)


def deployed_function_code(function_arn: str) -> bytes:
    """The zip Terraform uploaded for a function. moto cannot serve it over HTTP (its Code.Location points at
    AWS), but it runs in this process, so it is read from the emulator's own store."""
    from moto.awslambda.models import lambda_backends

    parts = function_arn.split(":")  # arn:aws:lambda:<region>:<account>:function:<name>
    region, account, name = parts[3], parts[4], parts[6]
    return lambda_backends[account][region].get_function(name).code_bytes

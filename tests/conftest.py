"""Shared fixtures: the app is synthesized once per test session and every test reads that output."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

# Synthesis installs the lean provider import when `modules` is imported. A test file that imports a provider class
# itself (test_tiers_alone, test_firewall) would otherwise load the whole provider package first, and every later
# test in that worker would see it (test_provider_imports fails whenever such a file ran before it on its worker).
import modules  # noqa: F401
from terraform_cli import StackWorkspace
from tests.aws_resources import users_table

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

HANDLER_PATH = Path(__file__).resolve().parent.parent / "functions" / "get_user" / "handler.py"
ORIGIN = "https://d111111abcdef8.cloudfront.net"

# Fixed local-mode ports, so assertions on the local stack are exact.
LOCAL_ENV = {"LOCAL_EMULATOR_URL": "http://127.0.0.1:4599", "LOCAL_SITE_ORIGIN": "http://127.0.0.1:8199"}


@dataclass(frozen=True)
class SynthesizedStack:
    """One stack's synthesized Terraform JSON and its workspace (the folder Terraform runs in)."""

    name: str
    workspace: StackWorkspace
    config: dict[str, Any]

    @property
    def directory(self) -> Path:
        return self.workspace.directory

    @property
    def text(self) -> str:
        return json.dumps(self.config)

    def resources(self, resource_type: str) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = self.config.get("resource", {}).get(resource_type, {})
        return found

    def only(self, resource_type: str) -> dict[str, Any]:
        """The one resource of a type; fails if there are none or several."""
        found = list(self.resources(resource_type).values())
        assert len(found) == 1, f"expected one {resource_type}, found {len(found)}"
        return found[0]

    def ref(self, resource_type: str, attribute: str) -> str:
        """The interpolation that refers to the one resource of a type, e.g. ${aws_s3_bucket.X.arn}."""
        (logical_id,) = self.resources(resource_type)
        return f"${{{resource_type}.{logical_id}.{attribute}}}"

    def outputs(self) -> dict[str, str]:
        return {name: output["value"] for name, output in self.config["output"].items()}


def synthesize(settings: list[Any], outdir: Path) -> dict[str, SynthesizedStack]:
    """Synthesize environments with the app's own entry point and read each stack back."""
    from main import synth

    return {
        name: SynthesizedStack(name, workspace, workspace.config())
        for name, workspace in synth(settings, outdir).items()
    }


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SynthesizedStack]:
    from contract.config import ENVIRONMENTS, load_environment

    return synthesize(
        [load_environment(name, LOCAL_ENV) for name in ENVIRONMENTS], tmp_path_factory.mktemp("cdktf.out")
    )


@pytest.fixture(scope="session")
def prod(synthesized: dict[str, SynthesizedStack]) -> SynthesizedStack:
    return synthesized["prod"]


def prod_with_every_option() -> Any:
    """Prod with each option on: alarms mailing ops, a custom domain with an alternative name (so same-origin),
    the account's API Gateway logging role managed by the stack, and WAF on the site and the API, logged."""
    from dataclasses import replace

    from contract.config import AlarmSettings, DomainSettings, WafSettings, load_environment

    prod = load_environment("prod", {})
    return replace(
        prod,
        alarms=AlarmSettings(enabled=True, email="ops@example.com"),
        domain=DomainSettings(
            domain_name="users.example.com",
            hosted_zone_id="Z0123456789ABCDEFGHIJ",
            alternative_names=("www.users.example.com",),
        ),
        site=replace(prod.site, api_same_origin=True),
        api=replace(prod.api, manage_account_logging_role=True),
        waf=WafSettings(enabled=True, logging=True),
    )


@pytest.fixture(scope="session")
def prod_all(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedStack:
    """The prod stack with every option on, synthesized once."""
    return synthesize([prod_with_every_option()], tmp_path_factory.mktemp("prod-all"))["prod"]


@pytest.fixture(scope="session")
def local(synthesized: dict[str, SynthesizedStack]) -> SynthesizedStack:
    return synthesized["local"]


@pytest.fixture(scope="session")
def cli_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's Terraform CLI config for this machine (provider mirror from TF_PROVIDER_MIRROR)."""
    from terraform_cli import write_cli_config

    return write_cli_config(tmp_path_factory.mktemp("terraform") / "cli.tfrc")


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Root in a sandbox with no network beyond loopback: no sandbox, no background traffic.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]


@dataclass(frozen=True)
class SilentEndpoint:
    """A socket on loopback that accepts connections and never answers, and its URL: an AWS that hangs."""

    socket: socket.socket
    url: str


@pytest.fixture
def silent_endpoint() -> Iterator[SilentEndpoint]:
    with socket.socket() as black_hole:
        black_hole.bind(("127.0.0.1", 0))
        black_hole.listen(64)
        yield SilentEndpoint(black_hole, f"http://127.0.0.1:{black_hole.getsockname()[1]}")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium (Debian's package, never a downloaded one) for the whole session."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def emulator() -> Iterator[Any]:
    """One AWS emulator (moto server over HTTP) shared by the tests that need AWS."""
    from local_stack.emulator import start_emulator

    running = start_emulator()
    yield running
    running.stop()


@pytest.fixture
def own_emulator() -> Iterator[Any]:
    """An emulator of the test's own (an account of its own, empty when it starts): what the test deploys into it
    is gone with it, so the test need not destroy it to leave the shared emulator as it was."""
    from local_stack.emulator import start_emulator

    running = start_emulator()
    yield running
    running.stop()


@pytest.fixture
def aws(emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The standard environment variables pointing boto3 at the emulator; returns a session."""
    import boto3

    for name, value in emulator.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return boto3.session.Session()


@contextmanager
def running_local_stack(work_dir: Path, **options: Any) -> Iterator[Any]:
    """The stack deployed into an emulator of its own and served on free ports; its deferred resources are still
    being applied in the background (`whole_local_stack` waits for them)."""
    from local_stack.stack import LocalOptions, LocalStack

    stack = LocalStack(LocalOptions(site_port=0, api_port=0, work_dir=work_dir, **options), log=lambda line: None)
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The cross-origin local stack, once per test session."""
    with running_local_stack(tmp_path_factory.mktemp("local-stack")) as stack:
        yield stack


@pytest.fixture
def whole_local_stack(local_stack: Any) -> Any:
    """The cross-origin local stack once its deferred resources are applied too: for tests of the whole stack."""
    local_stack.wait_for_deferred()
    return local_stack


def validation_errors(directory: Path, cli_config: Path) -> list[str]:
    """`terraform validate` of a synthesized stack with the real CLI and provider: its errors and warnings."""
    from terraform_cli import Terraform

    terraform = Terraform(directory, cli_config)
    terraform.init(backend=False)
    return [f"{d.severity}: {d}" for d in terraform.validate()]


def load_handler() -> ModuleType:
    """A fresh copy of the module, as a new Lambda container would load it (no client cached yet)."""
    spec = importlib.util.spec_from_file_location("get_user_handler", HANDLER_PATH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def function_environment(table: str) -> dict[str, str]:
    """The variables the stack gives the function, for a table of the tests' own."""
    from contract.functions import CORS_ALLOW_HEADERS, CORS_ALLOW_METHODS

    return {
        "TABLE_NAME": table,
        "ALLOWED_ORIGIN": ORIGIN,
        "ALLOWED_METHODS": CORS_ALLOW_METHODS,
        "ALLOWED_HEADERS": CORS_ALLOW_HEADERS,
    }


@pytest.fixture
def handler(aws: Any, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The handler over a fresh users table in the emulator, reached through AWS_ENDPOINT_URL."""
    table = f"users-{uuid.uuid4().hex[:12]}"
    for name, value in function_environment(table).items():
        monkeypatch.setenv(name, value)
    users_table(aws.client("dynamodb"), table)
    return load_handler()

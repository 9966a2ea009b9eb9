"""Shared fixtures: the app is synthesized once per test session and every test reads that output."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import uuid
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

HANDLER_PATH = Path(__file__).resolve().parent.parent / "functions" / "get_user" / "handler.py"
ORIGIN = "https://d111111abcdef8.cloudfront.net"

# Fixed local-mode ports, so assertions on the local stack are exact.
LOCAL_ENV = {"LOCAL_EMULATOR_URL": "http://127.0.0.1:4599", "LOCAL_SITE_ORIGIN": "http://127.0.0.1:8199"}


@dataclass(frozen=True)
class SynthesizedStack:
    """One stack's synthesized Terraform JSON and the folder Terraform runs in."""

    name: str
    directory: Path
    config: dict

    @property
    def text(self) -> str:
        return json.dumps(self.config)

    def resources(self, resource_type: str) -> dict[str, dict]:
        return self.config.get("resource", {}).get(resource_type, {})

    def only(self, resource_type: str) -> dict:
        """The one resource of a type; fails if there are none or several."""
        found = list(self.resources(resource_type).values())
        assert len(found) == 1, f"expected one {resource_type}, found {len(found)}"
        return found[0]

    def ref(self, resource_type: str, attribute: str) -> str:
        """The interpolation that refers to the one resource of a type, e.g. ${aws_s3_bucket.X.arn}."""
        (logical_id,) = self.resources(resource_type)
        return f"${{{resource_type}.{logical_id}.{attribute}}}"


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory) -> dict[str, SynthesizedStack]:
    from main import build_app
    from modules.config import ENVIRONMENTS, load_environment

    outdir = tmp_path_factory.mktemp("cdktf.out")
    build_app([load_environment(name, LOCAL_ENV) for name in ENVIRONMENTS], str(outdir)).synth()
    stacks = {}
    for name in ENVIRONMENTS:
        directory = outdir / "stacks" / name
        stacks[name] = SynthesizedStack(name, directory, json.loads((directory / "cdk.tf.json").read_text()))
    return stacks


@pytest.fixture(scope="session")
def prod(synthesized) -> SynthesizedStack:
    return synthesized["prod"]


@pytest.fixture(scope="session")
def local(synthesized) -> SynthesizedStack:
    return synthesized["local"]


def pytest_configure(config):
    config.addinivalue_line("markers", "runs_last: tear-down checks that must run after every other test")


def pytest_collection_modifyitems(items):
    # Tests that tear the shared local stack down run after all tests that use it.
    items.sort(key=lambda item: item.get_closest_marker("runs_last") is not None)


@pytest.fixture(scope="session")
def cli_config(tmp_path_factory) -> Path:
    """The project's Terraform CLI config for this machine (provider mirror from TF_PROVIDER_MIRROR)."""
    from terraform_cli import write_cli_config

    return write_cli_config(tmp_path_factory.mktemp("terraform") / "cli.tfrc")


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Root in a sandbox with no network beyond loopback: no sandbox, no background traffic.
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"]


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium (Debian's package, never a downloaded one) for the whole session."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def emulator():
    """One AWS emulator (moto server over HTTP) shared by the tests that need AWS."""
    from local_stack.emulator import start_emulator

    running = start_emulator()
    yield running
    running.stop()


@pytest.fixture
def aws(emulator, monkeypatch):
    """The standard environment variables pointing boto3 at the emulator; returns a session."""
    import boto3

    from local_stack.emulator import FAKE_CREDENTIALS

    for name, value in {**FAKE_CREDENTIALS, "AWS_DEFAULT_REGION": "us-east-1",
                        "AWS_ENDPOINT_URL": emulator.url}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return boto3.session.Session()


@contextmanager
def running_local_stack(**options):
    """The whole stack deployed into an emulator and served on free ports; the environment restored after."""
    from local_stack.run import LocalOptions, LocalStack

    saved = dict(os.environ)
    lines: list[str] = []
    stack = LocalStack(LocalOptions(site_port=0, api_port=0, **options), log=lines.append)
    try:
        stack.start()
        for line in lines:
            if line.startswith("apply failed"):  # shown in the run's warnings summary, so CI logs keep it
                warnings.warn(line, stacklevel=1)
        yield stack
    finally:
        stack.stop()
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="session")
def local_stack():
    """The cross-origin local stack, once per test session."""
    with running_local_stack() as stack:
        yield stack


def load_handler():
    """A fresh copy of the module, as a new Lambda container would load it (no client cached yet)."""
    spec = importlib.util.spec_from_file_location("get_user_handler", HANDLER_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def handler(aws, monkeypatch):
    """The handler over a fresh users table in the emulator, reached through AWS_ENDPOINT_URL."""
    table = f"users-{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("TABLE_NAME", table)
    monkeypatch.setenv("ALLOWED_ORIGIN", ORIGIN)
    dynamodb = aws.client("dynamodb")
    dynamodb.create_table(TableName=table, KeySchema=[{"AttributeName": "userId", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "userId", "AttributeType": "S"}],
                          BillingMode="PAY_PER_REQUEST")
    dynamodb.put_item(TableName=table, Item={"userId": {"S": "1"}, "name": {"S": "Test User"},
                                             "email": {"S": "test@example.com"}, "age": {"N": "42"}})
    return load_handler()

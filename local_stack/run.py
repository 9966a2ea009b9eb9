"""`pipenv run local`: the whole stack on this machine, without an AWS account.

1. start the AWS emulator (moto) on 127.0.0.1;
2. synthesize the `local` stack and deploy it with `cdktf deploy`: the real Terraform CLI and AWS provider, every
   endpoint pointed at the emulator;
3. publish web/ with the post-apply hook, exactly as for AWS;
4. serve the site and the API on two 127.0.0.1 ports (so the browser makes real cross-origin calls) until Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import boto3
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Response

from hooks import post_apply
from local_stack.emulator import FAKE_CREDENTIALS, Emulator, PortInUse, ensure_free, start_emulator
from local_stack.gateway import LocalGateway, read_deployed_api
from local_stack.site import LocalSite, api_routes
from terraform_cli import MIRROR_ENV, PROJECT_DIR, cdktf_command, terraform, terraform_env, write_cli_config

STACK = "local"
REGION = "us-east-1"


class LocalStackError(RuntimeError):
    """Something stopped the local stack; the message is one line saying what and what to do."""


@dataclass(frozen=True)
class LocalOptions:
    host: str = "127.0.0.1"
    emulator_port: int = 0  # any free port
    site_port: int = 8080
    api_port: int = 8081
    source: Path = PROJECT_DIR / "web"
    # Same-origin mode: the site origin also routes /users to the API, as CloudFront does with the option on.
    same_origin: bool = False
    # Local mode keeps its synth output, state and logs here, apart from the project's cdktf.out: a `cdktf synth`
    # run meanwhile cannot change what the running local stack plans and destroys.
    work_dir: Path = PROJECT_DIR / ".local"


class _Slot:
    """A WSGI app that answers 503 until the real one is ready, so ports can be held from the start."""

    def __init__(self) -> None:
        self.app = None

    def __call__(self, environ, start_response):
        app = self.app or Response("starting", status=503)
        return app(environ, start_response)


@dataclass
class LocalServer:
    """One of the two loopback servers (site, API): bound at once, serving once `start` is called."""

    server: BaseWSGIServer
    slot: _Slot
    thread: threading.Thread | None = None

    @property
    def origin(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        if self.thread:
            self.server.shutdown()
        self.server.server_close()


def bind_server(host: str, port: int, what: str) -> LocalServer:
    """Hold `host:port` (0: any free port) for `what`, or fail with PortInUse naming it."""
    ensure_free(host, port, what)
    slot = _Slot()
    return LocalServer(make_server(host, port, slot, threaded=True), slot)


@dataclass
class LocalStack:
    """The running local stack. `start()` runs every phase; `stop()` ends it; `destroy()` tears it down."""

    options: LocalOptions = field(default_factory=LocalOptions)
    log: Callable[[str], None] = print
    timings: dict[str, float] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    emulator: Emulator | None = None
    site: LocalServer | None = None
    api: LocalServer | None = None
    _scratch: tempfile.TemporaryDirectory | None = None

    # --- where things are ----------------------------------------------------------------------------------

    @property
    def outdir(self) -> Path:
        return self.options.work_dir / "cdktf.out"

    @property
    def stack_dir(self) -> Path:
        return self.outdir / "stacks" / STACK

    @property
    def state_file(self) -> Path:
        """The stack's local backend path, ../../../terraform.local.tfstate from its stack folder."""
        return self.options.work_dir / f"terraform.{STACK}.tfstate"

    # --- lifecycle --------------------------------------------------------------------------------------

    def start(self) -> None:
        self._preflight()
        self.site = bind_server(self.options.host, self.options.site_port, "the local site")
        self.api = bind_server(self.options.host, self.options.api_port, "the local API")
        self.emulator = start_emulator(self.options.host, self.options.emulator_port)
        self._check_emulator()
        self._scratch = tempfile.TemporaryDirectory(prefix="local-stack-")
        self.options.work_dir.mkdir(parents=True, exist_ok=True)
        self.cli_config = write_cli_config(Path(self._scratch.name) / "cli.tfrc")
        os.environ.update(self.aws_environment())  # the hook and the in-process function use the emulator
        # State describes resources in an emulator; the previous emulator is gone with its process.
        for stale in (self.state_file, self.state_file.with_name(self.state_file.name + ".backup")):
            stale.unlink(missing_ok=True)
        self._phase("synth", self._synth)
        self._phase("init", self._init)
        self._phase("apply", self._apply)
        self._phase("publish", self._publish)
        self._serve()

    def stop(self) -> None:
        for server in (self.site, self.api):
            if server:
                server.stop()
        if self._scratch:
            self._scratch.cleanup()
        if self.emulator:
            self.emulator.stop()
            # The state described resources in this emulator, which are gone with it.
            self.state_file.unlink(missing_ok=True)

    def destroy(self) -> None:
        """`cdktf destroy local`: remove every resource from the emulator through Terraform."""
        self._cdktf(["destroy", STACK, "--skip-synth", "--output", str(self.outdir), "--auto-approve"], "destroy")

    # --- what it prints ---------------------------------------------------------------------------------

    @property
    def site_url(self) -> str:
        return f"{self.site.origin}/"

    @property
    def api_url(self) -> str:
        stage_path = self.outputs["api_url"].split(".amazonaws.com", 1)[1]  # /<stage>/users
        return f"{self.api.origin}{stage_path}"

    def aws_environment(self) -> dict[str, str]:
        return {**FAKE_CREDENTIALS, "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION,
                "AWS_ENDPOINT_URL": self.emulator.url}

    def stack_environment(self) -> dict[str, str]:
        env = terraform_env(self.cli_config)
        env.update(self.aws_environment())
        env.update(APP_ENVIRONMENTS=STACK, LOCAL_EMULATOR_URL=self.emulator.url, LOCAL_SITE_ORIGIN=self.site.origin,
                   LOCAL_API_SAME_ORIGIN="1" if self.options.same_origin else "0",
                   JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20", CI="1", FORCE_COLOR="0")
        return env

    # --- phases -----------------------------------------------------------------------------------------

    def _phase(self, name: str, action: Callable[[], None]) -> None:
        started = time.perf_counter()
        action()
        self.timings[name] = time.perf_counter() - started
        self.log(f"{name:<8} {self.timings[name]:6.1f} s")

    @staticmethod
    def _preflight() -> None:
        """Fail in a second, not after the emulator and synth, when a tool is missing."""
        if shutil.which("terraform") is None:
            raise LocalStackError("terraform is not on PATH: install Terraform 1.10 or newer "
                                  "(https://developer.hashicorp.com/terraform/install), then run scripts/setup")
        try:
            cdktf_command([])
        except FileNotFoundError as exc:
            raise LocalStackError(str(exc)) from exc

    def _check_emulator(self) -> None:
        try:
            urllib.request.urlopen(f"{self.emulator.url}/moto-api/", timeout=5).close()
        except OSError as exc:
            raise LocalStackError(f"the AWS emulator did not answer at {self.emulator.url}: {exc}") from exc

    def _cdktf(self, args: list[str], phase: str) -> None:
        log_file = self.options.work_dir / f"{phase}.log"
        with log_file.open("w") as out:
            done = subprocess.run(cdktf_command(args), cwd=PROJECT_DIR, env=self.stack_environment(), stdout=out,
                                  stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, check=False)
        if done.returncode != 0:
            lines = [line.strip() for line in log_file.read_text().splitlines() if line.strip()]
            # Terraform's own "Error: …" lines say what failed; the CLI's last lines only that it did.
            errors = [line.split("Error:", 1)[1].strip() for line in lines if "Error:" in line]
            reason = " | ".join(errors[:3]) if errors else " | ".join(lines[-3:])
            raise LocalStackError(f"cdktf {args[0]} failed (exit {done.returncode}, full log {log_file}): {reason}")

    def _synth(self) -> None:
        self._cdktf(["synth", "--output", str(self.outdir)], "synth")

    def _init(self) -> None:
        done = terraform(["init", "-input=false", "-no-color"], self.stack_dir, self.cli_config,
                         self.stack_environment())
        if done.returncode != 0:
            where = os.environ.get(MIRROR_ENV) or "none"
            lines = [line.strip(" │╷╵") for line in done.stderr.splitlines() if line.strip(" │╷╵")]
            reason = next((line for line in lines if line.startswith("Error:")), lines[-1] if lines else "")
            raise LocalStackError(
                "terraform init could not install the hashicorp/aws provider (mirror: "
                f"{where}); run scripts/setup, which finds a local provider mirror, set {MIRROR_ENV} to one, or "
                f"allow access to the Terraform registry. Terraform said: {reason}")

    def _apply(self) -> None:
        outputs_file = self.options.work_dir / "outputs.json"
        deploy = ["deploy", STACK, "--skip-synth", "--output", str(self.outdir), "--auto-approve", "--outputs-file",
                  str(outputs_file)]
        try:
            self._cdktf(deploy, "apply")
        except LocalStackError as first:
            # A first apply into the emulator has failed once in CI (a busy machine, cause not captured then).
            # Terraform converges on a second apply; an error that persists fails that one too and is reported.
            # The first attempt's log is kept as .local/apply-first-attempt.log.
            self.log(f"apply failed, applying once more: {first}")
            (self.options.work_dir / "apply.log").replace(self.options.work_dir / "apply-first-attempt.log")
            self._cdktf(deploy, "apply")
        self.outputs = json.loads(outputs_file.read_text())[STACK]

    @property
    def page_api_url(self) -> str:
        """What the page calls: the path the site routes (same-origin), else the local gateway (not the
        execute-api URL the emulator made up)."""
        page = self.outputs["page_api_url"]
        return page if page.startswith("/") else self.api_url

    def _publish(self) -> None:
        code = post_apply.main(["--outputs-file", str(self.options.work_dir / "outputs.json"), "--stack", STACK,
                                "--api-url", self.page_api_url, "--source", str(self.options.source), "--prune"])
        if code != 0:
            raise LocalStackError("publishing web/ failed (see the line above)")

    def _serve(self) -> None:
        session = boto3.session.Session()
        distribution = session.client("cloudfront").get_distribution_config(
            Id=self.outputs["distribution_id"])["DistributionConfig"]
        api_id = self.outputs["api_url"].split("//", 1)[1].split(".", 1)[0]
        deployed = read_deployed_api(session.client("apigateway"), session.client("lambda"), api_id,
                                     Path(self._scratch.name))
        gateway = LocalGateway(deployed, self.aws_environment())
        self.api.slot.app = gateway
        self.site.slot.app = LocalSite(session.client("s3"), self.outputs["bucket_name"],
                                       distribution.get("DefaultRootObject") or "index.html",
                                       routes=api_routes(distribution), api=gateway)
        self.site.start()
        self.api.start()

    # --- review -----------------------------------------------------------------------------------------

    def plan_changes(self) -> dict[str, list[str]]:
        """What `terraform plan` would change now: resource address -> top-level attributes that differ."""
        plan_file = Path(self._scratch.name) / "plan.bin"
        env = self.stack_environment()
        done = terraform(["plan", "-input=false", "-no-color", f"-out={plan_file}"], self.stack_dir, self.cli_config,
                         env)
        if done.returncode != 0:
            raise LocalStackError(f"terraform plan failed: {done.stderr.strip()}")
        shown = terraform(["show", "-json", str(plan_file)], self.stack_dir, self.cli_config, env)
        changes = {}
        for change in json.loads(shown.stdout).get("resource_changes", []):
            if change["change"]["actions"] == ["no-op"]:
                continue
            before, after = change["change"].get("before") or {}, change["change"].get("after") or {}
            changes[change["address"]] = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
        return changes


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="pipenv run local", description=__doc__.split("\n\n")[0])
    parser.add_argument("--site-port", type=int, default=LocalOptions.site_port, help="default %(default)s")
    parser.add_argument("--api-port", type=int, default=LocalOptions.api_port, help="default %(default)s")
    parser.add_argument("--emulator-port", type=int, default=0, help="default: any free port")
    parser.add_argument("--same-origin", action="store_true",
                        help="route /users through the site origin, as the same-origin option does on AWS")
    parser.add_argument("--destroy-on-exit", action="store_true",
                        help="on Ctrl-C, run `cdktf destroy local` before stopping the emulator")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stack = LocalStack(LocalOptions(site_port=args.site_port, api_port=args.api_port,
                                    emulator_port=args.emulator_port, same_origin=args.same_origin))
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    try:
        stack.start()
        print(f"site: {stack.site_url}")
        print(f"api: {stack.api_url}")
        print("serving until Ctrl-C", flush=True)
        stopping.wait()
    except KeyboardInterrupt:
        pass
    except (LocalStackError, PortInUse) as exc:
        print(f"local: error: {exc}", file=sys.stderr)
        stack.stop()
        return 1
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if args.destroy_on_exit:
        try:
            stack.destroy()
            print("destroyed every resource in the emulator")
        except LocalStackError as exc:
            print(f"local: error: {exc}", file=sys.stderr)
    stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

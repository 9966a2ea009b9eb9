"""The local stack's orchestration: emulator, synth, Terraform, publish, servers — in that order, in-process.

1. hold the two loopback ports and start the AWS emulator (moto);
2. synthesize the `local` stack with `main.synth` for those ports;
3. `terraform init` and `apply` it with the real CLI and AWS provider, every endpoint at the emulator;
4. publish web/ with the post-apply hook's library, exactly as for AWS;
5. serve the site and the API (`local_stack.site`, `local_stack.gateway`) from what was deployed.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TypeVar

from hooks.publish import PublishOptions, PublishResult, SiteClients, Target, publish_site
from local_stack.emulator import Emulator, start_emulator
from local_stack.gateway import LocalGateway, read_deployed_api
from local_stack.servers import LocalServer, bind_server
from local_stack.site import LocalSite, api_routes
from main import synth
from modules.config import EnvironmentSettings, local_environment
from modules.headers import SecurityHeaders
from modules.outputs import StackOutputs
from modules.stack import local_state_path
from terraform_cli import PROJECT_DIR, Terraform, TerraformError, write_cli_config

T = TypeVar("T")
STACK = "local"
# An apply into the emulator takes about a minute; far longer means something hangs.
TERRAFORM_TIMEOUT_SECONDS = 600.0


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
    # Local mode keeps its synth output, state, outputs and logs here, apart from the project's cdktf.out: a
    # `cdktf synth` run meanwhile cannot change what the running local stack plans and destroys.
    work_dir: Path = PROJECT_DIR / ".local"


@dataclass
class LocalStack:
    """The running local stack. `start()` runs every phase; `stop()` ends it; `destroy()` tears it down.

    Setting `stopping` (e.g. from a SIGTERM handler) interrupts a running Terraform phase cleanly.
    """

    options: LocalOptions = field(default_factory=LocalOptions)
    log: Callable[[str], None] = print
    timings: dict[str, float] = field(default_factory=dict)
    stopping: threading.Event = field(default_factory=threading.Event)
    emulator: Emulator | None = None
    site: LocalServer | None = None
    api: LocalServer | None = None
    settings: EnvironmentSettings | None = None
    outputs: StackOutputs | None = None
    gateway: LocalGateway | None = None
    _lock: IO[str] | None = None

    # --- where things are ----------------------------------------------------------------------------------

    @property
    def outdir(self) -> Path:
        return self.options.work_dir / "cdktf.out"

    @property
    def stack_dir(self) -> Path:
        return self.outdir / "stacks" / STACK

    @property
    def state_file(self) -> Path:
        return (self.stack_dir / local_state_path(STACK)).resolve()

    @property
    def outputs_file(self) -> Path:
        """The stack outputs, in the form `cdktf deploy --outputs-file` writes, for the hook and your tools."""
        return self.options.work_dir / "outputs.json"

    @property
    def site_url(self) -> str:
        return self._running(self.outputs).site_url

    @property
    def api_url(self) -> str:
        return self._running(self.outputs).api_url

    # --- lifecycle --------------------------------------------------------------------------------------

    def start(self) -> None:
        if shutil.which("terraform") is None:  # fail in a second, not after the emulator and synth
            raise LocalStackError(
                "terraform is not on PATH: install Terraform 1.10 or newer "
                "(https://developer.hashicorp.com/terraform/install), then run scripts/setup"
            )
        self._claim_work_dir()
        self.site = bind_server(self.options.host, self.options.site_port, "the local site")
        self.api = bind_server(self.options.host, self.options.api_port, "the local API")
        self.emulator = start_emulator(self.options.host, self.options.emulator_port)
        self._check_emulator(self.emulator)
        self.settings = local_environment(
            emulator_url=self.emulator.url,
            site_origin=self.site.origin,
            api_origin=self.api.origin,
            same_origin=self.options.same_origin,
        )
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
        if self.gateway:
            self.gateway.close()
        if self.emulator:
            self.emulator.stop()
            # The state described resources in this emulator, which are gone with it.
            self.state_file.unlink(missing_ok=True)
        if self._lock:
            self._lock.close()  # releases the work directory

    def destroy(self) -> None:
        """`terraform destroy` of the local stack: remove every resource from this stack's emulator."""
        try:
            self.terraform("destroy").destroy()
        except TerraformError as exc:
            raise LocalStackError(f"{exc} (full log {self.options.work_dir / 'destroy.log'})") from exc

    def terraform(self, phase: str) -> Terraform:
        """Terraform in the local stack's folder, at this stack's emulator, logging to <work dir>/<phase>.log."""
        emulator = self._running(self.emulator)
        log_file = self.options.work_dir / f"{phase}.log"
        log_file.write_text("")

        def on_message(kind: str, text: str) -> None:
            with log_file.open("a") as out:
                out.write(text + "\n")
            if kind == "apply_progress":  # a resource taking long: say what is waited on
                self.log(f"  {text}")

        return Terraform(
            self.stack_dir,
            self.options.work_dir / "terraform.rc",
            env=emulator.environment(),
            on_message=on_message,
            timeout=TERRAFORM_TIMEOUT_SECONDS,
            stop=self.stopping,
        )

    # --- phases -----------------------------------------------------------------------------------------

    def _phase(self, name: str, action: Callable[[], None]) -> None:
        started = time.perf_counter()
        try:
            action()
        except TerraformError as exc:
            raise LocalStackError(f"{exc} (full log {self.options.work_dir / (name + '.log')})") from exc
        self.timings[name] = time.perf_counter() - started
        self.log(f"{name:<8} {self.timings[name]:6.1f} s")

    def _claim_work_dir(self) -> None:
        """One local stack per work directory: a second would delete the first's state and resources."""
        self.options.work_dir.mkdir(parents=True, exist_ok=True)
        lock = (self.options.work_dir / "lock").open("a+")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "unknown"
            lock.close()
            raise LocalStackError(
                f"another local stack (pid {holder}) is running in {self.options.work_dir}; "
                "stop it first, or give this one its own --work-dir"
            ) from None
        lock.truncate(0)
        lock.write(f"{os.getpid()}\n")
        lock.flush()
        self._lock = lock

    @staticmethod
    def _check_emulator(emulator: Emulator) -> None:
        try:
            urllib.request.urlopen(f"{emulator.url}/moto-api/", timeout=5).close()
        except OSError as exc:
            raise LocalStackError(f"the AWS emulator did not answer at {emulator.url}: {exc}") from exc

    def _synth(self) -> None:
        synth([self._running(self.settings)], self.outdir)

    def _init(self) -> None:
        write_cli_config(self.options.work_dir / "terraform.rc")
        try:
            self.terraform("init").init()
        except TerraformError as exc:
            mirror = os.environ.get("TF_PROVIDER_MIRROR") or "none"
            raise LocalStackError(
                f"terraform init could not install the hashicorp/aws provider (mirror: {mirror}); run scripts/setup, "
                "which finds a local provider mirror, set TF_PROVIDER_MIRROR to one, or allow access to the "
                f"Terraform registry. {exc}"
            ) from exc

    def _apply(self) -> None:
        outputs = self.terraform("apply").apply()
        self.outputs = StackOutputs.from_terraform(outputs, "terraform apply")
        self.outputs.to_outputs_file(self.outputs_file, STACK)

    def publish(self, source: Path | None = None) -> PublishResult:
        """Publish `source` (default: the stack's web/) to the running stack, exactly as the hook does on AWS."""
        emulator = self._running(self.emulator)
        clients = SiteClients(s3=emulator.client("s3"), cloudfront=emulator.client("cloudfront"))
        target = Target.from_outputs(self._running(self.outputs))
        return publish_site(target, source or self.options.source, PublishOptions(prune=True), clients)

    def _publish(self) -> None:
        self.log(self.publish().describe())

    def _serve(self) -> None:
        emulator, outputs = self._running(self.emulator), self._running(self.outputs)
        site, api = self._running(self.site), self._running(self.api)
        distribution = emulator.client("cloudfront").get_distribution_config(Id=outputs.distribution_id)[
            "DistributionConfig"
        ]
        deployed = read_deployed_api(
            emulator.client("apigateway"),
            emulator.client("lambda"),
            outputs.api_id,
            self.options.work_dir / "functions",
        )
        self.gateway = LocalGateway(deployed, emulator.environment(), self.log)
        api.slot.app = self.gateway
        site.slot.app = LocalSite(
            emulator.client("s3"),
            outputs.bucket_name,
            distribution["DefaultRootObject"],
            routes=api_routes(distribution),
            api=self.gateway,
            # What the distribution's own policy adds on AWS; the emulator cannot store that policy.
            headers=SecurityHeaders(outputs.content_security_policy).http_headers(),
        )
        site.start()
        api.start()

    @staticmethod
    def _running(value: T | None) -> T:
        """A part that exists once the stack has started."""
        if value is None:
            raise LocalStackError("the local stack has not started")
        return value

"""The local stack's orchestration: emulator, synth, Terraform, publish, servers — in that order, in-process.

1. hold the two loopback ports and start the AWS emulator (moto);
2. synthesize the `local` stack with `main.synth` for those ports;
3. `terraform init`, and `apply` what serving needs — every resource but the DEFERRED ones — with the real CLI
   and AWS provider, every endpoint at the emulator;
4. publish web/ with the post-apply hook's library, exactly as for AWS;
5. serve the site and the API (`local_stack.site`, `local_stack.gateway`) from what was deployed;
6. apply the rest of the stack (the same configuration, untargeted) in the background, and say when it is done.

While it serves, `publish`, `update_function` and `reapply` bring it up to date with edits (`local_stack.watch`).
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import shutil
import threading
import time
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar

from contract.config import EnvironmentSettings, local_environment
from contract.functions import NOT_PACKAGED, deployed_function_name
from contract.headers import SecurityHeaders
from contract.outputs import StackOutputs
from hooks.publish import publish_site
from hooks.results import PublishOptions, PublishResult, Target
from hooks.storage import SiteClients
from local_stack.emulator import Emulator, start_emulator
from local_stack.gateway import LocalGateway, read_deployed_api, read_function
from local_stack.servers import LocalServer, bind_server
from local_stack.site import LocalSite, api_routes
from local_stack.synth import synth_in_project
from main import synth
from modules.stack import local_state_path
from terraform_cli import PROJECT_DIR, Terraform, TerraformError, write_cli_config

T = TypeVar("T")
STACK = "local"
# An apply into the emulator takes about a minute; far longer means something hangs.
TERRAFORM_TIMEOUT_SECONDS = 600.0
# On no request's path, so applied after the stack serves: the bucket's lifecycle rules (the provider re-reads
# them for about 55 s until S3 answers the same three times) and the error alarms with their topic and key.
DEFERRED = frozenset(
    {
        "aws_s3_bucket_lifecycle_configuration",
        "aws_cloudwatch_metric_alarm",
        "aws_sns_topic",
        "aws_sns_topic_policy",
        "aws_kms_key",
        "aws_kms_alias",
        "aws_kms_key_policy",
    }
)
# Outputs the published site depends on: when one changes, the site is published again.
PAGE_OUTPUTS = ("page_api_url", "content_security_policy")


class LocalStackError(RuntimeError):
    """Something stopped the local stack; the message is one line saying what and what to do."""


@dataclass(frozen=True)
class LocalOptions:
    host: str = "127.0.0.1"
    emulator_port: int = 0  # any free port
    site_port: int = 8080
    api_port: int = 8081
    # The project whose web/, functions/ and modules/ local mode deploys (and watches, in watch mode).
    project_dir: Path = PROJECT_DIR
    source: Path | None = None  # the site's folder; None: <project_dir>/web
    # Same-origin mode: the site origin also routes /users to the API, as CloudFront does with the option on.
    same_origin: bool = False
    # Local mode keeps its synth output, state, outputs and logs here, apart from the project's cdktf.out: a
    # `cdktf synth` run meanwhile cannot change what the running local stack plans and destroys.
    work_dir: Path = PROJECT_DIR / ".local"
    # Serve once what requests need is applied, and apply the DEFERRED resources in the background.
    defer: bool = True
    # Pages reload themselves when a new release is published (watch mode).
    live_reload: bool = False

    @property
    def web_dir(self) -> Path:
        return self.source or self.project_dir / "web"


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
    # Set when the deferred resources are applied (or there were none); `deferred_error` says if that failed.
    deferred_done: threading.Event = field(default_factory=threading.Event)
    deferred_error: str | None = None
    _release: str = ""
    _lock: IO[str] | None = None
    _terraform_lock: threading.Lock = field(default_factory=threading.Lock)  # one Terraform run at a time
    _deferred_stop: threading.Event = field(default_factory=threading.Event)
    _deferred_thread: threading.Thread | None = None

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

    @property
    def emulator_url(self) -> str:
        return self._running(self.emulator).url

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
        self._apply_deferred_in_background()

    def wait_for_deferred(self, timeout: float = TERRAFORM_TIMEOUT_SECONDS) -> None:
        """Wait until the whole stack is applied; raises LocalStackError if the deferred part failed."""
        if not self.deferred_done.wait(timeout):
            raise LocalStackError(f"the deferred resources were not applied within {timeout:.0f} s")
        if self.deferred_error:
            raise LocalStackError(self.deferred_error)

    def stop(self) -> None:
        self._end_deferred()
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
        self._end_deferred()
        try:
            with self._terraform_lock:
                self.terraform("destroy", interruptible=False).destroy()  # even once stopping
        except TerraformError as exc:
            raise LocalStackError(f"{exc} (full log {self.options.work_dir / 'destroy.log'})") from exc

    def terraform(self, phase: str, *, background: bool = False, interruptible: bool = True) -> Terraform:
        """Terraform in the local stack's folder, at this stack's emulator, logging to <work dir>/<phase>.log.
        It is interrupted when `stopping` is set; in the background, when the stack stops or is destroyed, and
        it prints no progress then."""
        emulator = self._running(self.emulator)
        log_file = self.options.work_dir / f"{phase}.log"
        log_file.write_text("")

        def on_message(kind: str, text: str) -> None:
            with log_file.open("a") as out:
                out.write(text + "\n")
            if kind == "apply_progress" and not background:  # a resource taking long: say what is waited on
                self.log(f"  {text}")

        return Terraform(
            self.stack_dir,
            self.options.work_dir / "terraform.rc",
            env=emulator.environment(),
            on_message=on_message,
            timeout=TERRAFORM_TIMEOUT_SECONDS,
            stop=self._deferred_stop if background else self.stopping if interruptible else None,
        )

    # --- bringing the running stack up to date (watch mode) ---------------------------------------------

    def publish(self, source: Path | None = None) -> PublishResult:
        """Publish `source` (default: the stack's web/) to the running stack, exactly as the hook does on AWS.
        Open pages reload (live reload) when it changed something."""
        emulator = self._running(self.emulator)
        clients = SiteClients(s3=emulator.client("s3"), cloudfront=emulator.client("cloudfront"))
        target = Target.from_outputs(self._running(self.outputs))
        result = publish_site(target, source or self.options.web_dir, PublishOptions(prune=True), clients)
        if result.uploaded or result.deleted:
            self._release = result.release_id or str(time.time())
            if self.site and isinstance(self.site.slot.app, LocalSite):
                self.site.slot.app.release = self._release
        return result

    def update_function(self, folder: str) -> str:
        """Deploy functions/<folder>/ into the running stack as Terraform would (the emulator's code) and run it
        from the next request on. Returns the updated function's name."""
        emulator, gateway = self._running(self.emulator), self._running(self.gateway)
        name = deployed_function_name(self._running(self.settings).name_prefix, folder)
        lambda_client = emulator.client("lambda")
        try:
            arn = lambda_client.get_function_configuration(FunctionName=name)["FunctionArn"]
        except lambda_client.exceptions.ResourceNotFoundException:
            raise LocalStackError(f"functions/{folder}/ is not deployed by the stack (no function {name})") from None
        lambda_client.update_function_code(FunctionName=name, ZipFile=function_package(self.options, folder))
        gateway.replace_function(read_function(lambda_client, arn, self.options.work_dir / "functions"))
        return name

    def reapply(self) -> str:
        """Synthesize the project's current code in a process of its own and apply what changed; republish if an
        output the page uses changed. Returns a one-line summary. On a synth or Terraform error, raises
        LocalStackError with its own message, and the running stack keeps serving what it served."""
        settings = self._running(self.settings)
        scratch = self.options.work_dir / "next"
        shutil.rmtree(scratch, ignore_errors=True)
        if error := synth_in_project(self.options.project_dir, settings, scratch):
            raise LocalStackError(f"synth failed:\n{error}")
        fresh = scratch / "stacks" / STACK
        if (fresh / "cdk.tf.json").read_bytes() == (self.stack_dir / "cdk.tf.json").read_bytes():
            return "no change to the synthesized stack"  # asset paths carry their hashes, so none changed either
        shutil.rmtree(self.stack_dir / "assets", ignore_errors=True)
        if (fresh / "assets").exists():
            shutil.copytree(fresh / "assets", self.stack_dir / "assets")
        shutil.copy2(fresh / "cdk.tf.json", self.stack_dir / "cdk.tf.json")
        if self._terraform_lock.locked():
            self.log("infra: waiting for the deferred resources to be applied first")
        with self._terraform_lock:
            try:
                # Without a refresh: nothing but this stack changes its emulator, and reading every resource
                # back would double the time an edit takes.
                changes, outputs = self.terraform("reapply").apply_changes(refresh=False)
            except TerraformError as exc:
                raise LocalStackError(f"{exc} (full log {self.options.work_dir / 'reapply.log'})") from exc
        before = self._running(self.outputs)
        self.outputs = StackOutputs.from_terraform(outputs, "terraform apply")
        self.outputs.to_outputs_file(self.outputs_file, STACK)
        if not changes:
            return "no change"
        self._serve()
        summary = plan_summary(changes)
        if any(getattr(before, name) != getattr(self.outputs, name) for name in PAGE_OUTPUTS):
            result = self.publish()
            summary += f"; republished ({len(result.uploaded)} file(s))"
        return summary

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
        settings = self._running(self.settings)
        if self.options.project_dir.resolve() == PROJECT_DIR:
            synth([settings], self.outdir)  # this process already holds this project's code
        elif error := synth_in_project(self.options.project_dir, settings, self.outdir):
            raise LocalStackError(f"synth failed:\n{error}")

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
        serving, deferred = split_resources(self.stack_dir / "cdk.tf.json")
        targets = serving if self.options.defer and deferred else []
        with self._terraform_lock:
            outputs = self.terraform("apply").apply(targets=targets)
        if targets:  # a targeted apply writes only the outputs of what it targeted
            outputs = {**constant_outputs(self.stack_dir / "cdk.tf.json"), **outputs}
        else:
            self.deferred_done.set()
        self.outputs = StackOutputs.from_terraform(outputs, "terraform apply")
        self.outputs.to_outputs_file(self.outputs_file, STACK)

    def _publish(self) -> None:
        self.log(self.publish().describe())

    def _serve(self) -> None:
        """Serve (or, once serving, swap in) a site and a gateway built from what is deployed now."""
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
        previous, self.gateway = self.gateway, LocalGateway(deployed, emulator.environment(), self.log)
        api.slot.app = self.gateway
        site.slot.app = LocalSite(
            emulator.client("s3"),
            outputs.bucket_name,
            distribution["DefaultRootObject"],
            routes=api_routes(distribution),
            api=self.gateway,
            # What the distribution's own policy adds on AWS; the emulator cannot store that policy.
            headers=SecurityHeaders(outputs.content_security_policy).http_headers(),
            live_reload=self.options.live_reload,
            release=self._release,
        )
        if previous is None:
            site.start()
            api.start()
        else:
            previous.close()

    def _apply_deferred_in_background(self) -> None:
        if self.deferred_done.is_set():
            return

        def apply_the_rest() -> None:
            started = time.perf_counter()
            try:
                with self._terraform_lock:
                    self.terraform("deferred", background=True).apply()
                self.log(f"deferred {time.perf_counter() - started:6.1f} s (bucket lifecycle rules, error alarms)")
            except TerraformError as exc:
                self.deferred_error = f"{exc} (full log {self.options.work_dir / 'deferred.log'})"
                if not self._deferred_stop.is_set():
                    self.log(f"deferred: error: {self.deferred_error}")
            finally:
                self.deferred_done.set()

        self._deferred_thread = threading.Thread(target=apply_the_rest, name="deferred apply", daemon=True)
        self._deferred_thread.start()

    def _end_deferred(self) -> None:
        """Interrupt the background apply (cleanly, as Ctrl-C does) and wait for it to end."""
        self._deferred_stop.set()
        if self._deferred_thread is not None:
            self._deferred_thread.join()

    @staticmethod
    def _running(value: T | None) -> T:
        """A part that exists once the stack has started."""
        if value is None:
            raise LocalStackError("the local stack has not started")
        return value


def split_resources(config_file: Path) -> tuple[list[str], list[str]]:
    """The addresses of a synthesized stack's resources: those serving needs, and the DEFERRED ones."""
    resources = json.loads(config_file.read_text()).get("resource", {})
    addresses = [(kind, f"{kind}.{name}") for kind, by_name in resources.items() for name in by_name]
    return [a for kind, a in addresses if kind not in DEFERRED], [a for kind, a in addresses if kind in DEFERRED]


def constant_outputs(config_file: Path) -> dict[str, Any]:
    """The outputs that name no resource (local mode's URLs, the CSP), whose values are what the config says."""
    outputs = json.loads(config_file.read_text()).get("output", {})
    return {name: output["value"] for name, output in outputs.items() if "${" not in json.dumps(output["value"])}


def function_package(options: LocalOptions, folder: str) -> bytes:
    """functions/<folder>/ zipped as the stack's asset zips it (the same files, caches left out)."""
    root = options.project_dir / "functions" / folder
    ignored = shutil.ignore_patterns(*NOT_PACKAGED)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(_packaged_files(root, ignored)):
            archive.write(path, path.relative_to(root).as_posix())
    return buffer.getvalue()


def _packaged_files(root: Path, ignored: Callable[[str, list[str]], set[str]]) -> Iterator[Path]:
    for directory, subdirectories, names in os.walk(root):
        left_out = ignored(directory, [*subdirectories, *names])
        subdirectories[:] = [d for d in subdirectories if d not in left_out]
        yield from (Path(directory) / name for name in names if name not in left_out)


def plan_summary(changes: list[tuple[str, str]]) -> str:
    """'1 to update (aws_api_gateway_method_settings.…)': what an apply changed, by action."""
    by_action: dict[str, list[str]] = {}
    for action, address in changes:
        by_action.setdefault(action, []).append(address)
    parts = []
    for action, addresses in sorted(by_action.items()):
        named = ", ".join(addresses[:3]) + (f", … {len(addresses) - 3} more" if len(addresses) > 3 else "")
        parts.append(f"{len(addresses)} to {action} ({named})")
    return "; ".join(parts)

"""The local stack: the phases of a start, in order, and keeping the running stack up to date with edits.

1. hold the two loopback ports and start the AWS emulator (moto);
2. synthesize the `local` stack for those ports (`local_stack.deployment`, in a process of its own);
3. `terraform init`, and `apply` what serving needs — every resource but the DEFERRED ones — with the real CLI
   and AWS provider, every endpoint at the emulator;
4. publish the site with the post-apply hook's library, exactly as for AWS;
5. serve the site and the API from what was deployed (`local_stack.serving`);
6. apply the rest of the stack (the same configuration, untargeted) in the background, and say when it is done.

While it serves, `publish`, `update_function` and `reapply` bring it up to date with edits (`local_stack.watch`).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TypeVar

from contract.config import (
    LOCAL_API_PORT,
    LOCAL_HOST,
    LOCAL_SITE_PORT,
    EnvironmentSettings,
    SiteSettings,
    local_environment,
)
from contract.functions import deployed_function_name
from contract.outputs import StackOutputs
from contract.routing import RoutingSettings
from hooks.csp import listed_hashes
from hooks.publish import publish_site
from hooks.release import SourceError, site_inline_hashes
from hooks.results import PublishOptions, PublishResult, Target
from hooks.storage import SiteClients
from local_stack import warm
from local_stack.deployment import TERRAFORM_TIMEOUT_SECONDS, LocalDeployment, LocalStackError
from local_stack.emulator import Emulator, PortInUse, account_used, start_emulator
from local_stack.gateway import LocalGateway, read_function
from local_stack.packaging import function_package
from local_stack.serving import LocalServing
from terraform_cli import PROJECT_DIR, StackWorkspace, TerraformError, render_changes
from terraform_cli.workspace import LOCAL_WORK_DIR

T = TypeVar("T")
# Outputs the published site depends on: when one changes, the site is published again.
PAGE_OUTPUTS = ("page_api_url", "content_security_policy")
TERRAFORM_MISSING = (
    "terraform is not on PATH: install Terraform 1.10 or newer "
    "(https://developer.hashicorp.com/terraform/install), then run scripts/setup"
)

__all__ = ["LocalOptions", "LocalStack", "LocalStackError"]


def start_fresh_emulator(host: str, port: int, workspace: StackWorkspace) -> Emulator:
    """A new emulator on `port`; for 0 (any free port), on the port the workspace's last synth names if it is
    free: the synth names the emulator's URL, so on its port an unchanged project is not synthesized again."""
    if port == 0 and (last := workspace.emulator_url()) and (url := urllib.parse.urlsplit(last)).hostname == host:
        with contextlib.suppress(PortInUse, ValueError):  # taken meanwhile, or not a port: any free one
            return start_emulator(host, url.port or 0)
    return start_emulator(host, port)


@dataclass(frozen=True)
class LocalOptions:
    host: str = LOCAL_HOST
    emulator_port: int = 0  # the last synth's port if free, else any free port (start_fresh_emulator)
    site_port: int = LOCAL_SITE_PORT
    api_port: int = LOCAL_API_PORT
    # The project whose web/, functions/, modules/ and contract/ local mode deploys (and watches, in watch mode).
    project_dir: Path = PROJECT_DIR
    source: Path | None = None  # the site's folder (`--source`); None: the local environment's site.source_dir
    # Same-origin mode: the site origin also routes /users to the API, as CloudFront does with the option on.
    same_origin: bool = False
    # Single-page-app mode (site.single_page_app): extensionless paths serve /index.html.
    single_page_app: bool = False
    # Where the local stack's workspace is (synth output, state, outputs, logs), apart from the project's cdktf.out.
    work_dir: Path = LOCAL_WORK_DIR
    # Every resource name starts with `<project>-local`; None: the project's own name. Two stacks in one process
    # need names of their own where AWS's are global (bucket names), though each emulator is an account of its own.
    project: str | None = None
    # Serve once what requests need is applied, and apply the DEFERRED resources in the background.
    defer: bool = True
    # Pages reload themselves when a new release is published (watch mode).
    live_reload: bool = False
    # Start cold even if the last run in this work dir left a recording to restart from (`local_stack.warm`).
    fresh: bool = False

    @property
    def web_dir(self) -> Path:
        """The site's folder: what is published, watched, and whose inline code the CSP lists by hash."""
        return self.source or SiteSettings().source_folder(self.project_dir)


@dataclass
class LocalStack:
    """The running local stack. `start()` runs every phase; `stop()` ends it; `destroy()` tears it down.

    Setting `stopping` (e.g. from a signal handler) interrupts a running Terraform phase cleanly and starts no
    other phase.
    """

    options: LocalOptions = field(default_factory=LocalOptions)
    log: Callable[[str], None] = print
    timings: dict[str, float] = field(default_factory=dict)
    stopping: threading.Event = field(default_factory=threading.Event)
    emulator: Emulator | None = None
    serving: LocalServing | None = None
    deployment: LocalDeployment | None = None
    _lock: IO[str] | None = None
    _started: bool = False  # it served: what stop() leaves can be restarted from
    _destroyed: bool = False

    # --- where things are ----------------------------------------------------------------------------------

    @property
    def workspace(self) -> StackWorkspace:
        return StackWorkspace.local(self.options.work_dir)

    @property
    def state_file(self) -> Path:
        return self.workspace.state_file

    @property
    def outputs_file(self) -> Path:
        """The stack outputs, in the form `cdktf deploy --outputs-file` writes, for the hook and your tools."""
        return self.workspace.outputs_file

    @property
    def settings(self) -> EnvironmentSettings:
        return self._running(self.deployment).settings

    @property
    def outputs(self) -> StackOutputs | None:
        return self.deployment.outputs if self.deployment else None

    @property
    def gateway(self) -> LocalGateway | None:
        return self.serving.gateway if self.serving else None

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
            raise LocalStackError(TERRAFORM_MISSING)
        self._claim_work_dir()
        options = self.options
        self.serving = LocalServing.bind(
            options.host, options.site_port, options.api_port, self.log, live_reload=options.live_reload
        )
        if options.fresh:
            warm.discard(options.work_dir)
        else:
            try:
                if (last_run := warm.take(options.work_dir, self.workspace)) is not None:
                    self._start_warm(last_run)
                    return
            except warm.NotWarm as exc:
                self.log(f"warm restart: {exc}; starting cold")
                self._discard_emulator()
        self._start_cold()

    def _start_cold(self) -> None:
        """Every phase: a fresh emulator, synth, init, apply, publish, serve, the deferred part in the background."""
        options = self.options
        self.emulator = start_fresh_emulator(options.host, options.emulator_port, self.workspace)
        self._check_emulator(self.emulator)
        self.deployment = deployment = self._deployment_for(self.emulator)
        self.workspace.forget_state()  # it described resources in an emulator that is gone with its process
        deployment.start_provider()  # installed by an earlier init: it starts up while the synth runs
        self._phase("synth", deployment.synthesize)
        self._phase("init", deployment.init)
        self._phase("apply", lambda: deployment.apply(defer=options.defer))
        self._phase("publish", lambda: self.log(self.publish().describe()))
        self._serve()
        self._started = True
        deployment.apply_deferred_in_background()

    def _start_warm(self, last_run: warm.WarmStart) -> None:
        """The last run's emulator state without a Terraform apply: a fresh emulator on its port, as its account,
        its ids drawn from its seed; synth (which must be the same), the recording replayed and checked against the
        state, which is then put back; publish (only what changed), serve. NotWarm as soon as anything differs."""
        options, snapshot = self.options, last_run.snapshot
        if options.emulator_port not in (0, snapshot.emulator_port):
            raise warm.NotWarm(f"the last run's emulator was on port {snapshot.emulator_port}")
        if account_used(snapshot.account_id):
            raise warm.NotWarm(f"account {snapshot.account_id} was already emulated in this process")
        try:
            self.emulator = start_emulator(
                options.host, snapshot.emulator_port, account_id=snapshot.account_id, seed=snapshot.seed
            )
        except PortInUse as exc:
            raise warm.NotWarm(str(exc)) from None
        self._check_emulator(self.emulator)
        self.deployment = deployment = self._deployment_for(self.emulator)
        self.workspace.forget_state()
        # The replay needs only the emulator: it runs while the synth (a process of its own) does.
        replayed: list[str | None] = []
        replayer = threading.Thread(target=lambda: replayed.append(self._replay(last_run)), name="replay")
        replayer.start()
        try:
            self._phase("synth", deployment.synthesize)
        finally:
            replayer.join()
        warm.check_synth(last_run, self.workspace)
        if failure := replayed[0] if replayed else "it ended without an answer":
            raise warm.NotWarm(f"the replay failed: {failure}")
        warm.check_emulator(last_run, self.emulator)
        self.log(f"{'replay':<8} {self.timings['replay']:6.1f} s (during the synth)")
        self.log(f"warm restart: {len(last_run.requests)} recorded requests replayed, no Terraform apply")
        warm.restore_state(last_run, self.workspace)
        deployment.outputs = last_run.outputs
        if not (self.workspace.directory / ".terraform").is_dir():  # the deferred apply and watch mode need it
            self._phase("init", deployment.init)
        self._phase("publish", lambda: self.log(self.publish().describe()))
        self._serve()
        self._started = True
        deployment.start_provider()  # ready for the first infrastructure edit
        if snapshot.complete:
            deployment.deferred_done.set()
        deployment.apply_deferred_in_background()

    def _replay(self, last_run: warm.WarmStart) -> str | None:
        """Replay the last run's recording into the emulator: None, or what went wrong."""
        started = time.perf_counter()
        try:
            return self._running(self.emulator).replay(last_run.requests)
        except Exception as exc:  # noqa: BLE001  # whatever breaks a replay, the start goes cold
            return f"{type(exc).__name__}: {exc}"
        finally:
            self.timings["replay"] = time.perf_counter() - started

    def _deployment_for(self, emulator: Emulator) -> LocalDeployment:
        options = self.options
        settings = local_environment(
            emulator_url=emulator.url,
            site_origin=self._running(self.serving).site.origin,
            api_origin=self._running(self.serving).api.origin,
            same_origin=options.same_origin,
            single_page_app=options.single_page_app,
            project=options.project,
            source_dir=str(options.source.resolve()) if options.source else None,
        )
        return LocalDeployment(
            self.workspace, emulator, settings, options.project_dir, self.log, self.stopping, options.project
        )

    def _discard_emulator(self) -> None:
        """Stop an emulator a warm start got to, and forget its state: the cold path starts from nothing."""
        if self.deployment:
            self.deployment.close_provider()
        if self.emulator:
            self.emulator.stop()
        self.emulator = None
        self.deployment = None
        self.workspace.forget_state()

    def wait_for_deferred(self, timeout: float = TERRAFORM_TIMEOUT_SECONDS) -> None:
        """Wait until the whole stack is applied; raises LocalStackError if the deferred part failed."""
        self._running(self.deployment).wait_for_deferred(timeout)

    def stop(self) -> None:
        if self.deployment:
            self.deployment.end()
        if self.serving:
            self.serving.stop()
        if self.emulator:
            self._save_for_warm_restart()
            self.emulator.stop()
            self.workspace.forget_state()  # it described resources in this emulator, which are gone with it
        if self._lock:
            self._lock.close()  # releases the work directory

    def destroy(self) -> None:
        """`terraform destroy` of the local stack: interrupt the deferred apply cleanly if it is still running (no
        need to wait for it), then remove every resource the state holds from this stack's emulator."""
        self._destroyed = True  # nothing to come back to
        self._running(self.deployment).destroy()

    # --- bringing the running stack up to date (watch mode) ---------------------------------------------

    def publish(self, source: Path | None = None) -> PublishResult:
        """Publish `source` (default: the stack's site) to the running stack, exactly as the hook does on AWS.
        Open pages reload (live reload) when it changed something."""
        emulator = self._running(self.emulator)
        clients = SiteClients(s3=emulator.client("s3"), cloudfront=emulator.client("cloudfront"))
        target = Target.from_outputs(self._running(self.outputs))
        result = publish_site(target, source or self.options.web_dir, PublishOptions(prune=True), clients)
        if (result.uploaded or result.deleted) and self.serving:
            self.serving.announce_release(result.release_id or str(time.time()))
        return result

    def policy_is_stale(self) -> bool:
        """Whether the site's pages now carry inline code whose hashes differ from those the running stack's CSP
        lists: then the stack is synthesized and applied again before a publish, as a deploy would on AWS."""
        try:
            now = site_inline_hashes(self.options.web_dir)
        except (FileNotFoundError, SourceError):
            return False  # the publish says what is wrong with the folder
        wanted = {*now.scripts, *now.styles, *now.style_attributes}
        return wanted != listed_hashes(self._running(self.outputs).content_security_policy)

    def update_function(self, folder: str) -> str:
        """Deploy functions/<folder>/ into the running stack as Terraform would (the emulator's code) and run it
        from the next request on. Returns the updated function's name."""
        emulator, serving = self._running(self.emulator), self._running(self.serving)
        name = deployed_function_name(self.settings.name_prefix, folder)
        lambda_client = emulator.client("lambda")
        try:
            arn = lambda_client.get_function_configuration(FunctionName=name)["FunctionArn"]
        except lambda_client.exceptions.ResourceNotFoundException:
            raise LocalStackError(f"functions/{folder}/ is not deployed by the stack (no function {name})") from None
        lambda_client.update_function_code(
            FunctionName=name, ZipFile=function_package(self.options.project_dir, folder)
        )
        serving.replace_function(read_function(lambda_client, arn, self.options.work_dir / "functions"))
        return name

    def reapply(self) -> str:
        """Synthesize the project's current code in a process of its own and apply what changed; republish if an
        output the page uses changed. Returns a one-line summary. On a synth or Terraform error, raises
        LocalStackError with its own message, and the running stack keeps serving what it served."""
        deployment = self._running(self.deployment)
        before = self._running(deployment.outputs)
        changes = deployment.reapply()
        if changes is None:
            return "no change to the synthesized stack"  # asset paths carry their hashes, so none changed either
        after = self._running(deployment.outputs)
        changed_outputs = [name for name in PAGE_OUTPUTS if getattr(before, name) != getattr(after, name)]
        if not changes and not changed_outputs:
            return "no change"
        self._serve()  # the site's headers come from the outputs: a new CSP is served from now on
        summary = render_changes(changes, one_line=True) if changes else f"changed {', '.join(changed_outputs)}"
        if changed_outputs:
            result = self.publish()
            summary += f"; republished ({len(result.uploaded)} file(s))"
        return summary

    # --- phases -----------------------------------------------------------------------------------------

    def _phase(self, name: str, action: Callable[[], object]) -> None:
        """Run one phase and log its time; an action that returns a string adds it as a note."""
        if self.stopping.is_set():  # asked to stop while the previous phase ran: start no other
            raise LocalStackError(f"stopped before {name}")
        started = time.perf_counter()
        try:
            note = action()
        except TerraformError as exc:
            raise LocalStackError(f"{exc} (full log {self.workspace.log_file(name)})") from exc
        self.timings[name] = time.perf_counter() - started
        self.log(f"{name:<8} {self.timings[name]:6.1f} s" + (f" ({note})" if isinstance(note, str) else ""))

    def _serve(self) -> None:
        self._running(self.serving).serve(
            self._running(self.emulator),
            self._running(self.outputs),
            self.options.work_dir / "functions",
            RoutingSettings.of(self.settings.site),  # what the CloudFront Function does on AWS
        )

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

    def _save_for_warm_restart(self) -> None:
        """Leave the emulator's recording and the state that goes with it for the next start (`local_stack.warm`),
        if this run served and nothing was destroyed."""
        deployment, emulator = self.deployment, self.emulator
        if not (self._started and not self._destroyed and deployment and emulator):
            return
        deferred_done = deployment.deferred_done.is_set() and deployment.deferred_error is None
        warm.save(self.options.work_dir, self.workspace, emulator, complete=deferred_done and deployment.complete)

    @staticmethod
    def _check_emulator(emulator: Emulator) -> None:
        try:
            urllib.request.urlopen(f"{emulator.url}/moto-api/", timeout=5).close()
        except OSError as exc:
            raise LocalStackError(f"the AWS emulator did not answer at {emulator.url}: {exc}") from exc

    @staticmethod
    def _running(value: T | None) -> T:
        """A part that exists once the stack has started."""
        if value is None:
            raise LocalStackError("the local stack has not started")
        return value

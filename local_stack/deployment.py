"""The local stack's Terraform: the `local` stack synthesized for the running servers and applied into the emulator
with the real CLI and AWS provider, the deferred part in the background, re-applies after edits, and destroy.

Synthesis runs in a process of its own (`local_stack.synth`): local mode never imports CDKTF, a broken edit of
modules/ or contract/ fails there with Python's own error while the running stack keeps serving, and the jsii
kernel's memory is given back once the synth is done.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from contract.config import EnvironmentSettings
from contract.outputs import StackOutputs
from local_stack.emulator import Emulator
from local_stack.synth import SynthFailed, synth_in_project
from terraform_cli import ResourceChange, StackWorkspace, Terraform, TerraformError, terraform_env
from terraform_cli.provider import ProviderUnavailable, SharedProvider, installed_provider
from terraform_cli.runner import GRACE_SECONDS

T = TypeVar("T")

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


class LocalStackError(RuntimeError):
    """Something stopped the local stack; the message is one line saying what and what to do."""


def split_resources(workspace: StackWorkspace) -> tuple[list[str], list[str]]:
    """The addresses of a synthesized stack's resources: those serving needs, and the DEFERRED ones."""
    addresses = workspace.resource_addresses()
    return [a for kind, a in addresses if kind not in DEFERRED], [a for kind, a in addresses if kind in DEFERRED]


def constant_outputs(workspace: StackWorkspace) -> dict[str, Any]:
    """The outputs that name no resource (local mode's URLs, the CSP), whose values are what the config says."""
    outputs = workspace.config().get("output", {})
    return {name: output["value"] for name, output in outputs.items() if "${" not in json.dumps(output["value"])}


@dataclass
class LocalDeployment:
    """The `local` stack in its workspace, applied into `emulator`. Setting `stopping` interrupts a Terraform
    command in the foreground cleanly; the deferred apply is interrupted by `end()`."""

    workspace: StackWorkspace
    emulator: Emulator
    settings: EnvironmentSettings
    project_dir: Path
    log: Callable[[str], None]
    stopping: threading.Event
    project: str | None = None  # the name override local mode was started with (LocalOptions.project)
    outputs: StackOutputs | None = None
    # Set when the deferred resources are applied (or there were none); `deferred_error` says if that failed.
    deferred_done: threading.Event = field(default_factory=threading.Event)
    deferred_error: str | None = None
    # Every apply so far succeeded (a failed re-apply leaves the configuration partly applied).
    complete: bool = True
    _one_at_a_time: threading.Lock = field(default_factory=threading.Lock)  # one Terraform command at a time
    _deferred_stop: threading.Event = field(default_factory=threading.Event)
    _deferred_thread: threading.Thread | None = None
    # The provider the foreground applies (start, watch-mode edits) reattach to, so each skips starting one.
    _provider: SharedProvider | None = None

    # --- the phases of a start -----------------------------------------------------------------------------

    def synthesize(self) -> str | None:
        """Synthesize the project into the stack's folder, unless it holds a synth of the same inputs (then says
        so)."""
        return self._synthesize_into(self.workspace)

    def init(self) -> str | None:
        """`terraform init`, unless the last one in this workspace had the same inputs (then says so)."""
        try:
            if not self.workspace.init_if_changed(self.terraform("init")):
                return "skipped: the lock file, backend and CLI config are those of the last init"
            return None
        except TerraformError as exc:
            mirror = os.environ.get("TF_PROVIDER_MIRROR") or "none"
            raise LocalStackError(
                f"terraform init could not install the hashicorp/aws provider (mirror: {mirror}); run scripts/setup, "
                "which finds a local provider mirror, set TF_PROVIDER_MIRROR to one, or allow access to the "
                f"Terraform registry. {exc}"
            ) from exc

    def apply(self, *, defer: bool) -> StackOutputs:
        """Apply what serving needs (everything, unless `defer`); the outputs, also written to the outputs file."""
        serving, deferred = split_resources(self.workspace)
        targets = serving if defer and deferred else []
        with self._one_at_a_time:
            outputs = self.with_shared_provider("apply", lambda terraform: terraform.apply(targets=targets))
        if targets:  # a targeted apply writes only the outputs of what it targeted
            outputs = {**constant_outputs(self.workspace), **outputs}
        else:
            self.deferred_done.set()
        return self._keep(StackOutputs.from_terraform(outputs, "terraform apply"))

    def apply_deferred_in_background(self) -> None:
        if self.deferred_done.is_set():
            return

        def apply_the_rest() -> None:
            started = time.perf_counter()
            try:
                with self._one_at_a_time:
                    self.terraform("deferred", background=True).apply()
                self.log(f"deferred {time.perf_counter() - started:6.1f} s (bucket lifecycle rules, error alarms)")
            except TerraformError as exc:
                self.deferred_error = f"{exc} (full log {self.workspace.log_file('deferred')})"
                if not self._deferred_stop.is_set():
                    self.log(f"deferred: error: {self.deferred_error}")
            finally:
                self.deferred_done.set()

        self._deferred_thread = threading.Thread(target=apply_the_rest, name="deferred apply", daemon=True)
        self._deferred_thread.start()

    def wait_for_deferred(self, timeout: float = TERRAFORM_TIMEOUT_SECONDS) -> None:
        """Wait until the whole stack is applied; raises LocalStackError if the deferred part failed."""
        if not self.deferred_done.wait(timeout):
            raise LocalStackError(f"the deferred resources were not applied within {timeout:.0f} s")
        if self.deferred_error:
            raise LocalStackError(self.deferred_error)

    # --- while it serves -----------------------------------------------------------------------------------

    def reapply(self) -> list[ResourceChange] | None:
        """Synthesize the project's current code and apply what changed; None when the synthesized stack is the
        same. On a synth or Terraform error, raises LocalStackError and what is deployed stays as it was."""
        fresh = StackWorkspace(self.workspace.stack, self.workspace.outdir.parent / "next")
        shutil.rmtree(fresh.outdir, ignore_errors=True)
        self._synthesize_into(fresh)
        if fresh.same_config_as(self.workspace):
            return None
        if self._one_at_a_time.locked():
            self.log("infra: waiting for the deferred resources to be applied first")
        with self._one_at_a_time:  # the deferred apply may be reading the stack's folder until then
            self.workspace.take_config_of(fresh)
            try:
                # Without a refresh: nothing but this stack changes its emulator, and reading every resource
                # back would double the time an edit takes.
                changes, outputs = self.with_shared_provider(
                    "reapply", lambda terraform: terraform.apply_changes(refresh=False)
                )
            except TerraformError as exc:
                self.complete = False
                raise LocalStackError(f"{exc} (full log {self.workspace.log_file('reapply')})") from exc
        self._keep(StackOutputs.from_terraform(outputs, "terraform apply"))
        return changes

    def destroy(self) -> None:
        """`terraform destroy`: remove every resource of the stack from its emulator, even once stopping."""
        self.end()
        try:
            with self._one_at_a_time:
                self.terraform("destroy", interruptible=False).destroy()
        except TerraformError as exc:
            raise LocalStackError(f"{exc} (full log {self.workspace.log_file('destroy')})") from exc

    def end(self) -> None:
        """Interrupt the background apply (cleanly, as Ctrl-C does) and wait for it to end (bounded: Terraform is
        killed a grace period after its interrupt); kill the shared provider."""
        self._deferred_stop.set()
        self.close_provider()
        if self._deferred_thread is not None:
            self._deferred_thread.join(timeout=GRACE_SECONDS + 30)

    # --- the shared provider -------------------------------------------------------------------------------

    def start_provider(self) -> None:
        """Start the shared provider now, if an init installed it, so that it is ready by the first apply."""
        try:
            if provider := self._shared_provider():
                provider.start()
        except ProviderUnavailable as exc:
            self.log(f"provider: {exc}; each Terraform command starts its own")

    @property
    def shared_provider(self) -> SharedProvider | None:
        """The provider the foreground applies reattach to (None until one started)."""
        return self._provider

    def close_provider(self) -> None:
        if self._provider is not None:
            self._provider.kill()

    def _shared_provider(self) -> SharedProvider | None:
        """The running shared provider, or a new one when there is none, it was killed, or an init installed
        another binary; None before an init."""
        binary = installed_provider(self.workspace.directory)
        if binary is None or self.stopping.is_set():
            return None
        current = self._provider
        if current is None or not current.usable() or current.binary != binary:
            if current is not None:
                current.kill()
            # The environment Terraform would give the provider it starts: the provider reads its credentials
            # and region there, while its configuration (every endpoint at the emulator) comes from cdk.tf.json.
            env = terraform_env(self.workspace.cli_config_file, {**os.environ, **self.emulator.environment()})
            self._provider = current = SharedProvider(binary, self.workspace.directory, env, stop=self.stopping)
        return current

    def with_shared_provider(self, phase: str, command: Callable[[Terraform], T]) -> T:
        """Run `command` with Terraform reattached to the shared provider (or with its own if that cannot start).
        Any failure or stop kills the shared provider: after an interrupt it stays cancelled for good."""
        reattach: dict[str, str] = {}
        provider = self._shared_provider()
        if provider is not None:
            try:
                reattach = provider.reattach_env()
            except ProviderUnavailable as exc:
                self.log(f"{phase}: {exc}; Terraform starts its own provider")
        try:
            return command(self.terraform(phase, extra_env=reattach))
        except BaseException:
            if provider is not None:
                provider.kill()
            raise

    def terraform(
        self,
        phase: str,
        *,
        background: bool = False,
        interruptible: bool = True,
        extra_env: dict[str, str] | None = None,
    ) -> Terraform:
        """Terraform in the stack's folder, at the emulator, logging to the workspace's log of `phase`. It is
        interrupted when `stopping` is set; in the background, by `end()`, and it prints no progress then."""
        log_file = self.workspace.log_file(phase)
        log_file.parent.mkdir(parents=True, exist_ok=True)
        log_file.write_text("")

        def on_message(kind: str, text: str) -> None:
            with log_file.open("a") as out:
                out.write(text + "\n")
            if kind == "apply_progress" and not background:  # a resource taking long: say what is waited on
                self.log(f"  {text}")

        return self.workspace.terraform(
            env={**self.emulator.environment(), **(extra_env or {})},
            on_message=on_message,
            timeout=TERRAFORM_TIMEOUT_SECONDS,
            stop=self._deferred_stop if background else self.stopping if interruptible else None,
        )

    def _synthesize_into(self, workspace: StackWorkspace) -> str | None:
        try:
            if synth_in_project(self.project_dir, self.settings, workspace.outdir, project=self.project):
                return None
        except SynthFailed as exc:
            raise LocalStackError(f"synth failed:\n{exc}") from None
        return "skipped: the folder holds a synth of the same inputs"

    def _keep(self, outputs: StackOutputs) -> StackOutputs:
        self.outputs = outputs
        outputs.to_outputs_file(self.workspace.outputs_file, self.workspace.stack)
        return outputs

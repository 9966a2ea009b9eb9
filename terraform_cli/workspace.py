"""A stack's workspace: the one place that knows where a synthesized stack's files live, how the stack gets there
(synth, then `terraform init`) and how its configuration is read. Every command and local mode goes through it.

    <outdir>/stacks/<stack>/cdk.tf.json    the synthesized Terraform JSON; Terraform runs in its folder
    <outdir>/stacks/<stack>/emulator.aws-config
                                           an emulated stack's AWS profile: the emulator's URL and fake keys
    <outdir>/../terraform.<stack>.tfstate  the local backend's state, beside the outdir (the project root for
                                           cdktf.out, the work dir for local mode's .local/cdktf.out)
    <outdir>/<stack>.outputs.json          the outputs, in the form `cdktf deploy --outputs-file` writes
    <outdir>/<stack>.<phase>.log           what Terraform said in a phase (local mode: init, apply, deferred, …)
    <outdir>/<stack>.<kind>.tfplan         saved plans (drift)
    <outdir>/terraform.rc                  the project's Terraform CLI config for this machine
"""

from __future__ import annotations

import configparser
import hashlib
import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from terraform_cli.config import PROJECT_DIR, write_cli_config
from terraform_cli.runner import Terraform

if TYPE_CHECKING:
    from contract.config import EnvironmentSettings

DEFAULT_OUTDIR = PROJECT_DIR / "cdktf.out"
CONFIG_FILE = "cdk.tf.json"
PROVIDER_LOCK = ".terraform.lock.hcl"
# What the last successful `terraform init` was run with (`init_inputs`), inside .terraform/: gone with it.
INIT_RECORD = ".terraform/project-init.sha256"
LOCAL_STACK = "local"
# An emulated stack's provider reads this AWS profile from this file beside its configuration (named there, so a
# Terraform run by hand in the folder reaches the emulator too, and with the file gone it fails rather than reach
# AWS). Not the provider's `endpoints` block: validating that costs the provider about 2 s of CPU in each of a
# command's walks (validate, plan, apply), a third of an apply into the emulator.
EMULATOR_PROFILE = "emulator"
EMULATOR_CONFIG = "emulator.aws-config"
# Local mode keeps its workspace apart from the project's cdktf.out, so a `cdktf synth` meanwhile cannot change
# what the running local stack plans and destroys.
LOCAL_WORK_DIR = PROJECT_DIR / ".local"


def local_state_path(stack: str) -> str:
    """The local backend's state file as the synthesized stack names it: relative to the stack's folder, so the
    output is the same on every machine, and beside <outdir>."""
    return f"../../../terraform.{stack}.tfstate"


def synthesized_stacks(outdir: Path) -> list[str]:
    """The names of the stacks synthesized into `outdir`."""
    return sorted(folder.name for folder in (outdir / "stacks").iterdir() if (folder / CONFIG_FILE).is_file())


@dataclass(frozen=True)
class StackWorkspace:
    """Where one stack's synthesized Terraform, state, outputs and logs live under `outdir`."""

    stack: str
    outdir: Path = DEFAULT_OUTDIR

    @property
    def directory(self) -> Path:
        """The stack's folder, where Terraform runs."""
        return self.outdir / "stacks" / self.stack

    @property
    def config_file(self) -> Path:
        return self.directory / CONFIG_FILE

    @property
    def emulator_config_file(self) -> Path:
        return self.directory / EMULATOR_CONFIG

    @property
    def state_file(self) -> Path:
        """The state of the local backend (the default for prod and always for local mode)."""
        return (self.directory / local_state_path(self.stack)).resolve()

    @property
    def outputs_file(self) -> Path:
        return self.outdir / f"{self.stack}.outputs.json"

    @property
    def cli_config_file(self) -> Path:
        return self.outdir / "terraform.rc"

    @classmethod
    def local(cls, work_dir: Path = LOCAL_WORK_DIR) -> StackWorkspace:
        """Local mode's workspace in its work dir (<work dir>/cdktf.out; state in the work dir)."""
        return cls(LOCAL_STACK, work_dir / "cdktf.out")

    def log_file(self, phase: str) -> Path:
        return self.outdir / f"{self.stack}.{phase}.log"

    def plan_file(self, kind: str) -> Path:
        return self.outdir / f"{self.stack}.{kind}.tfplan"

    # --- the synthesized configuration ---------------------------------------------------------------------

    def is_synthesized(self) -> bool:
        return self.config_file.is_file()

    def config(self) -> dict[str, Any]:
        """The synthesized Terraform JSON; FileNotFoundError naming the file when the stack is not synthesized."""
        if not self.is_synthesized():
            raise FileNotFoundError(f"{self.config_file} not found: synthesize the {self.stack} stack first")
        config: dict[str, Any] = json.loads(self.config_file.read_text())
        return config

    def write_config(self, config: dict[str, Any]) -> None:
        self.config_file.write_text(json.dumps(config, indent=2))

    def emulator_url(self) -> str | None:
        """The emulator endpoint the profile of the last synth names; None if there is none."""
        profile = configparser.ConfigParser()
        try:
            profile.read_string(self.emulator_config_file.read_text())
            return profile.get(f"profile {EMULATOR_PROFILE}", "endpoint_url")
        except (OSError, configparser.Error):
            return None

    def write_emulator_config(self, url: str, credentials: Mapping[str, str]) -> None:
        """Write the AWS profile an emulated stack's provider reads (`EMULATOR_PROFILE`): every service at `url`,
        signed with the emulator's fake `credentials` (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self.emulator_config_file.write_text(
            "# Written by the synth of an emulated stack: its AWS provider reads this profile.\n"
            f"[profile {EMULATOR_PROFILE}]\n"
            f"endpoint_url = {url}\n"
            f"aws_access_key_id = {credentials['AWS_ACCESS_KEY_ID']}\n"
            f"aws_secret_access_key = {credentials['AWS_SECRET_ACCESS_KEY']}\n"
        )

    def resource_addresses(self) -> list[tuple[str, str]]:
        """(type, address) of every resource the configuration declares."""
        resources = self.config().get("resource", {})
        return [(kind, f"{kind}.{name}") for kind, by_name in resources.items() for name in by_name]

    def same_config_as(self, other: StackWorkspace) -> bool:
        """Whether two syntheses are the same (asset paths carry their content hashes, so the assets are too)."""
        return self.config_file.read_bytes() == other.config_file.read_bytes()

    def take_config_of(self, other: StackWorkspace) -> None:
        """Replace this stack's configuration and assets with another synthesis of it (state and logs stay)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(self.directory / "assets", ignore_errors=True)
        if (other.directory / "assets").exists():
            shutil.copytree(other.directory / "assets", self.directory / "assets")
        shutil.copy2(other.config_file, self.config_file)
        if other.emulator_config_file.exists():
            shutil.copy2(other.emulator_config_file, self.emulator_config_file)
        if (other.directory / PROVIDER_LOCK).exists():  # the provider versions it was initialized with
            shutil.copy2(other.directory / PROVIDER_LOCK, self.directory / PROVIDER_LOCK)

    def copied_to(self, outdir: Path) -> StackWorkspace:
        """A copy of the synthesized stack (configuration and assets, no state) in another outdir, to edit."""
        copy = StackWorkspace(self.stack, outdir)
        copy.take_config_of(self)
        return copy

    def forget_state(self) -> None:
        """Delete the local state, its backup and its lock's record (local mode: they described an emulator that is
        gone; a Terraform killed at once leaves its lock's record behind, though the lock itself ended with it)."""
        name = self.state_file.name
        for stale in (name, f"{name}.backup", f".{name}.lock.info"):
            self.state_file.with_name(stale).unlink(missing_ok=True)

    # --- getting it ready for Terraform --------------------------------------------------------------------

    def synthesize(self, settings: EnvironmentSettings | None = None) -> StackWorkspace:
        """Synthesize the stack with the app's own entry point: `settings`, or the environment this workspace is
        named after as the process environment configures it."""
        from contract.config import load_environment
        from main import synth  # the CDKTF app: imported only by what synthesizes

        settings = settings or load_environment(self.stack)
        if settings.name != self.stack:
            raise ValueError(f"the {self.stack} workspace cannot hold the {settings.name} stack")
        synth([settings], self.outdir)
        return self

    def terraform(self, **options: Any) -> Terraform:
        """Terraform in the stack's folder with the project's CLI config (written for this machine by the init,
        or now if there is none yet)."""
        if not self.cli_config_file.exists():
            write_cli_config(self.cli_config_file)
        return Terraform(self.directory, self.cli_config_file, **options)

    def initialized(self, **options: Any) -> Terraform:
        """`terraform init` with the stack's own backend and a CLI config written for this machine; returns the
        Terraform that ran it."""
        write_cli_config(self.cli_config_file)
        terraform = self.terraform(**options)
        terraform.init()
        return terraform

    def init_inputs(self) -> str:
        """A digest of what `terraform init` depends on: the CLI config (where providers come from), the provider
        lock file, the configuration's `terraform` block (backend, required providers) and the Terraform binary."""
        binary = shutil.which("terraform") or ""
        parts = [
            self.cli_config_file.read_bytes() if self.cli_config_file.exists() else b"no cli config",
            lock.read_bytes() if (lock := self.directory / PROVIDER_LOCK).exists() else b"no lock file",
            json.dumps(self.config().get("terraform", {}), sort_keys=True).encode(),
            f"{binary} {Path(binary).stat().st_mtime_ns if binary else ''}".encode(),
        ]
        return hashlib.sha256(b"\0".join(parts)).hexdigest()

    def init_is_current(self) -> bool:
        """Whether the last init in this folder ran with the same inputs, so running it again would change nothing
        (its record is in .terraform/, which holds what it installed: deleting that folder means init again)."""
        record = self.directory / INIT_RECORD
        return record.is_file() and record.read_text().strip() == self.init_inputs()

    def init_if_changed(self, terraform: Terraform | None = None) -> bool:
        """`terraform init` with `terraform` (default: this folder's), the CLI config written for this machine
        first, unless the last init had the same inputs; returns whether it ran. Local mode's start calls this: an
        init that would change nothing still costs a second or more."""
        write_cli_config(self.cli_config_file)
        if self.init_is_current():
            return False
        record = self.directory / INIT_RECORD
        record.unlink(missing_ok=True)  # an init that fails half-way must not look current
        (terraform or self.terraform()).init()
        record.write_text(self.init_inputs() + "\n")
        return True

"""Warm restart: what a local stack leaves in its work dir when it stops, so that the next start with the same
synthesized stack brings a fresh emulator to the same state by replaying the emulator's recording, without a
Terraform apply.

    <work dir>/warm/snapshot.json     the synth's hash, the emulator's port, account and id seed, the state's hash
    <work dir>/warm/requests.jsonl    the recording: every request that may have changed the emulator, in order
    <work dir>/warm/terraform.local.tfstate   the Terraform state that goes with it
    <work dir>/warm/local.outputs.json        the stack outputs that go with it

A start takes the snapshot (the folder is gone once read: a start that fails or is killed leaves none behind) and
uses it only when everything matches; see `LocalStack.start`.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from contract.outputs import StackOutputs
from local_stack.emulator import Emulator
from local_stack.recording import RecordedRequest
from terraform_cli import StackWorkspace

SNAPSHOT_VERSION = 1
FOLDER = "warm"


class NotWarm(Exception):
    """Why the warm path cannot be taken; the start goes cold, saying so in one line."""


def file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class Snapshot:
    """What a stopped local stack left to restart from."""

    synth_hash: str  # of the synthesized cdk.tf.json (asset paths carry their content hashes)
    state_hash: str  # of the Terraform state file saved with it
    emulator_port: int
    account_id: str
    seed: int
    complete: bool  # the whole configuration was applied; if not, the warm start applies it in the background
    version: int = SNAPSHOT_VERSION


@dataclass(frozen=True)
class WarmStart:
    """A snapshot read from a work dir, with its recording, state and outputs."""

    snapshot: Snapshot
    requests: list[RecordedRequest]
    state: bytes
    outputs: StackOutputs


def folder(work_dir: Path) -> Path:
    return work_dir / FOLDER


def save(work_dir: Path, workspace: StackWorkspace, emulator: Emulator, *, complete: bool) -> None:
    """Leave what the next start needs to come back to this emulator's state."""
    target = folder(work_dir)
    shutil.rmtree(target, ignore_errors=True)
    if not (workspace.state_file.is_file() and workspace.outputs_file.is_file() and workspace.is_synthesized()):
        return
    partial = target.with_name(f"{FOLDER}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    with (partial / "requests.jsonl").open("w") as out:
        for request in emulator.recording.requests:
            out.write(json.dumps(request.to_json()) + "\n")
    shutil.copy2(workspace.state_file, partial / workspace.state_file.name)
    shutil.copy2(workspace.outputs_file, partial / workspace.outputs_file.name)
    snapshot = Snapshot(
        synth_hash=file_hash(workspace.config_file),
        state_hash=file_hash(workspace.state_file),
        emulator_port=emulator.port,
        account_id=emulator.account_id,
        seed=emulator.seed,
        complete=complete,
    )
    (partial / "snapshot.json").write_text(json.dumps(asdict(snapshot), indent=2) + "\n")
    partial.rename(target)  # whole or not at all


def discard(work_dir: Path) -> None:
    """Forget the last run's snapshot (`--fresh`)."""
    shutil.rmtree(folder(work_dir), ignore_errors=True)


def take(work_dir: Path, workspace: StackWorkspace) -> WarmStart | None:
    """Read the snapshot of the last run and remove it from the work dir; None if there is none, NotWarm saying
    why it cannot be used."""
    source = folder(work_dir)
    if not source.is_dir():
        return None
    taken = source.with_name(f"{FOLDER}.taken")
    shutil.rmtree(taken, ignore_errors=True)
    source.rename(taken)
    try:
        return _read(taken, workspace)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise NotWarm(f"the recording of the previous run cannot be read ({exc})") from None
    finally:
        shutil.rmtree(taken, ignore_errors=True)


def _read(source: Path, workspace: StackWorkspace) -> WarmStart:
    snapshot = Snapshot(**json.loads((source / "snapshot.json").read_text()))
    if snapshot.version != SNAPSHOT_VERSION:
        raise NotWarm(f"the recording is of snapshot version {snapshot.version}")
    state = (source / workspace.state_file.name).read_bytes()
    if hashlib.sha256(state).hexdigest() != snapshot.state_hash:
        raise NotWarm("the saved Terraform state is not the one recorded with the emulator")
    with (source / "requests.jsonl").open() as lines:
        requests = [RecordedRequest.from_json(json.loads(line)) for line in lines if line.strip()]
    outputs = StackOutputs.from_outputs_file(source / workspace.outputs_file.name, workspace.stack)
    return WarmStart(snapshot, requests, state, outputs)


def check_synth(warm: WarmStart, workspace: StackWorkspace) -> None:
    """NotWarm unless the synthesized stack is the one the recording was made with."""
    if file_hash(workspace.config_file) != warm.snapshot.synth_hash:
        raise NotWarm("the synthesized stack changed since the last run")


def check_emulator(warm: WarmStart, emulator: Emulator) -> None:
    """NotWarm unless the emulator holds what the state says: the bucket, the distribution, the table, the
    function and the REST API of the outputs."""
    outputs = warm.outputs
    checks: tuple[tuple[str, Callable[[], object]], ...] = (
        ("bucket", lambda: emulator.client("s3").head_bucket(Bucket=outputs.bucket_name)),
        ("distribution", lambda: emulator.client("cloudfront").get_distribution(Id=outputs.distribution_id)),
        ("table", lambda: emulator.client("dynamodb").describe_table(TableName=outputs.table_name)),
        ("function", lambda: emulator.client("lambda").get_function(FunctionName=outputs.function_name)),
        ("REST API", lambda: emulator.client("apigateway").get_rest_api(restApiId=outputs.api_id)),
    )
    for what, read in checks:
        try:
            read()
        except (BotoCoreError, ClientError) as exc:
            raise NotWarm(f"after the replay the emulator has no {what} the state names ({exc})") from None


def restore_state(warm: WarmStart, workspace: StackWorkspace) -> None:
    """Put the Terraform state that goes with the replayed emulator in place, with its outputs."""
    workspace.forget_state()
    workspace.state_file.write_bytes(warm.state)
    warm.outputs.to_outputs_file(workspace.outputs_file, workspace.stack)

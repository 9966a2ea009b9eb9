"""What changed in a deployed stack outside Terraform: `python -m operations.drift <stack>` (`pipenv run drift`).

A refresh-only plan, read through Terraform's machine-readable output (`terraform show -json`, its
`resource_drift`): each resource whose real settings differ from the state, with every attribute that changed,
before → after. Nothing is changed, neither the resources nor the state. Exit 0 with no drift, 2 with drift, 1 on
error, so a scheduled CI job can alert on 2.

`prod` (or any AWS stack) is synthesized into cdktf.out and planned with your AWS credentials and its state
backend, as `deploy` does. `local` reports on the running local stack (`pipenv run local`) in its emulator, and
names what moto answers differently from AWS as such instead of hiding it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contract.config import FAKE_CREDENTIALS, LOCAL_REGION, ConfigError
from hooks.storage import default_session
from operations.preflight import credentials
from terraform_cli import StackWorkspace, Terraform, TerraformError
from terraform_cli.workspace import DEFAULT_OUTDIR, LOCAL_WORK_DIR

NO_DRIFT, DRIFT, ERROR = 0, 2, 1
# What moto reports differently from what the provider wrote, on every refresh: not changes made outside
# Terraform. By resource type, the attribute paths (prefixes) moto is known to answer differently.
EMULATOR_ARTIFACTS: Mapping[str, tuple[str, ...]] = {
    "aws_cloudfront_distribution": ("origin", "default_cache_behavior", "viewer_certificate", "etag", "status")
}


@dataclass(frozen=True)
class AttributeChange:
    path: str  # e.g. point_in_time_recovery[0].enabled
    before: Any
    after: Any

    def __str__(self) -> str:
        return f"{self.path}: {json.dumps(self.before)} → {json.dumps(self.after)}"


@dataclass(frozen=True)
class Drift:
    """One resource changed outside Terraform: updated (with its changed attributes) or deleted."""

    address: str
    action: str
    changes: tuple[AttributeChange, ...]

    def lines(self) -> list[str]:
        return [f"{self.address} ({self.action})", *(f"  {change}" for change in self.changes)]


def _empty(value: Any) -> bool:
    return value is None or value == [] or value == {} or value == ""


def attribute_changes(before: Any, after: Any, path: str = "") -> Iterator[AttributeChange]:
    """Every leaf that differs between two attribute trees, by its path; null and empty are the same (the
    provider writes one and reads the other back)."""
    if _empty(before) and _empty(after):
        return
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        for key in sorted(set(before) | set(after)):
            yield from attribute_changes(before.get(key), after.get(key), f"{path}.{key}" if path else str(key))
    elif isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        for index, (old, new) in enumerate(zip(before, after, strict=True)):
            yield from attribute_changes(old, new, f"{path}[{index}]")
    elif before != after:
        yield AttributeChange(path, before, after)


@dataclass(frozen=True)
class Report:
    """A refresh-only plan, read: the drift; what changed in attributes the stack does not set (another of its
    resources manages them, e.g. a key's policy set by aws_kms_key_policy, or AWS fills them in); and, in the
    emulator, what moto is known to answer differently from AWS."""

    drift: list[Drift]
    not_set_by_the_stack: list[Drift]
    emulator_artifacts: list[Drift]

    def to_json(self) -> dict[str, Any]:
        def listed(resources: list[Drift]) -> list[dict[str, Any]]:
            return [
                {"address": d.address, "action": d.action, "changes": [c.__dict__ for c in d.changes]}
                for d in resources
            ]

        return {
            "drift": listed(self.drift),
            "not_set_by_the_stack": listed(self.not_set_by_the_stack),
            "emulator_artifacts": listed(self.emulator_artifacts),
        }

    def lines(self) -> list[str]:
        lines = [f"drift: {len(self.drift)} resource(s) changed outside Terraform" if self.drift else "drift: none"]
        for resource in self.drift:
            lines += resource.lines()
        for heading, resources in (
            ("also changed, in attributes this stack does not set", self.not_set_by_the_stack),
            ("emulator artifact (moto answers differently from AWS; not drift)", self.emulator_artifacts),
        ):
            for resource in resources:
                lines.append(f"{heading}: {resource.address}: {', '.join(c.path for c in resource.changes)}")
        return lines


def _top(path: str) -> str:
    return path.split("[")[0].split(".")[0]


def configured_attributes(config: Mapping[str, Any], entry: Mapping[str, Any]) -> set[str]:
    """The attributes the configuration sets on the resource a plan entry is about. Taken from the entry's own
    `type` and `name` (its `index`, a count's number or a for_each key, names an instance of the same block), never
    parsed out of its address: a key such as `["users.example.com"]` has dots of its own."""
    section = "data" if entry.get("mode") == "data" else "resource"
    return set(config.get(section, {}).get(entry["type"], {}).get(entry["name"], {}))


def read_report(plan: Mapping[str, Any], config: Mapping[str, Any], *, emulated: bool) -> Report:
    """The report on `terraform show -json` of a refresh-only plan of the stack whose configuration (the
    synthesized JSON) is `config`."""
    drift: list[Drift] = []
    not_set: list[Drift] = []
    artifacts: list[Drift] = []
    for entry in plan.get("resource_drift") or []:
        change, address = entry["change"], entry["address"]
        actions = tuple(change["actions"])
        if actions == ("no-op",):
            continue
        if actions == ("delete",):
            drift.append(Drift(address, "deleted outside Terraform", ()))
            continue
        resource_type = entry["type"]
        configured = configured_attributes(config, entry)
        changes = list(attribute_changes(change.get("before") or {}, change.get("after") or {}))
        known = [c for c in changes if emulated and _top(c.path) in EMULATOR_ARTIFACTS.get(resource_type, ())]
        rest = [c for c in changes if c not in known]
        for found, kept in (
            (drift, [c for c in rest if _top(c.path) in configured]),
            (not_set, [c for c in rest if _top(c.path) not in configured]),
            (artifacts, known),
        ):
            if kept:
                found.append(Drift(address, "/".join(actions), tuple(kept)))
    return Report(drift, not_set, artifacts)


def report(workspace: StackWorkspace, terraform: Terraform, *, emulated: bool = False) -> Report:
    """A refresh-only plan of the stack in `workspace` (which `terraform` runs in), read."""
    plan_file = workspace.plan_file("drift")
    terraform.plan(plan_file, refresh_only=True)
    return read_report(terraform.show(plan_file), workspace.config(), emulated=emulated)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m operations.drift", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("stack", help="the stack (environment) to check, e.g. prod, or local for the running one")
    parser.add_argument("--outdir", type=Path, default=DEFAULT_OUTDIR, help="where to synthesize")
    parser.add_argument("--work-dir", type=Path, default=LOCAL_WORK_DIR, help="local: its work directory")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    return parser.parse_args(argv)


class AwsUnavailable(RuntimeError):
    """AWS did not answer, or not with usable credentials; the message says which and the fix."""


def check_aws() -> None:
    """The preflight's credentials check, before Terraform starts. The AWS provider waits on an endpoint that never
    answers for as long as it is left to, and an interrupted Terraform waits on the provider; this check gives up
    in about a minute (botocore's retry settings honoured) and names the endpoint."""
    check = credentials(default_session())
    if not check.ok:
        raise AwsUnavailable(f"{check.detail}; fix: {check.fix}")


def terraform_for(args: argparse.Namespace) -> tuple[StackWorkspace, Terraform]:
    """The stack's workspace, and Terraform in it."""
    if args.stack == "local":
        workspace = StackWorkspace.local(args.work_dir)
        if not workspace.is_synthesized() or not workspace.state_file.exists():
            raise FileNotFoundError(f"no local stack is running in {args.work_dir}: start `pipenv run local` first")
        env = {**FAKE_CREDENTIALS, "AWS_REGION": LOCAL_REGION}  # the endpoints are in the synthesized config
        return workspace, workspace.terraform(env=env, timeout=600)
    check_aws()
    workspace = StackWorkspace(args.stack, args.outdir).synthesize()
    return workspace, workspace.initialized(timeout=1800)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        workspace, terraform = terraform_for(args)
        found = report(workspace, terraform, emulated=args.stack == "local")
    except (ConfigError, TerraformError, FileNotFoundError, AwsUnavailable) as exc:
        print(f"drift: error: {exc}", file=sys.stderr)
        if args.json:
            print(json.dumps({"error": str(exc)}))
        return ERROR
    print(json.dumps(found.to_json(), default=str) if args.json else "\n".join(found.lines()))
    return DRIFT if found.drift else NO_DRIFT


if __name__ == "__main__":
    sys.exit(main())

"""The stack's outputs: one typed contract between the stack that writes them and every tool that reads them.

`UserAppStack` writes one Terraform output per field, with the field's description. The post-apply hook, local
mode, the deploy command and review read them back as a `StackOutputs`, from the file `cdktf deploy
--outputs-file` writes or from `terraform output -json`; nothing parses a value out of another.
Plain Python: reading outputs needs neither CDKTF nor Terraform.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any


class OutputsError(ValueError):
    """The outputs are missing, unreadable or not what the stack writes; the message says which and where."""


def output(description: str) -> Any:
    return field(metadata={"description": description})


@dataclass(frozen=True)
class StackOutputs:
    """What a deployed stack tells the tools that work on it."""

    site_url: str = output("Where browsers load the site")
    api_url: str = output("GET this with ?userId=…")
    page_api_url: str = output("What the page calls: the API, or a path on the site")
    bucket_name: str = output("The post-apply hook publishes the site folder (site.source_dir) here")
    distribution_id: str = output("The post-apply hook invalidates this")
    table_name: str = output("The users table")
    function_name: str = output("The get-user function")
    api_id: str = output("The REST API's id")
    api_stage: str = output("The API stage the URLs point at")
    content_security_policy: str = output("The CSP the site's pages get; the post-apply hook checks pages against it")

    @staticmethod
    def descriptions() -> dict[str, str]:
        """Each output's name and what it means, in the order the stack writes them."""
        return {item.name: item.metadata["description"] for item in fields(StackOutputs)}

    @classmethod
    def from_mapping(cls, values: object, where: str) -> StackOutputs:
        """Outputs from {name: value}; `where` names their source in errors."""
        if not isinstance(values, Mapping):
            raise OutputsError(f"{where}: expected an object of stack outputs, found {type(values).__name__}")
        missing = [name for name in cls.descriptions() if name not in values]
        if missing:
            raise OutputsError(f"{where}: missing output(s) {', '.join(missing)}; deploy the stack again to write them")
        wrong = [name for name in cls.descriptions() if not isinstance(values[name], str) or not values[name]]
        if wrong:
            raise OutputsError(f"{where}: output(s) {', '.join(wrong)} must be non-empty strings")
        return cls(**{name: values[name] for name in cls.descriptions()})

    @classmethod
    def from_outputs_file(cls, path: Path, stack: str | None = None) -> StackOutputs:
        """One stack's outputs from the file `cdktf deploy --outputs-file` writes: {stack: {name: value}}.
        `stack` may be left out when the file holds only one."""
        try:
            everything = json.loads(path.read_bytes())
        except (OSError, ValueError) as exc:
            raise OutputsError(f"cannot read outputs file {path}: {exc}") from exc
        if not isinstance(everything, dict):
            raise OutputsError(f"{path}: expected an object of stacks, found {type(everything).__name__}")
        if stack is None:
            if len(everything) != 1:
                raise OutputsError(f"{path} holds stacks {sorted(everything)}; name one with --stack")
            (stack,) = everything
        if stack not in everything:
            raise OutputsError(f"stack {stack!r} is not in {path}; it holds {sorted(everything)}")
        return cls.from_mapping(everything[stack], f"{path} (stack {stack})")

    @classmethod
    def from_terraform(cls, output_json: Mapping[str, Any], where: str = "terraform output") -> StackOutputs:
        """Outputs from `terraform output -json`: {name: {"value": …, "type": …, "sensitive": …}}."""
        values = {
            name: entry.get("value") if isinstance(entry, Mapping) else entry for name, entry in output_json.items()
        }
        return cls.from_mapping(values, where)

    def to_outputs_file(self, path: Path, stack: str) -> None:
        """Write these outputs as `cdktf deploy --outputs-file` would, for the hook or a user's own tools."""
        path.write_text(
            json.dumps({stack: {name: getattr(self, name) for name in self.descriptions()}}, indent=2) + "\n"
        )

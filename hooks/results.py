"""What a publish (or a rollback) is given and gives back: where to publish (`Target`), how (`PublishOptions`),
what it did (`PublishResult`, with its `Invalidation`), and how it fails (`PublishError`, `CspViolations`).

Plain values, shared by `hooks/publish.py`, `hooks/rollback.py` and their callers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from contract.outputs import StackOutputs
from hooks.csp import Finding

# How long the hook waits for one answer from AWS before it counts as failed (then botocore retries it): with the
# default five retries, a publish against an endpoint that accepts connections and never answers ends in about
# a minute. Every AWS answer the hook waits for comes in well under a second.
DEFAULT_AWS_TIMEOUT = 10.0


class PublishError(RuntimeError):
    """Publishing stopped; the message says what failed and what state the site is in."""


class CspViolations(PublishError):
    """Pages do what the site's content security policy blocks; nothing was uploaded."""

    def __init__(self, findings: list[Finding]) -> None:
        self.findings = findings
        lines = "\n".join(str(f) for f in findings)
        super().__init__(
            f"{len(findings)} thing(s) in the pages would be blocked by the site's content security "
            f"policy; nothing was published (fix them, or pass --allow-csp-violations):\n{lines}"
        )


@dataclass(frozen=True)
class Target:
    """Where to publish: the site's bucket, its distribution, the API URL the page is to call, and what the
    pages are checked against (the CSP they get, and the origin they are served from)."""

    bucket: str
    distribution_id: str
    page_api_url: str
    content_security_policy: str | None = None
    site_origin: str | None = None
    stack: str | None = None  # the stack's name, where known: remedies name it (`pipenv run deploy prod`)

    @classmethod
    def from_outputs(cls, outputs: StackOutputs, stack: str | None = None) -> Target:
        parts = urlsplit(outputs.site_url)
        return cls(
            outputs.bucket_name,
            outputs.distribution_id,
            outputs.page_api_url,
            outputs.content_security_policy,
            f"{parts.scheme}://{parts.netloc}",
            stack,
        )


@dataclass(frozen=True)
class PublishOptions:
    prune: bool = False  # delete what no recent release references
    dry_run: bool = False  # work out what would happen, change nothing
    wait: bool = True  # wait for the invalidation to complete
    wait_timeout: float = 600.0
    invalidate_all: bool = False  # invalidate /* whether or not anything changed
    allow_csp_violations: bool = False  # publish pages the CSP blocks parts of (printed as warnings)
    allow_dotfiles: bool = False  # publish .env-like files too (never .publish/)
    keep_releases: int = 3  # pruning keeps what this many recent releases (this one included) reference
    lock_wait: float = 0.0  # how long to wait for another publish to the bucket to finish
    lock_ttl: float = 900.0  # after this long, a publisher's lock counts as dead
    aws_timeout: float = DEFAULT_AWS_TIMEOUT


@dataclass(frozen=True)
class Invalidation:
    id: str | None  # None in a dry run, or when deferred
    paths: tuple[str, ...]
    why: tuple[str, ...] = ()  # how and why the paths differ from the changed ones (hooks/invalidation.py)
    deferred: str | None = None  # why nothing was sent now; the next publish sends it

    def summary(self) -> dict[str, Any]:
        summary: dict[str, Any] = {"id": self.id, "paths": list(self.paths)}
        if self.why:
            summary["why"] = list(self.why)
        if self.deferred:
            summary["deferred"] = self.deferred
        return summary

    def describe(self) -> str:
        if self.deferred:
            return f"deferred ({self.deferred}): the next publish invalidates {' '.join(self.paths)}"
        return " ".join(self.paths) or "nothing"


@dataclass(frozen=True)
class PublishResult:
    """What a publish did, or in a dry run would do."""

    uploaded: tuple[str, ...]
    unchanged: int
    deleted: tuple[str, ...]
    invalidation: Invalidation | None
    dry_run: bool = False
    details: tuple[str, ...] = ()  # in a dry run, one line per planned change
    release_id: str | None = None
    csp_findings: tuple[str, ...] = ()  # what the CSP blocks, published anyway on request
    left_out: tuple[str, ...] = ()  # dotfiles not published
    warnings: tuple[str, ...] = ()  # what was published otherwise than asked, and why

    def summary(self) -> dict[str, Any]:
        """The --json output."""
        invalidation = None if self.invalidation is None else self.invalidation.summary()
        summary: dict[str, Any] = {
            "uploaded": sorted(self.uploaded),
            "unchanged": self.unchanged,
            "deleted": sorted(self.deleted),
            "invalidation": invalidation,
        }
        if self.dry_run:
            summary["dry_run"] = True
        else:
            summary["release"] = self.release_id
        if self.csp_findings:
            summary["csp_findings"] = list(self.csp_findings)
        if self.left_out:
            summary["left_out"] = list(self.left_out)
        if self.warnings:
            summary["warnings"] = list(self.warnings)
        return summary

    def describe(self) -> str:
        """For people: warnings and planned changes, then one line."""
        invalidated = self.invalidation.describe() if self.invalidation else "nothing"
        verb = "would publish" if self.dry_run else "published"
        lines = [f"warning: {finding}" for finding in (*self.csp_findings, *self.warnings)]
        lines += [f"left out (dotfile): {key}" for key in self.left_out]
        lines += [f"invalidation: {why}" for why in (self.invalidation.why if self.invalidation else ())]
        lines += [
            *self.details,
            f"{verb}: {len(self.uploaded)} uploaded, {self.unchanged} unchanged, "
            f"{len(self.deleted)} deleted; invalidated {invalidated}",
        ]
        return "\n".join(lines)

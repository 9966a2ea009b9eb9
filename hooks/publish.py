"""Publishing the site: `publish_site(target, source, options)` checks the pages against the site's content security
policy, compares with the bucket, uploads in a safe order, records the release, prunes and invalidates, and returns
one `PublishResult` (a dry run returns what it would do, in the same form).

The order is what keeps the live site working: new fingerprinted assets first (nothing references them yet), then
the pages that switch to them, then the record of the release, then the invalidation. If any asset fails, no page
is replaced, so visitors keep the previous release; running again uploads only what is still missing. Publishes to
one bucket never overlap (a lock in the bucket), and pruning keeps what the recent releases reference.
"""

from __future__ import annotations

import base64
import hashlib
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from contract.outputs import StackOutputs
from contract.site_files import INDEX_DOCUMENT, PRIVATE_PREFIX
from hooks import records
from hooks.csp import Finding
from hooks.records import PublishedObject, PublishLock, ReleaseRecord
from hooks.release import Asset, Release, build_release, page_references

if TYPE_CHECKING:
    from mypy_boto3_cloudfront import CloudFrontClient
    from mypy_boto3_s3 import S3Client

UPLOAD_WORKERS = 16
DEFAULT_AWS_TIMEOUT = 30.0


def client_config(timeout: float = DEFAULT_AWS_TIMEOUT) -> Config:
    """Every AWS client of the hook: botocore's standard retry mode (throttling and 5xx, with backoff and jitter),
    and an answer within `timeout` seconds, so an endpoint that accepts connections but never answers fails the
    publish instead of hanging it."""
    return Config(
        retries={"mode": "standard", "max_attempts": 5},
        max_pool_connections=UPLOAD_WORKERS,
        connect_timeout=min(timeout, 10.0),
        read_timeout=timeout,
    )


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

    @classmethod
    def from_outputs(cls, outputs: StackOutputs) -> Target:
        parts = urlsplit(outputs.site_url)
        return cls(
            outputs.bucket_name,
            outputs.distribution_id,
            outputs.page_api_url,
            outputs.content_security_policy,
            f"{parts.scheme}://{parts.netloc}",
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
    id: str | None  # None in a dry run
    paths: tuple[str, ...]


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

    def summary(self) -> dict[str, Any]:
        """The --json output."""
        invalidation = (
            None if self.invalidation is None else {"id": self.invalidation.id, "paths": list(self.invalidation.paths)}
        )
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
        return summary

    def describe(self) -> str:
        """For people: warnings and planned changes, then one line."""
        invalidated = " ".join(self.invalidation.paths) if self.invalidation else "nothing"
        verb = "would publish" if self.dry_run else "published"
        lines = [f"warning: {finding}" for finding in self.csp_findings]
        lines += [f"left out (dotfile): {key}" for key in self.left_out]
        lines += [
            *self.details,
            f"{verb}: {len(self.uploaded)} uploaded, {self.unchanged} unchanged, "
            f"{len(self.deleted)} deleted; invalidated {invalidated}",
        ]
        return "\n".join(lines)


@dataclass(frozen=True)
class Plan:
    """What a publish will do, worked out from the release and the bucket."""

    uploads: tuple[Asset, ...]
    unchanged: int
    deletions: tuple[str, ...]
    invalidation_paths: tuple[str, ...]
    live: ReleaseRecord | None  # the release live before this one

    @property
    def asset_uploads(self) -> list[Asset]:
        return [a for a in self.uploads if a.fingerprinted]

    @property
    def document_uploads(self) -> list[Asset]:
        return [a for a in self.uploads if not a.fingerprinted]


def default_session() -> boto3.session.Session:
    """The standard credential chain; AWS_REGION counts as well as AWS_DEFAULT_REGION (botocore reads only the
    latter, the other AWS SDKs and CI systems set the former)."""
    region = os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or None
    return boto3.session.Session(region_name=region)


@dataclass(frozen=True)
class SiteClients:
    """The AWS clients publishing uses."""

    s3: S3Client
    cloudfront: CloudFrontClient

    @classmethod
    def from_session(cls, session: boto3.session.Session, timeout: float = DEFAULT_AWS_TIMEOUT) -> SiteClients:
        config = client_config(timeout)
        # CloudFront is global; its API answers in us-east-1 whatever the session's region.
        return cls(
            s3=session.client("s3", config=config),
            cloudfront=session.client("cloudfront", config=config, region_name=session.region_name or "us-east-1"),
        )


def publish_site(
    target: Target, source: Path, options: PublishOptions = PublishOptions(), clients: SiteClients | None = None
) -> PublishResult:
    """Publish the site in `source` (web/) to `target`: the post-apply hook's entry point.

    Builds the release (the frontend config with the target's API URL, fingerprinted assets, rewritten pages),
    refuses it if the site's CSP would block parts of the pages (unless allowed), then, holding the bucket's
    publish lock, uploads what changed (assets first, pages last), records the release, optionally prunes, and
    invalidates exactly the changed paths. Raises `PublishError` (or botocore's errors) with the live site left as
    it was whenever no page was replaced. `clients` defaults to the standard AWS credential chain.
    """
    release = build_release(source, target.page_api_url, allow_dotfiles=options.allow_dotfiles)
    findings = (
        release.csp_findings(target.content_security_policy, target.site_origin)
        if target.content_security_policy
        else []
    )
    if findings and not options.allow_csp_violations:
        raise CspViolations(findings)
    clients = clients or SiteClients.from_session(default_session(), options.aws_timeout)
    warnings = tuple(str(f) for f in findings)
    if options.dry_run:
        plan = plan_publish(release, target, options, clients)
        invalidation = Invalidation(None, plan.invalidation_paths) if plan.invalidation_paths else None
        details = [f"upload   {a.key}  ({a.content_type}; {a.cache_control})" for a in plan.uploads]
        details += [f"delete   {key}" for key in plan.deletions]
        return PublishResult(
            tuple(sorted(a.key for a in plan.uploads)),
            plan.unchanged,
            plan.deletions,
            invalidation,
            dry_run=True,
            details=tuple(details),
            csp_findings=warnings,
            left_out=release.left_out,
        )
    try:
        with PublishLock(clients.s3, target.bucket, ttl_seconds=options.lock_ttl, wait_seconds=options.lock_wait):
            plan = plan_publish(release, target, options, clients)
            result = execute(plan, release, target, options, clients, git=records.git_commit(source))
    except records.LockHeld as exc:
        raise PublishError(str(exc)) from exc
    return PublishResult(
        result.uploaded,
        result.unchanged,
        result.deleted,
        result.invalidation,
        release_id=result.release_id,
        csp_findings=warnings,
        left_out=release.left_out,
    )


# --- working out the plan ---------------------------------------------------------------------------------------


def bucket_etags(s3: S3Client, bucket: str) -> dict[str, str]:
    """Every published object's key and ETag (the MD5 of a single-part upload), the hook's records left out."""
    etags = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            if not item["Key"].startswith(PRIVATE_PREFIX):
                etags[item["Key"]] = item["ETag"].strip('"')
    return etags


def live_references(s3: S3Client, bucket: str, keys: Iterable[str]) -> set[str]:
    """Files the live pages reference: what pages already open still load."""
    referenced: set[str] = set()
    for key in keys:
        if key.endswith((".html", ".htm")):
            html = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8", errors="replace")
            referenced |= page_references(html, key)
    return referenced


def invalidation_path(key: str) -> str:
    """The viewer path of a key, URL-encoded as CloudFront expects (spaces, ?, #, %, non-ASCII)."""
    return "/" + quote(key, safe="/")


def invalidation_paths(documents: Iterable[Asset], default_root_object: str) -> tuple[str, ...]:
    """The viewer paths of changed documents; the default root object is also served at '/'."""
    paths = set()
    for document in documents:
        paths.add(invalidation_path(document.key))
        if document.key == default_root_object:
            paths.add("/")
    return tuple(sorted(paths))


def _metadata_changed(s3: S3Client, bucket: str, asset: Asset, live: ReleaseRecord | None) -> bool:
    """Whether an object whose bytes match has another Content-Type or Cache-Control than `asset` wants.

    Fingerprinted assets (many, never changed after upload) are compared with the live release's record; pages
    and fixed-name files (few, and what a hand-made change would touch) with what S3 says."""
    known = live.objects.get(asset.key) if live else None
    if asset.fingerprinted and known is not None and known.md5 == asset.md5:
        return (known.content_type, known.cache_control) != (asset.content_type, asset.cache_control)
    head = s3.head_object(Bucket=bucket, Key=asset.key)
    return (head.get("ContentType"), head.get("CacheControl")) != (asset.content_type, asset.cache_control)


def default_root_object(cloudfront: CloudFrontClient, distribution_id: str) -> str:
    config = cloudfront.get_distribution_config(Id=distribution_id)["DistributionConfig"]
    return config.get("DefaultRootObject") or INDEX_DOCUMENT


def plan_publish(release: Release, target: Target, options: PublishOptions, clients: SiteClients) -> Plan:
    s3 = clients.s3
    etags = bucket_etags(s3, target.bucket)
    recent = records.recent_releases(s3, target.bucket, max(options.keep_releases, 1))
    live = recent[0] if recent else None
    everything = release.assets + release.documents
    uploads = tuple(a for a in everything if etags.get(a.key) != a.md5 or _metadata_changed(s3, target.bucket, a, live))
    paths = set(
        invalidation_paths(
            [a for a in uploads if not a.fingerprinted], default_root_object(clients.cloudfront, target.distribution_id)
        )
    )
    paths |= set(records.pending_invalidation(s3, target.bucket))  # a run that did not get to invalidate
    if options.invalidate_all:
        paths = {"/*"}
    deletions: tuple[str, ...] = ()
    if options.prune:
        # This release is the newest of the ones kept; pages already open keep what they load.
        keep = release.keys | live_references(s3, target.bucket, etags)
        for record in recent[: options.keep_releases - 1]:
            keep |= set(record.objects)
        deletions = tuple(sorted(set(etags) - keep))
    return Plan(
        uploads=uploads,
        unchanged=len(everything) - len(uploads),
        deletions=deletions,
        invalidation_paths=tuple(sorted(paths)),
        live=live,
    )


# --- carrying it out --------------------------------------------------------------------------------------------


class Progress:
    """A one-line progress counter on a terminal; silent otherwise."""

    def __init__(self, total: int, label: str) -> None:
        self.total, self.label, self.done = total, label, 0
        self.enabled = sys.stderr.isatty() and total > 0

    def step(self) -> None:
        self.done += 1
        if self.enabled:
            end = "\n" if self.done == self.total else ""
            print(f"\r{self.label} {self.done}/{self.total}", end=end, file=sys.stderr, flush=True)


def upload(s3: S3Client, bucket: str, assets: list[Asset], label: str) -> dict[str, str | None]:
    """Upload in parallel; the version id of each key. Raises PublishError naming every failed key after all
    attempts finished."""
    progress = Progress(len(assets), label)
    failures: dict[str, Exception] = {}
    done: dict[str, str | None] = {}
    with ThreadPoolExecutor(max_workers=UPLOAD_WORKERS) as pool:
        futures = {pool.submit(_put, s3, bucket, asset): asset.key for asset in assets}
        for future in as_completed(futures):
            try:
                done[futures[future]] = future.result()
            except (BotoCoreError, ClientError) as exc:
                failures[futures[future]] = exc
            progress.step()
    if failures:
        first_key, first_error = sorted(failures.items())[0]
        raise PublishError(f"upload of {len(failures)} file(s) failed, first {first_key}: {first_error}")
    return done


def _put(s3: S3Client, bucket: str, asset: Asset) -> str | None:
    # Content-MD5 makes S3 reject a body corrupted in transit.
    digest = base64.b64encode(hashlib.md5(asset.body, usedforsecurity=False).digest()).decode()
    answer = s3.put_object(
        Bucket=bucket,
        Key=asset.key,
        Body=asset.body,
        ContentType=asset.content_type,
        CacheControl=asset.cache_control,
        ContentMD5=digest,
    )
    return answer.get("VersionId")


def delete(s3: S3Client, bucket: str, keys: tuple[str, ...]) -> list[str]:
    deleted: list[str] = []
    for start in range(0, len(keys), 1000):  # DeleteObjects takes at most 1,000 keys
        batch = keys[start : start + 1000]
        answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True})
        if answer.get("Errors"):
            first = answer["Errors"][0]
            raise PublishError(f"deleting {first.get('Key')} failed: {first.get('Code')} {first.get('Message')}")
        deleted += batch
    return deleted


def invalidate(cloudfront: CloudFrontClient, distribution_id: str, paths: tuple[str, ...]) -> str:
    answer = cloudfront.create_invalidation(
        DistributionId=distribution_id,
        InvalidationBatch={
            "Paths": {"Quantity": len(paths), "Items": list(paths)},
            "CallerReference": f"post-apply-{uuid.uuid4()}",
        },
    )
    return answer["Invalidation"]["Id"]


def wait_for_invalidation(
    cloudfront: CloudFrontClient,
    distribution_id: str,
    invalidation_id: str,
    *,
    timeout: float,
    interval: float = 5.0,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Poll until the invalidation completes. AWS says 'Completed', the emulator 'COMPLETED': compare loosely."""
    deadline = time.monotonic() + timeout
    while True:
        status = cloudfront.get_invalidation(DistributionId=distribution_id, Id=invalidation_id)["Invalidation"]
        if status["Status"].lower() == "completed":
            return
        if time.monotonic() >= deadline:
            raise PublishError(
                f"invalidation {invalidation_id} still {status['Status']} after {timeout:.0f}s; "
                "the new files are live, cached copies expire as CloudFront finishes"
            )
        sleep(interval)


def _record(
    release: Release, versions: dict[str, str | None], live: ReleaseRecord | None, git: str | None
) -> ReleaseRecord:
    previous = live.objects if live else {}
    return ReleaseRecord(
        id=records.new_release_id(),
        created=records.iso(records.now()),
        source_hash=release.content_hash,
        git_commit=git,
        objects={
            a.key: PublishedObject(
                a.md5,
                a.content_type,
                a.cache_control,
                versions[a.key] if a.key in versions else getattr(previous.get(a.key), "version_id", None),
            )
            for a in release.assets + release.documents
        },
    )


def execute(
    plan: Plan,
    release: Release,
    target: Target,
    options: PublishOptions,
    clients: SiteClients,
    *,
    git: str | None = None,
) -> PublishResult:
    """Carry a plan out in the safe order."""
    s3, bucket = clients.s3, target.bucket
    versions = upload(s3, bucket, plan.asset_uploads, "assets")
    if plan.invalidation_paths:
        # From here the new pages may be live: until they are invalidated, the next run must invalidate them.
        records.record_pending_invalidation(s3, bucket, plan.invalidation_paths)
    # Only now may pages point at the new assets.
    versions |= upload(s3, bucket, plan.document_uploads, "pages")
    record = _record(release, versions, plan.live, git)
    records.write_release(s3, bucket, record)
    deleted = delete(s3, bucket, plan.deletions) if plan.deletions else []
    invalidation = None
    if plan.invalidation_paths:
        invalidation_id = invalidate(clients.cloudfront, target.distribution_id, plan.invalidation_paths)
        records.clear_pending_invalidation(s3, bucket)
        invalidation = Invalidation(invalidation_id, plan.invalidation_paths)
        if options.wait:
            wait_for_invalidation(
                clients.cloudfront, target.distribution_id, invalidation_id, timeout=options.wait_timeout
            )
    return PublishResult(tuple(sorted(versions)), plan.unchanged, tuple(deleted), invalidation, release_id=record.id)

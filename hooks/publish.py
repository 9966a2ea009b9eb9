"""Publishing the site: `publish_site(target, source, options)` compares, uploads in a safe order, prunes and
invalidates, and returns one `PublishResult` (a dry run returns what it would do, in the same form).

The order is what keeps the live site working: new fingerprinted assets first (nothing references them yet), then
the HTML that switches to them, then the invalidation. If any asset fails, no HTML is replaced, so visitors keep
the previous release; running again uploads only what is still missing.
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

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from hooks.release import Asset, Release, build_release, html_references
from modules.outputs import StackOutputs
from modules.site_files import INDEX_DOCUMENT

if TYPE_CHECKING:
    from mypy_boto3_cloudfront import CloudFrontClient
    from mypy_boto3_s3 import S3Client

# botocore's standard retry mode retries throttling and 5xx answers with exponential backoff and jitter.
RETRY_CONFIG = Config(retries={"mode": "standard", "max_attempts": 8}, max_pool_connections=16)
UPLOAD_WORKERS = 16


class PublishError(RuntimeError):
    """Publishing stopped; the message says what failed and what state the site is in."""


@dataclass(frozen=True)
class Target:
    """Where to publish: the site's bucket, its distribution, and the API URL the page is to call."""

    bucket: str
    distribution_id: str
    page_api_url: str

    @classmethod
    def from_outputs(cls, outputs: StackOutputs) -> Target:
        return cls(outputs.bucket_name, outputs.distribution_id, outputs.page_api_url)


@dataclass(frozen=True)
class PublishOptions:
    prune: bool = False  # delete what no page references any more, keeping the previous release's assets
    dry_run: bool = False  # work out what would happen, change nothing
    wait: bool = True  # wait for the invalidation to complete
    wait_timeout: float = 600.0
    invalidate_all: bool = False  # invalidate /* instead of the changed pages


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
        return summary

    def describe(self) -> str:
        """For people: one line, after the planned changes in a dry run."""
        invalidated = " ".join(self.invalidation.paths) if self.invalidation else "nothing"
        verb = "would publish" if self.dry_run else "published"
        return "\n".join(
            [
                *self.details,
                f"{verb}: {len(self.uploaded)} uploaded, {self.unchanged} unchanged, "
                f"{len(self.deleted)} deleted; invalidated {invalidated}",
            ]
        )


@dataclass(frozen=True)
class Plan:
    """What a publish will do, worked out from the release and the bucket's current objects."""

    uploads: tuple[Asset, ...]
    unchanged: int
    deletions: tuple[str, ...]
    invalidation_paths: tuple[str, ...]

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
    def from_session(cls, session: boto3.session.Session) -> SiteClients:
        # CloudFront is global; its API answers in us-east-1 whatever the session's region.
        return cls(
            s3=session.client("s3", config=RETRY_CONFIG),
            cloudfront=session.client(
                "cloudfront", config=RETRY_CONFIG, region_name=session.region_name or "us-east-1"
            ),
        )


def publish_site(
    target: Target, source: Path, options: PublishOptions = PublishOptions(), clients: SiteClients | None = None
) -> PublishResult:
    """Publish the site in `source` (web/) to `target`: the post-apply hook's entry point.

    Renders the frontend config with the target's API URL, uploads what changed (assets first, pages last),
    optionally prunes, and invalidates exactly the changed pages. Raises `PublishError` (or botocore's errors)
    with the live site left as it was whenever no page was replaced. `clients` defaults to the standard AWS
    credential chain.
    """
    release = build_release(source, target.page_api_url)
    clients = clients or SiteClients.from_session(default_session())
    s3, cloudfront = clients.s3, clients.cloudfront
    plan = plan_publish(release, target, options, s3, cloudfront)
    if options.dry_run:
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
        )
    return execute(plan, target, options, s3, cloudfront)


# --- working out the plan ---------------------------------------------------------------------------------------


def bucket_etags(s3: S3Client, bucket: str) -> dict[str, str]:
    """Every object's key and ETag (the MD5 of a single-part upload)."""
    etags = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            etags[item["Key"]] = item["ETag"].strip('"')
    return etags


def live_references(s3: S3Client, bucket: str, keys: Iterable[str]) -> set[str]:
    """Files the live HTML references: the previous release's assets, which pages already open still load."""
    referenced: set[str] = set()
    for key in keys:
        if key.endswith(".html"):
            html = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8", errors="replace")
            referenced |= html_references(html, key)
    return referenced


def invalidation_paths(documents: Iterable[Asset], default_root_object: str) -> tuple[str, ...]:
    """The viewer paths of changed documents; the default root object is also served at '/'."""
    paths = set()
    for document in documents:
        paths.add("/" + document.key)
        if document.key == default_root_object:
            paths.add("/")
    return tuple(sorted(paths))


def make_plan(
    release: Release,
    etags: dict[str, str],
    *,
    prune: bool,
    keep: set[str],
    default_root_object: str,
    invalidate_all: bool,
) -> Plan:
    everything = release.assets + release.documents
    uploads = tuple(a for a in everything if etags.get(a.key) != a.md5)
    changed_documents = [a for a in uploads if not a.fingerprinted]
    paths = invalidation_paths(changed_documents, default_root_object)
    if invalidate_all and uploads:
        paths = ("/*",)
    deletions = tuple(sorted(set(etags) - release.keys - keep)) if prune else ()
    return Plan(
        uploads=uploads, unchanged=len(everything) - len(uploads), deletions=deletions, invalidation_paths=paths
    )


def default_root_object(cloudfront: CloudFrontClient, distribution_id: str) -> str:
    config = cloudfront.get_distribution_config(Id=distribution_id)["DistributionConfig"]
    return config.get("DefaultRootObject") or INDEX_DOCUMENT


def plan_publish(
    release: Release, target: Target, options: PublishOptions, s3: S3Client, cloudfront: CloudFrontClient
) -> Plan:
    etags = bucket_etags(s3, target.bucket)
    keep = live_references(s3, target.bucket, etags) if options.prune else set()
    return make_plan(
        release,
        etags,
        prune=options.prune,
        keep=keep,
        default_root_object=default_root_object(cloudfront, target.distribution_id),
        invalidate_all=options.invalidate_all,
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


def upload(s3: S3Client, bucket: str, assets: list[Asset], label: str) -> list[str]:
    """Upload in parallel; raise PublishError naming every failed key after all attempts finished."""
    progress = Progress(len(assets), label)
    failures: dict[str, Exception] = {}
    done: list[str] = []
    with ThreadPoolExecutor(max_workers=UPLOAD_WORKERS) as pool:
        futures = {pool.submit(_put, s3, bucket, asset): asset.key for asset in assets}
        for future in as_completed(futures):
            try:
                future.result()
                done.append(futures[future])
            except (BotoCoreError, ClientError) as exc:
                failures[futures[future]] = exc
            progress.step()
    if failures:
        first_key, first_error = sorted(failures.items())[0]
        raise PublishError(f"upload of {len(failures)} file(s) failed, first {first_key}: {first_error}")
    return done


def _put(s3: S3Client, bucket: str, asset: Asset) -> None:
    # Content-MD5 makes S3 reject a body corrupted in transit.
    digest = base64.b64encode(hashlib.md5(asset.body, usedforsecurity=False).digest()).decode()
    s3.put_object(
        Bucket=bucket,
        Key=asset.key,
        Body=asset.body,
        ContentType=asset.content_type,
        CacheControl=asset.cache_control,
        ContentMD5=digest,
    )


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


def execute(
    plan: Plan, target: Target, options: PublishOptions, s3: S3Client, cloudfront: CloudFrontClient
) -> PublishResult:
    """Carry a plan out in the safe order."""
    uploaded = upload(s3, target.bucket, plan.asset_uploads, "assets")
    # Only now may pages point at the new assets.
    uploaded += upload(s3, target.bucket, plan.document_uploads, "pages")
    deleted = delete(s3, target.bucket, plan.deletions) if plan.deletions else []
    invalidation = None
    if plan.invalidation_paths:
        invalidation_id = invalidate(cloudfront, target.distribution_id, plan.invalidation_paths)
        invalidation = Invalidation(invalidation_id, plan.invalidation_paths)
        if options.wait:
            wait_for_invalidation(cloudfront, target.distribution_id, invalidation_id, timeout=options.wait_timeout)
    return PublishResult(tuple(sorted(uploaded)), plan.unchanged, tuple(deleted), invalidation)

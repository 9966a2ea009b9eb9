"""Publishing a release to the site bucket: compare, upload in a safe order, prune, invalidate.

The order is what keeps the live site working: new fingerprinted assets first (nothing references them yet), then
the HTML that switches to them, then the invalidation. If any asset fails, no HTML is replaced, so visitors keep
the previous release; running again uploads only what is still missing.
"""

from __future__ import annotations

import base64
import hashlib
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from hooks.release import Asset, Release, html_references

# botocore's standard retry mode retries throttling and 5xx answers with exponential backoff and jitter.
RETRY_CONFIG = Config(retries={"mode": "standard", "max_attempts": 8}, max_pool_connections=16)
UPLOAD_WORKERS = 16


class PublishError(RuntimeError):
    """Publishing stopped; the message says what failed and what state the site is in."""


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


@dataclass
class Outcome:
    """What a publish did; `summary()` is the --json output."""

    uploaded: list[str] = field(default_factory=list)
    unchanged: int = 0
    deleted: list[str] = field(default_factory=list)
    invalidation: dict | None = None

    def summary(self) -> dict:
        return {"uploaded": sorted(self.uploaded), "unchanged": self.unchanged, "deleted": sorted(self.deleted),
                "invalidation": self.invalidation}


def bucket_etags(s3: BaseClient, bucket: str) -> dict[str, str]:
    """Every object's key and ETag (the MD5 of a single-part upload)."""
    etags = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            etags[item["Key"]] = item["ETag"].strip('"')
    return etags


def live_references(s3: BaseClient, bucket: str, keys: Iterable[str]) -> set[str]:
    """Files the live HTML references: the previous release's assets, which pages already open still load."""
    referenced = set()
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


def make_plan(release: Release, etags: dict[str, str], *, prune: bool, keep: set[str],
              default_root_object: str, invalidate_all: bool) -> Plan:
    everything = release.assets + release.documents
    uploads = tuple(a for a in everything if etags.get(a.key) != a.md5)
    changed_documents = [a for a in uploads if not a.fingerprinted]
    paths = invalidation_paths(changed_documents, default_root_object)
    if invalidate_all and uploads:
        paths = ("/*",)
    deletions = tuple(sorted(set(etags) - release.keys - keep)) if prune else ()
    return Plan(uploads=uploads, unchanged=len(everything) - len(uploads), deletions=deletions,
                invalidation_paths=paths)


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


def upload(s3: BaseClient, bucket: str, assets: list[Asset], label: str) -> list[str]:
    """Upload in parallel; raise PublishError naming every failed key after all attempts finished."""
    progress = Progress(len(assets), label)
    failures, done = {}, []
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
        key, exc = sorted(failures.items())[0]
        raise PublishError(f"upload of {len(failures)} file(s) failed, first {key}: {exc}")
    return done


def _put(s3: BaseClient, bucket: str, asset: Asset) -> None:
    # Content-MD5 makes S3 reject a body corrupted in transit.
    digest = base64.b64encode(hashlib.md5(asset.body, usedforsecurity=False).digest()).decode()
    s3.put_object(Bucket=bucket, Key=asset.key, Body=asset.body, ContentType=asset.content_type,
                  CacheControl=asset.cache_control, ContentMD5=digest)


def delete(s3: BaseClient, bucket: str, keys: tuple[str, ...]) -> list[str]:
    deleted = []
    for start in range(0, len(keys), 1000):  # DeleteObjects takes at most 1,000 keys
        batch = keys[start:start + 1000]
        answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True})
        if answer.get("Errors"):
            first = answer["Errors"][0]
            raise PublishError(f"deleting {first['Key']} failed: {first.get('Code')} {first.get('Message')}")
        deleted += batch
    return deleted


def default_root_object(cloudfront: BaseClient, distribution_id: str) -> str:
    config = cloudfront.get_distribution_config(Id=distribution_id)["DistributionConfig"]
    return config.get("DefaultRootObject") or "index.html"


def invalidate(cloudfront: BaseClient, distribution_id: str, paths: tuple[str, ...]) -> str:
    answer = cloudfront.create_invalidation(
        DistributionId=distribution_id,
        InvalidationBatch={"Paths": {"Quantity": len(paths), "Items": list(paths)},
                           "CallerReference": f"post-apply-{uuid.uuid4()}"},
    )
    return answer["Invalidation"]["Id"]


def wait_for_invalidation(cloudfront: BaseClient, distribution_id: str, invalidation_id: str, *,
                          timeout: float, interval: float = 5.0, sleep: Callable[[float], None] = time.sleep) -> None:
    """Poll until the invalidation completes. AWS says 'Completed', the emulator 'COMPLETED': compare loosely."""
    deadline = time.monotonic() + timeout
    while True:
        status = cloudfront.get_invalidation(DistributionId=distribution_id, Id=invalidation_id)["Invalidation"]
        if status["Status"].lower() == "completed":
            return
        if time.monotonic() >= deadline:
            raise PublishError(f"invalidation {invalidation_id} still {status['Status']} after {timeout:.0f}s; "
                               "the new files are live, cached copies expire as CloudFront finishes")
        sleep(interval)


@dataclass(frozen=True)
class Target:
    """Where to publish."""

    bucket: str
    distribution_id: str | None


@dataclass(frozen=True)
class Options:
    prune: bool = False
    dry_run: bool = False
    wait: bool = True
    wait_timeout: float = 600.0
    invalidate_all: bool = False


def plan_publish(release: Release, target: Target, options: Options, s3: BaseClient,
                 cloudfront: BaseClient | None) -> Plan:
    etags = bucket_etags(s3, target.bucket)
    keep = live_references(s3, target.bucket, etags) if options.prune else set()
    root = "index.html"
    if cloudfront is not None and target.distribution_id:
        root = default_root_object(cloudfront, target.distribution_id)
    return make_plan(release, etags, prune=options.prune, keep=keep, default_root_object=root,
                     invalidate_all=options.invalidate_all)


def execute(plan: Plan, target: Target, options: Options, s3: BaseClient, cloudfront: BaseClient | None) -> Outcome:
    """Carry a plan out in the safe order."""
    outcome = Outcome(unchanged=plan.unchanged)
    outcome.uploaded += upload(s3, target.bucket, plan.asset_uploads, "assets")
    # Only now may pages point at the new assets.
    outcome.uploaded += upload(s3, target.bucket, plan.document_uploads, "pages")
    if plan.deletions:
        outcome.deleted = delete(s3, target.bucket, plan.deletions)
    if plan.invalidation_paths and cloudfront is not None and target.distribution_id:
        invalidation_id = invalidate(cloudfront, target.distribution_id, plan.invalidation_paths)
        outcome.invalidation = {"id": invalidation_id, "paths": list(plan.invalidation_paths)}
        if options.wait:
            wait_for_invalidation(cloudfront, target.distribution_id, invalidation_id, timeout=options.wait_timeout)
    return outcome

"""The S3 and CloudFront primitives publishing is built on: the clients, listing and reading the bucket, uploads,
deletes, restoring an object version, and invalidations.

Nothing here knows about releases or plans: it moves objects and paths. What fails raises `StorageError` (or
botocore's errors); the publishing layer (`hooks/publish.py`, `hooks/rollback.py`) reports it as a `PublishError`.
"""

from __future__ import annotations

import base64
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, as_completed, wait
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, TextIO
from urllib.parse import quote

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.utils import parse_timestamp
from tqdm import tqdm

from contract.site_files import INDEX_DOCUMENT, PRIVATE_PREFIX
from hooks.results import DEFAULT_AWS_TIMEOUT

if TYPE_CHECKING:
    from mypy_boto3_cloudfront import CloudFrontClient
    from mypy_boto3_s3 import S3Client

UPLOAD_WORKERS = 16
TEXT_BATCH = 256  # objects read at once by object_texts
IN_FLIGHT = 2 * UPLOAD_WORKERS  # uploads submitted and not done: enough to keep every worker busy


class StorageError(RuntimeError):
    """An S3 or CloudFront operation did not complete; the message says which and what state it left."""


# --- the clients ------------------------------------------------------------------------------------------------


DEFAULT_RETRIES: dict[str, Any] = {"mode": "standard", "max_attempts": 5}  # retries: six attempts in all
RETRY_VARIABLES = ("AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE")
RETRY_PROFILE_KEYS = ("max_attempts", "retry_mode")


def retries_configured(session: boto3.session.Session) -> bool:
    """Whether retries are set through botocore's own chain: AWS_MAX_ATTEMPTS or AWS_RETRY_MODE, or the profile's
    max_attempts or retry_mode. An explicit client config would override those, so then the hook sets none."""
    profile: dict[str, Any] = session._session.get_scoped_config()  # botocore's view of the profile
    return any(os.environ.get(name) for name in RETRY_VARIABLES) or any(key in profile for key in RETRY_PROFILE_KEYS)


def client_config(timeout: float = DEFAULT_AWS_TIMEOUT, session: boto3.session.Session | None = None) -> Config:
    """Every AWS client of the hook: botocore's standard retry mode (throttling and 5xx, with backoff and jitter),
    unless `session`'s configuration sets retries itself, and an answer within `timeout` seconds, so an endpoint
    that accepts connections but never answers fails the publish in about a minute instead of hanging it."""
    retries = None if session is not None and retries_configured(session) else DEFAULT_RETRIES
    return Config(
        retries=retries,  # type: ignore[arg-type]  # None: botocore's own chain decides
        max_pool_connections=UPLOAD_WORKERS,
        connect_timeout=min(timeout, 10.0),
        read_timeout=timeout,
    )


def default_session() -> boto3.session.Session:
    """The standard credential chain; AWS_REGION counts as well as AWS_DEFAULT_REGION (botocore reads only the
    latter, the other AWS SDKs and CI systems set the former)."""
    region = os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or None
    return boto3.session.Session(region_name=region)


def timestamp(value: str) -> datetime:
    """A timestamp in an AWS answer: ISO 8601 (S3's listings, CloudFront) the fast way, anything else (an HTTP
    date, epoch seconds) as botocore parses it."""
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return parse_timestamp(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class SiteClients:
    """The AWS clients publishing uses."""

    s3: S3Client
    cloudfront: CloudFrontClient

    @classmethod
    def from_session(cls, session: boto3.session.Session, timeout: float = DEFAULT_AWS_TIMEOUT) -> SiteClients:
        config = client_config(timeout, session)
        # Listing 10,000 objects parses 10,000 timestamps: botocore's default parser (dateutil) spent more time on
        # them than S3 took to answer; ISO 8601 needs only the standard library's.
        session._session.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=timestamp)
        # CloudFront is global; its API answers in us-east-1 whatever the session's region.
        return cls(
            s3=session.client("s3", config=config),
            cloudfront=session.client("cloudfront", config=config, region_name=session.region_name or "us-east-1"),
        )


# --- reading the bucket -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)  # slots: a listing of a large site holds 10,000
class StoredObject:
    """An object as ListObjectsV2 lists it."""

    etag: str  # the MD5 of a single-part upload
    last_modified: datetime


def bucket_objects(s3: S3Client, bucket: str) -> dict[str, StoredObject]:
    """Every object in the bucket, the hook's records included: one ListObjectsV2 page per 1,000 keys."""
    return {
        item["Key"]: StoredObject(item["ETag"].strip('"'), item["LastModified"])
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for item in page.get("Contents", [])
    }


def published(listing: dict[str, StoredObject]) -> dict[str, str]:
    """The published objects of a listing, key -> ETag: the hook's records left out."""
    return {key: stored.etag for key, stored in listing.items() if not key.startswith(PRIVATE_PREFIX)}


def bucket_etags(s3: S3Client, bucket: str) -> dict[str, str]:
    """Every published object's key and ETag (the MD5 of a single-part upload), the hook's records left out."""
    return published(bucket_objects(s3, bucket))


def object_text(s3: S3Client, bucket: str, key: str) -> str:
    """An object's body as text (UTF-8, undecodable bytes replaced)."""
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8", errors="replace")


def object_texts(s3: S3Client, bucket: str, keys: Iterable[str]) -> Iterator[tuple[str, str]]:
    """Each object's key and body as text, read in parallel a batch at a time (memory stays that of one batch)."""
    listed = list(keys)
    with ThreadPoolExecutor(max_workers=UPLOAD_WORKERS) as pool:
        for start in range(0, len(listed), TEXT_BATCH):
            batch = listed[start : start + TEXT_BATCH]
            yield from zip(batch, pool.map(lambda key: object_text(s3, bucket, key), batch), strict=True)


def object_metadata(s3: S3Client, bucket: str, key: str) -> tuple[str | None, str | None]:
    """The Content-Type and Cache-Control S3 serves an object with."""
    head = s3.head_object(Bucket=bucket, Key=key)
    return head.get("ContentType"), head.get("CacheControl")


def objects_metadata(s3: S3Client, bucket: str, keys: Sequence[str]) -> dict[str, tuple[str | None, str | None]]:
    """`object_metadata` of each key, asked in parallel (one HEAD each: S3 lists no Content-Type)."""
    with ThreadPoolExecutor(max_workers=UPLOAD_WORKERS) as pool:
        return dict(zip(keys, pool.map(lambda key: object_metadata(s3, bucket, key), keys), strict=True))


def version_exists(s3: S3Client, bucket: str, key: str, version_id: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key, VersionId=version_id)
    except s3.exceptions.ClientError:
        return False
    return True


def missing_versions(s3: S3Client, bucket: str, versions: dict[str, str]) -> list[str]:
    """The keys of `versions` (key -> version id) whose version the bucket no longer has, sorted: a HEAD of each,
    in parallel. (One ListObjectVersions listing instead would grow with every version the bucket keeps, the
    noncurrent ones of every release included; the HEADs grow only with what is restored.)"""
    keys = sorted(versions)
    with ThreadPoolExecutor(max_workers=UPLOAD_WORKERS) as pool:
        found = pool.map(lambda key: version_exists(s3, bucket, key, versions[key]), keys)
        return [key for key, exists in zip(keys, found, strict=True) if not exists]


# --- changing the bucket ----------------------------------------------------------------------------------------


class Upload(Protocol):
    """What `upload` puts under a key (`hooks.release.Asset` is one): its bytes are read only when it is uploaded."""

    @property
    def key(self) -> str: ...
    @property
    def md5(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def content_type(self) -> str: ...
    @property
    def cache_control(self) -> str: ...
    def read(self) -> bytes:
        """The bytes, with the MD5 `md5` says; raises ValueError (naming the file) when they are not."""
        ...


class Measured(Protocol):
    """What `Progress` counts of an upload."""

    @property
    def size(self) -> int: ...


# Below this many files a phase is quick: no line in a log for it.
PROGRESS_LINE_MIN_FILES = 100


class Progress:
    """The progress of one upload phase. On a terminal, a tqdm bar: bytes, rate and time left, and the files done;
    elsewhere (a CI log), one line when a phase of PROGRESS_LINE_MIN_FILES or more files has finished."""

    def __init__(self, uploads: Sequence[Measured], label: str, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.label, self.files, self.done = label, len(uploads), 0
        self.bytes = sum(item.size for item in uploads)
        self.started = time.monotonic()
        self.bar = tqdm(
            total=self.bytes,
            desc=f"uploading {label}",
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            file=self.stream,
            disable=not (self.files and self.stream.isatty()),
            leave=True,
        )

    def step(self, item: Measured) -> None:
        self.done += 1
        self.bar.set_postfix_str(f"{self.done}/{self.files} files", refresh=False)
        self.bar.update(item.size)

    def finish(self) -> None:
        """Close the bar, or print the phase's one line."""
        self.bar.close()
        if self.bar.disable and self.files >= PROGRESS_LINE_MIN_FILES:
            seconds = max(time.monotonic() - self.started, 1e-3)
            size, rate = tqdm.format_sizeof(self.bytes, "B", 1024), tqdm.format_sizeof(self.bytes / seconds, "B", 1024)
            print(
                f"uploaded {self.label}: {self.files} files, {size} in {seconds:.1f} s ({rate}/s)",
                file=self.stream,
                flush=True,
            )


def upload(s3: S3Client, bucket: str, uploads: Sequence[Upload], label: str) -> dict[str, str | None]:
    """Upload in parallel (each put retried by the client's retry mode); the version id of each key. Raises
    StorageError naming every failed key after all attempts finished, or, as soon as the uploads started by then
    are done, naming an item whose bytes could not be read as planned (its file changed): nothing more is started.

    At most IN_FLIGHT uploads are submitted at a time and each body is read by the thread that sends it, so
    memory holds at most UPLOAD_WORKERS bodies, however many files the site has."""
    progress = Progress(uploads, label)
    failures: dict[str, Exception] = {}
    unreadable: dict[str, Exception] = {}
    done: dict[str, str | None] = {}
    waiting = iter(uploads)
    with ThreadPoolExecutor(max_workers=UPLOAD_WORKERS) as pool:
        running: dict[Future[str | None], Upload] = {}
        while True:
            while not unreadable and len(running) < IN_FLIGHT and (item := next(waiting, None)) is not None:
                running[pool.submit(_put, s3, bucket, item)] = item
            if not running:
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                item = running.pop(future)
                try:
                    done[item.key] = future.result()
                except (BotoCoreError, ClientError) as exc:
                    failures[item.key] = exc
                except (OSError, ValueError) as exc:
                    unreadable[item.key] = exc
                progress.step(item)
    if unreadable or failures:
        progress.bar.close()
        first_key, first_error = sorted(unreadable.items() or failures.items())[0]
        raise StorageError(
            f"upload of {len(unreadable) + len(failures)} file(s) failed, first {first_key}: {first_error}"
        )
    progress.finish()
    return done


def _put(s3: S3Client, bucket: str, item: Upload) -> str | None:
    body = item.read()  # here, in the sending thread: only the bodies being sent are in memory
    answer = s3.put_object(
        Bucket=bucket,
        Key=item.key,
        Body=body,
        ContentType=item.content_type,
        CacheControl=item.cache_control,
        ContentMD5=base64.b64encode(bytes.fromhex(item.md5)).decode(),  # S3 rejects a body corrupted in transit
    )
    return answer.get("VersionId")


def delete(s3: S3Client, bucket: str, keys: tuple[str, ...]) -> list[str]:
    deleted: list[str] = []
    for start in range(0, len(keys), 1000):  # DeleteObjects takes at most 1,000 keys
        batch = keys[start : start + 1000]
        answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True})
        if answer.get("Errors"):
            first = answer["Errors"][0]
            raise StorageError(f"deleting {first.get('Key')} failed: {first.get('Code')} {first.get('Message')}")
        deleted += batch
    return deleted


def restore_version(s3: S3Client, bucket: str, key: str, version_id: str) -> str | None:
    """Make an earlier version of an object the current one (a copy keeps its bytes, type and cache rule); returns
    the new version's id."""
    answer = s3.copy_object(
        Bucket=bucket,
        Key=key,
        CopySource={"Bucket": bucket, "Key": key, "VersionId": version_id},
        MetadataDirective="COPY",
    )
    return answer.get("VersionId")


def restore_versions(s3: S3Client, bucket: str, versions: dict[str, str]) -> dict[str, str | None]:
    """`restore_version` of every key (key -> version id), in parallel; each key's new version id. Raises
    StorageError naming every key that failed after all attempts finished."""
    failures: dict[str, Exception] = {}
    done: dict[str, str | None] = {}
    with ThreadPoolExecutor(max_workers=UPLOAD_WORKERS) as pool:
        futures = {pool.submit(restore_version, s3, bucket, key, version): key for key, version in versions.items()}
        for future in as_completed(futures):
            try:
                done[futures[future]] = future.result()
            except (BotoCoreError, ClientError) as exc:
                failures[futures[future]] = exc
    if failures:
        first_key, first_error = sorted(failures.items())[0]
        raise StorageError(f"restoring {len(failures)} file(s) failed, first {first_key}: {first_error}")
    return done


# --- CloudFront -------------------------------------------------------------------------------------------------


def distribution_config(cloudfront: CloudFrontClient, distribution_id: str) -> dict[str, Any]:
    return dict(cloudfront.get_distribution_config(Id=distribution_id)["DistributionConfig"])


def default_root_object(config: dict[str, Any]) -> str:
    """What the distribution (its DistributionConfig) serves at '/'."""
    return str(config.get("DefaultRootObject") or INDEX_DOCUMENT)


def live_content_security_policy(cloudfront: CloudFrontClient, distribution_id: str) -> str | None:
    """The CSP the distribution's default behavior sends, from its response-headers policy; None when it sends
    none. Raises botocore's errors when either cannot be read."""
    behavior = cloudfront.get_distribution_config(Id=distribution_id)["DistributionConfig"]["DefaultCacheBehavior"]
    policy_id = behavior.get("ResponseHeadersPolicyId")
    if not policy_id:
        return None
    policy = cloudfront.get_response_headers_policy(Id=policy_id)["ResponseHeadersPolicy"]
    security = policy["ResponseHeadersPolicyConfig"].get("SecurityHeadersConfig", {})
    return security.get("ContentSecurityPolicy", {}).get("ContentSecurityPolicy")


def invalidation_path(key: str) -> str:
    """The viewer path of a key, URL-encoded as CloudFront expects (spaces, ?, #, %, non-ASCII)."""
    return "/" + quote(key, safe="/")


def invalidation_paths(keys: Iterable[str], default_root_object: str) -> tuple[str, ...]:
    """The viewer paths of keys, sorted; the default root object is also served at '/'."""
    paths = set()
    for key in keys:
        paths.add(invalidation_path(key))
        if key == default_root_object:
            paths.add("/")
    return tuple(sorted(paths))


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
            raise StorageError(
                f"invalidation {invalidation_id} still {status['Status']} after {timeout:.0f}s; "
                "the new files are live, cached copies expire as CloudFront finishes"
            )
        sleep(interval)

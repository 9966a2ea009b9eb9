"""Publishing the site: `publish_site(target, source, options)` checks the pages against the site's content security
policy, compares with the bucket, uploads in a safe order, records the release, prunes and invalidates, and returns
one `PublishResult` (a dry run returns what it would do, in the same form).

The order is what keeps the live site working: new fingerprinted assets first (nothing references them yet), then
the pages that switch to them, then the record of the release, then the invalidation. If any asset fails, no page
is replaced, so visitors keep the previous release; running again uploads only what is still missing. Publishes to
one bucket never overlap (a lock in the bucket), and pruning keeps what the recent releases reference.

Planning (`plan_publish`) and carrying the plan out (`execute`) are built on the S3 and CloudFront primitives of
`hooks/storage.py` and the bucket's records of `hooks/records.py`; the values going in and out are in
`hooks/results.py`.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent import futures
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hooks import records
from hooks.invalidation import (
    InvalidationPlan,
    error_caching_seconds,
    in_progress,
    plan_invalidation,
    send_invalidation,
)
from hooks.records import PublishedObject, PublishLock, ReleaseRecord
from hooks.release import PAGE_SUFFIXES, Asset, Release, build_release, page_references, without_reused_names
from hooks.results import CspViolations, Invalidation, PublishError, PublishOptions, PublishResult, Target
from hooks.storage import (
    SiteClients,
    StorageError,
    StoredObject,
    bucket_objects,
    default_root_object,
    default_session,
    delete,
    distribution_config,
    invalidation_paths,
    object_texts,
    objects_metadata,
    published,
    upload,
    wait_for_invalidation,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

DEFAULT_OPTIONS = PublishOptions()


@dataclass(frozen=True)
class Plan:
    """What a publish will do, worked out from the release and the bucket."""

    uploads: tuple[Asset, ...]
    unchanged: int
    deletions: tuple[str, ...]
    invalidation: InvalidationPlan
    live: ReleaseRecord | None  # the release live before this one
    release: Release  # what is published: the release, with names published before under other bytes not immutable
    warnings: tuple[str, ...] = ()

    @property
    def invalidation_paths(self) -> tuple[str, ...]:
        return self.invalidation.paths

    @property
    def asset_uploads(self) -> list[Asset]:
        return [a for a in self.uploads if a.fingerprinted]

    @property
    def document_uploads(self) -> list[Asset]:
        return [a for a in self.uploads if not a.fingerprinted]


def publish_site(
    target: Target, source: Path, options: PublishOptions = DEFAULT_OPTIONS, clients: SiteClients | None = None
) -> PublishResult:
    """Publish the site in `source` (web/) to `target`: the post-apply hook's entry point.

    Builds the release (the frontend config with the target's API URL, fingerprinted assets, rewritten pages),
    refuses it if the site's CSP would block parts of the pages (unless allowed), then, holding the bucket's
    publish lock, uploads what changed (assets first, pages last), records the release, optionally prunes, and
    invalidates exactly the changed paths. Raises `PublishError` (or botocore's errors) with the live site left as
    it was whenever no page was replaced. `clients` defaults to the standard AWS credential chain.

    While the release is built, another thread takes the lock and reads the bucket (`BucketState`): S3 answers
    while this process works. A source that cannot be published is reported first, as if nothing else ran.
    """
    clients = clients or SiteClients.from_session(default_session(), options.aws_timeout)
    if options.dry_run:
        release, warnings = _checked_release(source, target, options)
        return _dry_run(plan_publish(release, target, options, clients), release, warnings)
    lock = PublishLock(clients.s3, target.bucket, ttl_seconds=options.lock_ttl, wait_seconds=options.lock_wait)
    with ThreadPoolExecutor(max_workers=1) as reader:
        state = reader.submit(_locked_state, lock, target, options, clients)
        try:
            release, warnings = _checked_release(source, target, options)
            plan = plan_publish(release, target, options, clients, state.result().pop())
            result = execute(plan, target, options, clients, git=records.git_commit(source))
        except (records.LockHeld, StorageError) as exc:
            raise PublishError(str(exc)) from exc
        finally:
            lock.cancelled.set()  # stop waiting for the lock, if it was still waited for
            futures.wait([state])
            if lock.held:
                lock.release()
    return PublishResult(
        result.uploaded,
        result.unchanged,
        result.deleted,
        result.invalidation,
        release_id=result.release_id,
        csp_findings=warnings,
        left_out=release.left_out,
        warnings=plan.warnings,
    )


def _checked_release(source: Path, target: Target, options: PublishOptions) -> tuple[Release, tuple[str, ...]]:
    """The release, and what the site's CSP blocks in it (published anyway on request); raises CspViolations."""
    release = build_release(source, target.page_api_url, allow_dotfiles=options.allow_dotfiles)
    findings = (
        release.csp_findings(target.content_security_policy, target.site_origin, target.stack)
        if target.content_security_policy
        else []
    )
    if findings and not options.allow_csp_violations:
        raise CspViolations(findings)
    return release, tuple(str(f) for f in findings)


def _dry_run(plan: Plan, release: Release, warnings: tuple[str, ...]) -> PublishResult:
    invalidation = Invalidation(None, plan.invalidation_paths, plan.invalidation.why) if plan.invalidation else None
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
        warnings=plan.warnings,
    )


# --- working out the plan ---------------------------------------------------------------------------------------


def live_references(s3: S3Client, bucket: str, keys: Iterable[str]) -> set[str]:
    """Files the live pages reference: what pages already open still load."""
    referenced: set[str] = set()
    for key, html in object_texts(s3, bucket, (key for key in keys if key.endswith(PAGE_SUFFIXES))):
        referenced |= page_references(html, key)
    return referenced


def _metadata_unknown(
    asset: Asset, live: ReleaseRecord | None, stored: StoredObject, recorded_at: datetime | None
) -> bool:
    """Whether only S3 can say the Content-Type and Cache-Control of an object whose bytes match `asset`.

    The live release's record says them for what it made live, as long as nothing rewrote the object since the
    record was written: fingerprinted assets are never changed after upload; any other object is taken from the
    record only if S3 last modified it before the record (S3's own clock, to the second: an object changed in
    the record's second is asked about). So a hand-made change is still seen, and a republish of a large site
    asks S3 about nothing but what changed."""
    known = live.objects.get(asset.key) if live else None
    if known is None or known.md5 != asset.md5:
        return True
    return not asset.fingerprinted and (recorded_at is None or stored.last_modified >= recorded_at)


def _metadata_changed(
    asset: Asset, live: ReleaseRecord | None, metadata: dict[str, tuple[str | None, str | None]]
) -> bool:
    """Whether an object whose bytes match has another Content-Type or Cache-Control than `asset` wants: from
    what S3 said (`metadata`, for the objects `_metadata_unknown` names), or else from the live release's record."""
    wanted = (asset.content_type, asset.cache_control)
    if asset.key in metadata:
        return metadata[asset.key] != wanted
    known = live.objects[asset.key] if live else None
    return known is None or (known.content_type, known.cache_control) != wanted


@dataclass(frozen=True)
class BucketState:
    """What a plan needs from the bucket and the distribution before it knows the release."""

    listing: dict[str, StoredObject]  # every object, the hook's records included
    recent: list[ReleaseRecord]  # the newest `keep_releases` (at least one), the live one first
    distribution: dict[str, Any]  # its DistributionConfig
    pending: tuple[str, ...]  # paths an earlier run did not get to invalidate

    @classmethod
    def read(cls, target: Target, options: PublishOptions, clients: SiteClients) -> BucketState:
        s3, bucket = clients.s3, target.bucket
        return cls(
            bucket_objects(s3, bucket),
            records.recent_releases(s3, bucket, max(options.keep_releases, 1)),
            distribution_config(clients.cloudfront, target.distribution_id),
            records.pending_invalidation(s3, bucket),
        )


def _locked_state(
    lock: PublishLock, target: Target, options: PublishOptions, clients: SiteClients
) -> list[BucketState]:
    """The state, in a list the caller empties: the future returning it lives as long as the publish, the state
    need not (a large site's listing and older records are not needed while uploading)."""
    lock.acquire()
    return [BucketState.read(target, options, clients)]


def plan_publish(
    release: Release, target: Target, options: PublishOptions, clients: SiteClients, state: BucketState | None = None
) -> Plan:
    """What publishing `release` will do; `state` is read now unless given (read under the lock)."""
    s3 = clients.s3
    state = state or BucketState.read(target, options, clients)
    listing, recent = state.listing, state.recent
    etags = published(listing)
    live = recent[0] if recent else None
    published_md5 = {key: o.md5 for record in reversed(recent) for key, o in record.objects.items()} | etags
    release, warnings = without_reused_names(release, published_md5)
    everything = release.assets + release.documents
    same_bytes = [a for a in everything if etags.get(a.key) == a.md5]
    recorded_at = listing[live.key].last_modified if live and live.key in listing else None
    ask = [a.key for a in same_bytes if _metadata_unknown(a, live, listing[a.key], recorded_at)]
    metadata = objects_metadata(s3, target.bucket, ask)
    uploads = tuple(a for a in everything if etags.get(a.key) != a.md5 or _metadata_changed(a, live, metadata))
    invalidation = _invalidation(release, uploads, set(etags), state, target, options, clients)
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
        invalidation=invalidation,
        live=live,
        release=release,
        warnings=warnings,
    )


def _invalidation(
    release: Release,
    uploads: tuple[Asset, ...],
    in_bucket: set[str],
    state: BucketState,
    target: Target,
    options: PublishOptions,
    clients: SiteClients,
) -> InvalidationPlan:
    """The changed pages and fixed-name files, and what an earlier run did not get to invalidate, planned within
    CloudFront's limits (hooks/invalidation.py)."""
    config, recent = state.distribution, state.recent
    root = default_root_object(config)
    changed = set(invalidation_paths([a.key for a in uploads if not a.fingerprinted], root))
    changed |= set(state.pending)
    if options.invalidate_all:
        changed = {"/*"}
    if not changed:
        return InvalidationPlan(())
    ever_live = in_bucket.union(*(record.objects for record in recent))
    return plan_invalidation(
        changed,
        invalidation_paths([a.key for a in release.documents], root),
        never_live=invalidation_paths([a.key for a in uploads if a.key not in ever_live], root),
        error_caching_seconds=error_caching_seconds(config),
        in_progress=in_progress(clients.cloudfront, target.distribution_id),
    )


# --- carrying it out --------------------------------------------------------------------------------------------


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


def _check_unchanged(documents: list[Asset]) -> None:
    """Raise StorageError naming the files of `documents` that changed since the release was built, before any
    page is replaced: the release keeps no bytes, each upload reads its file again (and checks it too)."""
    changed = [str(a.recipe.file) for a in documents if a.recipe.changed()]
    if changed:
        more = f" (and {len(changed) - 1} more)" if len(changed) > 1 else ""
        raise StorageError(
            f"{changed[0]}{more} changed since this publish read it: no page was replaced, the live site is as it "
            "was (the new assets were uploaded; nothing references them yet); publish again once the site's build "
            "is done"
        )


def execute(
    plan: Plan, target: Target, options: PublishOptions, clients: SiteClients, *, git: str | None = None
) -> PublishResult:
    """Carry a plan out in the safe order. Raises `StorageError` where an upload, delete or the wait fails
    (`publish_site` reports it as a `PublishError`)."""
    s3, bucket = clients.s3, target.bucket
    versions = upload(s3, bucket, plan.asset_uploads, "assets")
    _check_unchanged(plan.document_uploads)
    if plan.invalidation_paths:
        # From here the new pages may be live: until they are invalidated, the next run must invalidate them.
        records.record_pending_invalidation(s3, bucket, plan.invalidation_paths)
    # Only now may pages point at the new assets.
    versions |= upload(s3, bucket, plan.document_uploads, "pages")
    record = _record(plan.release, versions, plan.live, git)
    records.write_release(s3, bucket, record)
    deleted = delete(s3, bucket, plan.deletions) if plan.deletions else []
    invalidation = Invalidation(None, (), plan.invalidation.why) if plan.invalidation else None
    if plan.invalidation_paths:
        invalidation = send_invalidation(clients.cloudfront, target.distribution_id, plan.invalidation)
        if invalidation.id is not None:
            records.clear_pending_invalidation(s3, bucket)
            if options.wait:
                wait_for_invalidation(
                    clients.cloudfront, target.distribution_id, invalidation.id, timeout=options.wait_timeout
                )
    return PublishResult(tuple(sorted(versions)), plan.unchanged, tuple(deleted), invalidation, release_id=record.id)

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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

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
    bucket_etags,
    default_root_object,
    default_session,
    delete,
    distribution_config,
    invalidation_paths,
    object_metadata,
    object_texts,
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
    """
    release = build_release(source, target.page_api_url, allow_dotfiles=options.allow_dotfiles)
    findings = (
        release.csp_findings(target.content_security_policy, target.site_origin, target.stack)
        if target.content_security_policy
        else []
    )
    if findings and not options.allow_csp_violations:
        raise CspViolations(findings)
    clients = clients or SiteClients.from_session(default_session(), options.aws_timeout)
    warnings = tuple(str(f) for f in findings)
    if options.dry_run:
        plan = plan_publish(release, target, options, clients)
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
    try:
        with PublishLock(clients.s3, target.bucket, ttl_seconds=options.lock_ttl, wait_seconds=options.lock_wait):
            plan = plan_publish(release, target, options, clients)
            result = execute(plan, target, options, clients, git=records.git_commit(source))
    except (records.LockHeld, StorageError) as exc:
        raise PublishError(str(exc)) from exc
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


# --- working out the plan ---------------------------------------------------------------------------------------


def live_references(s3: S3Client, bucket: str, keys: Iterable[str]) -> set[str]:
    """Files the live pages reference: what pages already open still load."""
    referenced: set[str] = set()
    for key, html in object_texts(s3, bucket, (key for key in keys if key.endswith(PAGE_SUFFIXES))):
        referenced |= page_references(html, key)
    return referenced


def _metadata_changed(s3: S3Client, bucket: str, asset: Asset, live: ReleaseRecord | None) -> bool:
    """Whether an object whose bytes match has another Content-Type or Cache-Control than `asset` wants.

    Fingerprinted assets (many, never changed after upload) are compared with the live release's record; pages
    and fixed-name files (few, and what a hand-made change would touch) with what S3 says."""
    known = live.objects.get(asset.key) if live else None
    if asset.fingerprinted and known is not None and known.md5 == asset.md5:
        return (known.content_type, known.cache_control) != (asset.content_type, asset.cache_control)
    return object_metadata(s3, bucket, asset.key) != (asset.content_type, asset.cache_control)


def plan_publish(release: Release, target: Target, options: PublishOptions, clients: SiteClients) -> Plan:
    s3 = clients.s3
    etags = bucket_etags(s3, target.bucket)
    recent = records.recent_releases(s3, target.bucket, max(options.keep_releases, 1))
    live = recent[0] if recent else None
    published = {key: o.md5 for record in reversed(recent) for key, o in record.objects.items()} | etags
    release, warnings = without_reused_names(release, published)
    everything = release.assets + release.documents
    uploads = tuple(a for a in everything if etags.get(a.key) != a.md5 or _metadata_changed(s3, target.bucket, a, live))
    invalidation = _invalidation(release, uploads, set(etags), recent, target, options, clients)
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
    recent: list[ReleaseRecord],
    target: Target,
    options: PublishOptions,
    clients: SiteClients,
) -> InvalidationPlan:
    """The changed pages and fixed-name files, and what an earlier run did not get to invalidate, planned within
    CloudFront's limits (hooks/invalidation.py)."""
    config = distribution_config(clients.cloudfront, target.distribution_id)
    root = default_root_object(config)
    changed = set(invalidation_paths([a.key for a in uploads if not a.fingerprinted], root))
    changed |= set(records.pending_invalidation(clients.s3, target.bucket))
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


def execute(
    plan: Plan, target: Target, options: PublishOptions, clients: SiteClients, *, git: str | None = None
) -> PublishResult:
    """Carry a plan out in the safe order. Raises `StorageError` where an upload, delete or the wait fails
    (`publish_site` reports it as a `PublishError`)."""
    s3, bucket = clients.s3, target.bucket
    versions = upload(s3, bucket, plan.asset_uploads, "assets")
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

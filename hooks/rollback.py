"""Release history and rollback: `pipenv run publish --releases`, `--rollback`, `--rollback RELEASE`.

Every publish records a release in the bucket (`hooks/records.py`): each object it made live with its S3 object
version. Rolling back makes an earlier release live again from those versions, without rebuilding anything:

1. under the publish lock, it works out which objects differ from what is live, and checks that the version of
   each one still exists (pruning and the bucket's lifecycle rule remove old ones) — before changing anything;
2. restores them by copying each recorded version over the current one (an S3 copy keeps its bytes, type and
   cache rule): assets and fixed-name files first, pages last, as a publish does;
3. invalidates exactly the restored pages and fixed-name files, and records the rollback as a release of its own,
   so `--rollback` again undoes it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from hooks import records
from hooks.invalidation import InvalidationPlan, in_progress, plan_invalidation, send_invalidation
from hooks.records import PublishedObject, PublishLock, ReleaseRecord
from hooks.release import IMMUTABLE, PAGE_SUFFIXES
from hooks.results import Invalidation, PublishError, PublishOptions, PublishResult, Target
from hooks.storage import (
    SiteClients,
    StorageError,
    bucket_etags,
    default_root_object,
    distribution_config,
    invalidation_paths,
    missing_versions,
    restore_versions,
    wait_for_invalidation,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@dataclass(frozen=True)
class ReleaseInfo:
    """One recorded release, for `--releases`."""

    id: str
    created: str
    kind: str  # publish or rollback
    live: bool
    git_commit: str | None
    source_hash: str
    restored: str | None  # a rollback: the release it made live again
    objects: int

    def line(self) -> str:
        what = f"rollback to {self.restored}" if self.kind == "rollback" else f"source {self.source_hash[:12]}"
        commit = f", git {self.git_commit[:12]}" if self.git_commit else ""
        return f"{'*' if self.live else ' '} {self.id}  {self.created}  {what}{commit}  ({self.objects} objects)"


def release_history(s3: S3Client, bucket: str) -> list[ReleaseInfo]:
    """Every recorded release, newest first; the newest is the live one."""
    return [
        ReleaseInfo(
            summary["id"],
            summary["created"],
            summary["kind"],
            index == 0,
            summary["git_commit"],
            summary["source_hash"],
            summary["restored"],
            summary["objects"],
        )
        for index, summary in enumerate(records.release_summaries(s3, bucket))
    ]


def _is_document(key: str, recorded: PublishedObject) -> bool:
    """Pages and fixed-name files: served under a name that outlives their content, so invalidated."""
    return recorded.cache_control != IMMUTABLE or key.endswith(PAGE_SUFFIXES)


def _differs(key: str, recorded: PublishedObject, live: ReleaseRecord, etags: dict[str, str]) -> bool:
    """Whether the bucket serves something else under `key` than `recorded`: other bytes, or (for what the live
    release also has) another type or cache rule."""
    if etags.get(key) != recorded.md5:
        return True
    now = live.objects.get(key)
    return now is not None and (now.content_type, now.cache_control) != (recorded.content_type, recorded.cache_control)


def _wanted(s3: S3Client, bucket: str, release_id: str | None) -> tuple[ReleaseRecord, ReleaseRecord]:
    """(the live release, the one to make live): the named one, or the one before the live one."""
    ids = records.release_ids(s3, bucket)
    if not ids:
        raise PublishError(f"no release is recorded in {bucket}: publish first")
    if release_id is None:
        if len(ids) < 2:
            raise PublishError(f"only one release is recorded in {bucket} ({ids[0]}): there is nothing to roll back to")
        release_id = ids[1]
    elif release_id not in ids:
        raise PublishError(f"no release {release_id} is recorded in {bucket}; `--releases` lists them")
    return records.read_release(s3, bucket, ids[0]), records.read_release(s3, bucket, release_id)


def _check_restorable(s3: S3Client, bucket: str, keys: list[str], wanted: ReleaseRecord) -> None:
    """Raise PublishError, naming the first such key, unless every recorded version of `keys` is still there."""
    unrecorded = [key for key in keys if wanted.objects[key].version_id is None]
    if unrecorded:
        raise PublishError(
            f"release {wanted.id} cannot be restored: no object version was recorded for {unrecorded[0]}"
        )
    versions = {key: wanted.objects[key].version_id or "" for key in keys}
    gone = missing_versions(s3, bucket, versions)
    if gone:
        raise PublishError(
            f"release {wanted.id} cannot be restored: {gone[0]} (version {versions[gone[0]]}) is gone, pruned or "
            f"expired by the bucket's lifecycle rule{f' (and {len(gone) - 1} more)' if len(gone) > 1 else ''}; "
            "nothing was changed"
        )


def _invalidation(
    documents: list[str], wanted: ReleaseRecord, target: Target, clients: SiteClients
) -> InvalidationPlan:
    """The restored pages and fixed-name files, planned within CloudFront's limits (hooks/invalidation.py); all
    of them were live once, so none is left out as new."""
    if not documents:
        return InvalidationPlan(())
    root = default_root_object(distribution_config(clients.cloudfront, target.distribution_id))
    return plan_invalidation(
        invalidation_paths(documents, root),
        invalidation_paths([key for key, recorded in wanted.objects.items() if _is_document(key, recorded)], root),
        in_progress=in_progress(clients.cloudfront, target.distribution_id),
    )


def rollback(target: Target, release_id: str | None, options: PublishOptions, clients: SiteClients) -> PublishResult:
    """Make `release_id` (default: the release before the live one) live again. Raises PublishError, with
    nothing changed, if a version it needs is gone."""
    s3, bucket = clients.s3, target.bucket
    with PublishLock(s3, bucket, ttl_seconds=options.lock_ttl, wait_seconds=options.lock_wait):
        live, wanted = _wanted(s3, bucket, release_id)
        etags = bucket_etags(s3, bucket)
        changed = sorted(key for key, recorded in wanted.objects.items() if _differs(key, recorded, live, etags))
        _check_restorable(s3, bucket, changed, wanted)  # every check before the first change
        documents = [key for key in changed if _is_document(key, wanted.objects[key])]
        planned = _invalidation(documents, wanted, target, clients)
        paths = planned.paths
        if options.dry_run:
            details = tuple(f"restore  {key}  (version {wanted.objects[key].version_id})" for key in changed)
            invalidation = Invalidation(None, paths, planned.why) if paths else None
            return PublishResult(tuple(changed), len(wanted.objects) - len(changed), (), invalidation, True, details)
        versions: dict[str, str | None] = {}
        for pages in (False, True):  # pages last, once what they load is back
            batch = {
                key: wanted.objects[key].version_id or "" for key in changed if key.endswith(PAGE_SUFFIXES) == pages
            }
            try:
                versions |= restore_versions(s3, bucket, batch)
            except StorageError as exc:
                raise PublishError(f"{exc}; run the rollback again to finish it") from exc
        if paths:
            records.record_pending_invalidation(s3, bucket, paths)
        record = ReleaseRecord(
            id=records.new_release_id(),
            created=records.iso(records.now()),
            source_hash=wanted.source_hash,
            git_commit=wanted.git_commit,
            objects={
                key: replace(recorded, version_id=versions.get(key, recorded.version_id))
                for key, recorded in wanted.objects.items()
            },
            kind="rollback",
            restored=wanted.id,
        )
        records.write_release(s3, bucket, record)
        invalidation = None
        if paths:
            invalidation = send_invalidation(clients.cloudfront, target.distribution_id, planned)
            if invalidation.id is not None:
                records.clear_pending_invalidation(s3, bucket)
    if invalidation and invalidation.id is not None and options.wait:
        try:
            wait_for_invalidation(
                clients.cloudfront, target.distribution_id, invalidation.id, timeout=options.wait_timeout
            )
        except StorageError as exc:
            raise PublishError(str(exc)) from exc
    return PublishResult(tuple(changed), len(wanted.objects) - len(changed), (), invalidation, release_id=record.id)

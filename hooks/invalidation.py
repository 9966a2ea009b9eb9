"""Which paths to invalidate: the fewest CloudFront accepts and bills, for exactly the content that changed.

CloudFront's limits and prices (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cloudfront-limits.html#limits-invalidations,
https://aws.amazon.com/cloudfront/pricing/): at most 3,000 file paths in the invalidations in progress, one
request included, and at most 15 wildcard paths in progress; the first 1,000 paths a month are free, then each
costs $0.005, and a wildcard counts as one path. moto checks none of this, so the rules are here, each tested.

A plan starts from the changed pages and fixed-name files (fingerprinted files get new names instead):

1. Paths that were never live are left out when the distribution caches errors briefly: nobody was served
   anything there but a 403/404, and a cached error expires sooner than an invalidation completes.
2. Cheaper: a folder all of whose pages and fixed-name files changed, WILDCARD_WORTH_IT or more, becomes one
   wildcard (`/docs/*`), one path instead of many, and a site that changed everywhere becomes `/*`. What else
   the wildcard matches are fingerprinted files, whose content never changes under their name: only their cached
   copies are fetched again.
3. Needed: while the plan has more file paths or wildcards than CloudFront has room for, the folder that saves
   the most becomes a wildcard; when nothing fits, `/*`; when no wildcard fits either, nothing is sent now and the
   pending-paths record (hooks/records.py) makes the next publish send it.
Every step that changes the plan says why, in one line.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from hooks.results import Invalidation
from hooks.storage import invalidate

if TYPE_CHECKING:
    from mypy_boto3_cloudfront import CloudFrontClient

MAX_FILE_PATHS_IN_PROGRESS = 3000
MAX_WILDCARDS_IN_PROGRESS = 15
# CloudFront caches a 4xx/5xx this long when the distribution names no ErrorCachingMinTTL for its code
# (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/HTTPStatusCodes.html).
DEFAULT_ERROR_CACHING_SECONDS = 10
# An invalidation takes about this long or longer to complete; a cached error that expires sooner needs none.
BRIEF_ERROR_CACHING_SECONDS = 60
# Below this many paths a wildcard is not worth what it throws away: exact paths cost at most $0.50 beyond the free
# tier and keep every other cached file.
WILDCARD_WORTH_IT = 100
# What S3 answers through OAC for a key it does not have: 403 without s3:ListBucket, 404 with it.
MISSING_KEY_STATUSES = (403, 404)
EVERYTHING = "/*"


@dataclass(frozen=True)
class InProgress:
    """What the distribution's invalidations in progress already hold of CloudFront's limits."""

    file_paths: int = 0
    wildcards: int = 0

    @property
    def file_room(self) -> int:
        return max(MAX_FILE_PATHS_IN_PROGRESS - self.file_paths, 0)

    @property
    def wildcard_room(self) -> int:
        return max(MAX_WILDCARDS_IN_PROGRESS - self.wildcards, 0)


@dataclass(frozen=True)
class InvalidationPlan:
    """The paths to send (empty: nothing to send now) and why they differ from the changed paths."""

    paths: tuple[str, ...]
    why: tuple[str, ...] = ()
    deferred: bool = False  # CloudFront has no room now; the pending record carries the paths to the next run

    def __bool__(self) -> bool:
        """Whether there is anything to send or to say."""
        return bool(self.paths or self.why)


def is_wildcard(path: str) -> bool:
    return path.endswith("*")


def _folders(path: str) -> list[str]:
    """The folders a path is in, outermost first, without the root: '/a/b/c.html' -> ['/a/', '/a/b/']."""
    parts = path.rstrip("*").split("/")[1:-1]
    return ["/" + "/".join(parts[: i + 1]) + "/" for i in range(len(parts))]


def _under(path: str, folder: str) -> bool:
    return path.startswith(folder) and path != folder + "*"


def _without_covered(entries: set[str]) -> set[str]:
    """Drop the paths a wildcard of the set already covers."""
    prefixes = [e[:-1] for e in entries if is_wildcard(e)]
    return {e for e in entries if not any(e != p + "*" and e.startswith(p) for p in prefixes)}


def _collapse_full_folders(changed: set[str], site_paths: set[str]) -> tuple[set[str], list[str]]:
    """Rule 2: folders whose every page and fixed-name file changed become one wildcard, outermost first."""
    if len(changed) < WILDCARD_WORTH_IT:
        return changed, []
    if site_paths and site_paths <= changed:
        return {EVERYTHING}, [f"{EVERYTHING}: every page and fixed-name file changed ({len(changed)} paths)"]
    in_folder = Counter(folder for path in site_paths for folder in _folders(path))
    changed_in_folder = Counter(folder for path in changed for folder in _folders(path))
    entries, why = set(changed), []
    for folder in sorted(changed_in_folder, key=lambda f: (f.count("/"), f)):
        count = changed_in_folder[folder]
        if (
            count > 1
            and count == in_folder[folder]
            and not any(_under(folder, e[:-1]) for e in entries if is_wildcard(e))
        ):
            entries = {e for e in entries if not _under(e, folder)} | {folder + "*"}
            why.append(f"{folder}*: all {count} pages and fixed-name files under {folder} changed")
    return entries, why


def _fit(entries: set[str], room: InProgress) -> tuple[set[str] | None, list[str]]:
    """Rule 3: collapse the folder that saves the most until the plan fits; None when nothing can be sent now."""
    why: list[str] = []
    while True:
        files = [e for e in entries if not is_wildcard(e)]
        wildcards = [e for e in entries if is_wildcard(e)]
        if len(files) <= room.file_room and len(wildcards) <= room.wildcard_room:
            return entries, why
        too_many_files = len(files) > room.file_room
        counts = Counter(
            folder for e in (files if too_many_files else wildcards) for folder in _folders(e) if _under(e, folder)
        )
        can_add_wildcard = room.wildcard_room > len(wildcards)
        savings = [f for f, n in counts.items() if n >= 2 or (too_many_files and can_add_wildcard)]
        best = max(savings, key=lambda f: (counts[f], f.count("/")), default=None)
        if best is None:
            break
        limit = "file paths" if too_many_files else "wildcards"
        why.append(f"{best}*: {counts[best]} {limit} under {best}, more than CloudFront has room for in progress")
        entries = {e for e in entries if not _under(e, best)} | {best + "*"}
    if room.wildcard_room >= 1:
        files = [e for e in entries if not is_wildcard(e)]
        return {EVERYTHING}, [
            *why,
            f"{EVERYTHING}: {len(files)} file paths and {len(entries) - len(files)} wildcards do not fit CloudFront's "
            f"limits in progress ({room.file_room} file paths, {room.wildcard_room} wildcards free)",
        ]
    return None, [*why, f"deferred: {MAX_WILDCARDS_IN_PROGRESS} wildcard invalidations are in progress"]


def plan_invalidation(
    changed: Iterable[str],
    site_paths: Iterable[str],
    *,
    never_live: Iterable[str] = (),
    error_caching_seconds: int = DEFAULT_ERROR_CACHING_SECONDS,
    in_progress: InProgress = InProgress(),
) -> InvalidationPlan:
    """The invalidation for the `changed` viewer paths (wildcards allowed, as the pending record may hold them) of
    a site whose pages and fixed-name files are at `site_paths`; `never_live` are paths nothing was ever served at."""
    entries, why = set(changed), []
    new = entries & set(never_live)
    if new and error_caching_seconds <= BRIEF_ERROR_CACHING_SECONDS:
        entries -= new
        why.append(
            f"{len(new)} new path(s) not invalidated: nothing was served there but an error, which the "
            f"distribution caches for {error_caching_seconds} s"
        )
    if not entries:
        return InvalidationPlan((), tuple(why))
    entries = _without_covered(entries)
    if EVERYTHING not in entries:
        entries, collapsed = _collapse_full_folders(entries, set(site_paths))
        why += collapsed
    fitted, fitting = _fit(entries, in_progress)
    why += fitting
    if fitted is None:
        return InvalidationPlan(tuple(sorted(entries)), tuple(why), deferred=True)
    return InvalidationPlan(tuple(sorted(fitted)), tuple(why))


# --- what the distribution says ----------------------------------------------------------------------------------


def error_caching_seconds(config: Mapping[str, Any]) -> int:
    """How long the distribution (its DistributionConfig) caches the answer S3 gives for a missing key."""
    configured = {
        int(item["ErrorCode"]): int(item.get("ErrorCachingMinTTL", DEFAULT_ERROR_CACHING_SECONDS))
        for item in config.get("CustomErrorResponses", {}).get("Items", []) or []
    }
    return max(configured.get(code, DEFAULT_ERROR_CACHING_SECONDS) for code in MISSING_KEY_STATUSES)


def in_progress(cloudfront: CloudFrontClient, distribution_id: str) -> InProgress:
    """The paths of the distribution's invalidations in progress. Only the newest page of the list is read: an
    invalidation completes in minutes, so the ones in progress are among the newest hundred."""
    listing = cloudfront.list_invalidations(DistributionId=distribution_id, MaxItems="100")["InvalidationList"]
    files = wildcards = 0
    for item in listing.get("Items", []) or []:
        if item["Status"].lower() != "inprogress":
            continue
        batch = cloudfront.get_invalidation(DistributionId=distribution_id, Id=item["Id"])["Invalidation"]
        paths = batch["InvalidationBatch"]["Paths"].get("Items", []) or []
        wildcards += sum(1 for p in paths if is_wildcard(p))
        files += sum(1 for p in paths if not is_wildcard(p))
    return InProgress(files, wildcards)


def send_invalidation(cloudfront: CloudFrontClient, distribution_id: str, plan: InvalidationPlan) -> Invalidation:
    """Send the plan's invalidation; when CloudFront refuses it for the invalidations in progress, or the plan is
    deferred, return it as deferred (the caller keeps the pending record, so the next publish sends it)."""
    if plan.deferred:
        return Invalidation(None, plan.paths, plan.why, deferred=plan.why[-1])
    try:
        return Invalidation(invalidate(cloudfront, distribution_id, plan.paths), plan.paths, plan.why)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "TooManyInvalidationsInProgress":
            raise
        return Invalidation(None, plan.paths, plan.why, deferred="CloudFront: TooManyInvalidationsInProgress")

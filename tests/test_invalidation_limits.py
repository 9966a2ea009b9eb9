"""Invalidations CloudFront accepts and bills least (hooks/invalidation.py). moto accepts any invalidation, so
each of CloudFront's limits is a test here, citing the page that states it:
https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cloudfront-limits.html#limits-invalidations
(3,000 file paths and 15 wildcard paths in the invalidations in progress) and
https://aws.amazon.com/cloudfront/pricing/ (1,000 free paths a month, then $0.005 each; a wildcard is one path).
The planner is checked on its own at the scale of real sites, and through the hook against the emulator, with
the answers of a busy distribution given by botocore's before-call events."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders

from contract.site_files import PRIVATE_PREFIX
from hooks.invalidation import (
    EVERYTHING,
    MAX_FILE_PATHS_IN_PROGRESS,
    MAX_WILDCARDS_IN_PROGRESS,
    InProgress,
    error_caching_seconds,
    is_wildcard,
    plan_invalidation,
)
from hooks.post_apply import main
from tests.publishing import hook_argv, invalidations, live_then_changed, make_site, run

PAGES = [f"/p/{n:04d}/index.html" for n in range(3200)]
FIXED_NAMES = [f"/data/{n:04d}.json" for n in range(3000)]


def files(paths) -> list[str]:
    return [p for p in paths if not is_wildcard(p)]


def wildcards(paths) -> list[str]:
    return [p for p in paths if is_wildcard(p)]


# --- the planner ----------------------------------------------------------------------------------------------


def test_a_few_changed_paths_are_sent_exactly():
    changed = PAGES[:10]
    assert plan_invalidation(changed, PAGES + FIXED_NAMES).paths == tuple(sorted(changed))


def test_a_request_never_holds_more_than_3000_file_paths():
    changed = PAGES[:3100]  # not every page of /p/ changed: only the limit makes a wildcard
    plan = plan_invalidation(changed, PAGES + FIXED_NAMES)
    assert len(files(plan.paths)) <= MAX_FILE_PATHS_IN_PROGRESS
    assert plan.paths == ("/p/*",)
    assert "more than CloudFront has room for" in plan.why[-1]


def test_a_folder_whose_every_page_changed_is_one_wildcard():
    plan = plan_invalidation(PAGES, PAGES + FIXED_NAMES)  # 3,200 paths would cost $11 beyond the free 1,000
    assert plan.paths == ("/p/*",)
    assert plan.why == ("/p/*: all 3200 pages and fixed-name files under /p/ changed",)


def test_a_site_that_changed_everywhere_is_one_wildcard_for_everything():
    assert plan_invalidation(PAGES + FIXED_NAMES, PAGES + FIXED_NAMES).paths == (EVERYTHING,)


def test_paths_in_progress_count_toward_the_3000():
    changed = [f"/docs/{n}.html" for n in range(60)]
    plan = plan_invalidation(changed, changed + PAGES, in_progress=InProgress(file_paths=2950))
    assert plan.paths == ("/docs/*",)


def test_never_more_than_15_wildcards_in_progress():
    folders = [f"/f{n:02d}/" for n in range(20)]
    site = [f"{folder}{n}.html" for folder in folders for n in range(200)]
    changed = [path for path in site if not path.endswith("/0.html")]  # each folder: 199 of its 200 pages
    plan = plan_invalidation(changed, site)
    assert len(files(plan.paths)) <= MAX_FILE_PATHS_IN_PROGRESS
    assert len(wildcards(plan.paths)) <= MAX_WILDCARDS_IN_PROGRESS


def test_wildcards_in_progress_count_toward_the_15():
    plan = plan_invalidation(PAGES[:3100], PAGES, in_progress=InProgress(wildcards=14))
    assert plan.paths == ("/p/*",)
    deferred = plan_invalidation(PAGES[:3100], PAGES, in_progress=InProgress(wildcards=15))
    assert deferred.deferred
    assert deferred.why[-1] == "deferred: 15 wildcard invalidations are in progress"


def test_paths_a_wildcard_covers_are_not_sent_again():
    assert plan_invalidation(["/p/*", "/p/0001/index.html", "/about.html"], PAGES).paths == ("/about.html", "/p/*")


# --- paths that were never live --------------------------------------------------------------------------------


def test_new_paths_are_not_invalidated_when_errors_are_cached_briefly():
    plan = plan_invalidation(["/new.html", "/index.html"], ["/new.html", "/index.html"], never_live=["/new.html"])
    assert plan.paths == ("/index.html",)
    assert plan.why == (
        "1 new path(s) not invalidated: nothing was served there but an error, which the distribution caches for 10 s",
    )


def test_new_paths_are_invalidated_when_errors_are_cached_for_long():
    plan = plan_invalidation(["/new.html"], ["/new.html"], never_live=["/new.html"], error_caching_seconds=300)
    assert plan.paths == ("/new.html",)


def test_error_caching_is_read_from_the_distribution_for_what_s3_answers_a_missing_key():
    assert error_caching_seconds({}) == 10  # CloudFront's default
    assert error_caching_seconds({"CustomErrorResponses": {"Quantity": 0}}) == 10
    config = {"CustomErrorResponses": {"Quantity": 1, "Items": [{"ErrorCode": 404, "ErrorCachingMinTTL": 300}]}}
    assert error_caching_seconds(config) == 300  # a 404 when the origin may list the bucket
    config = {"CustomErrorResponses": {"Quantity": 1, "Items": [{"ErrorCode": 500, "ErrorCachingMinTTL": 300}]}}
    assert error_caching_seconds(config) == 10


# --- through the hook, against a busy distribution ---------------------------------------------------------------


@pytest.fixture
def site(aws, tmp_path):
    return make_site(aws, tmp_path)


def answer(status: int, parsed: dict[str, Any]) -> tuple[AWSResponse, dict[str, Any]]:
    """A botocore before-call answer: what AWS would have said."""
    return AWSResponse("https://injected", status, HTTPHeaders(), None), {
        **parsed,
        "ResponseMetadata": {"HTTPStatusCode": status},
    }


def busy_distribution(file_paths: int) -> boto3.session.Session:
    """A session whose distribution has one invalidation of `file_paths` paths in progress."""
    session = boto3.session.Session()
    in_progress = {"Id": "IBUSY", "Status": "InProgress", "CreateTime": "2026-12-02T12:00:00Z"}

    def listing(**_: Any) -> Any:
        items = {"Items": [in_progress], "Quantity": 1, "IsTruncated": False, "Marker": "", "MaxItems": 100}
        return answer(200, {"InvalidationList": items})

    def busy_one(params: dict[str, Any], **_: Any) -> Any:
        if not params["url_path"].endswith("/IBUSY"):
            return None  # the hook's own invalidation: the emulator answers
        paths = [f"/busy/{n}.html" for n in range(file_paths)]
        batch = {"Paths": {"Quantity": file_paths, "Items": paths}, "CallerReference": "busy"}
        return answer(200, {"Invalidation": {**in_progress, "InvalidationBatch": batch}})

    session.events.register("before-call.cloudfront.ListInvalidations", listing)
    session.events.register("before-call.cloudfront.GetInvalidation", busy_one)
    return session


def test_a_publish_fits_what_the_invalidations_in_progress_leave(aws, site, capsys):
    live_then_changed(site)
    code, summary = run(site, session=busy_distribution(MAX_FILE_PATHS_IN_PROGRESS - 1), capsys=capsys)
    assert code == 0
    assert summary["invalidation"]["paths"] == [EVERYTHING]  # '/' and '/index.html' do not fit in one free path
    assert summary["invalidation"]["why"][-1] == (
        "/*: 2 file paths and 0 wildcards do not fit CloudFront's limits in progress (1 file paths, 15 wildcards free)"
    )
    assert [i["Id"] for i in invalidations(aws, site["distribution"])] == [summary["invalidation"]["id"]]


def too_many_in_progress() -> boto3.session.Session:
    session = boto3.session.Session()
    error = {"Code": "TooManyInvalidationsInProgress", "Message": "Processing your request will cause you to exceed"}

    def refused(**_: Any) -> Any:
        return answer(400, {"Error": error})

    session.events.register("before-call.cloudfront.CreateInvalidation", refused)
    return session


def test_an_invalidation_refused_for_those_in_progress_is_sent_by_the_next_publish(aws, site, capsys):
    live_then_changed(site)
    code, summary = run(site, session=too_many_in_progress(), capsys=capsys)
    assert code == 0  # the pages are live; the next publish invalidates them
    assert summary["invalidation"]["deferred"] == "CloudFront: TooManyInvalidationsInProgress"
    assert summary["invalidation"]["id"] is None
    pending = aws.client("s3").get_object(Bucket=site["bucket"], Key=f"{PRIVATE_PREFIX}pending-invalidation.json")
    assert json.loads(pending["Body"].read())["paths"] == ["/", "/index.html"]
    _, summary = run(site, capsys=capsys)
    assert summary["uploaded"] == []
    assert summary["invalidation"]["paths"] == ["/", "/index.html"]
    assert [i["Id"] for i in invalidations(aws, site["distribution"])] == [summary["invalidation"]["id"]]


def test_a_deferred_invalidation_is_one_line_for_people(aws, site, capsys):
    live_then_changed(site)
    assert main(hook_argv(site), session=too_many_in_progress()) == 0
    out = capsys.readouterr().out
    assert (
        "invalidated deferred (CloudFront: TooManyInvalidationsInProgress): the next publish invalidates / /index.html"
        in out
    )

"""Publishing under concurrency and faults: one publish per bucket at a time, pruning that never breaks a live page,
invalidations that are made even after a run died before making them, and no hang on an endpoint that never
answers."""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders

from hooks.records import LOCK_KEY, PENDING_KEY
from hooks.storage import SiteClients
from tests.publishing import (
    body,
    change_style,
    invalidations,
    live_page_is_whole,
    live_then_changed,
    make_site,
    objects,
    run,
)


@pytest.fixture
def site(aws, tmp_path):
    return make_site(aws, tmp_path)


def slowed_before_pages(seconds: float) -> boto3.session.Session:
    session = boto3.session.Session()

    def pause(params, **_):
        if params["url_path"].endswith("/index.html"):
            time.sleep(seconds)

    session.events.register("before-call.s3.PutObject", pause)
    return session


def lock(aws, site, *, expires_in: timedelta) -> None:
    now = datetime.now(UTC)
    aws.client("s3").put_object(
        Bucket=site["bucket"],
        Key=LOCK_KEY,
        Body=json.dumps(
            {
                "owner": "ci@runner-7 (pid 4242)",
                "token": "theirs",
                "acquired": f"{now:%Y-%m-%dT%H:%M:%SZ}",
                "expires": f"{now + expires_in:%Y-%m-%dT%H:%M:%SZ}",
            }
        ).encode(),
    )


# --- one publish at a time --------------------------------------------------------------------------------------


def test_a_held_lock_stops_a_second_publish_with_who_holds_it(aws, site, capsys):
    lock(aws, site, expires_in=timedelta(minutes=10))
    code, _ = run(site)
    assert code == 1
    err = capsys.readouterr().err
    assert f"ci@runner-7 (pid 4242) has been publishing to {site['bucket']} since " in err
    assert "wait for it to finish, or pass --lock-wait SECONDS" in err
    assert objects(aws, site["bucket"]) == {}


def test_the_lock_of_a_publisher_that_died_is_taken_over_once_expired(aws, site):
    lock(aws, site, expires_in=timedelta(minutes=-1))
    assert run(site)[0] == 0
    assert "index.html" in objects(aws, site["bucket"])
    assert LOCK_KEY not in {o["Key"] for o in aws.client("s3").list_objects_v2(Bucket=site["bucket"])["Contents"]}


def refusal(**_: Any) -> Any:
    """A botocore before-call answer: AWS said AccessDenied."""
    return (
        AWSResponse("https://injected", 403, HTTPHeaders(), None),
        {"Error": {"Code": "AccessDenied", "Message": "injected"}, "ResponseMetadata": {"HTTPStatusCode": 403}},
    )


def test_the_lock_is_let_go_when_a_publish_fails(aws, site):
    faulty = boto3.session.Session()
    faulty.events.register(
        "before-call.s3.PutObject", lambda params, **kwargs: refusal() if params["url_path"].endswith(".css") else None
    )

    assert run(site, session=faulty)[0] == 1
    assert run(site)[0] == 0


def test_two_publishes_with_prune_at_once_never_leave_the_live_page_broken(aws, site, capsys, tmp_path):
    run(site)
    change_style(site, "v2")
    first: dict[str, int] = {}
    slow = threading.Thread(
        target=lambda: first.setdefault(
            "code", run(site, "--prune", "--keep-releases", "1", session=slowed_before_pages(3))[0]
        )
    )
    slow.start()
    deadline = time.monotonic() + 10
    while (
        LOCK_KEY not in {o["Key"] for o in aws.client("s3").list_objects_v2(Bucket=site["bucket"]).get("Contents", [])}
        and time.monotonic() < deadline
    ):
        time.sleep(0.05)
    # The second publish is of another checkout: the first reads its own files again as it uploads them.
    second = {**site, "source": shutil.copytree(site["source"], tmp_path / "second")}
    change_style(second, "v3")
    second_code, _ = run(second, "--prune", "--keep-releases", "1")
    assert second_code == 1  # refused while the first holds the bucket
    assert live_page_is_whole(aws, site)
    slow.join()
    assert first["code"] == 0
    assert live_page_is_whole(aws, site)
    assert run(second, "--prune", "--keep-releases", "1")[0] == 0  # once it is done
    assert live_page_is_whole(aws, site)
    capsys.readouterr()


def test_a_second_publish_told_to_wait_publishes_after_the_first(aws, site):
    run(site)
    change_style(site, "v2")
    slow = threading.Thread(target=lambda: run(site, "--prune", session=slowed_before_pages(2)))
    slow.start()
    time.sleep(0.5)
    code, _ = run(site, "--prune", "--lock-wait", "60")
    slow.join()
    assert code == 0
    assert live_page_is_whole(aws, site)


def test_no_request_during_a_pruning_publish_sees_a_page_missing_an_asset(aws, site):
    run(site)
    broken: list[str] = []
    done = threading.Event()

    def read_the_live_site() -> None:
        while not done.is_set():
            if not live_page_is_whole(aws, site):
                broken.append(body(aws, site["bucket"], "index.html"))

    reader = threading.Thread(target=read_the_live_site)
    reader.start()
    try:
        for version in range(3):
            change_style(site, f"v{version}")
            (site["source"] / "script.js").write_text((site["source"] / "script.js").read_text() + f"\n// v{version}\n")
            assert run(site, "--prune", "--keep-releases", "1")[0] == 0
    finally:
        done.set()
        reader.join()
    assert broken == []


# --- invalidations that were not made ---------------------------------------------------------------------------


def refused_invalidation() -> boto3.session.Session:
    session = boto3.session.Session()
    session.events.register("before-call.cloudfront.CreateInvalidation", refusal)

    return session


def test_an_invalidation_refused_once_is_made_by_the_next_run(aws, site, capsys):
    live_then_changed(site)
    assert run(site, session=refused_invalidation())[0] == 1
    capsys.readouterr()
    assert "index.html" in objects(aws, site["bucket"])  # the pages are live, not yet invalidated
    assert invalidations(aws, site["distribution"]) == []
    code, summary = run(site, capsys=capsys)
    assert code == 0
    assert summary["uploaded"] == []
    assert summary["invalidation"]["paths"] == ["/", "/index.html"]
    _, again = run(site, capsys=capsys)
    assert again["invalidation"] is None  # made once, and then no more


def test_a_run_killed_between_the_pages_and_the_invalidation_converges(aws, site, capsys):
    killed = boto3.session.Session()

    def die(**_):
        raise KeyboardInterrupt

    killed.events.register("before-call.cloudfront.CreateInvalidation", die)
    live_then_changed(site)
    with pytest.raises(KeyboardInterrupt):
        run(site, session=killed)
    keys = {o["Key"] for o in aws.client("s3").list_objects_v2(Bucket=site["bucket"])["Contents"]}
    assert PENDING_KEY in keys
    _, summary = run(site, capsys=capsys)
    assert summary["invalidation"]["paths"] == ["/", "/index.html"]


def test_invalidate_all_invalidates_even_when_nothing_changed(aws, site, capsys):
    run(site, capsys=capsys)
    _, summary = run(site, "--invalidate-all", capsys=capsys)
    assert summary["uploaded"] == []
    assert summary["invalidation"]["paths"] == ["/*"]
    assert len(invalidations(aws, site["distribution"])) == 1  # the first publish had nothing to invalidate


# --- an endpoint that never answers -----------------------------------------------------------------------------


def test_every_client_of_the_hook_has_timeouts():
    clients = SiteClients.from_session(boto3.session.Session(region_name="us-east-1"))
    for client in (clients.s3, clients.cloudfront):
        config: Any = client.meta.config  # the stubs leave the timeouts out
        assert (config.connect_timeout, config.read_timeout) == (10, 10)
        assert config.retries == {"mode": "standard", "total_max_attempts": 6}  # five retries


def test_retries_set_in_the_environment_are_botocores_to_decide(monkeypatch):
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    monkeypatch.setenv("AWS_RETRY_MODE", "adaptive")
    clients = SiteClients.from_session(boto3.session.Session(region_name="us-east-1"))
    for client in (clients.s3, clients.cloudfront):
        config: Any = client.meta.config
        assert config.retries == {"total_max_attempts": 2, "mode": "adaptive"}


def test_retries_set_in_the_profile_are_botocores_to_decide(monkeypatch, tmp_path):
    (tmp_path / "config").write_text("[profile site]\nmax_attempts = 3\nregion = us-east-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.delenv("AWS_MAX_ATTEMPTS", raising=False)
    monkeypatch.delenv("AWS_RETRY_MODE", raising=False)
    clients = SiteClients.from_session(boto3.session.Session(profile_name="site"))
    config: Any = clients.s3.meta.config
    assert config.retries["total_max_attempts"] == 3


def accepted_connections(listening: socket.socket) -> int:
    """How many connections a listening socket has accepted into its queue (it never answers them)."""
    listening.setblocking(False)
    count = 0
    while True:
        try:
            listening.accept()[0].close()
        except BlockingIOError:
            return count
        count += 1


def test_a_silent_endpoint_fails_the_publish_after_every_attempt_naming_it(site, silent_endpoint, monkeypatch, capsys):
    """The hook's own retries (none set in the environment): each of the six attempts waits its read timeout on a
    socket that accepts connections and never answers (1 s here instead of the default 10 s), then it gives up."""
    endpoint = silent_endpoint.url
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.delenv("AWS_MAX_ATTEMPTS", raising=False)
    monkeypatch.delenv("AWS_RETRY_MODE", raising=False)
    code, _ = run(site, "--aws-timeout", "1")
    attempts = accepted_connections(silent_endpoint.socket)
    assert code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f'Read timeout on endpoint URL: "{endpoint}/' in err
    assert attempts == 6  # the first and five retries, each on a connection of its own


def test_a_silent_endpoint_ends_the_publish_in_about_a_minute_by_default():
    """Six attempts (the test above makes them against a real socket) of a 10 s read timeout each; botocore's
    backoff between them adds at most 1.55 s (50 ms doubled per retry, for errors other than throttling)."""
    config: Any = SiteClients.from_session(boto3.session.Session(region_name="us-east-1")).s3.meta.config
    assert config.retries["total_max_attempts"] * config.read_timeout == 60

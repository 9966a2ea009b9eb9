"""Warm restart: a start in the same work dir with the same synthesized stack replays the last run's emulator
recording instead of applying with Terraform, and ends in the same state as a cold start, with what the last run
changed in the emulator kept. When it falls back to a cold start is in test_warm_fallbacks.py.

The tests drive `python -m local_stack.run` as a user does, one after the other in one work dir on the same
ports (the ports are in the synthesized stack), each stop leaving the recording the next start uses.
"""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from contract.outputs import StackOutputs
from local_stack.emulator import start_emulator
from local_stack.process import LocalModeProcess
from tests.warm_runs import Runs


def test_a_recording_replayed_into_an_emulator_seeded_the_same_gives_the_same_ids():
    recorded = start_emulator(seed=24)
    try:
        apigateway, dynamodb = recorded.client("apigateway"), recorded.client("dynamodb")
        first = apigateway.create_rest_api(name="first")["id"]
        apigateway.get_rest_apis()  # reads in between: not recorded, and they draw no id
        dynamodb.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        dynamodb.describe_table(TableName="t")
        second = apigateway.create_rest_api(name="second")["id"]
        requests = list(recorded.recording.requests)
    finally:
        recorded.stop()
    assert len(requests) == 3

    replayed = start_emulator(seed=24)
    try:
        assert replayed.replay(requests) is None
        apis = replayed.client("apigateway").get_rest_apis()["items"]
        assert sorted((api["name"], api["id"]) for api in apis) == [("first", first), ("second", second)]
        assert replayed.client("dynamodb").describe_table(TableName="t")["Table"]["TableStatus"] == "ACTIVE"
        assert len(replayed.recording.requests) == 3  # recorded anew, for the next restart
    finally:
        replayed.stop()


@dataclass(frozen=True)
class Observed:
    """What a user sees of a running stack: its outputs, the site's objects, the seed item, the API's answer."""

    outputs: dict[str, Any]
    objects: list[tuple[str, str, str]]
    item: dict[str, Any]
    answer: tuple[int, str]


def observe(local: LocalModeProcess) -> Observed:
    outputs = StackOutputs.from_outputs_file(Path(local.value("outputs")), "local")
    s3 = local.client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=outputs.bucket_name).get("Contents", [])]
    objects = []
    for key in sorted(k for k in keys if not k.startswith(".publish/")):  # the hook's records carry times
        head = s3.head_object(Bucket=outputs.bucket_name, Key=key)
        objects.append((key, head["ETag"], head["ContentType"]))
    item = local.client("dynamodb").get_item(TableName=outputs.table_name, Key={"userId": {"S": "1"}})["Item"]
    with urllib.request.urlopen(local.value("api") + "?userId=1", timeout=30) as response:
        answer = (response.status, response.read().decode())
    return Observed(json.loads(Path(local.value("outputs")).read_text()), objects, item, answer)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return Runs.in_folder(tmp_path_factory.mktemp("warm"))


@pytest.fixture(scope="module")
def cold(runs):
    """The first start: cold, run until the whole stack is applied, with an item of the user's own added."""
    with runs.start() as local:
        local.wait_for("^deferred ", timeout=400)
        observed = observe(local)
        local.client("dynamodb").put_item(
            TableName=observed.outputs["local"]["table_name"], Item={"userId": {"S": "added"}, "name": {"S": "A"}}
        )
        assert local.stop() == 0
    return observed


def test_a_restart_with_the_same_stack_replays_instead_of_applying(runs, cold):
    with runs.start() as local:
        local.wait_for("^serving until Ctrl-C")
        assert local.wait_for("^warm restart: ").endswith("replayed, no Terraform apply")
        assert not any(line.startswith(("init ", "apply ")) for line in local.lines)
        local.stop()


def test_the_state_after_a_warm_restart_equals_the_state_after_the_cold_start(runs, cold):
    with runs.start() as local:
        local.wait_for("^serving until Ctrl-C")
        assert observe(local) == cold
        local.stop()


def test_what_the_last_run_changed_in_the_emulator_is_there_after_a_warm_restart(runs, cold):
    with runs.start() as local:
        local.wait_for("^serving until Ctrl-C")
        table = cold.outputs["local"]["table_name"]
        item = local.client("dynamodb").get_item(TableName=table, Key={"userId": {"S": "added"}})
        assert item["Item"] == {"userId": {"S": "added"}, "name": {"S": "A"}}
        local.stop()

"""Warm restart: a start in the same work dir with the same synthesized stack replays the last run's emulator
recording instead of applying with Terraform, and ends in the same state as a cold start, with what the last run
changed in the emulator kept. It falls back to a cold start, saying why in one line, whenever the recording cannot
be trusted: a recording that is corrupt, missing or answers otherwise on replay, a state the emulator does not hold
or another state file than the recorded one, a changed synth; `--fresh` starts cold though a recording is there.

The tests drive `python -m local_stack.run` as a user does, one after the other in one work dir on the same
ports (the ports are in the synthesized stack), each stop leaving the recording the next start uses. One cold start
(the module's only full one) makes the first recording. For the fallbacks, each test puts back a copy of the last
recording, breaks it, starts, and checks the start says why and takes the cold path (it runs init); the corrupt
recording's start is followed until it applied and serves. What a start decides from the files alone (a missing
recording, another state file) is checked by reading them as it does.
"""

from __future__ import annotations

import json
import re
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from contract.outputs import StackOutputs
from local_stack import warm
from local_stack.emulator import start_emulator
from local_stack.process import LocalModeProcess
from terraform_cli import StackWorkspace
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


# --- falling back to a cold start -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kept(runs, cold):
    """A copy of the recording the last stop left (the cold start's, or the last warm restart's)."""
    assert (runs.warm / "snapshot.json").is_file()
    return runs.keep_recording()


@pytest.fixture
def recorded(runs, kept):
    """The recording the last stop left, in the work dir, for the test to break."""
    runs.restore_recording(kept)


SYNTH_SKIPPED = r"synth +[0-9.]+ s \(skipped: the folder holds a synth of the same inputs\)"


def test_a_corrupt_recording_starts_cold_keeping_the_last_synth(runs, recorded):
    requests = runs.warm / "requests.jsonl"
    requests.write_text(requests.read_text()[:-100])
    reason, *after = runs.cold_path(serve=True)
    assert "cannot be read" in reason
    # Its fresh emulator took the port the last synth names: that synth is still good, and not made again.
    assert any(re.fullmatch(SYNTH_SKIPPED, line) for line in after), after


def test_a_missing_recording_is_not_taken(runs, recorded):
    """Read as a start reads it (the line it prints is the reason, as for the corrupt recording above)."""
    (runs.warm / "requests.jsonl").unlink()
    with pytest.raises(warm.NotWarm, match="cannot be read"):
        warm.take(runs.work, StackWorkspace.local(runs.work))


def test_a_replay_that_answers_otherwise_than_recorded_starts_cold_keeping_the_last_synth(runs, recorded):
    requests = runs.warm / "requests.jsonl"
    lines = requests.read_text().splitlines()
    first = json.loads(lines[0])
    lines[0] = json.dumps({**first, "status": 599})
    requests.write_text("\n".join(lines) + "\n")
    reason, *after = runs.cold_path()
    assert "the replay failed: request 1 " in reason
    # The replay's emulator had the port the last synth names; the fresh one takes it once it is free again.
    assert any(re.fullmatch(SYNTH_SKIPPED, line) for line in after), after


def test_a_state_naming_what_the_emulator_does_not_hold_starts_cold(runs, recorded):
    outputs_file = runs.warm / "local.outputs.json"
    outputs = json.loads(outputs_file.read_text())
    outputs["local"]["table_name"] = "not-replayed"
    outputs_file.write_text(json.dumps(outputs))
    assert "the emulator has no table the state names" in runs.why_it_started_cold()


def test_a_state_file_other_than_the_recorded_one_is_not_taken(runs, recorded):
    state = runs.warm / "terraform.local.tfstate"
    state.write_text(state.read_text().replace('"serial": ', '"serial": 1'))
    with pytest.raises(warm.NotWarm, match="not the one recorded"):
        warm.take(runs.work, StackWorkspace.local(runs.work))


def test_fresh_starts_cold_though_a_recording_is_there(runs, recorded):
    assert (runs.warm / "snapshot.json").is_file()
    with runs.start("--fresh") as local:
        local.wait_for("^init ")  # the cold path: a warm start into a work dir with an init runs none
        assert not any(line.startswith("warm restart:") for line in local.lines)
        local.stop()


def test_a_changed_synth_starts_cold(runs, recorded):
    assert "the synthesized stack changed" in runs.why_it_started_cold("--same-origin")

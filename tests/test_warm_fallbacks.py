"""Warm restart falls back to a cold start, saying why in one line, whenever the last run's recording cannot be
trusted: a recording that is corrupt, missing or answers otherwise on replay, a state the emulator does not hold
or another state file than the recorded one, a changed synth; `--fresh` starts cold though a recording is there.

One cold start leaves a recording; each test puts it back in the one work dir, breaks it, starts, and checks the
start says why and takes the cold path (it runs init); two follow that path until it applied and serves. What
a start decides from the files alone (a missing recording, another state file) is checked by reading them as it
does. Apart from test_warm_restart.py, with a work dir and ports of its own, so that the two run on two workers.
"""

from __future__ import annotations

import json

import pytest

from local_stack import warm
from terraform_cli import StackWorkspace
from tests.warm_runs import Runs, started_cold


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return Runs.in_folder(tmp_path_factory.mktemp("warm-fallbacks"))


@pytest.fixture(scope="module")
def kept(runs):
    """A cold start run until it serves, then stopped: a copy of the recording it leaves."""
    with runs.start() as local:
        local.wait_for("^serving until Ctrl-C", timeout=400)
        assert local.stop() == 0
    assert (runs.warm / "snapshot.json").is_file()
    return runs.keep_recording()


@pytest.fixture
def recorded(runs, kept):
    """The recording the last stop left, in the work dir, for the test to break."""
    runs.restore_recording(kept)


def test_a_corrupt_recording_starts_cold(runs, recorded):
    requests = runs.warm / "requests.jsonl"
    requests.write_text(requests.read_text()[:-100])
    assert "cannot be read" in runs.why_it_started_cold(serve=True)


def test_a_missing_recording_is_not_taken(runs, recorded):
    """Read as a start reads it (the line it prints is the reason, as for the corrupt recording above)."""
    (runs.warm / "requests.jsonl").unlink()
    with pytest.raises(warm.NotWarm, match="cannot be read"):
        warm.take(runs.work, StackWorkspace.local(runs.work))


def test_a_replay_that_answers_otherwise_than_recorded_starts_cold(runs, recorded):
    requests = runs.warm / "requests.jsonl"
    lines = requests.read_text().splitlines()
    first = json.loads(lines[0])
    lines[0] = json.dumps({**first, "status": 599})
    requests.write_text("\n".join(lines) + "\n")
    assert "the replay failed: request 1 " in runs.why_it_started_cold()


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
        started_cold(local)
        assert not any(line.startswith("warm restart:") for line in local.lines)
        local.stop()


def test_a_changed_synth_starts_cold(runs, recorded):
    assert "the synthesized stack changed" in runs.why_it_started_cold("--same-origin")

"""Stack outputs as a typed contract: written by the stack, read by the hook, local mode and deploy."""

from __future__ import annotations

import json

import pytest

from contract.outputs import OutputsError, StackOutputs

VALUES = {
    "site_url": "https://d1.cloudfront.net/",
    "api_url": "https://a1.execute-api.eu-north-1.amazonaws.com/prod/users",
    "page_api_url": "https://a1.execute-api.eu-north-1.amazonaws.com/prod/users",
    "bucket_name": "site-1",
    "distribution_id": "E1",
    "table_name": "users",
    "function_name": "get-user",
    "api_id": "a1",
    "api_stage": "prod",
    "content_security_policy": "default-src 'self'",
}


def test_every_output_has_a_meaning():
    descriptions = StackOutputs.descriptions()
    assert list(descriptions) == list(VALUES)
    assert all(len(text) > 5 for text in descriptions.values())


def test_an_outputs_file_round_trips(tmp_path):
    outputs = StackOutputs(**VALUES)
    outputs.to_outputs_file(tmp_path / "outputs.json", "prod")
    assert StackOutputs.from_outputs_file(tmp_path / "outputs.json", "prod") == outputs
    assert StackOutputs.from_outputs_file(tmp_path / "outputs.json") == outputs  # one stack: no need to name it


def test_terraform_output_json_is_read_as_the_same_contract():
    terraform = {name: {"value": value, "type": "string", "sensitive": False} for name, value in VALUES.items()}
    assert StackOutputs.from_terraform(terraform) == StackOutputs(**VALUES)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("null", r"expected an object of stacks, found NoneType"),
        ("[1, 2]", r"expected an object of stacks, found list"),
        ('{"prod": "x"}', r"\(stack prod\): expected an object of stack outputs, found str"),
        ('{"prod": null}', r"\(stack prod\): expected an object of stack outputs, found NoneType"),
        ("{not json", r"cannot read outputs file"),
        (json.dumps({"prod": {**VALUES, "bucket_name": 42}}), r"output\(s\) bucket_name must be non-empty strings"),
        (json.dumps({"prod": {**VALUES, "api_id": ""}}), r"output\(s\) api_id must be non-empty strings"),
        (json.dumps({"prod": {"site_url": "x"}}), r"missing output\(s\) api_url, page_api_url, bucket_name"),
    ],
)
def test_a_bad_outputs_file_is_one_clear_error(tmp_path, content, message):
    path = tmp_path / "outputs.json"
    path.write_text(content)
    with pytest.raises(OutputsError, match=message):
        StackOutputs.from_outputs_file(path, "prod")


def test_several_stacks_need_a_name(tmp_path):
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({"prod": VALUES, "local": VALUES}))
    with pytest.raises(OutputsError, match=r"holds stacks \['local', 'prod'\]; name one with --stack"):
        StackOutputs.from_outputs_file(path)


def test_a_missing_file_is_one_clear_error(tmp_path):
    with pytest.raises(OutputsError, match=r"cannot read outputs file .*nothing.json"):
        StackOutputs.from_outputs_file(tmp_path / "nothing.json", "prod")

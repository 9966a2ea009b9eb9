"""The embedded emulator behaves as AWS does where local mode depends on it."""

import re
from typing import Any


def test_a_bucket_with_delete_markers_empties_after_versioning_is_suspended(emulator: Any) -> None:
    # The order terraform destroy takes: versioning suspended, then every version and marker deleted.
    s3 = emulator.client("s3")
    s3.create_bucket(Bucket="suspended-versioning")
    s3.put_bucket_versioning(Bucket="suspended-versioning", VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket="suspended-versioning", Key="page.html", Body=b"<p>")
    s3.delete_object(Bucket="suspended-versioning", Key="page.html")
    s3.put_bucket_versioning(Bucket="suspended-versioning", VersioningConfiguration={"Status": "Suspended"})
    listing = s3.list_object_versions(Bucket="suspended-versioning")
    every_version = [
        {"Key": v["Key"], "VersionId": v["VersionId"]} for v in listing["Versions"] + listing["DeleteMarkers"]
    ]

    result = s3.delete_objects(Bucket="suspended-versioning", Delete={"Objects": every_version})

    assert result.get("Errors", []) == []
    remaining = s3.list_object_versions(Bucket="suspended-versioning")
    assert remaining.get("Versions", []) + remaining.get("DeleteMarkers", []) == []
    s3.delete_bucket(Bucket="suspended-versioning")


def test_two_emulators_in_one_process_are_two_accounts() -> None:
    from local_stack.emulator import start_emulator

    first, second = start_emulator(), start_emulator()
    try:
        assert first.account_id != second.account_id
        assert first.client("sts").get_caller_identity()["Account"] == first.account_id
        first.client("iam").create_role(RoleName="only-in-the-first", AssumeRolePolicyDocument="{}")
        first.client("apigateway").update_account(
            patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": "arn:aws:iam::1:role/x"}]
        )
        assert [r["RoleName"] for r in second.client("iam").list_roles()["Roles"]] == []
        assert "cloudwatchRoleArn" not in second.client("apigateway").get_account()
    finally:
        first.stop()
        second.stop()


def test_a_new_emulator_starts_empty_even_on_a_port_another_one_used() -> None:
    from local_stack.emulator import start_emulator

    first = start_emulator()
    port = int(first.url.rsplit(":", 1)[1])
    first.client("iam").create_role(RoleName="left-behind", AssumeRolePolicyDocument="{}")
    first.stop()
    again = start_emulator(port=port)
    try:
        assert again.client("iam").list_roles()["Roles"] == []
    finally:
        again.stop()


def _create_table_attempt(url: str, attempt: int) -> int:
    """DynamoDB's CreateTable as an AWS SDK sends it, attempt `attempt` of one SDK call."""
    import json
    import urllib.error
    import urllib.request

    body = {
        "TableName": "resent",
        "KeySchema": [{"AttributeName": "k", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "k", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
    }
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={
            "X-Amz-Target": "DynamoDB_20120810.CreateTable",
            "Content-Type": "application/x-amz-json-1.0",
            "Authorization": "AWS4-HMAC-SHA256 Credential=test/20261205/us-east-1/dynamodb/aws4_request",
            "amz-sdk-invocation-id": "5d1c5a6e-0000-4000-8000-000000000001",
            "amz-sdk-request": f"attempt={attempt}; max=3",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as refused:
        return int(refused.code)


def test_a_resend_of_a_create_that_succeeded_gets_the_same_answer_and_creates_nothing_twice(caplog: Any) -> None:
    # Seen in CI: the AWS provider's SDK resent a CreateDistributionWithTags the emulator had answered 201 (the
    # answer did not reach it); done again, the create failed the apply as "already exists".
    from local_stack.emulator import start_emulator

    running = start_emulator()
    try:
        with caplog.at_level("WARNING", logger="local_stack.recording"):
            assert _create_table_attempt(running.url, 1) == 200
            assert caplog.records == []
            assert _create_table_attempt(running.url, 2) == 200
        tables = running.client("dynamodb").list_tables()["TableNames"]
        recorded = [r.line for r in running.recording.requests]
    finally:
        running.stop()
    assert tables == ["resent"]
    assert recorded == ["POST / DynamoDB_20120810.CreateTable"]  # a warm restart replays it once
    [resent] = [r.getMessage() for r in caplog.records]
    assert re.fullmatch(
        r"the emulator got attempt 2 of POST / DynamoDB_20120810.CreateTable, which it had answered 200 "
        r"\(\d+\.\d s\): answered the same again, not done twice",
        resent,
    )


def test_a_resend_of_a_call_that_failed_is_served_again(caplog: Any) -> None:
    from local_stack.emulator import start_emulator

    running = start_emulator()
    try:
        running.client("dynamodb").create_table(
            TableName="resent",
            KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        with caplog.at_level("WARNING", logger="local_stack.recording"):
            assert _create_table_attempt(running.url, 1) == 400  # the table exists
            assert _create_table_attempt(running.url, 2) == 400  # asked again, not answered from memory
    finally:
        running.stop()
    [resent] = [r.getMessage() for r in caplog.records]
    assert "attempt 2 of POST / DynamoDB_20120810.CreateTable (answered 400); the attempt before it got 400" in resent


# --- where local mode's fresh emulator goes ------------------------------------------------------------------


def _workspace_naming(tmp_path: Any, port: int) -> Any:
    """A local workspace whose last synth names an emulator on `port`."""
    from contract.config import FAKE_CREDENTIALS
    from terraform_cli import StackWorkspace

    workspace = StackWorkspace.local(tmp_path)
    workspace.write_emulator_config(f"http://127.0.0.1:{port}", FAKE_CREDENTIALS)
    return workspace


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_fresh_emulator_takes_the_port_the_last_synth_names(tmp_path: Any) -> None:
    from local_stack.stack import start_fresh_emulator

    port = _free_port()
    emulator = start_fresh_emulator("127.0.0.1", 0, _workspace_naming(tmp_path, port))
    try:
        assert emulator.port == port
    finally:
        emulator.stop()


def test_a_fresh_emulator_takes_any_free_port_when_the_last_synths_is_taken(tmp_path: Any) -> None:
    import socket

    from local_stack.stack import start_fresh_emulator

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = int(holder.getsockname()[1])
        emulator = start_fresh_emulator("127.0.0.1", 0, _workspace_naming(tmp_path, taken))
        try:
            assert emulator.port not in (taken, 0)
        finally:
            emulator.stop()


def test_a_chosen_emulator_port_is_taken_whatever_the_last_synth_names(tmp_path: Any) -> None:
    from local_stack.stack import start_fresh_emulator

    chosen, named = _free_port(), _free_port()
    emulator = start_fresh_emulator("127.0.0.1", chosen, _workspace_naming(tmp_path, named))
    try:
        assert emulator.port == chosen
    finally:
        emulator.stop()

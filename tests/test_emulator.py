"""The embedded emulator behaves as AWS does where local mode depends on it."""

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

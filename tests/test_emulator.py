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

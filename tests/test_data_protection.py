"""Data survives: Terraform refuses to destroy the prod table, and the table protects itself as well."""

from __future__ import annotations

import json
import os
import shutil

import boto3
import pytest

from local_stack.emulator import FAKE_CREDENTIALS
from modules.stack import EMULATED_SERVICES
from terraform_cli import terraform

CREDENTIALS = {"aws_access_key_id": FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
               "aws_secret_access_key": FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]}


@pytest.fixture(scope="module")
def prod_table_in_emulator(prod, emulator, cli_config, tmp_path_factory):
    """The prod stack's table, exactly as synthesized, applied into the emulator (only the provider differs)."""
    tmp_path = tmp_path_factory.mktemp("prod-table")
    directory = tmp_path / "prod"
    shutil.copytree(prod.directory, directory, ignore=shutil.ignore_patterns(".terraform*"))
    config = json.loads((directory / "cdk.tf.json").read_text())
    config["provider"]["aws"][0].update(
        region="us-east-1", skip_credentials_validation=True, skip_metadata_api_check="true", s3_use_path_style=True,
        endpoints=[{service.rstrip("_"): emulator.url for service in EMULATED_SERVICES}],
    )
    config["terraform"]["backend"] = {"local": {"path": str(tmp_path / "prod.tfstate")}}
    (directory / "cdk.tf.json").write_text(json.dumps(config))
    env = {**FAKE_CREDENTIALS, "AWS_DEFAULT_REGION": "us-east-1"}
    (table_id,) = prod.resources("aws_dynamodb_table")
    address = f"aws_dynamodb_table.{table_id}"
    init = terraform(["init", "-input=false", "-no-color"], directory, cli_config, {**os.environ, **env})
    assert init.returncode == 0, init.stderr
    apply = terraform(["apply", "-auto-approve", "-input=false", "-no-color", f"-target={address}"], directory,
                      cli_config, {**os.environ, **env})
    assert apply.returncode == 0, apply.stdout + apply.stderr
    yield directory, address, env
    client = boto3.client("dynamodb", endpoint_url=emulator.url, region_name="us-east-1", **CREDENTIALS)
    client.update_table(TableName="three-tier-prod-users", DeletionProtectionEnabled=False)
    client.delete_table(TableName="three-tier-prod-users")


def test_terraform_refuses_to_plan_destroying_the_prod_table(prod_table_in_emulator, cli_config):
    directory, address, env = prod_table_in_emulator
    plan = terraform(["plan", "-destroy", "-input=false", "-no-color"], directory, cli_config, {**os.environ, **env})
    assert plan.returncode == 1
    assert "Instance cannot be destroyed" in plan.stderr
    assert address in plan.stderr


def test_prod_table_has_deletion_protection_and_point_in_time_recovery(prod_table_in_emulator, emulator):
    client = boto3.client("dynamodb", endpoint_url=emulator.url, region_name="us-east-1", **CREDENTIALS)
    table = client.describe_table(TableName="three-tier-prod-users")["Table"]
    assert table["DeletionProtectionEnabled"] is True
    backups = client.describe_continuous_backups(TableName="three-tier-prod-users")["ContinuousBackupsDescription"]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
    with pytest.raises(client.exceptions.ClientError, match="DeletionProtectionEnabled is set to True"):
        client.delete_table(TableName="three-tier-prod-users")

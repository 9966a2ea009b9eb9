"""Data survives: Terraform refuses to destroy the prod table, and the table protects itself as well."""

from __future__ import annotations

import pytest

from contract.config import FAKE_CREDENTIALS
from terraform_cli import TerraformError
from terraform_cli.workspace import EMULATOR_CONFIG, EMULATOR_PROFILE

TABLE = "three-tier-prod-users"


@pytest.fixture(scope="module")
def prod_table_in_emulator(prod, emulator, tmp_path_factory):
    """The prod stack's table, exactly as synthesized, applied into the emulator (only the provider differs)."""
    tmp_path = tmp_path_factory.mktemp("prod-table")
    workspace = prod.workspace.copied_to(tmp_path / "out")
    config = workspace.config()
    config["provider"]["aws"][0].update(
        region="us-east-1",
        skip_credentials_validation=True,
        skip_metadata_api_check="true",
        s3_use_path_style=True,
        profile=EMULATOR_PROFILE,
        shared_config_files=[f"${{path.module}}/{EMULATOR_CONFIG}"],
    )
    workspace.write_emulator_config(emulator.url, FAKE_CREDENTIALS)
    config["terraform"]["backend"] = {"local": {"path": str(tmp_path / "prod.tfstate")}}
    workspace.write_config(config)
    (table_id,) = prod.resources("aws_dynamodb_table")
    address = f"aws_dynamodb_table.{table_id}"
    terraform = workspace.initialized(env=emulator.environment())
    terraform.apply(targets=[address])
    yield terraform, address
    client = emulator.client("dynamodb")
    client.update_table(TableName=TABLE, DeletionProtectionEnabled=False)
    client.delete_table(TableName=TABLE)


def test_terraform_refuses_to_plan_destroying_the_prod_table(prod_table_in_emulator):
    terraform, address = prod_table_in_emulator
    with pytest.raises(TerraformError) as refused:
        terraform.plan(destroy=True)
    (error,) = refused.value.errors
    assert error.summary == "Instance cannot be destroyed"
    assert address in error.detail or error.address == address


def test_prod_table_has_deletion_protection_and_point_in_time_recovery(prod_table_in_emulator, emulator):
    client = emulator.client("dynamodb")
    table = client.describe_table(TableName=TABLE)["Table"]
    assert table["DeletionProtectionEnabled"] is True
    backups = client.describe_continuous_backups(TableName=TABLE)["ContinuousBackupsDescription"]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
    with pytest.raises(client.exceptions.ClientError, match="DeletionProtectionEnabled is set to True"):
        client.delete_table(TableName=TABLE)

"""State backends per environment: local file (default), S3 with native locking, Terraform Cloud."""

from __future__ import annotations

import json
from typing import Any

import pytest

from contract.config import ConfigError, load_environment
from tests.conftest import synthesize


def synth_prod(tmp_path, env: dict[str, str]) -> dict[str, Any]:
    terraform: dict[str, Any] = synthesize([load_environment("prod", env)], tmp_path)["prod"].config["terraform"]
    return terraform


def test_local_file_state_is_the_default(prod):
    assert prod.config["terraform"]["backend"] == {"local": {"path": "../../../terraform.prod.tfstate"}}
    assert "cloud" not in prod.config["terraform"]


def test_s3_backend_is_encrypted_and_uses_s3_native_locking(tmp_path):
    terraform = synth_prod(tmp_path, {"PROD_BACKEND": "s3", "PROD_STATE_BUCKET": "acme-terraform-state"})
    assert terraform["backend"] == {
        "s3": {
            "bucket": "acme-terraform-state",
            "key": "three-tier/prod/terraform.tfstate",
            "region": "eu-north-1",
            "encrypt": True,
            "use_lockfile": True,
        }
    }


def test_s3_backend_takes_key_region_and_kms_key_from_the_environment(tmp_path):
    terraform = synth_prod(
        tmp_path,
        {
            "PROD_BACKEND": "s3",
            "PROD_STATE_BUCKET": "acme-state",
            "PROD_STATE_KEY": "k/state",
            "PROD_STATE_REGION": "us-west-2",
            "PROD_STATE_KMS_KEY_ID": "alias/tf",
        },
    )
    assert {k: terraform["backend"]["s3"][k] for k in ("key", "region", "kms_key_id")} == {
        "key": "k/state",
        "region": "us-west-2",
        "kms_key_id": "alias/tf",
    }


def test_cloud_backend_names_a_workspace_per_environment(tmp_path):
    terraform = synth_prod(
        tmp_path,
        {
            "PROD_BACKEND": "cloud",
            "TF_CLOUD_ORGANIZATION": "acme",
            "TF_CLOUD_PROJECT": "web",
            "TF_CLOUD_HOSTNAME": "tfe.example.com",
        },
    )
    assert "backend" not in terraform
    assert terraform["cloud"] == {
        "organization": "acme",
        "hostname": "tfe.example.com",
        "workspaces": {"name": "three-tier-prod", "project": "web"},
    }


def test_cloud_backend_never_writes_a_token(tmp_path):
    terraform = synth_prod(
        tmp_path,
        {"PROD_BACKEND": "cloud", "TF_CLOUD_ORGANIZATION": "acme", "TF_TOKEN_app_terraform_io": "secret-token-value"},
    )
    assert "token" not in terraform["cloud"]
    assert "secret-token-value" not in json.dumps(terraform)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PROD_BACKEND": "s3"}, r"backend\.bucket: missing; .*PROD_STATE_BUCKET|<ENV>_STATE_BUCKET"),
        ({"PROD_BACKEND": "cloud"}, r"backend\.organization: missing; .*TF_CLOUD_ORGANIZATION"),
        ({"PROD_BACKEND": "consul"}, r"backend\.kind: 'consul' is not allowed; allowed values: local, s3, cloud"),
    ],
)
def test_incomplete_backend_config_names_what_is_missing(env, message):
    with pytest.raises(ConfigError, match=message):
        load_environment("prod", env)

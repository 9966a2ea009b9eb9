"""The stack as a whole: provider, state, outputs."""

import configparser

import pytest

from contract.outputs import StackOutputs


@pytest.mark.parametrize("stack_name", ["prod", "local"])
def test_stack_writes_every_output_of_the_contract_with_its_description(synthesized, stack_name):
    outputs = synthesized[stack_name].config["output"]
    assert {name: output["description"] for name, output in outputs.items()} == StackOutputs.descriptions()


def test_outputs_point_at_the_deployed_resources(prod):
    outputs = {name: o["value"] for name, o in prod.config["output"].items()}
    assert outputs["api_url"] == prod.ref("aws_api_gateway_stage", "invoke_url") + "/users"
    assert outputs["page_api_url"] == outputs["api_url"]  # cross-origin by default
    assert outputs["bucket_name"] == prod.ref("aws_s3_bucket", "bucket")
    assert outputs["distribution_id"] == prod.ref("aws_cloudfront_distribution", "id")
    assert outputs["table_name"] == prod.ref("aws_dynamodb_table", "name")
    assert outputs["function_name"] == prod.ref("aws_lambda_function", "function_name")
    assert outputs["api_id"] == prod.ref("aws_api_gateway_rest_api", "id")
    assert outputs["api_stage"] == prod.ref("aws_api_gateway_stage", "stage_name")
    assert "domain_name" in outputs["site_url"]


def test_local_site_url_is_the_local_site_origin(local):
    assert local.config["output"]["site_url"]["value"] == "http://127.0.0.1:8199/"


@pytest.mark.parametrize("stack_name", ["prod", "local"])
def test_provider_is_pinned_to_the_5_99_series(synthesized, stack_name):
    assert synthesized[stack_name].config["terraform"]["required_providers"]["aws"]["version"] == "~> 5.99"


def test_prod_provider_talks_to_aws_in_the_configured_region(prod):
    (provider,) = prod.config["provider"]["aws"]
    assert provider["region"] == "eu-north-1"
    assert "endpoints" not in provider
    assert "skip_credentials_validation" not in provider


def test_local_provider_sends_every_service_to_the_emulator_through_a_profile_beside_the_configuration(local):
    (provider,) = local.config["provider"]["aws"]
    assert "endpoints" not in provider  # validating that block costs the provider ~2 s in each walk
    assert provider["profile"] == "emulator"
    assert provider["shared_config_files"] == ["${path.module}/emulator.aws-config"]
    profile = configparser.ConfigParser()
    profile.read_string(local.workspace.emulator_config_file.read_text())
    assert dict(profile["profile emulator"]) == {
        "endpoint_url": "http://127.0.0.1:4599",
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    assert provider["skip_credentials_validation"] is True
    assert provider["s3_use_path_style"] is True
    assert "access_key" not in provider, "credentials belong in the environment, not the Terraform JSON"


def test_local_provider_tries_each_call_to_the_emulator_twice_not_25_times(local, prod):
    (local_provider,) = local.config["provider"]["aws"]
    (prod_provider,) = prod.config["provider"]["aws"]
    assert local_provider["max_retries"] == 2  # a gone emulator must not hold Terraform for a minute
    assert "max_retries" not in prod_provider  # AWS throttles: there the provider's default of 25 is right


@pytest.mark.parametrize("stack_name", ["prod", "local"])
def test_each_stack_keeps_its_own_relative_state_file(synthesized, stack_name):
    backend = synthesized[stack_name].config["terraform"]["backend"]
    assert backend == {"local": {"path": f"../../../terraform.{stack_name}.tfstate"}}


def test_resources_are_tagged_with_project_and_environment(prod):
    (provider,) = prod.config["provider"]["aws"]
    assert provider["default_tags"] == [
        {"tags": {"Project": "three-tier", "Environment": "prod", "ManagedBy": "cdktf"}}
    ]

"""Every synthesized stack passes `terraform validate` with the real CLI and the real AWS provider."""

import pytest

from terraform_cli import terraform


@pytest.mark.parametrize("stack_name", ["prod", "local"])
def test_stack_is_valid_terraform(synthesized, cli_config, stack_name):
    directory = synthesized[stack_name].directory
    init = terraform(["init", "-backend=false", "-input=false", "-no-color"], directory, cli_config)
    assert init.returncode == 0, init.stdout + init.stderr
    validate = terraform(["validate", "-no-color"], directory, cli_config)
    assert validate.returncode == 0, validate.stdout + validate.stderr
    assert "Success! The configuration is valid." in validate.stdout

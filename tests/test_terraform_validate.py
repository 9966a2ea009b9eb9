"""Every synthesized stack passes `terraform validate` with the real CLI and the real AWS provider."""

import pytest

from tests.conftest import validation_errors


@pytest.mark.parametrize("stack_name", ["prod", "local"])
def test_stack_is_valid_terraform(synthesized, cli_config, stack_name):
    assert validation_errors(synthesized[stack_name].directory, cli_config) == []

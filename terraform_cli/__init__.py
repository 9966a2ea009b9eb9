"""Terraform for this project: its own CLI configuration (`config`), one runner that reads Terraform's
machine-readable output (`runner`), and each stack's workspace (`workspace`): where its synth output, state,
outputs and logs live. Used by local mode, the operations and the tests."""

from terraform_cli.config import (
    AWS_PROVIDER_CONSTRAINT,
    MIRROR_ENV,
    PROJECT_DIR,
    cdktf_command,
    terraform_env,
    write_cli_config,
)
from terraform_cli.runner import (
    Diagnostic,
    ResourceChange,
    Terraform,
    TerraformError,
    TerraformStopped,
    render_changes,
    resource_changes,
)
from terraform_cli.workspace import StackWorkspace, local_state_path

__all__ = [
    "AWS_PROVIDER_CONSTRAINT",
    "MIRROR_ENV",
    "PROJECT_DIR",
    "Diagnostic",
    "ResourceChange",
    "StackWorkspace",
    "Terraform",
    "TerraformError",
    "TerraformStopped",
    "cdktf_command",
    "local_state_path",
    "render_changes",
    "resource_changes",
    "terraform_env",
    "write_cli_config",
]

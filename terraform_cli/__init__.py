"""Terraform for this project: its own CLI configuration (`config`) and one runner that reads Terraform's
machine-readable output (`runner`), used by local mode, deploy, review and the tests."""

from terraform_cli.config import MIRROR_ENV, PROJECT_DIR, cdktf_command, terraform_env, write_cli_config
from terraform_cli.runner import (
    Diagnostic,
    ResourceChange,
    Terraform,
    TerraformError,
    TerraformStopped,
    resource_changes,
)

__all__ = [
    "MIRROR_ENV",
    "PROJECT_DIR",
    "Diagnostic",
    "ResourceChange",
    "Terraform",
    "TerraformError",
    "TerraformStopped",
    "cdktf_command",
    "resource_changes",
    "terraform_env",
    "write_cli_config",
]

"""Fields of ARNs that only Terraform knows (the account, the region), for policies that must name them.

Each field goes into a Terraform local, so a policy document refers to `${local.…}` and stays valid JSON for the
tools that read it before Terraform does (review, checkov), where an inline `split(":", …)` would not.
"""

from __future__ import annotations

from cdktf import Fn


def arn_field(arn: str, index: int) -> str:
    """One field of an ARN known only to Terraform (1: partition, 3: region, 4: account)."""
    field: str = Fn.element(Fn.split(":", arn), index)
    return field

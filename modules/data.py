"""Data tier: the DynamoDB table of users, keyed by userId."""

from __future__ import annotations

import json
from typing import Any

from cdktf import TerraformResourceLifecycle
from cdktf_cdktf_provider_aws.dynamodb_table import (
    DynamodbTable,
    DynamodbTableAttribute,
    DynamodbTablePointInTimeRecovery,
    DynamodbTableServerSideEncryption,
)
from cdktf_cdktf_provider_aws.dynamodb_table_item import DynamodbTableItem
from constructs import Construct

from contract.config import DataSettings

PARTITION_KEY = "userId"


class UserTable(Construct):
    """On-demand, encrypted table of users with point-in-time recovery and, where configured, deletion guards.

    Exposes `name`, and says what a reader may do with it: `grant_read_item()`.
    """

    def __init__(self, scope: Construct, id_: str, *, table_name: str, settings: DataSettings) -> None:
        super().__init__(scope, id_)
        protect = settings.protect_from_deletion
        self.table = DynamodbTable(
            self,
            "table",
            name=table_name,
            billing_mode="PAY_PER_REQUEST",
            hash_key=PARTITION_KEY,
            attribute=[DynamodbTableAttribute(name=PARTITION_KEY, type="S")],
            server_side_encryption=DynamodbTableServerSideEncryption(enabled=True),
            point_in_time_recovery=DynamodbTablePointInTimeRecovery(enabled=settings.point_in_time_recovery),
            deletion_protection_enabled=protect,
            lifecycle=TerraformResourceLifecycle(prevent_destroy=protect),
        )
        if settings.seed_item is not None:
            DynamodbTableItem(
                self,
                "seed_item",
                table_name=self.table.name,
                hash_key=self.table.hash_key,
                item=json.dumps({key: {"S": value} for key, value in settings.seed_item.items()}),
            )

    @property
    def name(self) -> str:
        return self.table.name

    def grant_read_item(self, sid: str = "ReadUsers") -> dict[str, Any]:
        """The IAM statement that lets a principal read single items by key, and nothing else."""
        return {"Sid": sid, "Effect": "Allow", "Action": ["dynamodb:GetItem"], "Resource": [self.table.arn]}

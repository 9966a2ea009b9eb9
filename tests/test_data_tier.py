"""The users table as synthesized."""

import json

import cdktf


def test_table_is_keyed_by_user_id_and_billed_on_demand(prod):
    assert cdktf.Testing.to_have_resource_with_properties(
        prod.text,
        "aws_dynamodb_table",
        {
            "name": "three-tier-prod-users",
            "hash_key": "userId",
            "attribute": [{"name": "userId", "type": "S"}],
            "billing_mode": "PAY_PER_REQUEST",
        },
    )


def test_table_is_encrypted_with_point_in_time_recovery(prod, local):
    for stack in (prod, local):
        table = stack.only("aws_dynamodb_table")
        assert table["server_side_encryption"] == {"enabled": True}
        assert table["point_in_time_recovery"] == {"enabled": True}


def test_prod_table_has_deletion_protection_and_prevent_destroy(prod):
    table = prod.only("aws_dynamodb_table")
    assert table["deletion_protection_enabled"] is True
    assert table["lifecycle"] == {"prevent_destroy": True}


def test_local_table_can_be_destroyed(local):
    table = local.only("aws_dynamodb_table")
    assert table["deletion_protection_enabled"] is False
    assert table["lifecycle"] == {"prevent_destroy": False}


def test_seed_item_is_the_test_user_in_dynamodb_json(prod):
    item = prod.only("aws_dynamodb_table_item")
    assert item["table_name"] == prod.ref("aws_dynamodb_table", "name")
    assert json.loads(item["item"]) == {
        "userId": {"S": "1"},
        "name": {"S": "Test User"},
        "email": {"S": "test@example.com"},
    }

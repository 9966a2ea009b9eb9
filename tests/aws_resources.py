"""Plain resources the tests make in the AWS emulator: a CloudFront distribution in front of a bucket, and a users
table holding the test user. No pytest and nothing of the project beyond boto3's types, so `benchmarks/publish.py`
makes its distributions with it too."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_cloudfront import CloudFrontClient
    from mypy_boto3_dynamodb import DynamoDBClient

CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"  # AWS's managed cache policy
TEST_USER = {"userId": {"S": "1"}, "name": {"S": "Test User"}, "email": {"S": "test@example.com"}, "age": {"N": "42"}}


def plain_distribution(cloudfront: CloudFrontClient, bucket: str, comment: str) -> str:
    """A distribution serving `bucket` with index.html at '/', nothing else configured; its id."""
    created = cloudfront.create_distribution(
        DistributionConfig={
            "CallerReference": bucket,
            "Comment": comment,
            "Enabled": True,
            "DefaultRootObject": "index.html",
            "Origins": {
                "Quantity": 1,
                "Items": [
                    {
                        "Id": "s3",
                        "DomainName": f"{bucket}.s3.amazonaws.com",
                        "S3OriginConfig": {"OriginAccessIdentity": ""},
                    }
                ],
            },
            "DefaultCacheBehavior": {
                "TargetOriginId": "s3",
                "ViewerProtocolPolicy": "redirect-to-https",
                "CachePolicyId": CACHING_OPTIMIZED,
            },
        }
    )
    return created["Distribution"]["Id"]


def users_table(dynamodb: DynamoDBClient, table: str) -> None:
    """A users table as the stack makes it (keyed by userId, on demand), holding `TEST_USER`."""
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "userId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "userId", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.put_item(TableName=table, Item=TEST_USER)

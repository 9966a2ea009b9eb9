"""Operations: error alarms on the function and the API stage, notifying an encrypted SNS topic of the stack."""

from __future__ import annotations

import json

from cdktf import Fn, TerraformLocal
from cdktf_cdktf_provider_aws.cloudwatch_metric_alarm import CloudwatchMetricAlarm
from cdktf_cdktf_provider_aws.kms_alias import KmsAlias
from cdktf_cdktf_provider_aws.kms_key import KmsKey
from cdktf_cdktf_provider_aws.kms_key_policy import KmsKeyPolicy
from cdktf_cdktf_provider_aws.sns_topic import SnsTopic
from cdktf_cdktf_provider_aws.sns_topic_policy import SnsTopicPolicy
from cdktf_cdktf_provider_aws.sns_topic_subscription import SnsTopicSubscription
from constructs import Construct

from contract.config import AlarmSettings
from modules.arns import arn_field


def alarm_key_policy(account_root: str, account: str, alarm_arns: str) -> str:
    """The account keeps full control of the key (without it, IAM policies cannot grant its use); CloudWatch may
    use it only to encrypt notifications of this stack's alarms. In a key policy, Resource "*" is the key itself."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "TheAccountControlsTheKey",
                    "Effect": "Allow",
                    "Principal": {"AWS": account_root},
                    "Action": "kms:*",
                    "Resource": "*",
                },
                {
                    "Sid": "ThisStacksAlarmsEncryptNotifications",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudwatch.amazonaws.com"},
                    "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                    "Resource": "*",
                    "Condition": {
                        "StringEquals": {"aws:SourceAccount": account},
                        "ArnLike": {"aws:SourceArn": alarm_arns},
                    },
                },
            ],
        }
    )


def alarm_topic_policy(topic_arn: str, account: str, alarm_arns: str) -> str:
    """Only this stack's alarms may publish to the topic (the account's own principals act through IAM)."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "ThisStacksAlarmsPublish",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudwatch.amazonaws.com"},
                    "Action": "sns:Publish",
                    "Resource": topic_arn,
                    "Condition": {
                        "StringEquals": {"aws:SourceAccount": account},
                        "ArnLike": {"aws:SourceArn": alarm_arns},
                    },
                }
            ],
        }
    )


class ErrorAlarms(Construct):
    """Two alarms — the function's Errors and the stage's 5XXError, summed per period — to one topic.

    The topic is encrypted with a key of its own: CloudWatch can deliver to an encrypted topic only if the key's
    policy lets it use the key, which AWS's managed SNS key (alias/aws/sns) never does.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        name_prefix: str,
        region: str,
        settings: AlarmSettings,
        function_name: str,
        api_name: str,
        stage_name: str,
    ) -> None:
        super().__init__(scope, id_)
        key = KmsKey(
            self,
            "key",
            description=f"{name_prefix}: encrypts the alarm notifications",
            enable_key_rotation=True,
            deletion_window_in_days=30,
        )
        # The account and partition, read from the key's own ARN once it exists: no look-up when planning. Named
        # as locals, so that the policies below stay plain JSON with references in them.
        partition = TerraformLocal(self, "partition", arn_field(key.arn, 1)).as_string
        account = TerraformLocal(self, "account_id", arn_field(key.arn, 4)).as_string
        account_root = TerraformLocal(self, "account_root", Fn.format("arn:%s:iam::%s:root", [partition, account]))
        alarm_arns = TerraformLocal(
            self,
            "alarm_arns",
            Fn.format("arn:%s:cloudwatch:%s:%s:alarm:%s-*", [partition, region, account, name_prefix]),
        ).as_string
        KmsKeyPolicy(
            self, "key_policy", key_id=key.key_id, policy=alarm_key_policy(account_root.as_string, account, alarm_arns)
        )
        KmsAlias(self, "key_alias", name=f"alias/{name_prefix}-alarms", target_key_id=key.key_id)
        self.topic = SnsTopic(self, "topic", name=f"{name_prefix}-alarms", kms_master_key_id=key.arn)
        SnsTopicPolicy(
            self, "topic_policy", arn=self.topic.arn, policy=alarm_topic_policy(self.topic.arn, account, alarm_arns)
        )
        if settings.email:
            SnsTopicSubscription(self, "email", topic_arn=self.topic.arn, protocol="email", endpoint=settings.email)
        watched = {
            "function_errors": (
                "AWS/Lambda",
                "Errors",
                {"FunctionName": function_name},
                "The get-user function raised or timed out",
            ),
            "api_5xx": (
                "AWS/ApiGateway",
                "5XXError",
                {"ApiName": api_name, "Stage": stage_name},
                "The API answered 5xx (function errors, throttling at the integration, misconfiguration)",
            ),
        }
        for construct_id, (namespace, metric, dimensions, description) in watched.items():
            CloudwatchMetricAlarm(
                self,
                construct_id,
                alarm_name=f"{name_prefix}-{construct_id.replace('_', '-')}",
                alarm_description=description,
                namespace=namespace,
                metric_name=metric,
                dimensions=dimensions,
                statistic="Sum",
                period=settings.period_seconds,
                evaluation_periods=1,
                threshold=settings.threshold,
                comparison_operator="GreaterThanOrEqualToThreshold",
                treat_missing_data="notBreaching",  # no traffic is not an error
                alarm_actions=[self.topic.arn],
                ok_actions=[self.topic.arn],
            )

"""Operations: error alarms on the function and the API stage, notifying an SNS topic of the stack."""

from __future__ import annotations

from cdktf_cdktf_provider_aws.cloudwatch_metric_alarm import CloudwatchMetricAlarm
from cdktf_cdktf_provider_aws.sns_topic import SnsTopic
from cdktf_cdktf_provider_aws.sns_topic_subscription import SnsTopicSubscription
from constructs import Construct

from modules.config import AlarmSettings

# SNS's AWS-managed key: the topic is encrypted at rest at no key cost.
SNS_MANAGED_KEY = "alias/aws/sns"


class ErrorAlarms(Construct):
    """Two alarms — the function's Errors and the stage's 5XXError, summed per period — to one topic."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        name_prefix: str,
        settings: AlarmSettings,
        function_name: str,
        api_name: str,
        stage_name: str,
    ) -> None:
        super().__init__(scope, id_)
        self.topic = SnsTopic(self, "topic", name=f"{name_prefix}-alarms", kms_master_key_id=SNS_MANAGED_KEY)
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

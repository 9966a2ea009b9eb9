"""WebFirewall: one AWS WAF web ACL, for the distribution (scope CLOUDFRONT) or the API stage (REGIONAL).

Rules, in the order WAF evaluates them: a rate limit per client IP first (so every request counts toward it and a
flood is shed before the costlier rules), then AWS's managed rule groups: Amazon's IP reputation list, the common
anonymous IP list (VPNs, Tor, proxies, hosting providers: blocked, or only counted), the common rule set, and
known bad inputs (Log4j's JNDI lookups and other exploit patterns).
An ACL behind the distribution (`only_through_distribution`, the API's in same-origin mode) judges no client: it
sees CloudFront's addresses, not the visitor's, and the site's ACL has already judged the visitor. It admits only
the requests that carry the header CloudFront adds to what it sends the API, whose value is a secret Terraform makes
and keeps in state, and blocks the rest, so nobody reaches the stage around the site's firewall.
Each rule and the ACL publish CloudWatch metrics and sample requests. With logging on, WAF writes to a log group
whose name starts with `aws-waf-logs-` (WAF accepts no other), in the ACL's region, through a log resource
policy that lets the log delivery service write that one group, for this account only. The logs never hold the
query string (the user's id) or the `authorization` and `cookie` headers (WAF redacts them before writing), and
unless `log_all_requests` only the requests a rule blocked or counted are kept.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cdktf import Fn, TerraformLocal, TerraformResource, TerraformResourceLifecycle, Token
from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.cloudwatch_log_resource_policy import CloudwatchLogResourcePolicy
from cdktf_cdktf_provider_aws.provider import AwsProvider
from cdktf_cdktf_provider_aws.wafv2_web_acl import (
    Wafv2WebAcl,
    Wafv2WebAclDefaultAction,
    Wafv2WebAclDefaultActionAllow,
    Wafv2WebAclDefaultActionBlock,
    Wafv2WebAclRule,
    Wafv2WebAclRuleAction,
    Wafv2WebAclRuleActionAllow,
    Wafv2WebAclRuleActionBlock,
    Wafv2WebAclRuleOverrideAction,
    Wafv2WebAclRuleOverrideActionNone,
    Wafv2WebAclRuleVisibilityConfig,
    Wafv2WebAclVisibilityConfig,
)
from cdktf_cdktf_provider_aws.wafv2_web_acl_association import Wafv2WebAclAssociation
from cdktf_cdktf_provider_aws.wafv2_web_acl_logging_configuration import (
    Wafv2WebAclLoggingConfiguration,
    Wafv2WebAclLoggingConfigurationLoggingFilter,
    Wafv2WebAclLoggingConfigurationLoggingFilterFilter,
    Wafv2WebAclLoggingConfigurationLoggingFilterFilterCondition,
    Wafv2WebAclLoggingConfigurationLoggingFilterFilterConditionActionCondition,
    Wafv2WebAclLoggingConfigurationRedactedFields,
    Wafv2WebAclLoggingConfigurationRedactedFieldsQueryString,
    Wafv2WebAclLoggingConfigurationRedactedFieldsSingleHeader,
)
from constructs import Construct

from contract.config import WafSettings, waf_log_delivery_policy_name
from modules.arns import arn_field

# AWS's managed rule groups, by name, in the order they are evaluated.
MANAGED_RULE_GROUPS = (
    "AWSManagedRulesAmazonIpReputationList",
    "AWSManagedRulesAnonymousIpList",
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
)
ANONYMOUS_IP_LIST = "AWSManagedRulesAnonymousIpList"
ANONYMOUS_IP_RULES = ("AnonymousIPList", "HostingProviderIPList")  # the group's rules, which `count` overrides
RATE_RULE = "rate-limit-per-ip"
ORIGIN_RULE = "from-the-distribution"
# The header CloudFront adds to its requests to the API origin. A viewer cannot forge it by sending one of that
# name: CloudFront replaces it (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/add-origin-custom-headers.html).
ORIGIN_HEADER = "x-origin-verify"
LOG_GROUP_PREFIX = "aws-waf-logs-"  # WAF logs only to groups named so
# Kept out of the logs: what identifies a user (the query string's userId) or grants access (credentials, sessions).
REDACTED_HEADERS = ("authorization", "cookie")
# The actions of the requests logged unless `log_all_requests`: blocked, counted, and counted because a rule group's
# rule is overridden to count (the anonymous IP list with anonymous_ip_action="count" logs as EXCLUDED_AS_COUNT,
# https://docs.aws.amazon.com/waf/latest/APIReference/API_ActionCondition.html).
LOGGED_ACTIONS = ("BLOCK", "COUNT", "EXCLUDED_AS_COUNT")


@dataclass(frozen=True)
class OriginHeader:
    """A header CloudFront adds to every request it sends an origin; `value` is a Terraform reference to a secret."""

    name: str
    value: str


def origin_secret(scope: Construct, id_: str) -> str:
    """A random value Terraform makes once and keeps in state: `uuid()` (122 bits from the operating system's
    random source) held by a `terraform_data` resource that ignores the new value every later plan computes.
    Marked sensitive, so plans and logs show "(sensitive value)"; `terraform apply -replace=<its address>` rotates
    it. Built in to Terraform: no random provider to install, and nothing to read from AWS while planning."""
    secret = TerraformResource(
        scope,
        id_,
        terraform_resource_type="terraform_data",
        lifecycle=TerraformResourceLifecycle(ignore_changes=["input"]),
    )
    secret.add_override("input", Fn.sensitive(Fn.uuid()))
    return Token.as_string(Fn.sensitive(secret.get_string_attribute("output")))


def _managed(group: str, settings: WafSettings) -> dict[str, Any]:
    statement: dict[str, Any] = {"name": group, "vendor_name": "AWS"}
    if group == ANONYMOUS_IP_LIST and settings.anonymous_ip_action == "count":
        statement["rule_action_override"] = [
            {"name": rule, "action_to_use": {"count": {}}} for rule in ANONYMOUS_IP_RULES
        ]
    return statement


def _visibility(metric_name: str) -> dict[str, Any]:
    return {"cloudwatch_metrics_enabled": True, "metric_name": metric_name, "sampled_requests_enabled": True}


def redacted_fields(extra_headers: tuple[str, ...] = ()) -> list[Wafv2WebAclLoggingConfigurationRedactedFields]:
    """The query string and each header of REDACTED_HEADERS and `extra_headers`, one block each (WAF takes one field
    per block)."""
    return [
        Wafv2WebAclLoggingConfigurationRedactedFields(
            query_string=Wafv2WebAclLoggingConfigurationRedactedFieldsQueryString()
        ),
        *(
            Wafv2WebAclLoggingConfigurationRedactedFields(
                single_header=Wafv2WebAclLoggingConfigurationRedactedFieldsSingleHeader(name=header)
            )
            for header in (*REDACTED_HEADERS, *extra_headers)
        ),
    ]


def logging_filter(settings: WafSettings) -> Wafv2WebAclLoggingConfigurationLoggingFilter | None:
    """Keep the requests of LOGGED_ACTIONS and drop the rest; None (log everything) with `log_all_requests`."""
    if settings.log_all_requests:
        return None
    return Wafv2WebAclLoggingConfigurationLoggingFilter(
        default_behavior="DROP",
        filter=[
            Wafv2WebAclLoggingConfigurationLoggingFilterFilter(
                behavior="KEEP",
                requirement="MEETS_ANY",
                condition=[
                    Wafv2WebAclLoggingConfigurationLoggingFilterFilterCondition(
                        action_condition=Wafv2WebAclLoggingConfigurationLoggingFilterFilterConditionActionCondition(
                            action=action
                        )
                    )
                    for action in LOGGED_ACTIONS
                ],
            )
        ],
    )


def log_delivery_policy(log_group_arn: str, account: str, log_sources: str) -> str:
    """The log resource policy WAF's log delivery needs: write streams of the one group, for this account."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "WafLogDeliveryWritesThisGroup",
                    "Effect": "Allow",
                    "Principal": {"Service": "delivery.logs.amazonaws.com"},
                    "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                    "Resource": f"{log_group_arn}:log-stream:*",
                    "Condition": {
                        "StringEquals": {"aws:SourceAccount": account},
                        "ArnLike": {"aws:SourceArn": log_sources},
                    },
                }
            ],
        }
    )


class WebFirewall(Construct):
    """A web ACL of `waf_scope` (CLOUDFRONT through the us-east-1 `provider`, or REGIONAL) named `name`: a per-IP
    rate limit, then AWS's managed rule groups; optionally logged. Exposes `arn` (for a distribution's
    web_acl_id); a REGIONAL one is associated with the resource it `protects` (an API stage's ARN).

    With `only_through_distribution`, the ACL instead admits only requests carrying `origin_header`, which it
    exposes for the distribution to send, and blocks everything else."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        name: str,
        waf_scope: str,
        settings: WafSettings,
        provider: AwsProvider | None = None,
        protects: str | None = None,
        only_through_distribution: bool = False,
    ) -> None:
        super().__init__(scope, id_)
        self.origin_header: OriginHeader | None = None
        if only_through_distribution:
            self.origin_header = OriginHeader(ORIGIN_HEADER, origin_secret(self, "origin_secret"))
            rules = [self._origin_rule(name, self.origin_header)]
            default_action = Wafv2WebAclDefaultAction(block=Wafv2WebAclDefaultActionBlock())
            description = f"{name}: only requests from the site's distribution"
        else:
            rules = self._client_rules(name, settings)
            default_action = Wafv2WebAclDefaultAction(allow=Wafv2WebAclDefaultActionAllow())
            description = f"{name}: AWS managed rules and a per-IP rate limit"
        self.web_acl = Wafv2WebAcl(
            self,
            "web_acl",
            name=name,
            description=description,
            scope=waf_scope,
            provider=provider,
            default_action=default_action,
            rule=rules,
            visibility_config=Wafv2WebAclVisibilityConfig(**_visibility(name)),
        )
        self.arn = self.web_acl.arn
        if protects is not None:
            Wafv2WebAclAssociation(self, "association", resource_arn=protects, web_acl_arn=self.arn, provider=provider)
        if settings.logging:
            self._logging(name, settings, provider)

    @staticmethod
    def _client_rules(name: str, settings: WafSettings) -> list[Wafv2WebAclRule]:
        """The rules that judge the client by its address and its request: the rate limit, then the managed groups."""
        rate_limit = Wafv2WebAclRule(
            name=RATE_RULE,
            priority=0,
            action=Wafv2WebAclRuleAction(block=Wafv2WebAclRuleActionBlock()),
            statement={
                "rate_based_statement": {"limit": settings.rate_limit_per_5_minutes, "aggregate_key_type": "IP"}
            },
            visibility_config=Wafv2WebAclRuleVisibilityConfig(**_visibility(f"{name}-{RATE_RULE}")),
        )
        managed = [
            Wafv2WebAclRule(
                name=group,
                priority=priority,
                override_action=Wafv2WebAclRuleOverrideAction(none=Wafv2WebAclRuleOverrideActionNone()),
                statement={"managed_rule_group_statement": _managed(group, settings)},
                visibility_config=Wafv2WebAclRuleVisibilityConfig(**_visibility(f"{name}-{group}")),
            )
            for priority, group in enumerate(MANAGED_RULE_GROUPS, start=1)
        ]
        return [rate_limit, *managed]

    @staticmethod
    def _origin_rule(name: str, header: OriginHeader) -> Wafv2WebAclRule:
        """Allow a request whose `header` is exactly the secret, as it arrives (no text transformation)."""
        return Wafv2WebAclRule(
            name=ORIGIN_RULE,
            priority=0,
            action=Wafv2WebAclRuleAction(allow=Wafv2WebAclRuleActionAllow()),
            statement={
                "byte_match_statement": {
                    "field_to_match": {"single_header": {"name": header.name}},
                    "positional_constraint": "EXACTLY",
                    "search_string": header.value,
                    "text_transformation": [{"priority": 0, "type": "NONE"}],
                }
            },
            visibility_config=Wafv2WebAclRuleVisibilityConfig(**_visibility(f"{name}-{ORIGIN_RULE}")),
        )

    def _logging(self, name: str, settings: WafSettings, provider: AwsProvider | None) -> None:
        secret_headers = (self.origin_header.name,) if self.origin_header else ()
        group = CloudwatchLogGroup(
            self,
            "log_group",
            name=f"{LOG_GROUP_PREFIX}{name}",
            retention_in_days=settings.log_retention_days,
            provider=provider,
        )
        partition = TerraformLocal(self, "partition", arn_field(group.arn, 1)).as_string
        region = TerraformLocal(self, "region", arn_field(group.arn, 3)).as_string
        account = TerraformLocal(self, "account_id", arn_field(group.arn, 4)).as_string
        log_sources = TerraformLocal(
            self, "log_sources", Fn.format("arn:%s:logs:%s:%s:*", [partition, region, account])
        ).as_string
        delivery = CloudwatchLogResourcePolicy(
            self,
            "log_delivery",
            policy_name=waf_log_delivery_policy_name(name),
            policy_document=log_delivery_policy(group.arn, account, log_sources),
            provider=provider,
        )
        Wafv2WebAclLoggingConfiguration(
            self,
            "logging",
            resource_arn=self.web_acl.arn,
            log_destination_configs=[group.arn],
            redacted_fields=redacted_fields(secret_headers),
            logging_filter=logging_filter(settings),
            provider=provider,
            depends_on=[delivery],
        )

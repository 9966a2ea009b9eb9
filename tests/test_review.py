"""Plan review: the reviewer's summary of the prod stack, and a saved plan of the local stack in the emulator."""

from __future__ import annotations

import json

from contract.outputs import StackOutputs
from operations import plan as review_plan
from operations.review import TIERS, summarize
from terraform_cli import resource_changes


def test_summary_groups_resources_by_tier(prod):
    resources = summarize(prod.config)["resources"]
    assert set(resources) == {"data", "logic", "presentation"}
    assert resources["data"] == {"aws_dynamodb_table": 1, "aws_dynamodb_table_item": 1}
    assert resources["logic"]["aws_lambda_function"] == 1
    assert resources["presentation"]["aws_cloudfront_distribution"] == 1


def test_firewalls_and_alarms_are_filed_under_the_tier_they_serve(prod_all):
    resources = summarize(prod_all.config)["resources"]
    assert set(resources) == {"data", "logic", "presentation", "operations"}  # nothing left under "stack"
    # the site's web ACL guards the distribution; the API's guards the stage; each with its logs
    for tier in ("presentation", "logic"):
        assert resources[tier]["aws_wafv2_web_acl"] == 1
        assert resources[tier]["aws_wafv2_web_acl_logging_configuration"] == 1
        assert resources[tier]["aws_cloudwatch_log_resource_policy"] == 1
    assert resources["logic"]["aws_wafv2_web_acl_association"] == 1
    assert resources["operations"] == {
        "aws_cloudwatch_metric_alarm": 2,
        "aws_kms_alias": 1,
        "aws_kms_key": 1,
        "aws_kms_key_policy": 1,
        "aws_sns_topic": 1,
        "aws_sns_topic_policy": 1,
        "aws_sns_topic_subscription": 1,
    }


def test_every_construct_of_the_stack_has_a_tier(prod_all):
    """A construct added to modules/stack.py without a tier in operations/review.py would be filed as "stack"."""
    constructs = {
        resource["//"]["metadata"]["path"].split("/")[1]
        for by_name in prod_all.config["resource"].values()
        for resource in by_name.values()
    }
    assert constructs == set(TIERS)


def test_summary_lists_exactly_the_three_iam_actions_of_the_function(prod):
    grants = [g for g in summarize(prod.config)["permissions"] if g["policy"].startswith("role policy")]
    assert sorted((g["action"], g["resource"].split(".")[0]) for g in grants) == [
        ("dynamodb:GetItem", "${aws_dynamodb_table"),
        ("logs:CreateLogStream", "${aws_cloudwatch_log_group"),
        ("logs:PutLogEvents", "${aws_cloudwatch_log_group"),
    ]


def test_summary_names_what_is_public_and_that_the_bucket_is_private(prod):
    public = summarize(prod.config)["public"]
    assert public == [
        "CloudFront distribution (site), viewer protocol redirect-to-https",
        "API Gateway GET /users, authorization NONE",
        "API Gateway OPTIONS /users, authorization NONE",
        "S3 bucket: private (4/4 Block Public Access flags)",
    ]


def test_summary_shows_one_cors_origin_in_every_place_it_is_used(prod):
    origins = summarize(prod.config)["cors_origins"]
    assert set(origins) == {
        "OPTIONS preflight (MOCK)",
        "gateway response DEFAULT_4XX",
        "gateway response DEFAULT_5XX",
        "function three-tier-prod-get-user ALLOWED_ORIGIN",
    }
    values = [value for found in origins.values() for value in found]
    assert all("aws_cloudfront_distribution" in value and "*" not in value for value in values)


def test_summary_lists_the_outputs_and_backend(prod):
    summary = summarize(prod.config)
    assert set(summary["outputs"]) == set(StackOutputs.descriptions())
    assert summary["backend"] == {"local": {"path": "../../../terraform.prod.tfstate"}}


def test_saved_plan_of_the_local_stack_shows_only_emulator_drift(whole_local_stack, tmp_path, capsys, monkeypatch):
    for name, value in whole_local_stack.emulator.environment().items():  # the credentials a user would have
        monkeypatch.setenv(name, value)
    outdir = str(whole_local_stack.workspace.outdir)
    assert review_plan.main(["local", "--skip-synth", "--outdir", outdir, "--out", str(tmp_path)]) == 0
    saved = json.loads((tmp_path / "local.plan.json").read_text())
    assert (tmp_path / "local.tfplan").stat().st_size > 0
    assert [(c.action, c.address) for c in resource_changes(saved)] == [
        ("update", "aws_cloudfront_distribution.StaticSite_distribution_FF41CC3F")
    ]
    assert "1 change(s): 1 update" in capsys.readouterr().out

"""Whatever the configuration accepts synthesizes and passes `terraform validate` (a property-based test over the
settings, mixing values AWS takes with values it does not: the settings must refuse the latter with a ConfigError
naming the field, and every environment they do accept must be a valid stack)."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contract.config import (
    LAMBDA_ARCHITECTURES,
    LAMBDA_RUNTIMES,
    LOG_RETENTION_DAYS,
    PRICE_CLASSES,
    AlarmSettings,
    ApiSettings,
    ConfigError,
    DataSettings,
    DomainSettings,
    FunctionSettings,
    SiteSettings,
    WafSettings,
    load_environment,
)
from tests.conftest import synthesize, validation_errors

ORIGINS = [
    None,
    "https://example.com",
    "http://127.0.0.1:8080",
    "https://Example.com",
    "https://example.com/",
    "https://user:pw@example.com",
    "https://example.com:99999",
    "https://*.example.com",
    "https://a.b.c:8443",
]


def sometimes_wrong(good: st.SearchStrategy[Any], *bad: Any) -> st.SearchStrategy[Any]:
    return st.one_of(good, good, good, st.sampled_from(bad)) if bad else good


@st.composite
def environments(draw: st.DrawFn) -> tuple[str, Any]:
    """("accepted", settings) or ("refused", the ConfigError's message)."""
    prod = load_environment("prod", {})
    try:
        function = FunctionSettings(
            runtime=draw(sometimes_wrong(st.sampled_from(LAMBDA_RUNTIMES), "python3.8", "python3.12\n")),
            architecture=draw(sometimes_wrong(st.sampled_from(LAMBDA_ARCHITECTURES), "arm")),
            memory_mb=draw(sometimes_wrong(st.integers(128, 10240), 64, 256.5, 20000)),
            timeout_seconds=draw(sometimes_wrong(st.integers(1, 29), 0, 30)),
            log_retention_days=draw(sometimes_wrong(st.sampled_from(LOG_RETENTION_DAYS), 2)),
        )
        api = ApiSettings(
            stage_name=draw(sometimes_wrong(st.from_regex(r"[A-Za-z0-9_]{1,64}", fullmatch=True), "prod\n", "a-b")),
            throttling_burst_limit=draw(sometimes_wrong(st.integers(1, 5000), 0, 10.5)),
            throttling_rate_limit=draw(sometimes_wrong(st.floats(1, 10000), 0.5)),
            execution_logging_level=draw(st.sampled_from(["OFF", "ERROR", "INFO"])),
            tracing=draw(st.booleans()),
            manage_account_logging_role=draw(st.booleans()),
        )
        same_origin = draw(st.booleans())
        site = SiteSettings(
            price_class=draw(st.sampled_from(PRICE_CLASSES)),
            site_origin=draw(st.sampled_from(ORIGINS)),
            api_same_origin=same_origin,
            noncurrent_version_days=draw(sometimes_wrong(st.integers(1, 3650), 0)),
            single_page_app=draw(st.booleans()),
            not_found_page=draw(
                sometimes_wrong(st.sampled_from([None, "404.html", "errors/not-found.html"]), "/404.html", "../x.html")
            ),
            routing_function=draw(st.booleans()),
        )
        alarms = AlarmSettings(
            enabled=draw(st.booleans()),
            threshold=draw(sometimes_wrong(st.integers(1, 1000), 0)),
            period_seconds=draw(sometimes_wrong(st.sampled_from([60, 120, 300, 3600]), 10, 30, 90)),
            email=draw(st.sampled_from([None, "ops@example.com", "ops", "ops@example.com\n"])),
        )
        domain = draw(
            st.one_of(
                st.none(),
                st.builds(
                    DomainSettings,
                    domain_name=st.sampled_from(["users.example.com", "example.org", "Users.example.com"]),
                    hosted_zone_id=st.sampled_from(["Z0123456789ABCDEFGHIJ", "zone"]),
                    alternative_names=st.sampled_from([(), ("www.users.example.com",)]),
                ),
            )
        )
        waf = WafSettings(
            enabled=draw(st.booleans()),
            rate_limit_per_5_minutes=draw(sometimes_wrong(st.integers(100, 2_000_000_000), 99, 10.5)),
            anonymous_ip_action=draw(sometimes_wrong(st.sampled_from(["block", "count"]), "allow")),
            logging=draw(st.booleans()),
        )
        data = DataSettings(
            table_name=draw(st.sampled_from([None, "users", "my.users-table", "x", "users\n"])),
            protect_from_deletion=draw(st.booleans()),
        )
        environment = replace(
            prod,
            project=draw(sometimes_wrong(st.from_regex(r"[a-z][a-z0-9-]{1,20}", fullmatch=True), "Three", "x")),
            region=draw(st.sampled_from(["eu-north-1", "us-east-1", "ap-south-2", "eu-north-1\n"])),
            function=function,
            api=api,
            site=site,
            alarms=alarms,
            domain=domain,
            data=data,
            waf=waf,
        )
    except ConfigError as exc:
        return "refused", str(exc)
    return "accepted", environment


@settings(
    max_examples=10,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(environments())
def test_whatever_the_config_accepts_synthesizes_and_is_valid_terraform(tmp_path_factory, cli_config, drawn):
    verdict, value = drawn
    if verdict == "refused":
        # The refusal names a field and what it may be.
        assert re.match(r"^[a-z_.]+: .*(is not allowed|missing).*; allowed values: .+", value), value
        return
    stack = synthesize([value], tmp_path_factory.mktemp("property"))["prod"]
    assert validation_errors(stack.directory, cli_config) == []


# --- the site bucket's name, against S3's whole rule set ----------------------------------------------------------

S3_RESERVED_PREFIXES = ("xn--", "sthree-", "sthree-configurator", "amzn-s3-demo-")
S3_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def s3_refuses(bucket: str) -> list[str]:
    """What S3 says against a general purpose bucket's name, rule by rule, as AWS documents them
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html); written apart from the config's
    own check, so that it is a test of it."""
    problems = []
    if not 3 <= len(bucket) <= 63:
        problems.append("3-63 characters")
    if not re.fullmatch(r"[a-z0-9.-]+", bucket):
        problems.append("lowercase letters, digits, '.' and '-' only")
    if not re.fullmatch(r"[a-z0-9](.*[a-z0-9])?", bucket):
        problems.append("begins and ends with a letter or digit")
    if ".." in bucket:
        problems.append("no adjacent periods")
    if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", bucket):
        problems.append("not an IP address")
    problems += [f"starts with {p}" for p in S3_RESERVED_PREFIXES if bucket.startswith(p)]
    problems += [f"ends with {s}" for s in S3_RESERVED_SUFFIXES if bucket.endswith(s)]
    return problems


def test_the_oracle_knows_the_names_from_the_issue():
    assert s3_refuses("xn--shop-prod-site-x") == ["starts with xn--"]
    assert s3_refuses("my-bucket--x-s3") == ["ends with --x-s3"]
    assert s3_refuses("three-tier-prod-site-2026120212000000000000000001") == []


# Projects as the rule's pattern draws them, the issue's names, and names built to end or start like a reserved
# affix (which, in the middle of the bucket's name, S3 accepts).
PROJECTS = st.one_of(
    st.from_regex(r"[a-z][a-z0-9-]{1,20}", fullmatch=True),
    st.sampled_from(["xn--shop", "sthree-app", "amzn-s3-demo-a", "xn-", "sthree", "amzn-s3-demo"]),
    st.builds(
        lambda start, rest: start + rest,
        st.sampled_from(["xn-", "xn", "sthree", "amzn-s3-demo", "amzn-s3", "a"]),
        st.sampled_from(["", "-", "--", "-s3alias", "--ol-s3", "--x-s3", "--table-s3", "-shop"]),
    ),
)
ENVIRONMENTS = st.one_of(
    st.sampled_from(["prod", "local"]),
    st.from_regex(r"preview-[a-z0-9](?:[a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True),
    st.sampled_from(["preview-s3alias", "preview-x--x-s3", "preview-ol-s3", "preview-x"]),
)
# What Terraform appends to a bucket_prefix: a UTC timestamp to 4 decimals without the dot, then a counter as 8 hex
# digits (terraform-plugin-sdk's id.PrefixedUniqueId, which the AWS provider's bucket_prefix uses).
TERRAFORM_SUFFIXES = st.from_regex(r"[0-9]{18}[0-9a-f]{8}", fullmatch=True)


@settings(max_examples=400, deadline=None, database=None)
@given(project=PROJECTS, environment=ENVIRONMENTS, unique=TERRAFORM_SUFFIXES)
def test_the_config_refuses_a_project_exactly_when_s3_or_terraform_would(project, environment, unique):
    """Refused with `project` named, or a site bucket whose every name S3 accepts; never refused for nothing."""
    refusal = None
    try:
        replace(load_environment(environment, {}), project=project)
    except ConfigError as exc:
        refusal = str(exc)
    prefix = f"{project}-{environment}-site-"  # as AWS will see it, written out here rather than taken from config
    wrong = (
        (["not the rule's pattern"] if not re.fullmatch(r"[a-z][a-z0-9-]{1,20}", project) else [])
        + (["a bucket_prefix over 37 characters"] if len(prefix) > 37 else [])
        + s3_refuses(prefix + unique)
    )
    if wrong:
        assert refusal is not None, f"{prefix + unique}: {wrong}"
        assert re.match(rf"^project: {re.escape(repr(project))} (with environment .* )?is not allowed", refusal)
    else:
        assert refusal is None, refusal

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

"""The environment config: defaults, selection by name, and clear errors for bad values."""

import re
from dataclasses import replace

import pytest

from contract.config import (
    AlarmSettings,
    ApiSettings,
    BackendSettings,
    ConfigError,
    DataSettings,
    EnvironmentSettings,
    FunctionSettings,
    SiteSettings,
    load_environment,
    local_environment,
    selected_environments,
)


def test_every_environment_is_synthesized_by_default():
    assert [s.name for s in selected_environments({})] == ["local", "prod"]


def test_app_environments_narrows_the_selection():
    assert [s.name for s in selected_environments({"APP_ENVIRONMENTS": "prod"})] == ["prod"]


@pytest.mark.parametrize("value", ["", "prod,prod", "prod,", " , "])
def test_app_environments_that_names_nothing_or_twice_is_an_error(value):
    with pytest.raises(
        ConfigError,
        match=r"APP_ENVIRONMENTS: .* is not allowed; allowed values: a comma-separated "
        r"list of local, prod, or preview-<slug> \(.*\), each named once",
    ):
        selected_environments({"APP_ENVIRONMENTS": value})


def test_unknown_environment_names_the_allowed_ones():
    with pytest.raises(
        ConfigError, match=r"environment: 'dev' is not allowed; allowed values: local, prod, or preview-<slug>"
    ):
        load_environment("dev", {})


def test_resource_names_derive_from_project_and_environment():
    prod = load_environment("prod", {})
    assert prod.name_prefix == "three-tier-prod"
    assert prod.table_name == "three-tier-prod-users"


# https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html (reserved prefixes). The site
# bucket's name is `<project>-<environment>-site-…`: the hyphen after the project counts, so `sthree` and `xn-` are
# refused as well as `sthree-app` and `xn--shop`.
@pytest.mark.parametrize(
    ("project", "reserved"),
    [
        ("xn--shop", "xn--"),
        ("xn-", "xn--"),
        ("sthree-app", "sthree-"),
        ("sthree", "sthree-"),
        ("sthree-configurator", "sthree-"),
        ("amzn-s3-demo-a", "amzn-s3-demo-"),
        ("amzn-s3-demo", "amzn-s3-demo-"),
    ],
)
@pytest.mark.parametrize("environment", ["prod", "local", "preview-pr-42"])
def test_a_project_that_starts_the_bucket_name_with_a_prefix_s3_reserves_is_refused(project, reserved, environment):
    with pytest.raises(ConfigError) as refused:
        replace(load_environment(environment, {}), project=project)
    assert str(refused.value).startswith(
        f"project: {project!r} is not allowed: the site bucket's name '{project}-{environment}-site-…' would start "
        f"with {reserved!r}, a prefix S3 reserves (S3 general purpose bucket naming rules); allowed values: "
    )
    assert str(refused.value).endswith("start with xn--, sthree-, amzn-s3-demo-")


@pytest.mark.parametrize("project", ["xn-shop", "sthreeapp", "amzn-s3-demos", "app-s3alias", "app--x-s3", "three-"])
def test_a_project_that_only_looks_reserved_is_accepted(project):
    # the reserved suffixes never end the bucket's name: Terraform appends 26 digits and hex digits after `-site-`
    assert replace(load_environment("prod", {}), project=project).project == project


def test_prod_protects_its_data_and_local_does_not():
    assert load_environment("prod", {}).data.protect_from_deletion is True
    assert load_environment("local", {}).data.protect_from_deletion is False


def test_local_mode_takes_emulator_and_site_origin_from_the_environment():
    local = load_environment(
        "local", {"LOCAL_EMULATOR_URL": "http://127.0.0.1:4000", "LOCAL_SITE_ORIGIN": "http://127.0.0.1:4001"}
    )
    assert local.emulator is not None
    assert local.emulator.url == "http://127.0.0.1:4000"
    assert local.site.site_origin == "http://127.0.0.1:4001"
    assert local.is_local


def test_the_local_runner_passes_its_ports_directly():
    local = local_environment(
        emulator_url="http://127.0.0.1:4000",
        site_origin="http://127.0.0.1:4001",
        api_origin="http://127.0.0.1:4002",
        same_origin=True,
    )
    assert local.emulator is not None
    assert (local.emulator.url, local.emulator.api_origin) == ("http://127.0.0.1:4000", "http://127.0.0.1:4002")
    assert local.site.site_origin == "http://127.0.0.1:4001"
    assert local.site.api_same_origin is True


def test_prod_talks_to_real_aws_with_its_own_security_headers():
    prod = load_environment("prod", {})
    assert prod.emulator is None
    assert prod.site.security_headers == "own"
    assert prod.site.allow_any_origin is False


def test_default_seed_item_is_the_test_user():
    assert DataSettings().seed_item == {"userId": "1", "name": "Test User", "email": "test@example.com"}


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: FunctionSettings(runtime="python3.8"), r"function\.runtime: 'python3\.8' .*python3\.12, python3\.13"),
        (lambda: FunctionSettings(memory_mb=64), r"function\.memory_mb: 64 .*from 128 to 10240"),
        (lambda: FunctionSettings(memory_mb=256.5), r"function\.memory_mb: 256\.5 .*a whole number"),  # type: ignore[arg-type]
        (lambda: FunctionSettings(memory_mb=True), r"function\.memory_mb: True .*a whole number"),
        (lambda: FunctionSettings(timeout_seconds=60), r"function\.timeout_seconds: 60 .*from 1 to 29"),
        (lambda: FunctionSettings(log_retention_days=2), r"function\.log_retention_days: 2 .*1, 3, 5, 7"),
        (lambda: ApiSettings(stage_name="prod\n"), r"api\.stage_name: 'prod\\n' is not allowed"),
        (lambda: ApiSettings(throttling_burst_limit=10.5), r"api\.throttling_burst_limit: 10\.5 .*whole number"),  # type: ignore[arg-type]
        (lambda: ApiSettings(tracing="yes"), r"api\.tracing: 'yes' .*True, False"),  # type: ignore[arg-type]
        (lambda: SiteSettings(price_class="cheap"), r"site\.price_class: 'cheap' .*PriceClass_100"),
        (lambda: SiteSettings(security_headers="none"), r"site\.security_headers: 'none' .*own, managed"),
        (lambda: SiteSettings(site_origin="https://example.com/app"), r"site\.site_origin: .*scheme, host"),
        (lambda: DataSettings(table_name="x"), r"data\.table_name: 'x'"),
        (lambda: DataSettings(table_name="users\n"), r"data\.table_name: 'users\\n'"),
        (lambda: DataSettings(seed_item={"name": "no id"}), r"data\.seed_item: .*userId"),
        (lambda: DataSettings(seed_item=[]), r"data\.seed_item: \[\] .*a mapping"),  # type: ignore[arg-type]
        (lambda: DataSettings(seed_item={"userId": 1}), r"data\.seed_item: .*string values"),  # type: ignore[dict-item]
        (lambda: AlarmSettings(email="ops@example.com\n"), r"alarms\.email: .*an e-mail address"),
        (lambda: BackendSettings(kind="consul"), r"backend\.kind: 'consul' .*local, s3, cloud"),
    ],
)
def test_bad_value_names_the_field_and_the_allowed_values(build, message):
    # Some values above have the wrong type on purpose: the settings check types at run time too.
    with pytest.raises(ConfigError, match=message):
        build()


@pytest.mark.parametrize(
    "origin",
    [
        "https://Example.com",
        "https://user:pass@example.com",
        "https://example.com?x=1",
        "https://example.com#top",
        "https://example.com:99999",
        "https://*.example.com",
        "https://example.com/",
        "example.com",
        "ftp://example.com",
        "https://example.com:443",
        "http://127.0.0.1:80",
        "https://example.com\n",
        "https://",
        "https://example..com",
    ],
)
def test_an_origin_a_browser_would_never_send_is_refused(origin):
    with pytest.raises(ConfigError, match=r"site\.site_origin: .*an origin such as"):
        SiteSettings(site_origin=origin)


@pytest.mark.parametrize("origin", ["https://example.com", "http://127.0.0.1:8080", "https://www.example.co.uk:8443"])
def test_an_origin_as_browsers_send_it_is_accepted(origin):
    assert SiteSettings(site_origin=origin).site_origin == origin


@pytest.mark.parametrize(
    ("field", "value"),
    [("region", "Europe"), ("region", "eu-north-1\n"), ("project", "three-tier\n"), ("project", "Three")],
)
def test_bad_environment_value_names_the_field(field, value):
    with pytest.raises(ConfigError, match=rf"{field}: {re.escape(repr(value))} is not allowed; allowed values: "):
        replace(load_environment("prod", {}), **{field: value})


def test_wildcard_origin_is_refused_outside_local_mode():
    prod = load_environment("prod", {})
    with pytest.raises(ConfigError, match=r"site\.allow_any_origin: True is not allowed outside local mode"):
        replace(prod, site=replace(prod.site, allow_any_origin=True))


def test_wildcard_origin_is_allowed_in_local_mode_when_asked_for():
    local = load_environment("local", {})
    assert replace(local, site=replace(local.site, allow_any_origin=True)).site.allow_any_origin


def test_a_section_of_the_wrong_kind_is_refused():
    with pytest.raises(ConfigError, match=r"^function: .* is not allowed; allowed values: a FunctionSettings$"):
        EnvironmentSettings(name="prod", function=ApiSettings())  # type: ignore[arg-type]


def test_settings_are_frozen():
    settings = EnvironmentSettings(name="prod")
    with pytest.raises(AttributeError):
        settings.name = "local"  # type: ignore[misc]

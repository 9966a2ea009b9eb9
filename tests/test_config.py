"""The environment config: defaults, selection by name, and clear errors for bad values."""

from dataclasses import replace

import pytest

from modules.config import (
    ConfigError,
    DataSettings,
    EnvironmentSettings,
    FunctionSettings,
    SiteSettings,
    load_environment,
    selected_environments,
)


def test_every_environment_is_synthesized_by_default():
    assert [s.name for s in selected_environments({})] == ["local", "prod"]


def test_app_environments_narrows_the_selection():
    assert [s.name for s in selected_environments({"APP_ENVIRONMENTS": "prod"})] == ["prod"]


def test_unknown_environment_names_the_allowed_ones():
    with pytest.raises(ConfigError, match=r"environment: 'dev' is not allowed; allowed values: local, prod"):
        load_environment("dev", {})


def test_resource_names_derive_from_project_and_environment():
    prod = load_environment("prod", {})
    assert prod.name_prefix == "three-tier-prod"
    assert prod.table_name == "three-tier-prod-users"


def test_prod_protects_its_data_and_local_does_not():
    assert load_environment("prod", {}).data.protect_from_deletion is True
    assert load_environment("local", {}).data.protect_from_deletion is False


def test_local_mode_takes_emulator_and_site_origin_from_the_environment():
    local = load_environment("local", {"LOCAL_EMULATOR_URL": "http://127.0.0.1:4000",
                                       "LOCAL_SITE_ORIGIN": "http://127.0.0.1:4001"})
    assert local.emulator_url == "http://127.0.0.1:4000"
    assert local.site.site_origin == "http://127.0.0.1:4001"
    assert local.is_local


def test_prod_talks_to_real_aws_with_its_own_security_headers():
    prod = load_environment("prod", {})
    assert prod.emulator_url is None
    assert prod.site.security_headers == "own"
    assert prod.site.allow_any_origin is False


def test_default_seed_item_is_the_test_user():
    assert DataSettings().seed_item == {"userId": "1", "name": "Test User", "email": "test@example.com"}


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: FunctionSettings(runtime="python3.8"), r"function\.runtime: 'python3\.8' .*python3\.12, python3\.13"),
        (lambda: FunctionSettings(memory_mb=64), r"function\.memory_mb: 64 .*from 128 to 10240"),
        (lambda: FunctionSettings(timeout_seconds=60), r"function\.timeout_seconds: 60 .*from 1 to 29"),
        (lambda: FunctionSettings(log_retention_days=2), r"function\.log_retention_days: 2 .*1, 3, 5, 7"),
        (lambda: SiteSettings(price_class="cheap"), r"site\.price_class: 'cheap' .*PriceClass_100"),
        (lambda: SiteSettings(security_headers="none"), r"site\.security_headers: 'none' .*own, managed"),
        (lambda: SiteSettings(site_origin="https://example.com/app"), r"site\.site_origin: .*scheme, host"),
        (lambda: DataSettings(table_name="x"), r"data\.table_name: 'x'"),
        (lambda: DataSettings(seed_item={"name": "no id"}), r"data\.seed_item: .*userId"),
    ],
)
def test_bad_value_names_the_field_and_the_allowed_values(build, message):
    with pytest.raises(ConfigError, match=message):
        build()


def test_bad_region_names_the_field():
    with pytest.raises(ConfigError, match=r"region: 'Europe' is not allowed; allowed values: an AWS region"):
        replace(load_environment("prod", {}), region="Europe")


def test_wildcard_origin_is_refused_outside_local_mode():
    prod = load_environment("prod", {})
    with pytest.raises(ConfigError, match=r"site\.allow_any_origin: True is not allowed outside local mode"):
        replace(prod, site=replace(prod.site, allow_any_origin=True))


def test_wildcard_origin_is_allowed_in_local_mode_when_asked_for():
    local = load_environment("local", {})
    assert replace(local, site=replace(local.site, allow_any_origin=True)).site.allow_any_origin


def test_settings_are_frozen():
    with pytest.raises(AttributeError):
        EnvironmentSettings(name="prod").name = "local"

"""Environment settings: the one place for defaults.

Each environment is a tree of frozen dataclasses. Every field says what it controls and why its default is what
it is; constructs take these typed settings and never invent defaults of their own. A bad value fails synth with
a `ConfigError` that names the field and the allowed values.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

ENVIRONMENTS = ("local", "prod")
"""Environment names; each becomes one Terraform stack of the same name (`cdktf deploy prod`)."""

LAMBDA_RUNTIMES = ("python3.12", "python3.13")
PRICE_CLASSES = ("PriceClass_100", "PriceClass_200", "PriceClass_All")
SECURITY_HEADERS_MODES = ("own", "managed")
BACKEND_KINDS = ("local", "s3", "cloud")
# The values CloudWatch Logs accepts for a retention period, in days.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                      3288, 3653)
# AWS's managed "SecurityHeadersPolicy" response-headers policy; used where we cannot create our own (the emulator).
MANAGED_SECURITY_HEADERS_POLICY_ID = "67f7725c-6f97-4210-82d7-5512b31e9d03"
DEFAULT_SEED_ITEM = {"userId": "1", "name": "Test User", "email": "test@example.com"}

_NAME = re.compile(r"^[a-z][a-z0-9-]{1,20}$")
_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$")
_STAGE = re.compile(r"^[A-Za-z0-9_]{1,64}$")


class ConfigError(ValueError):
    """A setting is invalid; the message names the field and what it may be."""


def _one_of(field_name: str, value: object, allowed: tuple) -> None:
    if value not in allowed:
        shown = ", ".join(str(a) for a in allowed)
        raise ConfigError(f"{field_name}: {value!r} is not allowed; allowed values: {shown}")


def _in_range(field_name: str, value: float, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ConfigError(f"{field_name}: {value!r} is not allowed; allowed values: a number from {low} to {high}")


def _matches(field_name: str, value: str, pattern: re.Pattern, allowed: str) -> None:
    if not isinstance(value, str) or not pattern.match(value):
        raise ConfigError(f"{field_name}: {value!r} is not allowed; allowed values: {allowed}")


def _origin(field_name: str, value: str) -> None:
    """An origin is scheme://host[:port] and nothing else: browsers compare it to the Origin header verbatim."""
    parts = urlsplit(value)
    ok = parts.scheme in ("http", "https") and parts.hostname and not parts.path and not parts.query
    if not ok or value.endswith("/"):
        raise ConfigError(f"{field_name}: {value!r} is not allowed; allowed values: an origin such as "
                          "https://example.com or http://127.0.0.1:8080 (scheme, host and port only)")


@dataclass(frozen=True)
class DataSettings:
    """The data tier: the users table."""

    # None derives "<project>-<environment>-users".
    table_name: str | None = None
    # Deletion protection and Terraform's prevent_destroy: on wherever the data matters (prod).
    protect_from_deletion: bool = True
    # Point-in-time recovery keeps 35 days of continuous backups; cheap insurance, so always on by default.
    point_in_time_recovery: bool = True
    # One item written by Terraform so a fresh stack answers `GET /users?userId=1`; None writes nothing.
    seed_item: Mapping[str, str] | None = field(default_factory=lambda: dict(DEFAULT_SEED_ITEM))

    def __post_init__(self) -> None:
        if self.table_name is not None:
            _matches("data.table_name", self.table_name, re.compile(r"^[A-Za-z0-9_.-]{3,255}$"),
                     "3-255 characters of letters, digits, '_', '-', '.'")
        if self.seed_item is not None:
            if not isinstance(self.seed_item.get("userId"), str) or not self.seed_item["userId"]:
                raise ConfigError("data.seed_item: must have a non-empty string 'userId'; allowed values: "
                                  "a mapping of string attributes including userId, or None")


@dataclass(frozen=True)
class FunctionSettings:
    """The get-user Lambda function."""

    runtime: str = "python3.12"
    # A single GetItem needs little; 256 MB also buys proportionally more CPU, which shortens cold starts.
    memory_mb: int = 256
    # API Gateway gives up after 29 s; a GetItem answers in milliseconds, so fail fast.
    timeout_seconds: int = 5
    # A year: enough to investigate an incident found late (checkov CKV_AWS_338); storage of small logs is cheap.
    log_retention_days: int = 365

    def __post_init__(self) -> None:
        _one_of("function.runtime", self.runtime, LAMBDA_RUNTIMES)
        _in_range("function.memory_mb", self.memory_mb, 128, 10240)
        _in_range("function.timeout_seconds", self.timeout_seconds, 1, 29)
        _one_of("function.log_retention_days", self.log_retention_days, LOG_RETENTION_DAYS)


@dataclass(frozen=True)
class ApiSettings:
    """The REST API and its stage."""

    stage_name: str = "prod"
    # Stage-wide throttling protects the function and the table from bursts; API Gateway's account default
    # (10,000 rps) is far above what this app needs.
    throttling_burst_limit: int = 50
    throttling_rate_limit: float = 100.0
    # JSON access logs of the stage. API Gateway writes them with the account's CloudWatch Logs role, a setting
    # of the whole account and region that this stack leaves alone (see README, "Troubleshooting").
    access_log_retention_days: int = 365
    # Execution logging of errors only (full request logging would copy user data into logs), and X-Ray traces
    # of the stage; neither needs anything from the function's role.
    execution_logging_level: str = "ERROR"
    tracing: bool = True

    def __post_init__(self) -> None:
        _matches("api.stage_name", self.stage_name, _STAGE, "1-64 letters, digits or '_'")
        _in_range("api.throttling_burst_limit", self.throttling_burst_limit, 1, 5000)
        _in_range("api.throttling_rate_limit", self.throttling_rate_limit, 1, 10000)
        _one_of("api.access_log_retention_days", self.access_log_retention_days, LOG_RETENTION_DAYS)
        _one_of("api.execution_logging_level", self.execution_logging_level, ("OFF", "ERROR", "INFO"))


@dataclass(frozen=True)
class SiteSettings:
    """The static site: bucket and CloudFront distribution."""

    # PriceClass_100 serves from North America and Europe: cheapest, enough for most audiences.
    price_class: str = "PriceClass_100"
    # The origin browsers load the site from. None derives it from the distribution (https://<id>.cloudfront.net);
    # set it for a custom domain or local mode. It is the API's one allowed CORS origin.
    site_origin: str | None = None
    # Allow any origin ("*") on the API. Only for local experiments, never allowed outside local mode.
    allow_any_origin: bool = False
    # Same-origin API: CloudFront also routes /users to the API stage (no CORS, no preflight, one TLS
    # connection); the page then calls a relative URL. Off: the page calls the API's own origin (CORS).
    api_same_origin: bool = False
    # "own": a response-headers policy of ours (HSTS, nosniff, frame options, referrer policy, CSP naming the API).
    # "managed": AWS's managed SecurityHeadersPolicy, for an emulator that cannot create policies.
    security_headers: str = "own"
    # Whether `cdktf deploy` waits for the distribution to reach the edge (minutes on AWS).
    wait_for_deployment: bool = True
    # Let Terraform delete a bucket that still holds objects; only where the bucket is disposable.
    force_destroy_bucket: bool = False
    # Versioning keeps replaced and pruned files; they expire this many days after being replaced.
    noncurrent_version_days: int = 30

    def __post_init__(self) -> None:
        _one_of("site.price_class", self.price_class, PRICE_CLASSES)
        _one_of("site.security_headers", self.security_headers, SECURITY_HEADERS_MODES)
        _in_range("site.noncurrent_version_days", self.noncurrent_version_days, 1, 3650)
        if self.site_origin is not None:
            _origin("site.site_origin", self.site_origin)


@dataclass(frozen=True)
class AlarmSettings:
    """Error alarms (off by default): the function's Errors and the stage's 5XXError, to an SNS topic of the
    stack. Costs: two standard alarms (about $0.20 a month) and SNS deliveries."""

    enabled: bool = False
    # Alarm when the errors summed over one period reach this many.
    threshold: int = 1
    period_seconds: int = 60
    # Subscribe this address to the topic (AWS sends a confirmation mail first). None: no subscription.
    email: str | None = None

    def __post_init__(self) -> None:
        _in_range("alarms.threshold", self.threshold, 1, 1_000_000)
        _one_of("alarms.period_seconds", self.period_seconds, (10, 30, 60, 300, 900, 3600))
        if self.email is not None:
            _matches("alarms.email", self.email, re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$"), "an e-mail address")


@dataclass(frozen=True)
class DomainSettings:
    """A custom domain for the site (off by default): an ACM certificate in us-east-1 validated through Route 53,
    attached to the distribution, and alias A/AAAA records. The API's CORS origin becomes https://<domain>."""

    domain_name: str
    hosted_zone_id: str

    def __post_init__(self) -> None:
        _matches("domain.domain_name", self.domain_name,
                 re.compile(r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"),
                 "a lowercase DNS name such as www.example.com")
        _matches("domain.hosted_zone_id", self.hosted_zone_id, re.compile(r"^Z[A-Z0-9]{5,31}$"),
                 "a Route 53 hosted zone id such as Z0123456789ABCDEFGHIJ")


@dataclass(frozen=True)
class BackendSettings:
    """Where Terraform keeps the stack's state.

    - "local": one state file per stack at the project root, `terraform.<stack>.tfstate` (git-ignored).
    - "s3": an S3 object, encrypted, locked with S3's native lock file (Terraform 1.10+; no DynamoDB table).
    - "cloud": a Terraform Cloud / HCP Terraform workspace. The API token is never configured here: Terraform
      reads it from TF_TOKEN_<host> (e.g. TF_TOKEN_app_terraform_io) or from `cdktf login`.
    Chosen per environment by <ENV>_BACKEND (e.g. PROD_BACKEND=s3); see `backend_from_environment`.
    """

    kind: str = "local"
    bucket: str | None = None  # s3: the state bucket (create it once, versioned, outside this stack)
    key: str | None = None  # s3: default "<project>/<environment>/terraform.tfstate"
    region: str | None = None  # s3: default the environment's region
    kms_key_id: str | None = None  # s3: encrypt with this KMS key instead of SSE-S3
    organization: str | None = None  # cloud: TF_CLOUD_ORGANIZATION
    workspace: str | None = None  # cloud: default "<project>-<environment>"
    project: str | None = None  # cloud: TF_CLOUD_PROJECT (optional)
    hostname: str | None = None  # cloud: TF_CLOUD_HOSTNAME (default app.terraform.io)

    def __post_init__(self) -> None:
        _one_of("backend.kind", self.kind, BACKEND_KINDS)
        if self.kind == "s3" and not self.bucket:
            raise ConfigError("backend.bucket: missing; allowed values: the name of an existing S3 bucket for "
                              "state (set <ENV>_STATE_BUCKET)")
        if self.kind == "cloud" and not self.organization:
            raise ConfigError("backend.organization: missing; allowed values: your Terraform Cloud organization "
                              "(set TF_CLOUD_ORGANIZATION)")


@dataclass(frozen=True)
class EnvironmentSettings:
    """Everything one environment (one Terraform stack) needs."""

    name: str
    project: str = "three-tier"
    region: str = "eu-north-1"
    # Local mode: every AWS endpoint points at this emulator URL instead of AWS. None means real AWS.
    emulator_url: str | None = None
    data: DataSettings = field(default_factory=DataSettings)
    function: FunctionSettings = field(default_factory=FunctionSettings)
    api: ApiSettings = field(default_factory=ApiSettings)
    site: SiteSettings = field(default_factory=SiteSettings)
    backend: BackendSettings = field(default_factory=BackendSettings)
    alarms: AlarmSettings = field(default_factory=AlarmSettings)
    # A custom domain for the site; None serves it on the distribution's own *.cloudfront.net name.
    domain: DomainSettings | None = None

    def __post_init__(self) -> None:
        _one_of("name", self.name, ENVIRONMENTS)
        _matches("project", self.project, _NAME, "2-21 lowercase letters, digits or '-', starting with a letter")
        _matches("region", self.region, _REGION, "an AWS region name such as eu-north-1")
        if self.emulator_url is not None:
            _origin("emulator_url", self.emulator_url)
        if self.domain is not None and self.site.site_origin not in (None, f"https://{self.domain.domain_name}"):
            raise ConfigError(f"site.site_origin: {self.site.site_origin!r} is not allowed with a custom domain; "
                              f"allowed values: None or 'https://{self.domain.domain_name}'")
        if self.site.allow_any_origin and not self.is_local:
            raise ConfigError("site.allow_any_origin: True is not allowed outside local mode; allowed values: False "
                              "(set site.site_origin to the origin that serves the site)")

    @property
    def is_local(self) -> bool:
        return self.emulator_url is not None

    @property
    def name_prefix(self) -> str:
        """Every resource name starts with this, so two environments never collide in one account."""
        return f"{self.project}-{self.name}"

    @property
    def site_origin(self) -> str | None:
        """The configured site origin: the custom domain's, or site.site_origin; None derives it from CloudFront."""
        if self.domain is not None:
            return f"https://{self.domain.domain_name}"
        return self.site.site_origin

    @property
    def table_name(self) -> str:
        return self.data.table_name or f"{self.name_prefix}-users"


def backend_from_environment(name: str, env: Mapping[str, str]) -> BackendSettings:
    """The backend an environment's variables ask for: <ENV>_BACKEND (local, s3 or cloud) and its details.

    s3: <ENV>_STATE_BUCKET, <ENV>_STATE_KEY, <ENV>_STATE_REGION, <ENV>_STATE_KMS_KEY_ID.
    cloud: TF_CLOUD_ORGANIZATION, <ENV>_TF_WORKSPACE (default <project>-<env>), TF_CLOUD_PROJECT, TF_CLOUD_HOSTNAME.
    """
    prefix = name.upper()
    kind = env.get(f"{prefix}_BACKEND", "local")
    if kind == "s3":
        return BackendSettings(kind="s3", bucket=env.get(f"{prefix}_STATE_BUCKET"),
                               key=env.get(f"{prefix}_STATE_KEY"), region=env.get(f"{prefix}_STATE_REGION"),
                               kms_key_id=env.get(f"{prefix}_STATE_KMS_KEY_ID"))
    if kind == "cloud":
        return BackendSettings(kind="cloud", organization=env.get("TF_CLOUD_ORGANIZATION"),
                               workspace=env.get(f"{prefix}_TF_WORKSPACE"), project=env.get("TF_CLOUD_PROJECT"),
                               hostname=env.get("TF_CLOUD_HOSTNAME"))
    return BackendSettings(kind=kind)


def _prod(env: Mapping[str, str]) -> EnvironmentSettings:
    return EnvironmentSettings(
        name="prod",
        data=DataSettings(protect_from_deletion=True),
        backend=backend_from_environment("prod", env),
    )


def _local(env: Mapping[str, str]) -> EnvironmentSettings:
    # The local runner starts the emulator and the site server on ports it chooses and passes them in here.
    return EnvironmentSettings(
        name="local",
        region="us-east-1",
        emulator_url=env.get("LOCAL_EMULATOR_URL", "http://127.0.0.1:5000"),
        data=DataSettings(protect_from_deletion=False),
        api=ApiSettings(stage_name="local"),
        alarms=AlarmSettings(enabled=True),  # on locally so the emulator proves they apply
        site=SiteSettings(
            site_origin=env.get("LOCAL_SITE_ORIGIN", "http://127.0.0.1:8080"),
            api_same_origin=env.get("LOCAL_API_SAME_ORIGIN", "") == "1",
            security_headers="managed",  # the emulator has no response-headers-policy API
            wait_for_deployment=False,
            force_destroy_bucket=True,
        ),
    )


_FACTORIES = {"local": _local, "prod": _prod}


def load_environment(name: str, env: Mapping[str, str] | None = None) -> EnvironmentSettings:
    """Settings of the environment called `name`; `env` (default: os.environ) supplies local-mode ports."""
    _one_of("environment", name, ENVIRONMENTS)
    return _FACTORIES[name](os.environ if env is None else env)


def selected_environments(env: Mapping[str, str] | None = None) -> list[EnvironmentSettings]:
    """The environments to synthesize: all of them, or those named in APP_ENVIRONMENTS (comma-separated)."""
    env = os.environ if env is None else env
    names = [n.strip() for n in env.get("APP_ENVIRONMENTS", ",".join(ENVIRONMENTS)).split(",") if n.strip()]
    return [load_environment(n, env) for n in names]


__all__ = [
    "AlarmSettings", "ApiSettings", "BackendSettings", "ConfigError", "DataSettings", "DomainSettings",
    "EnvironmentSettings", "FunctionSettings", "SiteSettings", "ENVIRONMENTS", "load_environment",
    "selected_environments",
]

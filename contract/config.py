"""Environment settings: the one place for defaults.

Each environment is a tree of frozen dataclasses. Every field is declared with `setting(default, doc, rule)`:
what it controls, why its default, and what it may be. Constructs take these typed settings and never invent
defaults of their own. A bad value fails synth with a `ConfigError` naming the field and the allowed values, and
the README's settings table is generated from these declarations (`python -m contract.tables`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import ClassVar

from contract.headers import SOURCE_DIRECTIVES
from contract.rules import (
    Between,
    ConfigError,
    CspSources,
    IsBool,
    IsOrigin,
    Matches,
    MultipleOf,
    Nested,
    OneOf,
    Optional,
    Settings,
    StringMapping,
    TupleOf,
    not_allowed,
    required,
    section,
    setting,
)

ENVIRONMENTS = ("local", "prod")  # synthesized by default; previews (preview-<slug>) only when named
PREVIEW_PREFIX = "preview-"
# A preview's slug: lowercase letters, digits and inner hyphens, at most 12, so that `<project>-preview-<slug>`
# leaves every resource name valid (the bucket's prefix is the tightest: 37 characters, see check()).
_PREVIEW_SLUG = r"[a-z0-9](?:[a-z0-9-]{0,10}[a-z0-9])?"
_ENVIRONMENT_NAME = Matches(
    rf"local|prod|{PREVIEW_PREFIX}{_PREVIEW_SLUG}",
    "local, prod, or preview-<slug> (1-12 lowercase letters, digits or inner '-')",
)
PREVIEW_LOG_RETENTION_DAYS = 7
MAX_BUCKET_PREFIX = 37  # Terraform's limit for bucket_prefix: it appends 26 characters, S3 allows 63
# Bucket names S3 refuses to start with (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html;
# `sthree-configurator` starts with `sthree-`). Only the project can make the site bucket's name start so: the
# environment follows `<project>-`, and no environment name starts with '-'. The reserved suffixes (-s3alias,
# --ol-s3, .mrap, --x-s3, --table-s3) cannot end it: Terraform ends every bucket_prefix name with 18 digits and 8
# lowercase hex digits (tests/test_config_property.py proves both with S3's whole rule set).
S3_RESERVED_BUCKET_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
"""Environment names; each becomes one Terraform stack of the same name (`cdktf deploy prod`)."""

# CloudFront takes certificates and web ACLs only from this region, so the site's are made there.
CLOUDFRONT_REGION = "us-east-1"
# CloudWatch Logs resource policies (account-level), per account and region; AWS cannot raise it
# (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/cloudwatch_limits_cwl.html). WAF logging adds one per
# web ACL (modules/firewall.py), which the preflight counts against what the account already has.
LOG_RESOURCE_POLICIES_PER_REGION = 10

LAMBDA_RUNTIMES = ("python3.12", "python3.13")
LAMBDA_ARCHITECTURES = ("arm64", "x86_64")
PRICE_CLASSES = ("PriceClass_100", "PriceClass_200", "PriceClass_All")
SECURITY_HEADERS_MODES = ("own", "managed")
BACKEND_KINDS = ("local", "s3", "cloud")
# The values CloudWatch Logs accepts for a retention period, in days.
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)
# AWS's managed "SecurityHeadersPolicy" response-headers policy; used where we cannot create our own (the emulator).
MANAGED_SECURITY_HEADERS_POLICY_ID = "67f7725c-6f97-4210-82d7-5512b31e9d03"
DEFAULT_SEED_ITEM = {"userId": "1", "name": "Test User", "email": "test@example.com"}
LOCAL_REGION = "us-east-1"
# Where local mode listens by default: loopback only. The emulator's port is any free one when local mode runs;
# LOCAL_EMULATOR_URL names one for a plain `cdktf synth`/`deploy local` against an emulator you started.
LOCAL_HOST = "127.0.0.1"
LOCAL_SITE_PORT, LOCAL_API_PORT, LOCAL_EMULATOR_PORT = 8080, 8081, 5000
# Credentials the emulator accepts in local mode; never real ones.
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}

_DNS_NAME = Matches(
    r"(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}", "a lowercase DNS name such as www.example.com"
)
_EMAIL = Matches(r"[^@\s]+@[^@\s]+\.[^@\s]+", "an e-mail address")
_PROJECT_NAME = Matches(r"[a-z][a-z0-9-]{1,20}", "2-21 lowercase letters, digits or '-', starting with a letter")


@dataclass(frozen=True)
class DataSettings(Settings):
    """The data tier: the users table."""

    prefix: ClassVar[str] = "data"

    table_name: str | None = setting(
        None,
        "The table's name; None derives `<project>-<environment>-users`.",
        Optional(Matches(r"[A-Za-z0-9_.-]{3,255}", "3-255 letters, digits, '_', '-' or '.'"), "derived"),
    )
    protect_from_deletion: bool = setting(
        True, "Deletion protection and Terraform's prevent_destroy: on wherever the data matters (prod).", IsBool()
    )
    point_in_time_recovery: bool = setting(
        True, "Point-in-time recovery keeps 35 days of continuous backups; cheap insurance, so on by default.", IsBool()
    )
    seed_item: Mapping[str, str] | None = setting(
        None,
        "One item Terraform writes so that a fresh stack answers `GET /users?userId=1`; None writes nothing.",
        Optional(StringMapping("userId"), "no item"),
        factory=lambda: dict(DEFAULT_SEED_ITEM),
    )


@dataclass(frozen=True)
class FunctionSettings(Settings):
    """The get-user Lambda function."""

    prefix: ClassVar[str] = "function"

    runtime: str = setting("python3.12", "The Lambda runtime.", OneOf(LAMBDA_RUNTIMES))
    architecture: str = setting(
        "arm64",
        "The processor: Graviton (arm64) costs about 20% less per GB-second and starts faster; the function has no "
        "native dependencies, so nothing else changes.",
        OneOf(LAMBDA_ARCHITECTURES),
    )
    memory_mb: int = setting(
        256,
        "Memory in MB. A single GetItem needs little; 256 MB also buys proportionally more CPU, which shortens "
        "cold starts.",
        Between(128, 10240),
    )
    timeout_seconds: int = setting(
        5, "API Gateway gives up after 29 s and a GetItem answers in milliseconds, so fail fast.", Between(1, 29)
    )
    log_retention_days: int = setting(
        365,
        "Retention of the function's `/aws/lambda/<name>` log group: a year is enough to investigate an "
        "incident found late (checkov CKV_AWS_338), and small logs are cheap to keep.",
        OneOf(LOG_RETENTION_DAYS),
    )


@dataclass(frozen=True)
class ApiSettings(Settings):
    """The REST API and its stage."""

    prefix: ClassVar[str] = "api"

    stage_name: str = setting(
        "prod", "The stage, part of every API URL.", Matches(r"[A-Za-z0-9_]{1,64}", "1-64 letters, digits or '_'")
    )
    throttling_burst_limit: int = setting(
        50,
        "Stage-wide burst limit: protects the function and the table from bursts; API Gateway's account "
        "default (10,000 rps) is far above what this app needs.",
        Between(1, 5000),
    )
    throttling_rate_limit: float = setting(
        100.0, "Stage-wide steady requests per second.", Between(1, 10000, whole=False)
    )
    access_log_retention_days: int = setting(
        365, "Retention of the stage's JSON access logs.", OneOf(LOG_RETENTION_DAYS)
    )
    execution_logging_level: str = setting(
        "ERROR",
        "Execution logging of errors only: full request logging would copy user data into logs. Its log group "
        "(`API-Gateway-Execution-Logs_<api id>/<stage>`) is created by the stack, with the access logs' retention.",
        OneOf(("OFF", "ERROR", "INFO")),
    )
    tracing: bool = setting(True, "X-Ray traces of the stage; needs nothing from the function's role.", IsBool())
    manage_account_logging_role: bool = setting(
        False,
        "Set API Gateway's CloudWatch Logs role for the account and region (`aws_api_gateway_account`), which stage "
        "logging needs. Off: set it once by hand (the preflight checks it). It is one setting per account and "
        "region: the last stack to set it wins, and the role this stack makes may write only this stack's log "
        "groups.",
        IsBool(),
    )


@dataclass(frozen=True)
class SiteSettings(Settings):
    """The static site: bucket and CloudFront distribution."""

    prefix: ClassVar[str] = "site"

    price_class: str = setting(
        "PriceClass_100",
        "CloudFront edge locations: PriceClass_100 serves North America and Europe, the cheapest "
        "and enough for most audiences.",
        OneOf(PRICE_CLASSES),
    )
    site_origin: str | None = setting(
        None,
        "The origin browsers load the site from, and so the API's one allowed CORS origin. None derives it "
        "from the distribution (`https://<id>.cloudfront.net`); set it for a domain managed elsewhere or local "
        "mode.",
        Optional(IsOrigin(), "derived from the distribution"),
    )
    allow_any_origin: bool = setting(
        False, "CORS for any origin (`*`) on the API: only for local experiments, refused outside local mode.", IsBool()
    )
    api_same_origin: bool = setting(
        False,
        "Same-origin API: CloudFront also routes /users to the API stage (no CORS, no preflight, one TLS "
        "connection) and the page calls a relative URL. Off: the page calls the API's own origin (CORS).",
        IsBool(),
    )
    source_dir: str = setting(
        "web",
        "The site's folder, relative to the project root (or absolute): what `pipenv run deploy`, local mode and "
        "`pipenv run publish` publish, and whose pages' inline code the content security policy lists by hash "
        "(read at synth).",
        Matches(r"[^\x00\r\n]*[^\s\x00][^\x00\r\n]*", "a folder path such as web, dist or site/build"),
    )
    build_command: str | None = setting(
        None,
        "A shell command `pipenv run deploy` runs in the project root before it synthesizes, e.g. "
        "`npm ci && npm run build`; a failure stops the deploy before anything is synthesized.",
        Optional(Matches(r"[^\x00\r\n]*\S[^\x00\r\n]*", "a shell command on one line"), "nothing to build"),
    )
    csp_sources: Mapping[str, tuple[str, ...]] = setting(
        {},
        'More origins the pages may use, by CSP directive, e.g. `{"font-src": ("https://fonts.gstatic.com",)}`: '
        "added after `'self'` in that directive of the content security policy.",
        CspSources(SOURCE_DIRECTIVES),
        factory=dict,
    )
    security_headers: str = setting(
        "own",
        "`own`: our response-headers policy (HSTS, nosniff, frame and referrer policy, a CSP naming the "
        "API). `managed`: AWS's managed SecurityHeadersPolicy, for an emulator that cannot create policies.",
        OneOf(SECURITY_HEADERS_MODES),
    )
    wait_for_deployment: bool = setting(
        True, "Whether a deploy waits for the distribution to reach the edge (minutes on AWS).", IsBool()
    )
    single_page_app: bool = setting(
        False,
        "A single-page app (React Router, Vue Router…): every path without a file extension serves `/index.html`, "
        "so client-side routes work on first load and reload, while a missing `.js`, `.css` or image stays a 404 "
        "that is not HTML. Off: `/guide/setup` redirects (301) to `/guide/setup/`, which serves its `index.html`.",
        IsBool(),
    )
    not_found_page: str | None = setting(
        "404.html",
        "The site's page for a missing page, served with status 404 when the site has it (S3's own 404 otherwise). "
        "Never in same-origin mode or single-page-app mode: CloudFront's error pages are distribution-wide, and "
        "would replace the API's own 404 answers or a missing script's plain 404.",
        Optional(
            Matches(r"(?!.*\.\./)[A-Za-z0-9_-][A-Za-z0-9._/-]{0,250}\.html", "a page of the site such as 404.html"),
            "S3's own 404",
        ),
    )
    routing_function: bool = setting(
        True,
        "Run the routing CloudFront Function (directory URLs, single-page app) at every viewer request of the "
        "site, never the API's path. Off only for an emulator without CloudFront Functions (moto): local mode's "
        "site server applies the same routing itself.",
        IsBool(),
    )
    force_destroy_bucket: bool = setting(
        False, "Let Terraform delete a bucket that still holds objects: only where the bucket is disposable.", IsBool()
    )
    noncurrent_version_days: int = setting(
        30,
        "Versioning keeps replaced and pruned files; they expire this many days after being replaced.",
        Between(1, 3650),
    )

    def source_folder(self, project_dir: Path) -> Path:
        """The site's folder: `source_dir` in `project_dir` (the project root), or itself when absolute."""
        return project_dir / self.source_dir


@dataclass(frozen=True)
class AlarmSettings(Settings):
    """Error alarms (off by default): the function's Errors and the stage's 5XXError, to an SNS topic of the
    stack. Costs: two standard alarms (about $0.20 a month) and SNS deliveries."""

    prefix: ClassVar[str] = "alarms"

    enabled: bool = setting(False, "Create the alarms and their topic.", IsBool())
    threshold: int = setting(1, "Alarm when the errors summed over one period reach this many.", Between(1, 1_000_000))
    period_seconds: int = setting(
        60,
        "The period the errors are summed over. AWS/Lambda and AWS/ApiGateway publish one-minute metrics, so a "
        "shorter period makes a high-resolution alarm that mostly sees no data.",
        MultipleOf(60, 60, 86400),
    )
    email: str | None = setting(
        None,
        "Subscribe this address to the topic (AWS mails a confirmation first); None subscribes nobody.",
        Optional(_EMAIL, "no subscription"),
    )


@dataclass(frozen=True)
class WafSettings(Settings):
    """AWS WAF (off by default): a web ACL on the distribution (scope CLOUDFRONT, in us-east-1) and one on the API
    stage (REGIONAL). Rules, wherever WAF sees the visitor: a rate limit per client IP, then AWS's managed IP
    reputation and anonymous IP lists, common rule set and known bad inputs (Log4j and the like), each with
    CloudWatch metrics. In same-origin mode the site's ACL judges `/users` too, and the API's ACL admits only the
    distribution's requests (a secret header). Costs: $5 a month per web ACL and $1 per rule (about $20 a month for
    both), plus $0.60 per million requests; logging adds CloudWatch Logs ingestion."""

    prefix: ClassVar[str] = "waf"

    enabled: bool = setting(False, "Create the two web ACLs and attach them.", IsBool())
    rate_limit_per_5_minutes: int = setting(
        2000,
        "Requests one client IP may make in any 5 minutes before WAF blocks it (a page load is the page, its "
        "assets and one API call; people behind one NAT share an IP, so leave headroom).",
        Between(100, 2_000_000_000),
    )
    anonymous_ip_action: str = setting(
        "block",
        "What the anonymous IP list does with requests from VPNs, Tor, proxies and hosting providers: `block`, or "
        "`count` (metrics only) for an audience that browses through VPNs.",
        OneOf(("block", "count")),
    )
    logging: bool = setting(
        False,
        "Log to CloudWatch Logs, in groups named `aws-waf-logs-<prefix>-…`, the requests WAF blocks or counts (every "
        "request with `waf.log_all_requests`). Each web ACL adds a log resource policy, 10 per account and region.",
        IsBool(),
    )
    log_all_requests: bool = setting(
        False,
        "With logging on, log every request WAF evaluates. Off: only the requests a rule blocked or counted, the "
        "ones worth investigating; allowed requests are in the stage's access logs and CloudFront's metrics. Either "
        "way the query string (`userId`) and the `authorization` and `cookie` headers are redacted from the logs.",
        IsBool(),
    )
    log_retention_days: int = setting(
        365,
        "Retention of the WAF log groups: a year, as for every log group of the stack (checkov CKV_AWS_338); WAF "
        "logs one entry per request, so a busy site may choose less.",
        OneOf(LOG_RETENTION_DAYS),
    )


@dataclass(frozen=True)
class DomainSettings(Settings):
    """A custom domain for the site (off by default): an ACM certificate in us-east-1 validated through Route 53,
    attached to the distribution, and alias A/AAAA records. The API's CORS origin becomes https://<domain>."""

    prefix: ClassVar[str] = "domain"

    domain_name: str = required("The site's domain name.", _DNS_NAME)
    hosted_zone_id: str = required(
        "The Route 53 hosted zone of the domain (or of a parent of it).",
        Matches(r"[A-Z0-9]{5,32}", "a Route 53 hosted zone id such as Z0123456789ABCDEFGHIJ"),
    )
    alternative_names: tuple[str, ...] = setting(
        (),
        'More names for the same site, e.g. `("www.users.example.com",)`: on the certificate, the distribution\'s '
        "aliases and alias records, in the same hosted zone. The page on another name calls the API cross-origin, "
        "which allows only the domain, so they need `site.api_same_origin`.",
        TupleOf(_DNS_NAME, 9),
    )

    def check(self) -> None:
        if self.domain_name in self.alternative_names:
            raise not_allowed("domain.alternative_names", self.alternative_names, "names other than domain.domain_name")

    @property
    def names(self) -> tuple[str, ...]:
        """Every name the site answers to, the domain first."""
        return (self.domain_name, *self.alternative_names)


@dataclass(frozen=True)
class BackendSettings(Settings):
    """Where Terraform keeps the stack's state.

    - "local": one state file per stack at the project root, `terraform.<stack>.tfstate` (git-ignored).
    - "s3": an S3 object, encrypted, locked with S3's native lock file (Terraform 1.10+; no DynamoDB table).
    - "cloud": a Terraform Cloud / HCP Terraform workspace. The API token is never configured here: Terraform
      reads it from TF_TOKEN_<host> (e.g. TF_TOKEN_app_terraform_io) or from `cdktf login`.
    Chosen per environment by <ENV>_BACKEND (e.g. PROD_BACKEND=s3); see `backend_from_environment`.
    """

    prefix: ClassVar[str] = "backend"

    kind: str = setting("local", "Where state lives (`<ENV>_BACKEND`).", OneOf(BACKEND_KINDS))
    bucket: str | None = setting(
        None,
        "s3: the state bucket, created once outside this stack, versioned (`<ENV>_STATE_BUCKET`).",
        Optional(Matches(r"[a-z0-9.-]{3,63}", "an S3 bucket name")),
    )
    key: str | None = setting(
        None,
        "s3: the state object (`<ENV>_STATE_KEY`); None means `<project>/<environment>/terraform.tfstate`.",
        Optional(Matches(r"[^\n]{1,1024}", "an S3 key"), "derived"),
    )
    region: str | None = setting(
        None,
        "s3: the state bucket's region (`<ENV>_STATE_REGION`); None means the environment's region.",
        Optional(Matches(r"[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d", "an AWS region name"), "derived"),
    )
    kms_key_id: str | None = setting(
        None,
        "s3: encrypt state with this KMS key instead of SSE-S3 (`<ENV>_STATE_KMS_KEY_ID`).",
        Optional(Matches(r"[^\s]{1,2048}", "a KMS key id, ARN or alias"), "SSE-S3"),
    )
    organization: str | None = setting(
        None,
        "cloud: your Terraform Cloud organization (`TF_CLOUD_ORGANIZATION`).",
        Optional(Matches(r"[A-Za-z0-9_-]{1,64}", "an organization name")),
    )
    workspace: str | None = setting(
        None,
        "cloud: the workspace (`<ENV>_TF_WORKSPACE`); None means `<project>-<environment>`.",
        Optional(Matches(r"[A-Za-z0-9_-]{1,90}", "a workspace name"), "derived"),
    )
    project: str | None = setting(
        None,
        "cloud: the Terraform Cloud project (`TF_CLOUD_PROJECT`).",
        Optional(Matches(r"[^\n]{1,90}", "a project name"), "the default project"),
    )
    hostname: str | None = setting(
        None,
        "cloud: the Terraform Cloud or Enterprise host (`TF_CLOUD_HOSTNAME`).",
        Optional(_DNS_NAME, "app.terraform.io"),
    )

    def check(self) -> None:
        if self.kind == "s3" and not self.bucket:
            raise ConfigError(
                "backend.bucket: missing; allowed values: the name of an existing S3 bucket for "
                "state (set <ENV>_STATE_BUCKET)"
            )
        if self.kind == "cloud" and not self.organization:
            raise ConfigError(
                "backend.organization: missing; allowed values: your Terraform Cloud organization "
                "(set TF_CLOUD_ORGANIZATION)"
            )


@dataclass(frozen=True)
class EmulatorSettings(Settings):
    """Local mode: every AWS endpoint of the stack points at an emulator, and local servers stand in for what the
    emulator does not serve (CloudFront's edge, API Gateway's execute-api)."""

    prefix: ClassVar[str] = "emulator"

    url: str = setting(
        f"http://{LOCAL_HOST}:{LOCAL_EMULATOR_PORT}", "The emulator's endpoint, used for every AWS service.", IsOrigin()
    )
    api_origin: str | None = setting(
        None,
        "Where the local gateway serves the API. The stack's API URLs and the page's CSP then name it "
        "instead of the emulator's made-up execute-api host; None keeps that host.",
        Optional(IsOrigin(), "the execute-api host"),
    )
    max_retries: int = setting(
        2,
        "The AWS provider's `max_retries` against the emulator: how many times it tries each call (provider 5.x "
        "counts the first try). The emulator never throttles and runs inside local mode, so a call that fails "
        "once is not worth AWS's default of 25 tries: were local mode killed during an apply, Terraform would "
        "go on retrying against the gone emulator for a minute before it stopped.",
        Between(1, 25),
    )


@dataclass(frozen=True)
class EnvironmentSettings(Settings):
    """Everything one environment (one Terraform stack) needs."""

    name: str = required("The environment, and the stack's name (`cdktf deploy prod`).", _ENVIRONMENT_NAME)
    project: str = setting(
        "three-tier",
        "Every resource name starts with `<project>-<environment>`. The site bucket's is "
        "`<project>-<environment>-site-` and 26 characters Terraform appends, so the project may not make it start "
        "with a prefix S3 reserves (`xn--`, `sthree-`, `amzn-s3-demo-`: e.g. `xn--shop`, `xn-`, `sthree`) and "
        "the project and environment names are 30 characters together at most.",
        _PROJECT_NAME,
    )
    region: str = setting(
        "eu-north-1",
        "The provider's region.",
        Matches(r"[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d", "an AWS region name such as eu-north-1"),
    )
    emulator: EmulatorSettings | None = setting(
        None,
        "Local mode: the emulator every endpoint points at; None means real AWS.",
        Optional(Nested(EmulatorSettings), "real AWS"),
    )
    data: DataSettings = section(DataSettings, "The users table.")
    function: FunctionSettings = section(FunctionSettings, "The get-user function.")
    api: ApiSettings = section(ApiSettings, "The REST API and its stage.")
    site: SiteSettings = section(SiteSettings, "The bucket and the distribution.")
    backend: BackendSettings = section(BackendSettings, "Where Terraform keeps state.")
    alarms: AlarmSettings = section(AlarmSettings, "Error alarms.")
    waf: WafSettings = section(WafSettings, "AWS WAF on the site and the API.")
    domain: DomainSettings | None = setting(
        None,
        "A custom domain for the site; None serves it on the distribution's own *.cloudfront.net name.",
        Optional(Nested(DomainSettings), "the distribution's own name"),
    )

    def check(self) -> None:
        if self.domain is not None and self.domain.alternative_names and not self.site.api_same_origin:
            raise ConfigError(
                f"domain.alternative_names: {self.domain.alternative_names!r} is not allowed with a cross-origin API; "
                "allowed values: () or, with site.api_same_origin=True, other names (the page then calls its own "
                f"origin; cross-origin, the API allows only https://{self.domain.domain_name})"
            )
        if self.domain is not None and self.site.site_origin not in (None, f"https://{self.domain.domain_name}"):
            raise ConfigError(
                f"site.site_origin: {self.site.site_origin!r} is not allowed with a custom domain; "
                f"allowed values: None or 'https://{self.domain.domain_name}'"
            )
        bucket_prefix = site_bucket_prefix(self.name_prefix)
        reserved = [prefix for prefix in S3_RESERVED_BUCKET_PREFIXES if bucket_prefix.startswith(prefix)]
        if reserved:
            raise ConfigError(
                f"project: {self.project!r} is not allowed: the site bucket's name {bucket_prefix + '…'!r} would "
                f"start with {reserved[0]!r}, "
                "a prefix S3 reserves (S3 general purpose bucket naming rules); allowed values: a project name "
                f"that does not make `<project>-` start with {', '.join(S3_RESERVED_BUCKET_PREFIXES)}"
            )
        if len(bucket_prefix) > MAX_BUCKET_PREFIX:
            raise ConfigError(
                f"project: {self.project!r} with environment {self.name!r} is not allowed: the bucket prefix "
                f"{bucket_prefix!r} has {len(bucket_prefix)} characters; allowed values: a project and environment "
                f"name {MAX_BUCKET_PREFIX - len('--site-')} characters long together at most"
            )
        if self.site.allow_any_origin and not self.is_local:
            raise ConfigError(
                "site.allow_any_origin: True is not allowed outside local mode; allowed values: False "
                "(set site.site_origin to the origin that serves the site)"
            )

    @property
    def is_local(self) -> bool:
        return self.emulator is not None

    @property
    def name_prefix(self) -> str:
        """Every resource name starts with this, so two environments never collide in one account."""
        return f"{self.project}-{self.name}"

    @property
    def site_web_acl_name(self) -> str:
        """The site's web ACL (scope CLOUDFRONT, in CLOUDFRONT_REGION)."""
        return f"{self.name_prefix}-site"

    @property
    def api_web_acl_name(self) -> str:
        """The API stage's web ACL (scope REGIONAL, in the stack's region)."""
        return f"{self.name_prefix}-api"

    def log_resource_policies(self) -> dict[str, tuple[str, ...]]:
        """The CloudWatch Logs resource policies the stack adds, by region: one per web ACL with WAF logging on (the
        site's in CLOUDFRONT_REGION, the API's in the stack's region; both there when that is the stack's region),
        none otherwise."""
        if not (self.waf.enabled and self.waf.logging):
            return {}
        found: dict[str, tuple[str, ...]] = {}
        for region, acl in ((CLOUDFRONT_REGION, self.site_web_acl_name), (self.region, self.api_web_acl_name)):
            found[region] = (*found.get(region, ()), waf_log_delivery_policy_name(acl))
        return found

    @property
    def site_origin(self) -> str | None:
        """The configured site origin: the custom domain's, or site.site_origin; None derives it from CloudFront."""
        if self.domain is not None:
            return f"https://{self.domain.domain_name}"
        return self.site.site_origin

    @property
    def table_name(self) -> str:
        return self.data.table_name or f"{self.name_prefix}-users"


def waf_log_delivery_policy_name(web_acl_name: str) -> str:
    """The CloudWatch Logs resource policy that lets WAF's log delivery write a web ACL's log group."""
    return f"{web_acl_name}-log-delivery"


def site_bucket_prefix(name_prefix: str) -> str:
    """The site bucket's `bucket_prefix` (Terraform appends a unique 26 characters): `<project>-<environment>-site-`."""
    return f"{name_prefix}-site-"


def backend_from_environment(name: str, env: Mapping[str, str]) -> BackendSettings:
    """The backend an environment's variables ask for: <ENV>_BACKEND (local, s3 or cloud) and its details.

    s3: <ENV>_STATE_BUCKET, <ENV>_STATE_KEY, <ENV>_STATE_REGION, <ENV>_STATE_KMS_KEY_ID.
    cloud: TF_CLOUD_ORGANIZATION, <ENV>_TF_WORKSPACE (default <project>-<env>), TF_CLOUD_PROJECT, TF_CLOUD_HOSTNAME.
    """
    prefix = name.upper()
    kind = env.get(f"{prefix}_BACKEND", "local")
    if kind == "s3":
        return BackendSettings(
            kind="s3",
            bucket=env.get(f"{prefix}_STATE_BUCKET"),
            key=env.get(f"{prefix}_STATE_KEY"),
            region=env.get(f"{prefix}_STATE_REGION"),
            kms_key_id=env.get(f"{prefix}_STATE_KMS_KEY_ID"),
        )
    if kind == "cloud":
        return BackendSettings(
            kind="cloud",
            organization=env.get("TF_CLOUD_ORGANIZATION"),
            workspace=env.get(f"{prefix}_TF_WORKSPACE"),
            project=env.get("TF_CLOUD_PROJECT"),
            hostname=env.get("TF_CLOUD_HOSTNAME"),
        )
    return BackendSettings(kind=kind)


def prod_environment(env: Mapping[str, str]) -> EnvironmentSettings:
    """Production on AWS: every default, its state backend chosen by PROD_BACKEND."""
    return EnvironmentSettings(name="prod", backend=backend_from_environment("prod", env))


def local_environment(
    *,
    emulator_url: str,
    site_origin: str,
    api_origin: str | None = None,
    same_origin: bool = False,
    single_page_app: bool = False,
    project: str | None = None,
    source_dir: str | None = None,
) -> EnvironmentSettings:
    """Local mode: the same stack with every endpoint at `emulator_url`, served by local servers at `site_origin`
    (and `api_origin`, the local gateway), with what an emulator cannot do or need turned off. `project` (default:
    the project's own name) starts every resource name, so stacks in one emulator can have names of their own;
    `source_dir` (default: `site.source_dir`'s) is the site's folder (`pipenv run local --source DIR`)."""
    settings = EnvironmentSettings(
        name="local",
        region=LOCAL_REGION,
        emulator=EmulatorSettings(url=emulator_url, api_origin=api_origin),
        data=DataSettings(protect_from_deletion=False),
        # On locally so the emulator proves they apply: each run's emulator is its own account.
        api=ApiSettings(stage_name="local", manage_account_logging_role=True),
        alarms=AlarmSettings(enabled=True),  # on locally so the emulator proves they apply
        site=SiteSettings(
            site_origin=site_origin,
            api_same_origin=same_origin,
            single_page_app=single_page_app,
            security_headers="managed",  # the emulator has no response-headers-policy API
            routing_function=False,  # the emulator has no CloudFront Functions API; the site server routes
            wait_for_deployment=False,
            force_destroy_bucket=True,
        ),
    )
    if source_dir:
        settings = replace(settings, site=replace(settings.site, source_dir=source_dir))
    return replace(settings, project=project) if project else settings


def _local_from(env: Mapping[str, str]) -> EnvironmentSettings:
    # `cdktf synth` of every stack: the local runner passes its real ports to local_environment() directly.
    return local_environment(
        emulator_url=env.get("LOCAL_EMULATOR_URL", EmulatorSettings.url),
        site_origin=env.get("LOCAL_SITE_ORIGIN", f"http://{LOCAL_HOST}:{LOCAL_SITE_PORT}"),
        api_origin=env.get("LOCAL_API_ORIGIN") or None,
        same_origin=env.get("LOCAL_API_SAME_ORIGIN", "") == "1",
    )


def preview_environment(name: str, env: Mapping[str, str]) -> EnvironmentSettings:
    """A preview (`preview-<slug>`, e.g. one per pull request): prod's design, made to be thrown away. No
    deletion protection or point-in-time recovery, a bucket Terraform may empty, a week of logs in every log group
    it can create (the WAF's too, should a preview turn WAF logging on), no wait for
    CloudFront, no alarms, no custom domain. Its state is its own: the backend comes from the PREVIEW_* variables
    shared by all previews, the S3 key and Terraform Cloud workspace are derived from its name."""
    backend = backend_from_environment("preview", env)
    return EnvironmentSettings(
        name=name,
        backend=replace(backend, key=None, workspace=None),
        data=DataSettings(protect_from_deletion=False, point_in_time_recovery=False),
        function=FunctionSettings(log_retention_days=PREVIEW_LOG_RETENTION_DAYS),
        api=ApiSettings(access_log_retention_days=PREVIEW_LOG_RETENTION_DAYS),
        waf=WafSettings(log_retention_days=PREVIEW_LOG_RETENTION_DAYS),
        site=SiteSettings(wait_for_deployment=False, force_destroy_bucket=True, noncurrent_version_days=1),
        alarms=AlarmSettings(enabled=False),
        domain=None,
    )


def is_preview(name: str) -> bool:
    return name.startswith(PREVIEW_PREFIX)


def is_environment_name(name: str) -> bool:
    """Whether `name` names an environment (local, prod or a preview), so that its settings can be loaded."""
    return _ENVIRONMENT_NAME.allows(name)


def load_environment(name: str, env: Mapping[str, str] | None = None) -> EnvironmentSettings:
    """Settings of the environment called `name`; `env` (default: os.environ) supplies the variables it reads."""
    env = os.environ if env is None else env
    if name == "prod":
        return prod_environment(env)
    if name == "local":
        return _local_from(env)
    if is_preview(name) and _ENVIRONMENT_NAME.allows(name):
        return preview_environment(name, env)
    raise not_allowed("environment", name, _ENVIRONMENT_NAME.allowed)


def selected_environments(env: Mapping[str, str] | None = None) -> list[EnvironmentSettings]:
    """The environments to synthesize: all of them, or those named in APP_ENVIRONMENTS (comma-separated)."""
    env = os.environ if env is None else env
    if "APP_ENVIRONMENTS" not in env:
        return [load_environment(n, env) for n in ENVIRONMENTS]
    names = [n.strip() for n in env["APP_ENVIRONMENTS"].split(",")]
    allowed = f"a comma-separated list of {_ENVIRONMENT_NAME.allowed}, each named once"
    if not all(names) or len(set(names)) != len(names):
        raise not_allowed("APP_ENVIRONMENTS", env["APP_ENVIRONMENTS"], allowed)
    return [load_environment(n, env) for n in names]


__all__ = [
    "ENVIRONMENTS",
    "AlarmSettings",
    "ApiSettings",
    "BackendSettings",
    "ConfigError",
    "DataSettings",
    "DomainSettings",
    "EmulatorSettings",
    "EnvironmentSettings",
    "FunctionSettings",
    "SiteSettings",
    "WafSettings",
    "is_preview",
    "load_environment",
    "local_environment",
    "preview_environment",
    "prod_environment",
    "selected_environments",
]

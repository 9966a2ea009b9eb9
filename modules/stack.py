"""One environment's stack: the provider, the three tiers wired together, and the outputs the deploy hook reads."""

from __future__ import annotations

from cdktf import CloudBackend, LocalBackend, NamedCloudWorkspace, S3Backend, TerraformOutput, TerraformStack
from cdktf_cdktf_provider_aws.provider import AwsProvider, AwsProviderDefaultTags, AwsProviderEndpoints
from constructs import Construct

from modules.alarms import ErrorAlarms
from modules.api import UserApi
from modules.config import EnvironmentSettings
from modules.data import UserTable
from modules.frontend import StaticSite

# The 20.x bindings are generated for provider 5.99; 5.100.0 is the final 5.x release.
AWS_PROVIDER_CONSTRAINT = "~> 5.99"
# Every service the stack talks to; in local mode each is pointed at the emulator.
EMULATED_SERVICES = ("acm", "apigateway", "cloudfront", "cloudwatch", "cloudwatchlogs", "dynamodb", "iam", "lambda_",
                     "route53", "s3", "sns", "sts")


def local_provider_options(emulator_url: str) -> dict:
    """Provider arguments that send every call to the emulator. Credentials come from the environment."""
    return {
        "endpoints": [AwsProviderEndpoints(**{service: emulator_url for service in EMULATED_SERVICES})],
        "skip_credentials_validation": True,
        "skip_metadata_api_check": "true",
        "s3_use_path_style": True,
    }


class UserAppStack(TerraformStack):
    """The whole app for one environment; the stack is named after it (`cdktf deploy prod`)."""

    def __init__(self, scope: Construct, settings: EnvironmentSettings) -> None:
        super().__init__(scope, settings.name)
        extra = local_provider_options(settings.emulator_url) if settings.is_local else {}
        tags = [AwsProviderDefaultTags(
            tags={"Project": settings.project, "Environment": settings.name, "ManagedBy": "cdktf"}
        )]
        AwsProvider(self, "aws", region=settings.region, default_tags=tags, **extra)
        # CloudFront takes certificates only from us-east-1.
        certificate_provider = AwsProvider(
            self, "aws_us_east_1", alias="us_east_1", region="us-east-1", default_tags=tags, **extra
        ) if settings.domain else None
        self.add_override("terraform.required_providers.aws.version", AWS_PROVIDER_CONSTRAINT)
        self._backend(settings)

        table = UserTable(self, "UserTable", table_name=settings.table_name, settings=settings.data)
        site = StaticSite(self, "StaticSite", name_prefix=settings.name_prefix, settings=settings.site,
                          site_origin=settings.site_origin, domain=settings.domain,
                          certificate_provider=certificate_provider)
        allowed_origin = "*" if settings.site.allow_any_origin else site.origin
        api = UserApi(
            self, "UserApi", name_prefix=settings.name_prefix, region=settings.region, function=settings.function,
            api=settings.api, table_name=table.name, table_arn=table.arn, allowed_origin=allowed_origin,
        )
        site.connect_api(api.endpoint)
        if settings.alarms.enabled:
            ErrorAlarms(self, "ErrorAlarms", name_prefix=settings.name_prefix, settings=settings.alarms,
                        function_name=api.function_name, api_name=api.api_name, stage_name=api.stage_name)

        outputs = {
            "site_url": (site.url, "Where browsers load the site"),
            "api_url": (api.url, "GET this with ?userId=…"),
            "page_api_url": (site.page_api_url(api.endpoint), "What the page calls: the API, or a path on the site"),
            "bucket_name": (site.bucket_name, "The post-apply hook publishes web/ here"),
            "distribution_id": (site.distribution_id, "The post-apply hook invalidates this"),
            "table_name": (table.name, "The users table"),
            "function_name": (api.function_name, "The get-user function"),
        }
        for name, (value, description) in outputs.items():
            TerraformOutput(self, name, value=value, description=description)

    def _backend(self, settings: EnvironmentSettings) -> None:
        backend = settings.backend
        if backend.kind == "s3":
            S3Backend(
                self, bucket=backend.bucket, key=backend.key or f"{settings.project}/{settings.name}/terraform.tfstate",
                region=backend.region or settings.region, encrypt=True, kms_key_id=backend.kms_key_id,
            )
            # S3's own lock file (Terraform 1.10+) instead of a DynamoDB lock table; CDKTF 0.21 lacks the argument.
            self.add_override("terraform.backend.s3.use_lockfile", True)
        elif backend.kind == "cloud":
            CloudBackend(
                self, organization=backend.organization, hostname=backend.hostname,
                workspaces=NamedCloudWorkspace(backend.workspace or settings.name_prefix, backend.project),
            )
        else:
            # One state file per stack at the project root (git-ignored); relative, so the output is the same on
            # every machine. Paths are relative to cdktf.out/stacks/<stack>, where Terraform runs.
            LocalBackend(self, path=f"../../../terraform.{settings.name}.tfstate")

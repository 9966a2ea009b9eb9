"""One environment's stack: the provider, the three tiers composed top to bottom, and the outputs the tools read."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import jsii
from cdktf import (
    CloudBackend,
    IResolveContext,
    IStringProducer,
    Lazy,
    LocalBackend,
    NamedCloudWorkspace,
    S3Backend,
    TerraformOutput,
    TerraformStack,
)
from cdktf_cdktf_provider_aws.provider import AwsProvider, AwsProviderDefaultTags
from constructs import Construct

from contract.config import CLOUDFRONT_REGION, EmulatorSettings, EnvironmentSettings
from contract.headers import InlineHashes, execute_api_origin
from contract.outputs import StackOutputs
from modules.alarms import ErrorAlarms
from modules.api import UserApi
from modules.data import UserTable
from modules.firewall import OriginHeader, WebFirewall
from modules.frontend import CustomDomain, SiteApi, StaticSite
from terraform_cli import AWS_PROVIDER_CONSTRAINT, local_state_path
from terraform_cli.workspace import EMULATOR_CONFIG, EMULATOR_PROFILE


def local_provider_options(emulator: EmulatorSettings) -> dict[str, Any]:
    """Provider arguments that send every call to the emulator: the AWS profile the synth writes beside the
    configuration (`StackWorkspace.write_emulator_config`) holds its URL and fake credentials."""
    return {
        "profile": EMULATOR_PROFILE,
        "shared_config_files": [f"${{path.module}}/{EMULATOR_CONFIG}"],
        "skip_credentials_validation": True,
        "skip_metadata_api_check": "true",
        "s3_use_path_style": True,
        "max_retries": emulator.max_retries,
    }


@jsii.implements(IStringProducer)
class LateBound:
    """A value named before it exists, filled in once it does; Terraform sees only the final value."""

    def __init__(self) -> None:
        self._value: str | None = None
        self.token: str = Lazy.string_value(self)

    def bind(self, value: str) -> None:
        self._value = value

    def produce(self, context: IResolveContext) -> str | None:
        if self._value is None:
            raise RuntimeError("a late-bound value was used but never bound")
        return self._value


class UserAppStack(TerraformStack):
    """The whole app for one environment; the stack is named after it (`cdktf deploy prod`). `site_code` holds the
    hashes of the inline code in the site's pages, which its content security policy lists (read from
    `site.source_dir` by the app: constructs read no files)."""

    def __init__(self, scope: Construct, settings: EnvironmentSettings, *, site_code: InlineHashes) -> None:
        super().__init__(scope, settings.name)
        extra = local_provider_options(settings.emulator) if settings.emulator else {}
        tags = [
            AwsProviderDefaultTags(
                tags={"Project": settings.project, "Environment": settings.name, "ManagedBy": "cdktf"}
            )
        ]
        AwsProvider(self, "aws", region=settings.region, default_tags=tags, **extra)
        # CloudFront takes certificates and web ACLs only from us-east-1: one aliased provider for both.
        us_east_1 = (
            AwsProvider(self, "aws_us_east_1", alias="us_east_1", region=CLOUDFRONT_REGION, default_tags=tags, **extra)
            if settings.domain or settings.waf.enabled
            else None
        )
        self.add_override("terraform.required_providers.aws.version", AWS_PROVIDER_CONSTRAINT)
        self._backend(settings)

        table = UserTable(self, "UserTable", table_name=settings.table_name, settings=settings.data)

        # The one place where two tiers need each other. The API answers CORS for the site's origin; the site's
        # CSP, and in same-origin mode one of its routes, names the API. Unless configured, the site's origin is
        # the distribution's own domain name, which exists only once the site does: it is bound after.
        site_origin = LateBound()
        api = UserApi(
            self,
            "UserApi",
            name_prefix=settings.name_prefix,
            region=settings.region,
            function=settings.function,
            api=settings.api,
            table_name=table.name,
            table_statement=table.grant_read_item(),
            allowed_origin="*" if settings.site.allow_any_origin else settings.site_origin or site_origin.token,
            public_origin=settings.emulator.api_origin if settings.emulator else None,
        )
        # AWS WAF, when on: a web ACL on the site and one on the API stage (see _firewalls).
        site_web_acl, origin_header = (
            self._firewalls(settings, api.stage_arn, us_east_1) if us_east_1 and settings.waf.enabled else (None, None)
        )
        site = StaticSite(
            self,
            "StaticSite",
            name_prefix=settings.name_prefix,
            settings=settings.site,
            api=SiteApi(
                origin=api.origin,
                domain=api.domain,
                origin_path=api.origin_path,
                path=api.path,
                origin_header=origin_header,
                counted_origin=(settings.emulator.api_origin if settings.emulator else None)
                or execute_api_origin(settings.region),
            ),
            inline_code=site_code,
            site_origin=settings.site_origin,
            domain=CustomDomain(settings.domain, us_east_1) if us_east_1 and settings.domain else None,
            web_acl_arn=site_web_acl,
        )
        site_origin.bind(site.origin)

        if settings.alarms.enabled:
            ErrorAlarms(
                self,
                "ErrorAlarms",
                name_prefix=settings.name_prefix,
                region=settings.region,
                settings=settings.alarms,
                function_name=api.function_name,
                api_name=api.api_name,
                stage_name=api.stage_name,
            )

        outputs = StackOutputs(
            site_url=site.url,
            api_url=api.url,
            # Same-origin: the page calls the API path on its own origin.
            page_api_url=api.path if settings.site.api_same_origin else api.url,
            bucket_name=site.bucket_name,
            distribution_id=site.distribution_id,
            table_name=table.name,
            function_name=api.function_name,
            api_id=api.api_id,
            api_stage=api.stage_name,
            content_security_policy=site.security_headers.content_security_policy,
        )
        descriptions = StackOutputs.descriptions()
        for name, value in asdict(outputs).items():
            TerraformOutput(self, name, value=value, description=descriptions[name])

    def _firewalls(
        self, settings: EnvironmentSettings, api_stage_arn: str, us_east_1: AwsProvider
    ) -> tuple[str, OriginHeader | None]:
        """A CLOUDFRONT web ACL for the site and a REGIONAL one on the API stage; returns the site's ARN and, in
        same-origin mode, the header the distribution must send the API.

        Cross-origin, the page calls the stage directly: its ACL sees the visitor and judges them. Same-origin, the
        page calls the API through the distribution, whose ACL judges the visitor; the stage would see only
        CloudFront's addresses (one client per edge location to a per-IP rate limit, and CloudFront's addresses to
        the IP reputation lists), so its ACL only lets the distribution's requests in. Each rule judges the real
        client once, and nobody reaches the stage around the site's ACL."""
        api = WebFirewall(
            self,
            "ApiFirewall",
            name=settings.api_web_acl_name,
            waf_scope="REGIONAL",
            settings=settings.waf,
            protects=api_stage_arn,
            only_through_distribution=settings.site.api_same_origin,
        )
        site = WebFirewall(
            self,
            "SiteFirewall",
            name=settings.site_web_acl_name,
            waf_scope="CLOUDFRONT",
            settings=settings.waf,
            provider=us_east_1,
        )
        return site.arn, api.origin_header

    def _backend(self, settings: EnvironmentSettings) -> None:
        backend = settings.backend
        if backend.kind == "s3":
            S3Backend(
                self,
                bucket=backend.bucket or "",
                key=backend.key or f"{settings.project}/{settings.name}/terraform.tfstate",
                region=backend.region or settings.region,
                encrypt=True,
                kms_key_id=backend.kms_key_id,
            )
            # S3's own lock file (Terraform 1.10+) instead of a DynamoDB lock table; CDKTF 0.21 lacks the argument.
            self.add_override("terraform.backend.s3.use_lockfile", True)
        elif backend.kind == "cloud":
            CloudBackend(
                self,
                organization=backend.organization or "",
                hostname=backend.hostname,
                workspaces=NamedCloudWorkspace(backend.workspace or settings.name_prefix, backend.project),
            )
        else:
            LocalBackend(self, path=local_state_path(settings.name))

"""Presentation tier: a private S3 bucket served only through CloudFront (Origin Access Control, HTTPS only)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from cdktf import Fn, TerraformIterator, TerraformProvider, TerraformResourceLifecycle, Token
from cdktf_cdktf_provider_aws.acm_certificate import AcmCertificate
from cdktf_cdktf_provider_aws.acm_certificate_validation import AcmCertificateValidation
from cdktf_cdktf_provider_aws.cloudfront_distribution import (
    CloudfrontDistribution,
    CloudfrontDistributionCustomErrorResponse,
    CloudfrontDistributionDefaultCacheBehavior,
    CloudfrontDistributionDefaultCacheBehaviorFunctionAssociation,
    CloudfrontDistributionOrderedCacheBehavior,
    CloudfrontDistributionOrigin,
    CloudfrontDistributionOriginCustomHeader,
    CloudfrontDistributionOriginCustomOriginConfig,
    CloudfrontDistributionRestrictions,
    CloudfrontDistributionRestrictionsGeoRestriction,
    CloudfrontDistributionViewerCertificate,
)
from cdktf_cdktf_provider_aws.cloudfront_function import CloudfrontFunction
from cdktf_cdktf_provider_aws.cloudfront_origin_access_control import CloudfrontOriginAccessControl
from cdktf_cdktf_provider_aws.cloudfront_response_headers_policy import (
    CloudfrontResponseHeadersPolicy,
    CloudfrontResponseHeadersPolicySecurityHeadersConfig,
    CloudfrontResponseHeadersPolicySecurityHeadersConfigContentSecurityPolicy,
    CloudfrontResponseHeadersPolicySecurityHeadersConfigContentTypeOptions,
    CloudfrontResponseHeadersPolicySecurityHeadersConfigFrameOptions,
    CloudfrontResponseHeadersPolicySecurityHeadersConfigReferrerPolicy,
    CloudfrontResponseHeadersPolicySecurityHeadersConfigStrictTransportSecurity,
)
from cdktf_cdktf_provider_aws.route53_record import Route53Record, Route53RecordAlias
from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket
from cdktf_cdktf_provider_aws.s3_bucket_lifecycle_configuration import (
    S3BucketLifecycleConfiguration,
    S3BucketLifecycleConfigurationRule,
    S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload,
    S3BucketLifecycleConfigurationRuleExpiration,
    S3BucketLifecycleConfigurationRuleFilter,
    S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration,
)
from cdktf_cdktf_provider_aws.s3_bucket_ownership_controls import (
    S3BucketOwnershipControls,
    S3BucketOwnershipControlsRule,
)
from cdktf_cdktf_provider_aws.s3_bucket_policy import S3BucketPolicy
from cdktf_cdktf_provider_aws.s3_bucket_public_access_block import S3BucketPublicAccessBlock
from cdktf_cdktf_provider_aws.s3_bucket_server_side_encryption_configuration import (
    S3BucketServerSideEncryptionConfigurationA,
    S3BucketServerSideEncryptionConfigurationRuleA,
    S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA,
)
from cdktf_cdktf_provider_aws.s3_bucket_versioning import S3BucketVersioningA, S3BucketVersioningVersioningConfiguration
from constructs import Construct

from contract.config import (
    MANAGED_SECURITY_HEADERS_POLICY_ID,
    ConfigError,
    DomainSettings,
    SiteSettings,
    site_bucket_prefix,
)
from contract.headers import SecurityHeaders, check_policy_length, content_security_policy
from contract.routing import ROUTER_RUNTIME, RoutingSettings, not_found_page, render_router
from contract.site_files import INDEX_DOCUMENT, PRIVATE_PREFIX
from hooks.release import SourceError, site_inline_hashes
from modules.firewall import OriginHeader
from terraform_cli import PROJECT_DIR

# AWS's managed cache policy "CachingOptimized": honours Cache-Control, compresses, no cookies or query strings.
CACHING_OPTIMIZED_POLICY_ID = "658327ea-f89d-4fab-a63d-7e88639e58f6"
# AWS's managed "CachingDisabled" cache policy and "AllViewerExceptHostHeader" origin request policy: the API path
# is never cached, and the API receives the viewer's query string and headers but its own Host.
CACHING_DISABLED_POLICY_ID = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST_HEADER_POLICY_ID = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
CUSTOM_DOMAIN_TLS_POLICY = "TLSv1.2_2021"
ORIGIN_ID = "site-bucket"
API_ORIGIN_ID = "api"
# How long CloudFront caches the site's 404 page for a missing page: briefly, so a page published there shows up
# within seconds without an invalidation (hooks/invalidation.py leaves never-live paths out on that basis).
NOT_FOUND_CACHING_SECONDS = 10


def bucket_policy(bucket_arn: str, distribution_arn: str) -> str:
    """Only this distribution may read (ListBucket too, so a missing key is a 404), never the hook's records;
    plain HTTP is refused."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AllowThisDistributionToRead",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudfront.amazonaws.com"},
                    "Action": "s3:GetObject",
                    "Resource": f"{bucket_arn}/*",
                    "Condition": {"StringEquals": {"AWS:SourceArn": distribution_arn}},
                },
                {
                    "Sid": "AllowThisDistributionToList",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudfront.amazonaws.com"},
                    "Action": "s3:ListBucket",
                    "Resource": bucket_arn,
                    "Condition": {"StringEquals": {"AWS:SourceArn": distribution_arn}},
                },
                {
                    # The hook's lock and release records live there: never served to the public.
                    "Sid": "DenyThePublishRecords",
                    "Effect": "Deny",
                    "Principal": {"Service": "cloudfront.amazonaws.com"},
                    "Action": "s3:GetObject",
                    "Resource": f"{bucket_arn}/{PRIVATE_PREFIX}*",
                },
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [f"{bucket_arn}/*", bucket_arn],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
            ],
        }
    )


def site_content_security_policy(settings: SiteSettings, api: SiteApi) -> str:
    """The site's CSP: the API's origin (none in same-origin mode, where the page only ever connects to its own
    origin), the hashes of the inline code in the pages of `site.source_dir` as they are now, and
    `site.csp_sources`. Refused (ConfigError) when the folder is missing or CloudFront would refuse the length."""
    source = settings.source_folder(PROJECT_DIR)
    try:
        inline = site_inline_hashes(source)
    except (FileNotFoundError, SourceError) as exc:
        build = (
            f"site.build_command ({settings.build_command!r}) builds it"
            if settings.build_command
            else ("set site.build_command to the command that builds it")
        )
        raise ConfigError(
            f"site.source_dir: {settings.source_dir!r} cannot be read ({exc}); the content security policy lists the "
            f"hashes of its pages' inline code, so it must exist at synth: build the site first ({build}; "
            "`pipenv run deploy` runs it before synth), or point site.source_dir at the built folder"
        ) from exc
    same_origin = settings.api_same_origin
    sources = settings.csp_sources
    counted = content_security_policy(None if same_origin else api.counted_origin or api.origin, inline, sources)
    check_policy_length(counted, inline, sources)
    return content_security_policy(None if same_origin else api.origin, inline, sources)


@dataclass(frozen=True)
class SiteApi:
    """The API as the site needs it: its origin, which the page's CSP lets it connect to, and in same-origin mode
    where CloudFront forwards the API path (the stage's host and the stage path before the viewer's path)."""

    origin: str
    domain: str
    origin_path: str
    path: str
    origin_header: OriginHeader | None = None  # sent with every request to the API, when its firewall requires it
    # The origin as long as it will be once it exists (`origin` may name an API not yet created): what the CSP's
    # length is counted with. None: `origin` itself.
    counted_origin: str | None = None


@dataclass(frozen=True)
class CustomDomain:
    """A domain for the site and the us-east-1 provider its certificate is made with (CloudFront's region)."""

    settings: DomainSettings
    certificate_provider: TerraformProvider


class StaticSite(Construct):
    """Private, encrypted, versioned bucket and the CloudFront distribution that alone may read it.

    Takes the API it lets the page reach (`api`): the content security policy names it, and in same-origin mode
    the distribution routes the API path to it; optionally a custom `domain` and a WAF web ACL (`web_acl_arn`, of
    scope CLOUDFRONT) for the distribution. Gives back `origin` (where browsers load the site from), `url`,
    `bucket_name`, `distribution_id` and `security_headers` (what every response carries).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        name_prefix: str,
        settings: SiteSettings,
        api: SiteApi,
        site_origin: str | None = None,
        domain: CustomDomain | None = None,
        web_acl_arn: str | None = None,
    ) -> None:
        super().__init__(scope, id_)
        self._site_origin = site_origin
        self._web_acl_arn = web_acl_arn
        self.bucket = self._bucket(name_prefix, settings)
        bucket_origin = CloudfrontDistributionOrigin(
            origin_id=ORIGIN_ID,
            domain_name=self.bucket.bucket_regional_domain_name,  # the REST endpoint, never the website one
            origin_access_control_id=CloudfrontOriginAccessControl(
                self,
                "origin_access_control",
                name=f"{name_prefix}-site",
                origin_access_control_origin_type="s3",
                signing_behavior="always",
                signing_protocol="sigv4",
                description="CloudFront signs every request to the site bucket",
            ).id,
        )
        certificate_arn = self._certificate(domain) if domain else None
        self.security_headers = SecurityHeaders(site_content_security_policy(settings, api))
        if settings.security_headers == "own":
            headers_policy_id = self._security_headers_policy(name_prefix, self.security_headers).id
        else:
            headers_policy_id = MANAGED_SECURITY_HEADERS_POLICY_ID
        self.distribution = self._distribution(
            name_prefix,
            settings,
            domain.settings if domain else None,
            certificate_arn,
            headers_policy_id,
            origins=[bucket_origin, *([self._api_origin(api)] if settings.api_same_origin else [])],
            api_behaviors=[self._api_behavior(api, headers_policy_id)] if settings.api_same_origin else [],
        )
        S3BucketPolicy(
            self, "bucket_policy", bucket=self.bucket.id, policy=bucket_policy(self.bucket.arn, self.distribution.arn)
        )
        if domain:
            self._alias_records(domain.settings)

    # --- the bucket -------------------------------------------------------------------------------------------

    def _bucket(self, name_prefix: str, settings: SiteSettings) -> S3Bucket:
        bucket = S3Bucket(
            self, "bucket", bucket_prefix=site_bucket_prefix(name_prefix), force_destroy=settings.force_destroy_bucket
        )
        S3BucketPublicAccessBlock(
            self,
            "public_access_block",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
        )
        S3BucketOwnershipControls(
            self,
            "ownership",
            bucket=bucket.id,
            rule=S3BucketOwnershipControlsRule(object_ownership="BucketOwnerEnforced"),
        )
        S3BucketServerSideEncryptionConfigurationA(
            self,
            "encryption",
            bucket=bucket.id,
            rule=[
                S3BucketServerSideEncryptionConfigurationRuleA(
                    apply_server_side_encryption_by_default=(
                        S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA(
                            sse_algorithm="AES256"
                        )
                    )
                )
            ],
        )
        versioning = S3BucketVersioningA(
            self,
            "versioning",
            bucket=bucket.id,
            versioning_configuration=S3BucketVersioningVersioningConfiguration(status="Enabled"),
        )
        S3BucketLifecycleConfiguration(
            self,
            "lifecycle",
            bucket=bucket.id,
            rule=[
                S3BucketLifecycleConfigurationRule(
                    id="expire-replaced-files",
                    status="Enabled",
                    filter=[S3BucketLifecycleConfigurationRuleFilter(prefix="")],
                    noncurrent_version_expiration=[
                        S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration(
                            noncurrent_days=settings.noncurrent_version_days
                        )
                    ],
                    abort_incomplete_multipart_upload=[
                        S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload(days_after_initiation=1)
                    ],
                    # Pruning deletes files of a versioned bucket, which leaves a delete marker for each: once
                    # its last noncurrent version has expired, the marker goes too.
                    expiration=[S3BucketLifecycleConfigurationRuleExpiration(expired_object_delete_marker=True)],
                )
            ],
            depends_on=[versioning],  # S3 needs versioning in place before a noncurrent-version rule
        )
        return bucket

    # --- the distribution -------------------------------------------------------------------------------------

    def _distribution(
        self,
        name_prefix: str,
        settings: SiteSettings,
        domain: DomainSettings | None,
        certificate_arn: str | None,
        headers_policy_id: str,
        *,
        origins: list[CloudfrontDistributionOrigin],
        api_behaviors: list[CloudfrontDistributionOrderedCacheBehavior],
    ) -> CloudfrontDistribution:
        if certificate_arn:
            certificate = CloudfrontDistributionViewerCertificate(
                acm_certificate_arn=certificate_arn,
                ssl_support_method="sni-only",
                minimum_protocol_version=CUSTOM_DOMAIN_TLS_POLICY,
            )
        else:
            certificate = CloudfrontDistributionViewerCertificate(cloudfront_default_certificate=True)
        return CloudfrontDistribution(
            self,
            "distribution",
            enabled=True,
            comment=f"{name_prefix} static site",
            aliases=list(domain.names) if domain else None,
            default_root_object=INDEX_DOCUMENT,
            http_version="http2and3",
            is_ipv6_enabled=True,
            price_class=settings.price_class,
            wait_for_deployment=settings.wait_for_deployment,
            web_acl_id=self._web_acl_arn,  # WAF (v2) takes the web ACL's ARN here
            origin=origins,
            default_cache_behavior=CloudfrontDistributionDefaultCacheBehavior(
                target_origin_id=ORIGIN_ID,
                viewer_protocol_policy="redirect-to-https",
                allowed_methods=["GET", "HEAD"],
                cached_methods=["GET", "HEAD"],
                cache_policy_id=CACHING_OPTIMIZED_POLICY_ID,
                compress=True,
                response_headers_policy_id=headers_policy_id,
                function_association=self._routing(name_prefix, settings),
            ),
            ordered_cache_behavior=api_behaviors or None,
            custom_error_response=self._not_found_response(settings),
            restrictions=CloudfrontDistributionRestrictions(
                geo_restriction=CloudfrontDistributionRestrictionsGeoRestriction(restriction_type="none")
            ),
            viewer_certificate=certificate,
        )

    def _routing(
        self, name_prefix: str, settings: SiteSettings
    ) -> list[CloudfrontDistributionDefaultCacheBehaviorFunctionAssociation] | None:
        """The routing function (contract/routing.py) at every viewer request of the site's default behavior; the
        API's behavior never runs it. None where it is turned off (an emulator without CloudFront Functions)."""
        if not settings.routing_function:
            return None
        router = CloudfrontFunction(
            self,
            "router",
            name=f"{name_prefix}-site-router",
            runtime=ROUTER_RUNTIME,
            comment="Directory URLs and single-page-app routes (functions/site_router)",
            code=render_router(RoutingSettings.of(settings)),
            publish=True,  # the distribution runs the LIVE stage, which only publishing updates
        )
        return [
            CloudfrontDistributionDefaultCacheBehaviorFunctionAssociation(
                event_type="viewer-request", function_arn=router.arn
            )
        ]

    @staticmethod
    def _not_found_response(settings: SiteSettings) -> list[CloudfrontDistributionCustomErrorResponse] | None:
        """The site's 404 page for a missing object, where an error page can touch nothing but the bucket."""
        page = not_found_page(settings)
        if page is None:
            return None
        return [
            CloudfrontDistributionCustomErrorResponse(
                error_code=404,
                response_code=404,
                response_page_path=f"/{page}",
                error_caching_min_ttl=NOT_FOUND_CACHING_SECONDS,
            )
        ]

    # --- a custom domain --------------------------------------------------------------------------------------

    def _certificate(self, domain: CustomDomain) -> str:
        """An ACM certificate in us-east-1 (CloudFront's region), validated by DNS records in the zone."""
        provider = domain.certificate_provider
        certificate = AcmCertificate(
            self,
            "certificate",
            provider=provider,
            domain_name=domain.settings.domain_name,
            subject_alternative_names=list(domain.settings.alternative_names) or None,
            validation_method="DNS",
            lifecycle=TerraformResourceLifecycle(create_before_destroy=True),
        )
        # One record per name. The names come from the configuration, so for_each is known when planning; the
        # record's values, which ACM makes only once the certificate exists, are looked up by name and may be
        # unknown until then. (Keyed by the validation options themselves, for_each is unknown at plan time
        # as soon as the certificate has two names.)
        names = TerraformIterator.from_list(list(domain.settings.names))
        options = TerraformIterator.from_list(certificate.domain_validation_options)

        def validation_value(attribute: str) -> str:
            value: str = Fn.one(options.for_expression_for_list(f"val.{attribute} if val.domain_name == each.value"))
            return value

        records = Route53Record(
            self,
            "certificate_validation_record",
            for_each=names,
            zone_id=domain.settings.hosted_zone_id,
            name=validation_value("resource_record_name"),
            type=validation_value("resource_record_type"),
            records=[validation_value("resource_record_value")],
            ttl=60,
            allow_overwrite=True,  # a wildcard and its base name share one record
        )
        validation = AcmCertificateValidation(
            self,
            "certificate_validation",
            provider=provider,
            certificate_arn=certificate.arn,
            validation_record_fqdns=Token.as_list(TerraformIterator.from_resources(records).pluck_property("fqdn")),
        )
        certificate_arn: str = validation.certificate_arn
        return certificate_arn

    def _alias_records(self, domain: DomainSettings) -> None:
        for name in domain.names:
            for record_type in ("A", "AAAA"):
                # The domain's records keep their first ids; each alternative name's are named after it.
                suffix = "" if name == domain.domain_name else f"_{name}"
                Route53Record(
                    self,
                    f"alias_{record_type.lower()}{suffix}",
                    zone_id=domain.hosted_zone_id,
                    name=name,
                    type=record_type,
                    alias=Route53RecordAlias(
                        name=self.distribution.domain_name,
                        zone_id=self.distribution.hosted_zone_id,
                        evaluate_target_health=False,
                    ),
                )

    # --- what the other tiers see -----------------------------------------------------------------------------

    @property
    def origin(self) -> str:
        """The origin browsers load the site from: configured, or the distribution's https origin."""
        # format() rather than an f-string: the origin is hashed into the API's deployment trigger, and a token
        # inside a plain string cannot be passed through Terraform functions.
        return self._site_origin or Fn.format("https://%s", [self.distribution.domain_name])

    @property
    def url(self) -> str:
        if self._site_origin:
            return f"{self._site_origin}/"
        url: str = Fn.format("https://%s/", [self.distribution.domain_name])
        return url

    @property
    def bucket_name(self) -> str:
        return self.bucket.bucket

    @property
    def distribution_id(self) -> str:
        return self.distribution.id

    # --- the API through the site (same-origin mode) ----------------------------------------------------------

    @staticmethod
    def _api_origin(api: SiteApi) -> CloudfrontDistributionOrigin:
        return CloudfrontDistributionOrigin(
            origin_id=API_ORIGIN_ID,
            domain_name=api.domain,
            origin_path=api.origin_path,
            custom_header=(
                [CloudfrontDistributionOriginCustomHeader(name=api.origin_header.name, value=api.origin_header.value)]
                if api.origin_header
                else None
            ),
            custom_origin_config=CloudfrontDistributionOriginCustomOriginConfig(
                http_port=80, https_port=443, origin_protocol_policy="https-only", origin_ssl_protocols=["TLSv1.2"]
            ),
        )

    @staticmethod
    def _api_behavior(api: SiteApi, headers_policy_id: str) -> CloudfrontDistributionOrderedCacheBehavior:
        return CloudfrontDistributionOrderedCacheBehavior(
            path_pattern=api.path,
            target_origin_id=API_ORIGIN_ID,
            viewer_protocol_policy="https-only",
            allowed_methods=["GET", "HEAD", "OPTIONS"],
            cached_methods=["GET", "HEAD"],
            cache_policy_id=CACHING_DISABLED_POLICY_ID,
            origin_request_policy_id=ALL_VIEWER_EXCEPT_HOST_HEADER_POLICY_ID,
            compress=True,
            response_headers_policy_id=headers_policy_id,  # the API's answers get the site's headers too
        )

    def _security_headers_policy(self, name_prefix: str, headers: SecurityHeaders) -> CloudfrontResponseHeadersPolicy:
        """CloudFront's response-headers policy carrying `headers` (contract/headers.py), replacing what the origin
        sends."""
        return CloudfrontResponseHeadersPolicy(
            self,
            "security_headers",
            name=f"{name_prefix}-security-headers",
            comment="HSTS, nosniff, frame and referrer policy, and a CSP naming the API",
            security_headers_config=CloudfrontResponseHeadersPolicySecurityHeadersConfig(
                strict_transport_security=CloudfrontResponseHeadersPolicySecurityHeadersConfigStrictTransportSecurity(
                    access_control_max_age_sec=headers.hsts_max_age_seconds,
                    include_subdomains=headers.hsts_include_subdomains,
                    preload=headers.hsts_preload,
                    override=True,
                ),
                content_type_options=CloudfrontResponseHeadersPolicySecurityHeadersConfigContentTypeOptions(
                    override=True
                ),
                frame_options=CloudfrontResponseHeadersPolicySecurityHeadersConfigFrameOptions(
                    frame_option=headers.frame_option, override=True
                ),
                referrer_policy=CloudfrontResponseHeadersPolicySecurityHeadersConfigReferrerPolicy(
                    referrer_policy=headers.referrer_policy, override=True
                ),
                content_security_policy=CloudfrontResponseHeadersPolicySecurityHeadersConfigContentSecurityPolicy(
                    content_security_policy=headers.content_security_policy, override=True
                ),
            ),
        )

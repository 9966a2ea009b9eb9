"""Presentation tier: a private S3 bucket served only through CloudFront (Origin Access Control, HTTPS only)."""

from __future__ import annotations

import json

from cdktf_cdktf_provider_aws.cloudfront_distribution import (
    CloudfrontDistribution,
    CloudfrontDistributionDefaultCacheBehavior,
    CloudfrontDistributionOrigin,
    CloudfrontDistributionRestrictions,
    CloudfrontDistributionRestrictionsGeoRestriction,
    CloudfrontDistributionViewerCertificate,
)
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
from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket
from cdktf_cdktf_provider_aws.s3_bucket_lifecycle_configuration import (
    S3BucketLifecycleConfiguration,
    S3BucketLifecycleConfigurationRule,
    S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload,
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
from cdktf_cdktf_provider_aws.s3_bucket_versioning import (
    S3BucketVersioningA,
    S3BucketVersioningVersioningConfiguration,
)
from cdktf import Fn
from constructs import Construct

from modules.config import MANAGED_SECURITY_HEADERS_POLICY_ID, SiteSettings

# AWS's managed cache policy "CachingOptimized": honours Cache-Control, compresses, no cookies or query strings.
CACHING_OPTIMIZED_POLICY_ID = "658327ea-f89d-4fab-a63d-7e88639e58f6"
ORIGIN_ID = "site-bucket"
HSTS_MAX_AGE_SECONDS = 63072000  # two years, the preload list's expectation


def bucket_policy(bucket_arn: str, distribution_arn: str) -> str:
    """Only this distribution may read (ListBucket too, so a missing key is a 404); plain HTTP is refused."""
    return json.dumps({
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
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [f"{bucket_arn}/*", bucket_arn],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ],
    })


def content_security_policy(api_origin: str) -> str:
    """Scripts, styles and data only from the site itself; API calls only to the site and the API."""
    return "; ".join([
        "default-src 'self'",
        f"connect-src 'self' {api_origin}",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ])


class StaticSite(Construct):
    """Private, encrypted, versioned bucket and the CloudFront distribution that alone may read it.

    Exposes `origin` (where browsers load the site from), `url`, `bucket_name`, `distribution_id`.
    Call `allow_api_origin` once the API exists so the content security policy can name it.
    """

    def __init__(self, scope: Construct, id_: str, *, name_prefix: str, settings: SiteSettings) -> None:
        super().__init__(scope, id_)
        self._settings = settings
        self._name_prefix = name_prefix
        self.bucket = S3Bucket(
            self, "bucket", bucket_prefix=f"{name_prefix}-site-", force_destroy=settings.force_destroy_bucket
        )
        S3BucketPublicAccessBlock(
            self, "public_access_block", bucket=self.bucket.id, block_public_acls=True, block_public_policy=True,
            ignore_public_acls=True, restrict_public_buckets=True,
        )
        S3BucketOwnershipControls(
            self, "ownership", bucket=self.bucket.id,
            rule=S3BucketOwnershipControlsRule(object_ownership="BucketOwnerEnforced"),
        )
        S3BucketServerSideEncryptionConfigurationA(
            self, "encryption", bucket=self.bucket.id,
            rule=[S3BucketServerSideEncryptionConfigurationRuleA(
                apply_server_side_encryption_by_default=(
                    S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA(
                        sse_algorithm="AES256"
                    )
                ),
            )],
        )
        versioning = S3BucketVersioningA(
            self, "versioning", bucket=self.bucket.id,
            versioning_configuration=S3BucketVersioningVersioningConfiguration(status="Enabled"),
        )
        S3BucketLifecycleConfiguration(
            self, "lifecycle", bucket=self.bucket.id,
            rule=[S3BucketLifecycleConfigurationRule(
                id="expire-replaced-files",
                status="Enabled",
                filter=[S3BucketLifecycleConfigurationRuleFilter(prefix="")],
                noncurrent_version_expiration=[S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration(
                    noncurrent_days=settings.noncurrent_version_days
                )],
                abort_incomplete_multipart_upload=[
                    S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload(days_after_initiation=1)
                ],
            )],
            depends_on=[versioning],  # S3 needs versioning in place before a noncurrent-version rule
        )
        access_control = CloudfrontOriginAccessControl(
            self, "origin_access_control", name=f"{name_prefix}-site", origin_access_control_origin_type="s3",
            signing_behavior="always", signing_protocol="sigv4",
            description="CloudFront signs every request to the site bucket",
        )
        managed_headers = settings.security_headers == "managed"
        self.distribution = CloudfrontDistribution(
            self,
            "distribution",
            enabled=True,
            comment=f"{name_prefix} static site",
            default_root_object="index.html",
            http_version="http2and3",
            is_ipv6_enabled=True,
            price_class=settings.price_class,
            wait_for_deployment=settings.wait_for_deployment,
            origin=[CloudfrontDistributionOrigin(
                origin_id=ORIGIN_ID,
                domain_name=self.bucket.bucket_regional_domain_name,  # the REST endpoint, never the website one
                origin_access_control_id=access_control.id,
            )],
            default_cache_behavior=CloudfrontDistributionDefaultCacheBehavior(
                target_origin_id=ORIGIN_ID,
                viewer_protocol_policy="redirect-to-https",
                allowed_methods=["GET", "HEAD"],
                cached_methods=["GET", "HEAD"],
                cache_policy_id=CACHING_OPTIMIZED_POLICY_ID,
                compress=True,
                response_headers_policy_id=MANAGED_SECURITY_HEADERS_POLICY_ID if managed_headers else None,
            ),
            restrictions=CloudfrontDistributionRestrictions(
                geo_restriction=CloudfrontDistributionRestrictionsGeoRestriction(restriction_type="none")
            ),
            viewer_certificate=CloudfrontDistributionViewerCertificate(cloudfront_default_certificate=True),
        )
        S3BucketPolicy(
            self, "bucket_policy", bucket=self.bucket.id,
            policy=bucket_policy(self.bucket.arn, self.distribution.arn),
        )

    @property
    def origin(self) -> str:
        """The origin browsers load the site from: configured, or the distribution's https origin."""
        # format() rather than an f-string: the origin is hashed into the API's deployment trigger, and a token
        # inside a plain string cannot be passed through Terraform functions.
        return self._settings.site_origin or Fn.format("https://%s", [self.distribution.domain_name])

    @property
    def url(self) -> str:
        if self._settings.site_origin:
            return f"{self._settings.site_origin}/"
        return Fn.format("https://%s/", [self.distribution.domain_name])

    @property
    def bucket_name(self) -> str:
        return self.bucket.bucket

    @property
    def distribution_id(self) -> str:
        return self.distribution.id

    def allow_api_origin(self, api_origin: str) -> None:
        """Attach our response-headers policy, whose content security policy lets the page call `api_origin`.

        A method rather than a constructor argument because the API's CORS origin comes from this distribution:
        the site is built first, then the API, then this.
        """
        if self._settings.security_headers != "own":
            return
        policy = CloudfrontResponseHeadersPolicy(
            self,
            "security_headers",
            name=f"{self._name_prefix}-security-headers",
            comment="HSTS, nosniff, frame and referrer policy, and a CSP naming the API",
            security_headers_config=CloudfrontResponseHeadersPolicySecurityHeadersConfig(
                strict_transport_security=CloudfrontResponseHeadersPolicySecurityHeadersConfigStrictTransportSecurity(
                    access_control_max_age_sec=HSTS_MAX_AGE_SECONDS, include_subdomains=True, preload=True,
                    override=True,
                ),
                content_type_options=CloudfrontResponseHeadersPolicySecurityHeadersConfigContentTypeOptions(
                    override=True
                ),
                frame_options=CloudfrontResponseHeadersPolicySecurityHeadersConfigFrameOptions(
                    frame_option="DENY", override=True
                ),
                referrer_policy=CloudfrontResponseHeadersPolicySecurityHeadersConfigReferrerPolicy(
                    referrer_policy="strict-origin-when-cross-origin", override=True
                ),
                content_security_policy=CloudfrontResponseHeadersPolicySecurityHeadersConfigContentSecurityPolicy(
                    content_security_policy=content_security_policy(api_origin), override=True
                ),
            ),
        )
        self.distribution.default_cache_behavior.response_headers_policy_id = policy.id

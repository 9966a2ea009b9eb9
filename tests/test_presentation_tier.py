"""The private bucket and the CloudFront distribution in front of it, as synthesized."""

import json

from contract.config import MANAGED_SECURITY_HEADERS_POLICY_ID
from modules.frontend import CACHING_OPTIMIZED_POLICY_ID


def test_bucket_blocks_every_kind_of_public_access(prod):
    block = prod.only("aws_s3_bucket_public_access_block")
    assert {
        k: block[k]
        for k in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")
    } == dict.fromkeys(
        ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"), True
    )
    assert block["bucket"] == prod.ref("aws_s3_bucket", "id")


def test_bucket_owner_enforced_encrypted_and_versioned(prod):
    assert prod.only("aws_s3_bucket_ownership_controls")["rule"] == {"object_ownership": "BucketOwnerEnforced"}
    encryption = prod.only("aws_s3_bucket_server_side_encryption_configuration")
    assert encryption["rule"] == [{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}]
    assert prod.only("aws_s3_bucket_versioning")["versioning_configuration"] == {"status": "Enabled"}


def test_bucket_name_is_generated_from_the_environment_prefix(prod):
    bucket = prod.only("aws_s3_bucket")
    assert bucket["bucket_prefix"] == "three-tier-prod-site-"
    assert bucket["force_destroy"] is False


def test_bucket_policy_lets_only_this_distribution_read(prod):
    policy = json.loads(prod.only("aws_s3_bucket_policy")["policy"])
    read, list_, _, deny = policy["Statement"]
    bucket_arn = prod.ref("aws_s3_bucket", "arn")
    only_this_distribution = {"StringEquals": {"AWS:SourceArn": prod.ref("aws_cloudfront_distribution", "arn")}}
    for statement in (read, list_):
        assert statement["Effect"] == "Allow"
        assert statement["Principal"] == {"Service": "cloudfront.amazonaws.com"}
        assert statement["Condition"] == only_this_distribution
    assert (read["Action"], read["Resource"]) == ("s3:GetObject", f"{bucket_arn}/*")
    assert (list_["Action"], list_["Resource"]) == ("s3:ListBucket", bucket_arn)
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_bucket_policy_keeps_the_publish_records_from_the_distribution(prod):
    statements = json.loads(prod.only("aws_s3_bucket_policy")["policy"])["Statement"]
    (hide_records,) = [s for s in statements if s["Sid"] == "DenyThePublishRecords"]
    assert hide_records["Effect"] == "Deny"
    assert hide_records["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert (hide_records["Action"], hide_records["Resource"]) == (
        "s3:GetObject",
        f"{prod.ref('aws_s3_bucket', 'arn')}/.publish/*",
    )


def test_replaced_files_expire_from_the_versioned_bucket(prod):
    (rule,) = prod.only("aws_s3_bucket_lifecycle_configuration")["rule"]
    assert rule["status"] == "Enabled"
    assert rule["noncurrent_version_expiration"] == [{"noncurrent_days": 30}]
    assert rule["abort_incomplete_multipart_upload"] == [{"days_after_initiation": 1}]


def test_origin_access_control_signs_every_request(prod):
    control = prod.only("aws_cloudfront_origin_access_control")
    assert (control["origin_access_control_origin_type"], control["signing_behavior"], control["signing_protocol"]) == (
        "s3",
        "always",
        "sigv4",
    )


def test_distribution_reads_the_bucket_rest_endpoint_through_oac(prod):
    (origin,) = prod.only("aws_cloudfront_distribution")["origin"]
    assert origin["domain_name"] == prod.ref("aws_s3_bucket", "bucket_regional_domain_name")
    assert origin["origin_access_control_id"] == prod.ref("aws_cloudfront_origin_access_control", "id")
    assert "custom_origin_config" not in origin


def test_distribution_is_https_only_compressed_http3_ipv6(prod):
    distribution = prod.only("aws_cloudfront_distribution")
    behavior = distribution["default_cache_behavior"]
    assert behavior["viewer_protocol_policy"] == "redirect-to-https"
    assert behavior["cache_policy_id"] == CACHING_OPTIMIZED_POLICY_ID
    assert behavior["compress"] is True
    assert behavior["allowed_methods"] == ["GET", "HEAD"]
    assert distribution["default_root_object"] == "index.html"
    assert distribution["http_version"] == "http2and3"
    assert distribution["is_ipv6_enabled"] is True
    assert distribution["price_class"] == "PriceClass_100"
    assert distribution["wait_for_deployment"] is True


def test_prod_attaches_its_own_security_headers_with_a_csp_naming_the_api(prod):
    behavior = prod.only("aws_cloudfront_distribution")["default_cache_behavior"]
    assert behavior["response_headers_policy_id"] == prod.ref("aws_cloudfront_response_headers_policy", "id")
    headers = prod.only("aws_cloudfront_response_headers_policy")["security_headers_config"]
    assert headers["strict_transport_security"]["access_control_max_age_sec"] == 63072000
    assert headers["strict_transport_security"]["include_subdomains"] is True
    assert headers["content_type_options"] == {"override": True}
    assert headers["frame_options"] == {"frame_option": "DENY", "override": True}
    assert headers["referrer_policy"]["referrer_policy"] == "strict-origin-when-cross-origin"
    csp = headers["content_security_policy"]["content_security_policy"]
    api_origin = "https://" + prod.ref("aws_api_gateway_rest_api", "id") + ".execute-api.eu-north-1.amazonaws.com"
    assert f"connect-src 'self' {api_origin}" in csp
    assert "default-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp


def test_local_attaches_the_managed_security_headers_policy(local):
    behavior = local.only("aws_cloudfront_distribution")["default_cache_behavior"]
    assert behavior["response_headers_policy_id"] == MANAGED_SECURITY_HEADERS_POLICY_ID
    assert local.resources("aws_cloudfront_response_headers_policy") == {}
    assert local.only("aws_cloudfront_distribution")["wait_for_deployment"] is False

"""The security headers browsers get with every page: one definition, from which the stack builds its CloudFront
response-headers policy and local mode's site server builds the same headers. Plain Python, no CDKTF."""

from __future__ import annotations

from dataclasses import dataclass

HSTS_MAX_AGE_SECONDS = 63072000  # two years, the preload list's expectation


def content_security_policy(api_origin: str | None) -> str:
    """Scripts, styles, fonts and frames only from the site itself, images also inline (data:), API calls only to
    the site and, where it answers apart, the API's origin. No inline scripts, handlers or styles."""
    connect = f"connect-src 'self' {api_origin}" if api_origin else "connect-src 'self'"
    return "; ".join(
        [
            "default-src 'self'",
            connect,
            "img-src 'self' data:",
            "object-src 'none'",
            "base-uri 'self'",
            "frame-ancestors 'none'",
            "form-action 'self'",
        ]
    )


@dataclass(frozen=True)
class SecurityHeaders:
    """HSTS, nosniff, frame and referrer policy, and the content security policy."""

    content_security_policy: str
    hsts_max_age_seconds: int = HSTS_MAX_AGE_SECONDS
    hsts_include_subdomains: bool = True
    hsts_preload: bool = True
    frame_option: str = "DENY"
    referrer_policy: str = "strict-origin-when-cross-origin"

    def http_headers(self) -> dict[str, str]:
        """The headers as CloudFront sends them for the response-headers policy built from these settings."""
        hsts = f"max-age={self.hsts_max_age_seconds}"
        hsts += "; includeSubDomains" if self.hsts_include_subdomains else ""
        hsts += "; preload" if self.hsts_preload else ""
        return {
            "Strict-Transport-Security": hsts,
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": self.frame_option,
            "Referrer-Policy": self.referrer_policy,
            "Content-Security-Policy": self.content_security_policy,
        }

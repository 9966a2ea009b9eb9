"""The security headers browsers get with every page: one definition, from which the stack builds its CloudFront
response-headers policy and local mode's site server builds the same headers. Plain Python, no CDKTF.

The content security policy allows the site's own files, and inline code only by its hash: each inline script
and `<style>` block (and `style` attribute) the site's pages carry is listed as `'sha256-…'`, computed at synth
from the site's folder, so a generator's inline code runs while any other (injected) inline code stays blocked.
`script-src` never gets `'unsafe-inline'`, `'unsafe-eval'`, `'unsafe-hashes'` or a wildcard."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from contract.rules import ConfigError

HSTS_MAX_AGE_SECONDS = 63072000  # two years, the preload list's expectation
# CloudFront's limit for the CSP of a response-headers policy, in characters
# (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cloudfront-limits.html).
MAX_CSP_LENGTH = 1783
# The directives `site.csp_sources` may add origins to, in the order the policy lists them.
SOURCE_DIRECTIVES = (
    "script-src",
    "style-src",
    "connect-src",
    "img-src",
    "font-src",
    "media-src",
    "frame-src",
    "manifest-src",
    "worker-src",
)
# An API Gateway REST API id: 10 characters, so its execute-api origin's length is known before the API exists.
API_ID_LENGTH = 10


def csp_hash(text: str) -> str:
    """The CSP source that allows this exact inline code: base64 of the SHA-256 of its UTF-8 bytes, as browsers
    compute it for an inline script, a `<style>` block or a `style` attribute."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


@dataclass(frozen=True)
class InlineHashes:
    """The hashes of the inline code a site's pages carry, each distinct and sorted: scripts (`script-src`),
    `<style>` blocks and `style` attributes (`style-src`; attributes need `'unsafe-hashes'` there)."""

    scripts: tuple[str, ...] = ()
    styles: tuple[str, ...] = ()
    style_attributes: tuple[str, ...] = ()

    @classmethod
    def of(cls, scripts: Iterable[str], styles: Iterable[str], style_attributes: Iterable[str]) -> InlineHashes:
        """The hashes of these inline texts."""
        return cls(
            tuple(sorted({csp_hash(t) for t in scripts})),
            tuple(sorted({csp_hash(t) for t in styles})),
            tuple(sorted({csp_hash(t) for t in style_attributes})),
        )

    @property
    def count(self) -> int:
        return len(self.scripts) + len(self.styles) + len(self.style_attributes)


NO_INLINE_CODE = InlineHashes()


def content_security_policy(
    api_origin: str | None, inline: InlineHashes = NO_INLINE_CODE, sources: Mapping[str, tuple[str, ...]] | None = None
) -> str:
    """Scripts, styles, fonts and frames only from the site itself, images also inline (data:), API calls only to
    the site and, where it answers apart, the API's origin. Inline code only where its hash is listed (`inline`),
    never inline event handlers or `javascript:` URLs; more origins per directive from `sources`
    (`site.csp_sources`). With neither, the policy is the one every environment has always had."""
    sources = sources or {}

    def directive(name: str, *base: str) -> str:
        return " ".join([name, *base, *sources.get(name, ())])

    style_hashes = [*inline.styles, *(["'unsafe-hashes'", *inline.style_attributes] if inline.style_attributes else [])]
    parts = ["default-src 'self'"]
    if inline.scripts or sources.get("script-src"):
        parts.append(directive("script-src", "'self'", *inline.scripts))
    if style_hashes or sources.get("style-src"):
        parts.append(directive("style-src", "'self'", *style_hashes))
    parts += [
        directive("connect-src", "'self'", *([api_origin] if api_origin else [])),
        directive("img-src", "'self'", "data:"),
    ]
    parts += [directive(name, "'self'") for name in SOURCE_DIRECTIVES[4:] if sources.get(name)]
    parts += ["object-src 'none'", "base-uri 'self'", "frame-ancestors 'none'", "form-action 'self'"]
    return "; ".join(parts)


def execute_api_origin(region: str) -> str:
    """An API's execute-api origin as long as the real one will be, for counting a policy that names it."""
    return f"https://{'x' * API_ID_LENGTH}.execute-api.{region}.amazonaws.com"


def check_policy_length(policy: str, inline: InlineHashes, sources: Mapping[str, tuple[str, ...]]) -> None:
    """Refuse a policy CloudFront would refuse (longer than MAX_CSP_LENGTH), saying what makes it long."""
    if len(policy) <= MAX_CSP_LENGTH:
        return
    origins = sum(len(v) for v in sources.values())
    raise ConfigError(
        f"site.source_dir: the content security policy would be {len(policy)} characters, and CloudFront allows "
        f"{MAX_CSP_LENGTH} in a response-headers policy; it lists {inline.count} hash(es) of distinct inline code "
        f"({len(inline.scripts)} script(s), {len(inline.styles)} <style> block(s), {len(inline.style_attributes)} "
        f"style attribute(s); 54 characters each) and {origins} origin(s) from site.csp_sources. Make fewer "
        "distinct inline snippets (move inline scripts and styles into .js and .css files, style attributes into "
        "classes) or list fewer origins"
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

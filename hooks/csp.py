"""The site's content security policy, read and applied to the pages before they are published.

A page written the way many tutorials write it — `onclick="…"`, an inline `<script>`, `style="…"`, a font from
another host — runs on a local file server and does nothing behind CloudFront, whose CSP blocks it with only a
console message to show why. The hook reads every page (and stylesheet, and the API URL the page will call) the
way a browser applies the policy, and reports each thing the policy blocks, one line each, before anything is
uploaded.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from contract.headers import InlineHashes, csp_hash
from hooks.html import InlineCode, Page

# Where a directive falls back to when the policy does not set it (CSP Level 3).
FALLBACKS = {
    "script-src-elem": ("script-src", "default-src"),
    "script-src-attr": ("script-src", "default-src"),
    "style-src-elem": ("style-src", "default-src"),
    "style-src-attr": ("style-src", "default-src"),
    "img-src": ("default-src",),
    "font-src": ("default-src",),
    "connect-src": ("default-src",),
    "media-src": ("default-src",),
    "object-src": ("default-src",),
    "manifest-src": ("default-src",),
    "frame-src": ("child-src", "default-src"),
    "form-action": (),
    "base-uri": (),
}
# What each kind of reference (hooks.html, hooks.css) is fetched as.
DIRECTIVE_OF = {
    "script": "script-src-elem",
    "style": "style-src-elem",
    "image": "img-src",
    "font": "font-src",
    "media": "media-src",
    "object": "object-src",
    "manifest": "manifest-src",
    "frame": "frame-src",
    "connect": "connect-src",
    "form": "form-action",
    "base": "base-uri",
}
PLURAL = {
    "script": "scripts",
    "style": "stylesheets",
    "image": "images",
    "font": "fonts",
    "media": "media",
    "object": "plugins",
    "manifest": "manifests",
    "frame": "frames",
    "connect": "API calls",
    "form": "forms posting",
    "base": "<base href>",
}
# The directive of `site.csp_sources` that lets each kind of reference load from another origin.
SETTING_DIRECTIVE = {
    "script": "script-src",
    "style": "style-src",
    "image": "img-src",
    "font": "font-src",
    "media": "media-src",
    "manifest": "manifest-src",
    "frame": "frame-src",
    "connect": "connect-src",
}
# Inline code a policy allows by its hash (the rest, event handlers and javascript: URLs, it never allows).
HASHED = ("inline script", "<style> block", "style attribute")
INLINE_ADVICE = {
    "inline script": ("inline scripts", "move it into a .js file loaded with <script src>"),
    "javascript: URL": ("javascript: URLs", "use a button and addEventListener in a script file"),
    "style attribute": ("inline styles", "move it into the stylesheet (a class)"),
    "<style> block": ("inline <style> blocks", "move it into a .css file loaded with <link rel=stylesheet>"),
}


@dataclass(frozen=True)
class Finding:
    """One thing the policy blocks, and where."""

    file: str
    line: int
    what: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.what}: {self.message}"


@dataclass(frozen=True)
class ContentSecurityPolicy:
    directives: dict[str, tuple[str, ...]]

    @classmethod
    def parse(cls, text: str) -> ContentSecurityPolicy:
        directives: dict[str, tuple[str, ...]] = {}
        for part in text.split(";"):
            tokens = part.split()
            if tokens and tokens[0].lower() not in directives:  # the first of a repeated directive counts
                directives[tokens[0].lower()] = tuple(tokens[1:])
        return cls(directives)

    def governing(self, directive: str) -> tuple[str, tuple[str, ...]] | None:
        """The directive that applies (itself or the one it falls back to) and its sources; None: no limit."""
        for name in (directive, *FALLBACKS.get(directive, ("default-src",))):
            if name in self.directives:
                return name, self.directives[name]
        return None

    def allows_inline(self, directive: str, code: InlineCode | None = None) -> bool:
        """Whether inline code governed by `directive` runs: its hash is listed (for code in an attribute, only
        with 'unsafe-hashes' beside it; never a javascript: URL), or 'unsafe-inline' is."""
        governing = self.governing(directive)
        if governing is None:
            return True
        sources = governing[1]
        hashed = code is not None and code.what != "javascript: URL" and csp_hash(code.text) in sources
        if hashed and (not code or not code.is_attribute or "'unsafe-hashes'" in (s.lower() for s in sources)):
            return True
        # A nonce or hash in the list makes browsers ignore 'unsafe-inline'.
        return "'unsafe-inline'" in sources and not any(s.startswith(("'nonce-", "'sha")) for s in sources)

    def allows_url(self, directive: str, url: str, site_origin: str | None) -> bool:
        governing = self.governing(directive)
        return governing is None or any(_matches(source, url, site_origin) for source in governing[1])

    def blocked_by(self, directive: str) -> str:
        """The directive that blocks, as written, with its hashes counted rather than listed."""
        governing = self.governing(directive)
        if governing is None:
            return "nothing"
        hashes = [s for s in governing[1] if s.startswith("'sha")]
        shown = [governing[0], *(s for s in governing[1] if s not in hashes)]
        return " ".join(shown) + (f" (and {len(hashes)} hash(es))" if hashes else "")


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else None


def _matches(source: str, url: str, site_origin: str | None) -> bool:
    """Whether a CSP source expression allows `url` (relative URLs are the site's own)."""
    source = source.lower()
    parts = urlsplit(url)
    same_origin = (not parts.scheme and not parts.netloc) or (site_origin is not None and _origin(url) == site_origin)
    if source == "'self'":
        return same_origin
    if source.startswith("'"):  # 'none', 'unsafe-inline', nonces, hashes: no URL
        return False
    if source == "*":
        return same_origin or parts.scheme in ("http", "https", "ws", "wss")
    if source.endswith(":") and "/" not in source:  # a scheme, e.g. data: or https:
        return parts.scheme.lower() == source[:-1]
    if same_origin and not parts.netloc:
        return False
    expected = urlsplit(source if "://" in source else f"{parts.scheme or 'https'}://{source}")
    host, pattern = (parts.hostname or "").lower(), (expected.hostname or "")
    host_ok = host.endswith(pattern[1:]) if pattern.startswith("*.") else host == pattern
    scheme_ok = expected.scheme == parts.scheme or (expected.scheme == "http" and parts.scheme == "https")
    port_ok = ":*" in source or expected.port == parts.port
    return host_ok and scheme_ok and port_ok and parts.path.startswith(expected.path or "/")


def redeploy(stack: str | None) -> str:
    """The command that synthesizes the policy again from the site's folder and applies it."""
    return f"pipenv run deploy {stack or '<stack>'}"


def inline_finding(
    file: str, code: InlineCode, policy: ContentSecurityPolicy, stack: str | None = None
) -> Finding | None:
    """What the policy says about one piece of inline code: None where it runs. Inline scripts, `<style>` blocks
    and style attributes are allowed by their hash, which the stack lists at synth, so a new or changed one needs
    a redeploy; event handlers and javascript: URLs are never allowed."""
    what, kind = code.what, code.kind
    directive = "script-src-attr" if code.is_attribute else f"{kind}-src-elem"
    if what == "style attribute":
        directive = "style-src-attr"
    if policy.allows_inline(directive, code):
        return None
    blocked, advice = INLINE_ADVICE.get(
        what, ("inline event handlers", "move it into a script file (addEventListener)")
    )
    if what in HASHED:
        advice = (
            f"its hash {csp_hash(code.text)} is not in the policy: redeploy ({redeploy(stack)}) so that the policy "
            f"lists the hashes of the site's inline code, or {advice}"
        )
    return Finding(file, code.line, what, f"{blocked} are blocked by {policy.blocked_by(directive)}; {advice}")


def url_finding(
    file: str,
    line: int,
    kind: str,
    url: str,
    policy: ContentSecurityPolicy,
    site_origin: str | None,
    what: str,
    stack: str | None = None,
) -> Finding | None:
    directive = DIRECTIVE_OF[kind]
    if policy.allows_url(directive, url, site_origin):
        return None
    preposition = "to" if kind in ("connect", "form", "base") else "from"
    advice = {
        "connect": "publish the page with the stack whose API it calls",
        "form": "post to the site itself",
        "base": "remove it",
        "frame": "remove it",
    }.get(kind, "publish the file with the site")
    setting = SETTING_DIRECTIVE.get(kind)
    origin = _origin(url)
    if setting and origin and origin.startswith("https://") and not what.startswith("apiUrl"):
        advice = f'add "{origin}" to site.csp_sources["{setting}"] and redeploy ({redeploy(stack)}), or {advice}'
    return Finding(
        file,
        line,
        what,
        f"{PLURAL[kind]} {preposition} {_origin(url) or url} are blocked by {policy.blocked_by(directive)}; {advice}",
    )


def inline_hashes(pages: Iterable[Page]) -> InlineHashes:
    """The hashes a policy lists so that the inline code of `pages` runs: every inline script that runs, every
    `<style>` block and every style attribute. Event handlers and javascript: URLs get none: they stay blocked."""
    codes = [code for page in pages for code in page.inline]
    return InlineHashes.of(
        (c.text for c in codes if c.what == "inline script"),
        (c.text for c in codes if c.what == "<style> block"),
        (c.text for c in codes if c.what == "style attribute"),
    )


def listed_hashes(csp: str) -> set[str]:
    """Every hash a policy lists, in any directive."""
    return {token for part in csp.split(";") for token in part.split() if token.startswith("'sha")}

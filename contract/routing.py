"""The site's routing: one definition, two implementations. CloudFront runs `functions/site_router/site_router.js`
at every viewer request of the site (never the API's path); local mode's site server runs `route` below. Both are
tested against one table of cases (tests/routing_cases.json).

The rules, for a request path as the viewer sent it (percent-encoded):

- a path ending in `/` gets the index document: `/guide/setup/` -> `/guide/setup/index.html`;
- a path whose last segment has a `.` (a file: `app.js`, `logo.png`, `v1.2`) is never touched, so a missing file
  stays S3's plain 404, never a page; nor is anything under `/.well-known/`, whose files often have no extension;
- any other path (extensionless): in single-page-app mode it gets `/index.html` (the app's client-side routes
  work on first load and reload); otherwise a 301 to the slash form, the query string kept: `/guide/setup?q=1`
  -> `/guide/setup/?q=1`. A redirect, not a rewrite: a page served at `/guide/setup` would resolve its relative
  links from `/guide/`, one folder too high; S3 website hosting, GitHub Pages and Netlify redirect too.

Plain Python: no CDKTF, so the stack, the hook and local mode share it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import quote

from contract.config import SiteSettings
from contract.site_files import INDEX_DOCUMENT

ROUTER_SOURCE = Path(__file__).resolve().parent.parent / "functions" / "site_router" / "site_router.js"
# CloudFront Functions' limit on a function's code (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cloudfront-limits.html#limits-functions).
MAX_FUNCTION_BYTES = 10 * 1024
ROUTER_RUNTIME = "cloudfront-js-2.0"
REDIRECT_STATUS = 301
WELL_KNOWN = "/.well-known/"
# The line of the JavaScript that carries the settings; the stack replaces it with the environment's.
_SETTINGS_LINE = re.compile(r"^const SETTINGS = .*;$", re.MULTILINE)
# What may not stand in a URL as it is: a '%' that starts no escape, and runs of characters outside the ones kept.
_UNSAFE = re.compile(r"%(?![0-9A-Fa-f]{2})|[^A-Za-z0-9\-._~!$'()*+,;:@/%]+")

Action = Literal["pass", "rewrite", "redirect"]


@dataclass(frozen=True)
class RoutingSettings:
    """What the routing needs to know: the page served for a folder, and whether the site is a single-page app."""

    index_document: str = INDEX_DOCUMENT
    single_page_app: bool = False

    @classmethod
    def of(cls, site: SiteSettings) -> RoutingSettings:
        return cls(INDEX_DOCUMENT, site.single_page_app)


@dataclass(frozen=True)
class Route:
    """The decision for one request: `pass` the path on, `rewrite` it to `uri`, or `redirect` (301) to `uri`, the
    Location, query string included."""

    action: Action
    uri: str


def escape(text: str) -> str:
    """Percent-encode what may not stand in a URL as it is, keeping the escapes already there (never twice)."""
    return _UNSAFE.sub(lambda found: "%25" if found[0] == "%" else quote(found[0], safe=""), text)


def query_string(raw: str) -> str:
    """The query string as CloudFront's function writes it back from its object: `?` and every value of every
    name, grouped by name in the order the names first came, each `name=value`; "" for none."""
    values: dict[str, list[str]] = {}
    for part in raw.split("&"):
        if part:
            name, _, value = part.partition("=")
            values.setdefault(name, []).append(value)
    parts = [f"{escape(name)}={escape(value)}" for name, found in values.items() for value in found]
    return "?" + "&".join(parts) if parts else ""


def route(settings: RoutingSettings, uri: str, query: str = "") -> Route:
    """What the site does with a request for `uri` (percent-encoded, as the viewer sent it) and its raw `query`."""
    if uri.startswith(WELL_KNOWN):
        return Route("pass", uri)
    last = uri[uri.rfind("/") + 1 :]
    if last == "":
        return Route("rewrite", uri + settings.index_document)
    if "." in last:
        return Route("pass", uri)
    if settings.single_page_app:
        return Route("rewrite", "/" + settings.index_document)
    # One leading slash: "//host/" would send the browser to another site.
    return Route("redirect", escape("/" + uri.lstrip("/") + "/") + query_string(query))


def render_router(settings: RoutingSettings, source: str | None = None) -> str:
    """The function's code for `settings`: the JavaScript with its SETTINGS line set, still valid JavaScript."""
    code = ROUTER_SOURCE.read_text(encoding="utf-8") if source is None else source
    if len(_SETTINGS_LINE.findall(code)) != 1:
        raise ValueError(f"{ROUTER_SOURCE}: expected exactly one line `const SETTINGS = …;`")
    values = {"indexDocument": settings.index_document, "singlePageApp": settings.single_page_app}
    line = f"const SETTINGS = {json.dumps(values)};"
    return _SETTINGS_LINE.sub(lambda _: line, code)


def not_found_page(site: SiteSettings) -> str | None:
    """The page the distribution answers a missing object with (status 404), or None. Custom error responses are
    distribution-wide, so none where one could touch more than the bucket: in same-origin mode the API's own 404
    answers must reach the page unchanged, and in single-page-app mode a missing script or image must stay a 404
    that is not HTML."""
    if site.api_same_origin or site.single_page_app:
        return None
    return site.not_found_page

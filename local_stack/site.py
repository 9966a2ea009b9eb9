"""The site origin in local mode: serves what the hook published to the emulated bucket as CloudFront would serve
it (default root object, the stored Content-Type and Cache-Control, 404 for a missing key, 403 for the hook's
private records), adds to every response the security headers the distribution's response-headers policy adds
(from the same definition, `contract.headers`), and forwards the paths the deployed distribution routes to the API
(same-origin mode) to the local gateway, with the same headers.

Before it reads the bucket it routes the request as the distribution's CloudFront Function does, with the same
definition (`contract.routing`: directory URLs, the redirect to the slash form, single-page-app mode); the
emulator cannot run CloudFront Functions. A missing object gets the error page the deployed distribution names for
a 404 (its `CustomErrorResponses`), with that status, or the plain 404 when the page is missing too.

With live reload on (watch mode), pages get one more script, `/__local/reload.js`, which reloads the page when a
new release is published. It is added as pages are served, so it is never in the bucket nor in what AWS serves;
it comes from the site itself, which the CSP allows, and calls only the site.
"""

from __future__ import annotations

import fnmatch
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from botocore.exceptions import BotoCoreError, ClientError
from werkzeug.wrappers import Request, Response

from contract.routing import REDIRECT_STATUS, RoutingSettings, route
from contract.site_files import PRIVATE_PREFIX

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import GetObjectOutputTypeDef


@dataclass(frozen=True)
class ApiRoute:
    """A cache behavior that sends `path_pattern` to the API origin, whose origin path is `origin_path`."""

    path_pattern: str
    origin_path: str


def api_routes(distribution_config: Mapping[str, Any]) -> list[ApiRoute]:
    """The deployed distribution's cache behaviors whose origin is an API Gateway stage."""
    origins = {o["Id"]: o for o in distribution_config.get("Origins", {}).get("Items", [])}
    routes = []
    for behavior in distribution_config.get("CacheBehaviors", {}).get("Items", []) or []:
        origin = origins.get(behavior["TargetOriginId"], {})
        if ".execute-api." in origin.get("DomainName", ""):
            routes.append(ApiRoute(behavior["PathPattern"], origin.get("OriginPath", "")))
    return routes


@dataclass(frozen=True)
class ErrorPage:
    """A custom error response: the object served (`path`, from the site's root) and the status it is served with."""

    path: str
    status: int


def error_pages(distribution_config: Mapping[str, Any]) -> dict[int, ErrorPage]:
    """The deployed distribution's custom error responses that serve a page, by the origin's status they replace."""
    pages = {}
    for item in distribution_config.get("CustomErrorResponses", {}).get("Items", []) or []:
        if item.get("ResponsePagePath"):
            status = int(item.get("ResponseCode") or item["ErrorCode"])
            pages[int(item["ErrorCode"])] = ErrorPage(item["ResponsePagePath"], status)
    return pages


# The characters a path keeps as they are when it is spelled as a viewer's browser sends it (percent-encoded).
_PATH_SAFE = "/-._~!$'()*+,;:@"

LOCAL_PREFIX = "/__local/"  # served by local mode itself, only with live reload on
RELOAD_SCRIPT = b"""// Local mode only: reload this page when a new release of the site is published.
(() => {
  let seen = null;
  const check = async () => {
    try {
      const answer = await fetch("/__local/release", { cache: "no-store" });
      const release = await answer.text();
      if (seen !== null && release !== seen) location.reload();
      seen = release;
    } catch {
      // the local stack is restarting: ask again next time
    }
  };
  check();
  setInterval(check, 1000);
})();
"""
RELOAD_TAG = b'<script src="/__local/reload.js"></script>'
_BODY_END = re.compile(rb"</body\s*>", re.IGNORECASE)


def with_reload_script(page: bytes) -> bytes:
    """`page` with the reload script before its last </body> (or at its end)."""
    ends = list(_BODY_END.finditer(page))
    at = ends[-1].start() if ends else len(page)
    return page[:at] + RELOAD_TAG + page[at:]


def _plain(status: int, text: str) -> Response:
    return Response(text, status=status, content_type="text/plain; charset=utf-8")


@dataclass
class LocalSite:
    """A WSGI app reading objects from `bucket`; `routes` go to `api` (the local gateway) instead. `headers` are
    added to every response, replacing any of the same name, as a response-headers policy with override does."""

    s3: S3Client
    bucket: str
    default_root_object: str
    routes: list[ApiRoute] = field(default_factory=list)
    api: WSGIApplication | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    # The distribution's routing function, by its settings; None: no routing (a distribution without it).
    routing: RoutingSettings | None = None
    errors: Mapping[int, ErrorPage] = field(default_factory=dict)  # custom error responses, by origin status
    live_reload: bool = False
    release: str = ""  # the live release; open pages reload when it changes

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        def with_headers(status: str, response_headers: list[tuple[str, str]], *args: Any) -> Any:
            names = {name.lower() for name in self.headers}
            kept = [(name, value) for name, value in response_headers if name.lower() not in names]
            return start_response(status, [*kept, *self.headers.items()], *args)

        path = environ.get("PATH_INFO", "/")
        for api_route in self.routes:  # first, as the distribution's ordered cache behaviors come first
            if self.api is not None and fnmatch.fnmatchcase(path, api_route.path_pattern):
                return self.api({**environ, "PATH_INFO": api_route.origin_path + path}, with_headers)
        return self.handle(Request(environ))(environ, with_headers)

    def handle(self, request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return Response("Method not allowed", status=405, headers={"Allow": "GET, HEAD"})
        if self.live_reload and request.path.startswith(LOCAL_PREFIX):
            return self.local_file(request.path.removeprefix(LOCAL_PREFIX))
        path = request.path
        if self.routing is not None:
            # Spelled as the browser sends it, as CloudFront's function sees it; the query as it came.
            uri = quote(path, safe=_PATH_SAFE)
            decision = route(self.routing, uri, request.query_string.decode("utf-8", errors="replace"))
            if decision.action == "redirect":
                return Response(status=REDIRECT_STATUS, headers={"Location": decision.uri})
            path = unquote(decision.uri)
        key = path.lstrip("/") or self.default_root_object
        if any(unicodedata.category(c) == "Cc" for c in key) or "\\" in key:
            return _plain(400, "Bad request")
        if key.startswith(PRIVATE_PREFIX):  # the bucket policy denies CloudFront these
            return _plain(403, "Access denied")
        try:
            obj = self.s3.get_object(Bucket=self.bucket, Key=key)
        except self.s3.exceptions.NoSuchKey:
            return self.error(request, 404)
        except (BotoCoreError, ClientError):
            return _plain(502, "Bad gateway")  # what CloudFront answers when its origin fails
        return self.serve_object(request, obj, 200)

    def error(self, request: Request, status: int) -> Response:
        """What the distribution answers for an origin's error `status`: its error page with the status it names,
        or the plain error when it names none or the page is missing too (as CloudFront does)."""
        page = self.errors.get(status)
        if page is None:
            return _plain(status, "Not found")
        try:
            obj = self.s3.get_object(Bucket=self.bucket, Key=page.path.lstrip("/"))
        except (BotoCoreError, ClientError):
            return _plain(status, "Not found")
        return self.serve_object(request, obj, page.status)

    def serve_object(self, request: Request, obj: GetObjectOutputTypeDef, status: int) -> Response:
        headers = {"ETag": obj["ETag"]}
        if obj.get("CacheControl"):
            headers["Cache-Control"] = obj["CacheControl"]
        body = b"" if request.method == "HEAD" else obj["Body"].read()
        if self.live_reload and body and str(obj.get("ContentType", "")).startswith("text/html"):
            body = with_reload_script(body)
            del headers["ETag"]  # no longer the stored object's
        return Response(body, status=status, headers=headers, content_type=obj.get("ContentType"))

    def local_file(self, name: str) -> Response:
        """What local mode serves itself: the reload script and the live release."""
        if name == "reload.js":
            return Response(RELOAD_SCRIPT, headers={"Cache-Control": "no-cache"}, content_type="text/javascript")
        if name == "release":
            return Response(self.release, headers={"Cache-Control": "no-store"}, content_type="text/plain")
        return _plain(404, "Not found")

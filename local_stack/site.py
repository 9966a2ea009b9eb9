"""The site origin in local mode: serves what the hook published to the emulated bucket as CloudFront would serve
it (default root object, the stored Content-Type and Cache-Control, 404 for a missing key, 403 for the hook's
private records), adds to every response the security headers the distribution's response-headers policy adds
(from the same definition, `modules.headers`), and forwards the paths the deployed distribution routes to the API
(same-origin mode) to the local gateway, with the same headers."""

from __future__ import annotations

import fnmatch
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError
from werkzeug.wrappers import Request, Response

from modules.site_files import PRIVATE_PREFIX

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from mypy_boto3_s3 import S3Client


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

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        def with_headers(status: str, response_headers: list[tuple[str, str]], *args: Any) -> Any:
            names = {name.lower() for name in self.headers}
            kept = [(name, value) for name, value in response_headers if name.lower() not in names]
            return start_response(status, [*kept, *self.headers.items()], *args)

        path = environ.get("PATH_INFO", "/")
        for route in self.routes:
            if self.api is not None and fnmatch.fnmatchcase(path, route.path_pattern):
                return self.api({**environ, "PATH_INFO": route.origin_path + path}, with_headers)
        return self.handle(Request(environ))(environ, with_headers)

    def handle(self, request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return Response("Method not allowed", status=405, headers={"Allow": "GET, HEAD"})
        key = request.path.lstrip("/") or self.default_root_object
        if any(unicodedata.category(c) == "Cc" for c in key) or "\\" in key:
            return _plain(400, "Bad request")
        if key.startswith(PRIVATE_PREFIX):  # the bucket policy denies CloudFront these
            return _plain(403, "Access denied")
        try:
            obj = self.s3.get_object(Bucket=self.bucket, Key=key)
        except self.s3.exceptions.NoSuchKey:
            return _plain(404, "Not found")
        except (BotoCoreError, ClientError):
            return _plain(502, "Bad gateway")  # what CloudFront answers when its origin fails
        headers = {"ETag": obj["ETag"]}
        if obj.get("CacheControl"):
            headers["Cache-Control"] = obj["CacheControl"]
        body = b"" if request.method == "HEAD" else obj["Body"].read()
        return Response(body, status=200, headers=headers, content_type=obj.get("ContentType"))

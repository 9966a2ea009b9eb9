"""The site origin in local mode: serves what the hook published to the emulated bucket, as CloudFront would
serve it from S3 (default root object, the stored Content-Type and Cache-Control, 404 for a missing key), and
forwards the paths the deployed distribution routes to the API (same-origin mode) to the local gateway."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

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


@dataclass
class LocalSite:
    """A WSGI app reading objects from `bucket`; `routes` go to `api` (the local gateway) instead."""

    s3: S3Client
    bucket: str
    default_root_object: str
    routes: list[ApiRoute] = field(default_factory=list)
    api: WSGIApplication | None = None

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        for route in self.routes:
            if self.api is not None and fnmatch.fnmatchcase(path, route.path_pattern):
                return self.api({**environ, "PATH_INFO": route.origin_path + path}, start_response)
        return self.handle(Request(environ))(environ, start_response)

    def handle(self, request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return Response("Method not allowed", status=405, headers={"Allow": "GET, HEAD"})
        key = request.path.lstrip("/") or self.default_root_object
        try:
            obj = self.s3.get_object(Bucket=self.bucket, Key=key)
        except self.s3.exceptions.NoSuchKey:
            return Response("Not found", status=404, content_type="text/plain; charset=utf-8")
        headers = {"ETag": obj["ETag"]}
        if obj.get("CacheControl"):
            headers["Cache-Control"] = obj["CacheControl"]
        body = b"" if request.method == "HEAD" else obj["Body"].read()
        return Response(body, status=200, headers=headers, content_type=obj.get("ContentType"))

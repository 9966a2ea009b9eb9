"""The site origin in local mode: serves what the hook published to the emulated bucket, as CloudFront would
serve it from S3 (default root object, the stored Content-Type and Cache-Control, 404 for a missing key)."""

from __future__ import annotations

from botocore.client import BaseClient
from werkzeug.wrappers import Request, Response


class LocalSite:
    """A WSGI app reading objects from `bucket`."""

    def __init__(self, s3: BaseClient, bucket: str, default_root_object: str) -> None:
        self.s3, self.bucket, self.default_root_object = s3, bucket, default_root_object

    def __call__(self, environ, start_response):
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

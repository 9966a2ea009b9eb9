"""Helpers of the publishing tests: a fresh site (bucket, distribution, a copy of web/) in the emulator, the hook's
command line on it, and what the bucket serves."""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
import uuid
from pathlib import Path
from typing import Any

from contract.headers import content_security_policy
from contract.outputs import StackOutputs
from contract.site_files import PRIVATE_PREFIX
from hooks.post_apply import main
from hooks.release import page_references
from tests.aws_resources import plain_distribution

WEB = Path(__file__).resolve().parent.parent / "web"
API_URL = "https://abc123.execute-api.eu-north-1.amazonaws.com/prod/users"
# The policy the stack gives a site whose API is API_URL's (what --csp or the outputs file names).
SITE_CSP = content_security_policy("https://abc123.execute-api.eu-north-1.amazonaws.com")


def make_site(aws: Any, tmp_path: Path) -> dict[str, Any]:
    """A fresh bucket and distribution, and a copy of web/ that a test may edit."""
    bucket = f"site-{uuid.uuid4().hex[:12]}"
    aws.client("s3").create_bucket(Bucket=bucket)
    aws.client("s3").put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    distribution = plain_distribution(aws.client("cloudfront"), bucket, "test")
    source = tmp_path / "web"
    shutil.copytree(WEB, source)
    return {"bucket": bucket, "distribution": distribution, "source": source}


def live_then_changed(site: dict[str, Any]) -> None:
    """Publish `site`, then change its page: the next publish replaces a live page, which needs an invalidation (a
    first publish needs none: nothing was ever live, hooks/invalidation.py)."""
    with contextlib.redirect_stdout(io.StringIO()):  # the test reads the next run's output alone
        assert main(hook_argv(site)) == 0
    page = site["source"] / "index.html"
    page.write_text(page.read_text() + "<!-- changed -->\n")


def hook_argv(site: dict[str, Any], *extra: str) -> list[str]:
    """The hook's arguments for `site`, then `extra`."""
    return [
        "--bucket",
        site["bucket"],
        "--distribution-id",
        site["distribution"],
        "--api-url",
        API_URL,
        "--source",
        str(site["source"]),
        *extra,
    ]


def run(site: dict[str, Any], *extra: str, session: Any = None, capsys: Any = None) -> tuple[int, Any]:
    """The hook's command line on `site`; its exit code and its --json output ({} when not captured)."""
    code = main(hook_argv(site, "--json", *extra), session=session)
    out = capsys.readouterr().out.strip() if capsys is not None else ""
    return code, json.loads(out) if out else {}


def objects(aws: Any, bucket: str) -> dict[str, Any]:
    """What the bucket serves: every object but the hook's private records."""
    s3 = aws.client("s3")
    keys = [
        o["Key"]
        for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])
        if not o["Key"].startswith(PRIVATE_PREFIX)
    ]
    return {key: s3.get_object(Bucket=bucket, Key=key) for key in keys}


def body(aws: Any, bucket: str, key: str) -> str:
    return str(aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode())


def references(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', html)


def invalidations(aws: Any, distribution: str) -> list[dict[str, Any]]:
    answer = aws.client("cloudfront").list_invalidations(DistributionId=distribution)["InvalidationList"]
    return list(answer.get("Items", []))


def stack_outputs(site: dict[str, Any], page_api_url: str = API_URL, csp: str | None = None) -> StackOutputs:
    """Outputs of a stack whose site is `site`, as `cdktf deploy --outputs-file` would write them."""
    return StackOutputs(
        site_url="https://d1.cloudfront.net/",
        api_url=API_URL,
        page_api_url=page_api_url,
        bucket_name=site["bucket"],
        distribution_id=site["distribution"],
        table_name="users",
        function_name="get-user",
        api_id="abc123",
        api_stage="prod",
        content_security_policy=csp or SITE_CSP,
    )


def change_style(site: dict[str, Any], marker: str) -> None:
    """A new stylesheet: the next publish gives it a new name and points the page at it."""
    css = site["source"] / "style.css"
    css.write_text(css.read_text() + f"\n/* {marker} */\n")


def live_page_is_whole(aws: Any, site: dict[str, Any]) -> bool:
    """Every file the live page references exists, as a browser loading it now would find."""
    s3 = aws.client("s3")
    for key in page_references(body(aws, site["bucket"], "index.html"), "index.html"):
        try:
            s3.head_object(Bucket=site["bucket"], Key=key)
        except s3.exceptions.ClientError:
            return False
    return True

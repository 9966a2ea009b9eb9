"""Publishing a 1,000-file site: the post-apply hook against `aws s3 sync` + `aws cloudfront create-invalidation`.

Against one moto server in this process, each side in a process of its own, for a first publish and for a
republish with one changed file, prints each side's wall time, their ratio, the number of PUT requests and the
invalidated paths. The AWS CLI comes from tools/awscli (installed by scripts/setup).

    pipenv run python benchmarks/publish.py [--files 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

import boto3  # noqa: E402

from contract.config import FAKE_CREDENTIALS  # noqa: E402
from local_stack.emulator import start_emulator  # noqa: E402
from tests.aws_resources import plain_distribution  # noqa: E402

AWS_CLI = PROJECT / "tools" / "awscli" / ".venv" / "bin" / "aws"


def make_site(root: Path, files: int) -> None:
    """index.html referencing files-1 small CSS, JS and SVG files."""
    rng = random.Random(7)
    names = []
    for i in range(files - 1):
        extension = ("css", "js", "svg")[i % 3]
        name = f"assets/part{i:04d}.{extension}"
        (root / "assets").mkdir(parents=True, exist_ok=True)
        body = "".join(rng.choice("abcdefgh ") for _ in range(rng.randint(200, 4000)))
        (root / name).write_text(f"/* {i} */ {body}")
        names.append(name)
    links = "\n".join(f'<link rel="preload" href="{n}" as="fetch">' for n in names)
    (root / "index.html").write_text(f"<!doctype html><html><head>{links}</head><body>site</body></html>\n")


def run_hook(site: Path, bucket: str, distribution_id: str, endpoint: str) -> tuple[float, int, list[str]]:
    """The hook as users run it, in its own process like the AWS CLI (one PUT per uploaded file)."""
    env = {**os.environ, **FAKE_CREDENTIALS, "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": endpoint}
    started = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "hooks.post_apply",
            "--bucket",
            bucket,
            "--distribution-id",
            distribution_id,
            "--api-url",
            "/users",
            "--source",
            str(site),
            "--json",
        ],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    elapsed = time.perf_counter() - started
    summary = json.loads(done.stdout)
    return elapsed, len(summary["uploaded"]), (summary["invalidation"] or {}).get("paths", [])


def run_cli(site: Path, bucket: str, distribution_id: str, endpoint: str) -> tuple[float, int, list[str]]:
    env = {**os.environ, **FAKE_CREDENTIALS, "AWS_DEFAULT_REGION": "us-east-1"}
    started = time.perf_counter()
    sync = subprocess.run(
        [str(AWS_CLI), "--endpoint-url", endpoint, "s3", "sync", str(site), f"s3://{bucket}", "--no-progress"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    subprocess.run(
        [
            str(AWS_CLI),
            "--endpoint-url",
            endpoint,
            "cloudfront",
            "create-invalidation",
            "--distribution-id",
            distribution_id,
            "--paths",
            "/*",
        ],
        env=env,
        capture_output=True,
        check=True,
    )
    elapsed = time.perf_counter() - started
    return elapsed, sum(line.startswith("upload:") for line in sync.stdout.splitlines()), ["/*"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=1000)
    files = parser.parse_args().files
    if not AWS_CLI.exists():
        raise SystemExit("the AWS CLI is not installed: run scripts/setup")
    emulator = start_emulator()
    os.environ.update({**FAKE_CREDENTIALS, "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": emulator.url})
    s3, cloudfront = boto3.client("s3"), boto3.client("cloudfront")
    with tempfile.TemporaryDirectory() as scratch:
        site = Path(scratch) / "site"
        make_site(site, files)
        targets = {}
        for side in ("hook", "cli"):
            bucket = f"bench-{side}"
            s3.create_bucket(Bucket=bucket)
            targets[side] = (bucket, plain_distribution(cloudfront, bucket, "benchmark"))
        results = {}
        for phase in ("first publish", "republish, 1 file changed"):
            if phase.startswith("republish"):
                changed = site / "assets" / "part0000.css"
                changed.write_text(changed.read_text() + "\n/* changed */\n")
            results[phase] = {
                "hook": run_hook(site, *targets["hook"], emulator.url),
                "cli": run_cli(site, *targets["cli"], emulator.url),
            }
    emulator.stop()
    print(f"site of {files} files, one moto server, this machine")
    for phase, sides in results.items():
        hook, cli = sides["hook"], sides["cli"]
        print(f"{phase}:")
        invalidated = " ".join(hook[2]) or "nothing"
        print(f"  hook:               {hook[0]:6.2f} s, {hook[1]:4d} PUTs, invalidated {invalidated}")
        print(f"  aws s3 sync + /*:   {cli[0]:6.2f} s, {cli[1]:4d} PUTs, invalidated {' '.join(cli[2])}")
        print(f"  ratio hook/cli: {hook[0] / cli[0]:.2f}")


if __name__ == "__main__":
    main()

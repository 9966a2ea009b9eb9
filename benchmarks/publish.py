"""Publishing at scale: the post-apply hook against rclone and `aws s3 sync`, on one emulator, in one run.

For each site size (1,000 and 10,000 files by default), against one moto server in this process, each publisher
in a process of its own: a first publish and a republish with one page changed, by the hook, by `rclone sync`
(defaults, an `s3` remote) and by `aws s3 sync` + `aws cloudfront create-invalidation --paths "/*"`. Prints each
one's wall time, the ratios hook/rclone and hook/aws, the hook's peak resident memory, and then how the hook's
release records scale: reading the live record, a publish where every file changed, a rollback of it (every
page and fixed-name file restored) and `--releases` (of the four releases then recorded).

The site is generated like a documentation site: pages in `p/NNNN/index.html`, each with an image it references
(`img/NNNN.png`, fingerprinted by the hook), fixed-name JSON files (`data/NNNN.json`) and an `index.html` linking
every page. rclone is the Debian package (scripts/setup), the AWS CLI comes from tools/awscli.

    pipenv run python benchmarks/publish.py [--files 1000 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

import boto3  # noqa: E402

from contract.config import FAKE_CREDENTIALS  # noqa: E402
from hooks import records  # noqa: E402
from local_stack.emulator import start_emulator  # noqa: E402
from tests.aws_resources import plain_distribution  # noqa: E402

AWS_CLI = PROJECT / "tools" / "awscli" / ".venv" / "bin" / "aws"
RCLONE = shutil.which("rclone")
PUBLISHERS = ("hook", "rclone", "aws")


@dataclass(frozen=True)
class Run:
    """One publisher's run: wall time, objects it wrote, peak resident memory (the hook's only)."""

    seconds: float
    writes: int
    peak_rss_mb: float | None = None


def make_site(root: Path, files: int) -> None:
    """About a third pages (`p/NNNN/index.html`), a third images they show, a third fixed-name JSON files, and an
    index.html linking every page: `files` files in all."""
    pages = max((files - 1) * 34 // 100, 1)
    data = files - 1 - 2 * pages
    for i in range(pages):
        page, image = root / "p" / f"{i:04d}" / "index.html", root / "img" / f"{i:04d}.png"
        page.parent.mkdir(parents=True, exist_ok=True)
        image.parent.mkdir(parents=True, exist_ok=True)
        image.write_bytes(b"\x89PNG\r\n\x1a\n" + i.to_bytes(4, "big") * (200 + i % 600))
        text = f"<p>Page {i}: " + "lorem ipsum dolor sit amet " * (20 + i % 80) + "</p>"
        page.write_text(
            f"<!doctype html><html><head><title>Page {i}</title></head><body><h1>Page {i}</h1>"
            f'<img src="../../img/{i:04d}.png" alt="figure {i}">{text}</body></html>\n'
        )
    for i in range(data):
        (root / "data").mkdir(exist_ok=True)
        (root / "data" / f"{i:04d}.json").write_text(json.dumps({"id": i, "values": list(range(i % 300))}))
    links = "".join(f'<li><a href="p/{i:04d}/">Page {i}</a></li>' for i in range(pages))
    (root / "index.html").write_text(f"<!doctype html><html><head><title>Docs</title></head><body><ul>{links}</ul>\n")


def change_every_file(root: Path) -> None:
    """A new release where every page, image and JSON file has other bytes."""
    for path in root.rglob("*"):
        if path.is_file():
            path.write_bytes(path.read_bytes() + (b"<!-- v2 -->\n" if path.suffix == ".html" else b" "))


def peak_rss_kb(pid: int) -> int:
    """VmHWM from /proc: the process's peak resident set so far (0 once it is gone). Not its rusage: a child
    started by vfork and exec inherits the parent's peak there, and the parent holds the emulator."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM")), 0)


def timed(command: list[str], env: dict[str, str]) -> tuple[float, str, float]:
    """Run `command`; its wall time, stdout and peak resident memory in MB (sampled every 20 ms)."""
    started = time.perf_counter()
    peak = 0
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(command, cwd=PROJECT, env=env, stdout=out, stderr=err, text=True)
        while process.poll() is None:
            peak = max(peak, peak_rss_kb(process.pid))
            time.sleep(0.02)
        elapsed = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        if process.returncode != 0:
            raise SystemExit(f"{command[:3]} failed ({process.returncode}):\n{err.read()[-3000:]}")
        return elapsed, out.read(), peak / 1024


def hook_command(site: Path, bucket: str, distribution_id: str, *extra: str) -> list[str]:
    return [
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
        *extra,
    ]


def run_hook(site: Path, bucket: str, distribution_id: str, endpoint: str) -> Run:
    """The hook as users run it (one PUT per uploaded file); --json gives what it uploaded."""
    env = {**os.environ, **FAKE_CREDENTIALS, "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": endpoint}
    seconds, out, rss = timed(hook_command(site, bucket, distribution_id), env)
    return Run(seconds, len(json.loads(out)["uploaded"]), rss)


def run_rclone(site: Path, bucket: str, endpoint: str, config: Path) -> Run:
    """`rclone sync` with its defaults. It refuses a custom CA bundle for a plain-HTTP endpoint: AWS_CA_BUNDLE is
    unset for it. It invalidates nothing (counted in its favour)."""
    env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}
    config.write_text(
        "[moto]\ntype = s3\nprovider = Other\nenv_auth = false\n"
        f"access_key_id = {FAKE_CREDENTIALS['AWS_ACCESS_KEY_ID']}\n"
        f"secret_access_key = {FAKE_CREDENTIALS['AWS_SECRET_ACCESS_KEY']}\n"
        f"endpoint = {endpoint}\nregion = us-east-1\nforce_path_style = true\n"
    )
    assert RCLONE is not None
    command = [RCLONE, "--config", str(config), "sync", str(site), f"moto:{bucket}", "-v", "--log-file", "/dev/stdout"]
    seconds, out, _ = timed(command, env)
    return Run(seconds, sum(": Copied (" in line for line in out.splitlines()))


def run_aws(site: Path, bucket: str, distribution_id: str, endpoint: str) -> Run:
    """`aws s3 sync` and an invalidation of `/*`."""
    env = {**os.environ, **FAKE_CREDENTIALS, "AWS_DEFAULT_REGION": "us-east-1"}
    cli = [str(AWS_CLI), "--endpoint-url", endpoint]
    seconds, out, _ = timed([*cli, "s3", "sync", str(site), f"s3://{bucket}", "--no-progress"], env)
    invalidate = [*cli, "cloudfront", "create-invalidation", "--distribution-id", distribution_id, "--paths", "/*"]
    more, _, _ = timed(invalidate, env)
    return Run(seconds + more, sum(line.startswith("upload:") for line in out.splitlines()))


def release_records(site: Path, bucket: str, distribution_id: str, endpoint: str) -> dict[str, Any]:
    """How the hook's release records scale on the hook's bucket: reading the live record, a publish where every
    file changed, a rollback of it, and listing the releases."""
    env = {**os.environ, **FAKE_CREDENTIALS, "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": endpoint}
    s3 = boto3.client("s3")
    live_id = records.release_ids(s3, bucket)[0]
    started = time.perf_counter()
    live = records.read_release(s3, bucket, live_id)
    read_seconds = time.perf_counter() - started
    size = s3.head_object(Bucket=bucket, Key=live.key)["ContentLength"]
    change_every_file(site)
    everything, changed, everything_rss = timed(hook_command(site, bucket, distribution_id), env)
    rollback, restored, rollback_rss = timed([*hook_command(site, bucket, distribution_id), "--rollback"], env)
    listing, out, _ = timed([*hook_command(site, bucket, distribution_id), "--releases"], env)
    return {
        "record objects": len(live.objects),
        "record bytes": size,
        "read record": read_seconds,
        "--releases": (listing, len(json.loads(out))),
        "every file changed": (everything, len(json.loads(changed)["uploaded"]), everything_rss),
        "--rollback": (rollback, len(json.loads(restored)["uploaded"]), rollback_rss),
    }


def measure(files: int, scratch: Path, endpoint: str) -> tuple[dict[str, dict[str, Run]], dict[str, Any]]:
    s3, cloudfront = boto3.client("s3"), boto3.client("cloudfront")
    site = scratch / f"site-{files}"
    make_site(site, files)
    targets = {}
    for side in PUBLISHERS:
        bucket = f"bench-{files}-{side}"
        s3.create_bucket(Bucket=bucket)
        # Versioned, as the stack's site bucket is (a rollback restores versions): the same for each publisher.
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        targets[side] = (bucket, plain_distribution(cloudfront, bucket, "benchmark"))
    runs: dict[str, dict[str, Run]] = {}
    for phase in ("first publish", "one page changed"):
        if phase == "one page changed":
            page = site / "p" / "0000" / "index.html"
            page.write_text(page.read_text() + "<!-- changed -->\n")
        runs[phase] = {
            "hook": run_hook(site, *targets["hook"], endpoint),
            "rclone": run_rclone(site, targets["rclone"][0], endpoint, scratch / "rclone.conf"),
            "aws": run_aws(site, *targets["aws"], endpoint),
        }
    return runs, release_records(site, *targets["hook"], endpoint)


def report(files: int, runs: dict[str, dict[str, Run]], releases: dict[str, Any]) -> None:
    print(f"\n{files:,} files")
    for phase, side in runs.items():
        hook, rclone, aws = side["hook"], side["rclone"], side["aws"]
        print(
            f"  {phase:17} hook {hook.seconds:6.1f} s ({hook.writes:5d} PUTs, peak RSS {hook.peak_rss_mb:4.0f} MB)"
            f"  rclone {rclone.seconds:6.1f} s ({rclone.writes:5d})  aws {aws.seconds:6.1f} s ({aws.writes:5d})"
            f"  hook/rclone {hook.seconds / rclone.seconds:4.2f}  hook/aws {hook.seconds / aws.seconds:4.2f}"
        )
    everything, rollback = releases["every file changed"], releases["--rollback"]
    print(
        f"  release record: {releases['record objects']:,} objects, {releases['record bytes'] / 1024:,.0f} KiB, "
        f"read in {releases['read record']:.2f} s; --releases ({releases['--releases'][1]} releases) "
        f"{releases['--releases'][0]:.1f} s"
    )
    print(
        f"  every file changed: {everything[0]:.1f} s ({everything[1]} PUTs, peak RSS {everything[2]:.0f} MB); "
        f"--rollback of it: {rollback[0]:.1f} s ({rollback[1]} restored, peak RSS {rollback[2]:.0f} MB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--files", type=int, nargs="+", default=[1000, 10000], help="site sizes (default 1000 10000)")
    sizes = parser.parse_args().files
    if not AWS_CLI.exists() or RCLONE is None:
        raise SystemExit("the AWS CLI or rclone is missing: run scripts/setup")
    emulator = start_emulator()
    os.environ.update({**FAKE_CREDENTIALS, "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": emulator.url})
    print(f"one moto server, this machine ({os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}); seconds")
    try:
        with tempfile.TemporaryDirectory() as scratch:
            for files in sizes:
                report(files, *measure(files, Path(scratch), emulator.url))
    finally:
        emulator.stop()
    emulator_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nbenchmark process (the emulator) peak RSS: {emulator_rss:.0f} MB")


if __name__ == "__main__":
    main()

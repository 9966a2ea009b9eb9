"""Publish web/ to a deployed stack: `python -m hooks.post_apply --outputs-file outputs.json --stack prod`.

Reads the stack outputs that `cdktf deploy <stack> --outputs-file FILE` writes (or takes --bucket,
--distribution-id and --api-url), renders the frontend config, uploads what changed in a safe order and
invalidates exactly the changed pages. AWS access goes through the standard chain (AWS_PROFILE, AWS_REGION,
AWS_ENDPOINT_URL, ...). Exit 0 on success; otherwise one line on stderr saying what failed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from hooks.publish import RETRY_CONFIG, Options, Outcome, Plan, PublishError, Target, execute, plan_publish
from hooks.release import build_release

DEFAULT_SOURCE = Path(__file__).resolve().parent.parent / "web"
REQUIRED_OUTPUTS = ("bucket_name", "distribution_id", "api_url")


class UsageError(RuntimeError):
    """The inputs are incomplete or unreadable."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m hooks.post_apply", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_argument_group("where the stack is (an outputs file, or explicit values)")
    source.add_argument("--outputs-file", type=Path, help="JSON written by `cdktf deploy --outputs-file`")
    source.add_argument("--stack", help="the stack's name in the outputs file (e.g. prod)")
    source.add_argument("--bucket", help="site bucket (overrides the outputs file)")
    source.add_argument("--distribution-id", help="CloudFront distribution (overrides the outputs file)")
    source.add_argument("--api-url", help="full URL of GET /users (overrides the outputs file)")
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="the site's folder (default: web/)")
    parser.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    parser.add_argument("--json", action="store_true", help="print one JSON summary on stdout")
    parser.add_argument("--prune", action="store_true",
                        help="delete objects no longer referenced, keeping the previous release's assets")
    parser.add_argument("--no-wait", action="store_true", help="do not wait for the invalidation to complete")
    parser.add_argument("--wait-timeout", type=float, default=600.0, help="seconds to wait (default 600)")
    parser.add_argument("--invalidate-all", action="store_true", help="invalidate /* instead of changed pages")
    return parser.parse_args(argv)


def stack_outputs(outputs_file: Path, stack: str | None) -> dict[str, str]:
    """The outputs of one stack from a `cdktf deploy --outputs-file` file ({stack: {name: value}})."""
    try:
        everything = json.loads(outputs_file.read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read outputs file {outputs_file}: {exc}") from exc
    if stack is None:
        if len(everything) != 1:
            raise UsageError(f"{outputs_file} holds stacks {sorted(everything)}; name one with --stack")
        (stack,) = everything
    if stack not in everything:
        raise UsageError(f"stack {stack!r} is not in {outputs_file}; it holds {sorted(everything)}")
    return everything[stack]


def resolve_inputs(args: argparse.Namespace) -> tuple[Target, str]:
    outputs = stack_outputs(args.outputs_file, args.stack) if args.outputs_file else {}
    given = {"bucket_name": args.bucket, "distribution_id": args.distribution_id, "api_url": args.api_url}
    values = {name: given[name] or outputs.get(name) for name in REQUIRED_OUTPUTS}
    # The page calls page_api_url where the stack has one: a path on the site in same-origin mode.
    values["api_url"] = args.api_url or outputs.get("page_api_url") or values["api_url"]
    missing = [name for name, value in values.items() if not value]
    if missing:
        raise UsageError(f"missing {', '.join(missing)}: pass --outputs-file/--stack or "
                         "--bucket, --distribution-id and --api-url")
    return Target(values["bucket_name"], values["distribution_id"]), values["api_url"]


def default_session() -> boto3.session.Session:
    """The standard credential chain; AWS_REGION counts as well as AWS_DEFAULT_REGION (botocore reads only the
    latter, the other AWS SDKs and CI systems set the former)."""
    region = os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or None
    return boto3.session.Session(region_name=region)


def describe(plan: Plan) -> str:
    lines = [f"upload   {a.key}  ({a.content_type}; {a.cache_control})" for a in plan.uploads]
    lines += [f"delete   {key}" for key in plan.deletions]
    lines.append(f"invalidate {' '.join(plan.invalidation_paths)}" if plan.invalidation_paths
                 else "invalidate nothing")
    lines.append(f"{len(plan.uploads)} to upload, {plan.unchanged} unchanged, {len(plan.deletions)} to delete")
    return "\n".join(lines)


def publish_site(args: argparse.Namespace, session: boto3.session.Session | None = None) -> Outcome | Plan:
    """Publish (or, with --dry-run, plan) the site described by `args`. The hook's entry point."""
    target, api_url = resolve_inputs(args)
    release = build_release(args.source, api_url)
    session = session or default_session()
    s3 = session.client("s3", config=RETRY_CONFIG)
    # CloudFront is global; its API answers in us-east-1 whatever the session's region.
    cloudfront = session.client("cloudfront", config=RETRY_CONFIG, region_name=session.region_name or "us-east-1")
    options = Options(prune=args.prune, dry_run=args.dry_run, wait=not args.no_wait,
                      wait_timeout=args.wait_timeout, invalidate_all=args.invalidate_all)
    plan = plan_publish(release, target, options, s3, cloudfront)
    if options.dry_run:
        return plan
    return execute(plan, target, options, s3, cloudfront)


def main(argv: list[str] | None = None, session: boto3.session.Session | None = None) -> int:
    args = parse_args(argv)
    try:
        result = publish_site(args, session)
    except (UsageError, PublishError, FileNotFoundError) as exc:
        print(f"post_apply: error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, UsageError) else 1
    except (BotoCoreError, ClientError) as exc:
        print(f"post_apply: error: AWS said: {exc}", file=sys.stderr)
        return 1
    if isinstance(result, Plan):
        if args.json:
            print(json.dumps({"uploaded": sorted(a.key for a in result.uploads), "unchanged": result.unchanged,
                              "deleted": list(result.deletions),
                              "invalidation": {"id": None, "paths": list(result.invalidation_paths)}
                              if result.invalidation_paths else None, "dry_run": True}))
        else:
            print(describe(result))
        return 0
    summary = result.summary()
    if args.json:
        print(json.dumps(summary))
    else:
        invalidated = " ".join(summary["invalidation"]["paths"]) if summary["invalidation"] else "nothing"
        print(f"published: {len(summary['uploaded'])} uploaded, {summary['unchanged']} unchanged, "
              f"{len(summary['deleted'])} deleted; invalidated {invalidated}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Publish the site to a deployed stack: `python -m hooks.post_apply --outputs-file outputs.json --stack prod`.

The site is `--source DIR`, else the `site.source_dir` of the stack --stack names, else web/.

Reads the stack outputs that `cdktf deploy <stack> --outputs-file FILE` writes (or takes --bucket,
--distribution-id and --api-url), checks the pages against the site's content security policy, renders the
frontend config, uploads what changed in a safe order and invalidates exactly the changed paths. AWS access goes
through the standard chain (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL, ...). Exit 0 on success; otherwise one
line on stderr saying what failed (one more per CSP finding; with --json, also {"error": …} on stdout).

`--releases` lists the recorded releases, newest (live) first; `--rollback` makes the release before the live one
live again, `--rollback RELEASE` the named one (see hooks/rollback.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, replace
from pathlib import Path

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from contract.config import ConfigError, SiteSettings, is_environment_name, load_environment
from contract.outputs import OutputsError, StackOutputs
from hooks.publish import publish_site
from hooks.release import SourceError
from hooks.results import DEFAULT_AWS_TIMEOUT, CspViolations, PublishError, PublishOptions, Target
from hooks.rollback import release_history, rollback
from hooks.storage import SiteClients, default_session, live_content_security_policy

PROJECT_DIR = Path(__file__).resolve().parent.parent
PREVIOUS = "previous"  # --rollback without a release


class UsageError(RuntimeError):
    """The inputs are incomplete or unreadable."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m hooks.post_apply",
        description=(__doc__ or "").split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    where = parser.add_argument_group("where the stack is (an outputs file, or explicit values)")
    where.add_argument("--outputs-file", type=Path, help="JSON written by `cdktf deploy --outputs-file`")
    where.add_argument("--stack", help="the stack's name in the outputs file (e.g. prod)")
    where.add_argument("--bucket", help="site bucket (overrides the outputs file)")
    where.add_argument("--distribution-id", help="CloudFront distribution (overrides the outputs file)")
    where.add_argument("--api-url", help="the URL the page calls (overrides the outputs file)")
    where.add_argument(
        "--csp",
        help="the content security policy to check pages against (overrides the outputs "
        "file; without either, pages are not checked)",
    )
    parser.add_argument(
        "--source",
        type=Path,
        help="the site's folder (default: the stack's site.source_dir where --stack names one, else web/)",
    )
    history = parser.add_mutually_exclusive_group()
    history.add_argument("--releases", action="store_true", help="list the recorded releases, newest (live) first")
    history.add_argument(
        "--rollback",
        nargs="?",
        const=PREVIOUS,
        metavar="RELEASE",
        help="make an earlier release live again: the one before the live one, or RELEASE",
    )
    parser.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    parser.add_argument("--json", action="store_true", help="print one JSON summary on stdout")
    parser.add_argument(
        "--prune", action="store_true", help="delete objects no recent release references (see --keep-releases)"
    )
    parser.add_argument(
        "--keep-releases",
        type=int,
        default=PublishOptions.keep_releases,
        help="pruning keeps what this many recent releases reference (default %(default)s)",
    )
    parser.add_argument("--no-wait", action="store_true", help="do not wait for the invalidation to complete")
    parser.add_argument("--wait-timeout", type=float, default=600.0, help="seconds to wait (default 600)")
    parser.add_argument(
        "--invalidate-all",
        action="store_true",
        help="invalidate /* (whether or not anything changed) instead of the changed paths",
    )
    parser.add_argument(
        "--allow-csp-violations",
        action="store_true",
        help="publish even what the site's CSP blocks, printing each finding as a warning",
    )
    parser.add_argument(
        "--allow-dotfiles",
        action="store_true",
        help="publish files and folders whose names start with '.' (default: left out, but .well-known/)",
    )
    parser.add_argument(
        "--lock-wait",
        type=float,
        default=0.0,
        help="seconds to wait for another publish to this bucket to finish (default 0)",
    )
    parser.add_argument(
        "--aws-timeout",
        type=float,
        default=DEFAULT_AWS_TIMEOUT,
        help="seconds to wait for each AWS answer (default %(default)s)",
    )
    return parser.parse_args(argv)


def bucket_of(args: argparse.Namespace) -> str:
    """The bucket, from --bucket or the outputs file."""
    if args.bucket:
        return str(args.bucket)
    if args.outputs_file:
        return StackOutputs.from_outputs_file(args.outputs_file, args.stack).bucket_name
    raise UsageError("missing bucket_name: pass --outputs-file/--stack or --bucket")


def target_of(args: argparse.Namespace, *, need_api: bool = True) -> Target:
    """The target from the outputs file, with any explicit value taking precedence. A rollback republishes
    nothing rendered, so it needs no API URL."""
    outputs = StackOutputs.from_outputs_file(args.outputs_file, args.stack) if args.outputs_file else None
    from_outputs = Target.from_outputs(outputs) if outputs else None
    bucket: str | None = args.bucket or (from_outputs.bucket if from_outputs else None)
    distribution: str | None = args.distribution_id or (from_outputs.distribution_id if from_outputs else None)
    api_url: str | None = args.api_url or (from_outputs.page_api_url if from_outputs else None)
    needed = {"bucket_name": bucket, "distribution_id": distribution} | ({"api_url": api_url} if need_api else {})
    if missing := [name for name, value in needed.items() if not value]:
        raise UsageError(
            f"missing {', '.join(missing)}: pass --outputs-file/--stack or --bucket, --distribution-id and --api-url"
        )
    assert bucket is not None  # both checked above, for the type checker
    assert distribution is not None
    return Target(
        bucket,
        distribution,
        api_url or "",
        args.csp or (from_outputs.content_security_policy if from_outputs else None),
        from_outputs.site_origin if from_outputs else None,
        args.stack,
    )


def source_of(args: argparse.Namespace) -> Path:
    """The site's folder: --source, else the stack's `site.source_dir` where --stack names an environment, else
    web/."""
    if args.source is not None:
        return Path(args.source)
    if args.stack and is_environment_name(args.stack):
        return load_environment(args.stack).site.source_folder(PROJECT_DIR)
    return SiteSettings().source_folder(PROJECT_DIR)


def checked_against_the_live_policy(target: Target, clients: SiteClients) -> Target:
    """`target` with the CSP its distribution sends, when no outputs file or --csp named one: the pages are never
    published unchecked without a word. Where the policy cannot be read (or there is none), one warning says so."""
    if target.content_security_policy is not None:
        return target
    try:
        live = live_content_security_policy(clients.cloudfront, target.distribution_id)
    except ClientError as exc:  # refused or not offered (moto); an endpoint that fails fails the publish too
        reason = f"the distribution's response-headers policy could not be read ({' '.join(str(exc).split())})"
    else:
        if live is not None:
            return replace(target, content_security_policy=live)
        reason = f"distribution {target.distribution_id} sends no content security policy"
    print(
        f"post_apply: warning: the pages were not checked against a content security policy: {reason}; "
        "pass --csp or --outputs-file to check them",
        file=sys.stderr,
    )
    return target


def main(argv: list[str] | None = None, session: boto3.session.Session | None = None) -> int:
    args = parse_args(argv)
    options = PublishOptions(
        prune=args.prune,
        dry_run=args.dry_run,
        wait=not args.no_wait,
        wait_timeout=args.wait_timeout,
        invalidate_all=args.invalidate_all,
        allow_csp_violations=args.allow_csp_violations,
        allow_dotfiles=args.allow_dotfiles,
        keep_releases=args.keep_releases,
        lock_wait=args.lock_wait,
        aws_timeout=args.aws_timeout,
    )
    try:
        clients = SiteClients.from_session(session or default_session(), args.aws_timeout)
        if args.releases:
            history = release_history(clients.s3, bucket_of(args))
            print(json.dumps([asdict(r) for r in history]) if args.json else "\n".join(r.line() for r in history))
            return 0
        if args.rollback:
            wanted = None if args.rollback == PREVIOUS else args.rollback
            result = rollback(target_of(args, need_api=False), wanted, options, clients)
        else:
            result = publish_site(
                checked_against_the_live_policy(target_of(args), clients), source_of(args), options, clients
            )
    except (
        UsageError,
        OutputsError,
        ConfigError,
        PublishError,
        SourceError,
        FileNotFoundError,
        BotoCoreError,
        ClientError,
    ) as exc:
        aws = isinstance(exc, (BotoCoreError, ClientError))
        message = f"AWS said: {exc}" if aws else str(exc)
        print(f"post_apply: error: {message}", file=sys.stderr)
        if args.json:
            error: dict[str, object] = {"error": message.splitlines()[0]}
            if isinstance(exc, CspViolations):
                error["csp_findings"] = [str(f) for f in exc.findings]
            print(json.dumps(error))
        return 2 if isinstance(exc, (UsageError, OutputsError, ConfigError)) else 1
    print(json.dumps(result.summary()) if args.json else result.describe())
    return 0


if __name__ == "__main__":
    sys.exit(main())

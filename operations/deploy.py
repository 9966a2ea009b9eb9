"""Deploy a stack and publish its site in one command: `python -m operations.deploy prod [options]`.

Runs the preflight checks first (`--skip-preflight` skips them) and stops before anything is created if one
fails. Then synthesizes the stack into cdktf.out (as `cdktf synth` does), runs `terraform init` and `terraform
apply` in its folder with the project's Terraform CLI config (Terraform's progress is printed as it goes), and
publishes the site (`site.source_dir`, web/ unless set) with the stack's outputs, which it also writes to
cdktf.out/<stack>.outputs.json for the hook and your tools. With `site.build_command` set, that command builds the
site first, before anything is synthesized. Credentials, region and state backend are the stack's own: run it
where `cdktf deploy` would run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from contract.config import ConfigError, EnvironmentSettings, SiteSettings, load_environment
from contract.outputs import OutputsError, StackOutputs
from hooks.publish import publish_site
from hooks.results import PublishError, PublishOptions, Target
from operations.build import BuildError, run_build
from operations.preflight import run_checks
from terraform_cli import PROJECT_DIR, StackWorkspace, TerraformError, write_cli_config
from terraform_cli.runner import print_message
from terraform_cli.workspace import DEFAULT_OUTDIR


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m operations.deploy", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("stack", help="the stack (environment) to deploy, e.g. prod")
    parser.add_argument("--skip-preflight", action="store_true", help="deploy without the preflight checks")
    parser.add_argument(
        "--source", type=Path, help="the site's folder (default: the stack's site.source_dir, web/ unless set)"
    )
    parser.add_argument("--prune", action="store_true", help="delete objects no page references any more")
    parser.add_argument("--no-wait", action="store_true", help="do not wait for the invalidation to complete")
    parser.add_argument(
        "--timeout",
        type=float,
        default=3600.0,
        help="give up on a Terraform phase after this many seconds (default 3600)",
    )
    parser.add_argument("--outdir", type=Path, default=DEFAULT_OUTDIR, help="where to synthesize (default: cdktf.out)")
    return parser.parse_args(argv)


def deploy(settings: EnvironmentSettings, outdir: Path, timeout: float) -> StackOutputs:
    """Synthesize, init and apply the stack of `settings`; return its outputs, also written to
    <outdir>/<stack>.outputs.json."""
    stack = settings.name
    workspace = StackWorkspace(stack, outdir).synthesize(settings)
    terraform = workspace.initialized(on_message=print_message, timeout=timeout)
    outputs = StackOutputs.from_terraform(terraform.apply(), "terraform apply")
    outputs.to_outputs_file(workspace.outputs_file, stack)
    return outputs


def preflight(stack: str, outdir: Path) -> bool:
    """The preflight checks, printed; True when every one passed."""
    cli_config = write_cli_config(StackWorkspace(stack, outdir).cli_config_file)
    checks = run_checks(load_environment(stack), boto3.session.Session(), cli_config)
    for check in checks:
        print(check.line(), flush=True)
    return all(check.ok for check in checks)


def build(settings: SiteSettings) -> None:
    """Run `site.build_command`, if any, in the project root: the stack's CSP is synthesized from what it builds."""
    if settings.build_command:
        print(f"build: {settings.build_command}", flush=True)
        run_build(settings.build_command, PROJECT_DIR)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings = load_environment(args.stack)
        site = settings.site
        if not args.skip_preflight and not preflight(args.stack, args.outdir):
            print("deploy: error: a preflight check failed (see its fix above); nothing was deployed", file=sys.stderr)
            return 1
        build(site)
    except ConfigError as exc:
        print(f"deploy: error: {exc}; nothing was published", file=sys.stderr)
        return 1
    except BuildError as exc:
        print(f"deploy: error: {exc}\ndeploy: nothing was synthesized, deployed or published", file=sys.stderr)
        return 1
    try:
        outputs = deploy(settings, args.outdir, args.timeout)
    except (ConfigError, TerraformError, OutputsError) as exc:
        print(f"deploy: error: {exc}; nothing was published", file=sys.stderr)
        return 1
    try:
        result = publish_site(
            Target.from_outputs(outputs, args.stack),
            args.source or site.source_folder(PROJECT_DIR),
            PublishOptions(prune=args.prune, wait=not args.no_wait),
        )
    except (PublishError, FileNotFoundError, BotoCoreError, ClientError) as exc:
        print(f"deploy: error: the stack is deployed, publishing failed: {exc}", file=sys.stderr)
        return 1
    print(result.describe())
    print(f"site: {outputs.site_url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

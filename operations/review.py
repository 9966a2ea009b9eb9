"""A reviewer's summary of a synthesized stack: `python -m operations.review prod [--json] [--hcl DIR]`."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from terraform_cli import PROJECT_DIR, StackWorkspace, cdktf_command

# Construct ids of modules/stack.py -> the tier a reviewer files their resources under. A firewall belongs to the
# tier it guards: the site's web ACL (and its logs) to presentation, the API stage's to logic. The alarms, their
# topic and its key are operations: they watch the logic tier but serve whoever runs the stack, not any request,
# and under logic they would read as part of the request path. Resources outside these constructs are "stack".
TIERS = {
    "UserTable": "data",
    "UserApi": "logic",
    "ApiFirewall": "logic",
    "StaticSite": "presentation",
    "SiteFirewall": "presentation",
    "ErrorAlarms": "operations",
}


def _tier(resource: dict[str, Any]) -> str:
    path = resource.get("//", {}).get("metadata", {}).get("path", "")
    parts = path.split("/")
    return TIERS.get(parts[1], "stack") if len(parts) > 2 else "stack"


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@dataclass(frozen=True)
class Grant:
    """One permission the stack writes down: in which policy, allowed or denied, to whom, what, on what."""

    policy: str
    effect: str
    principal: str  # JSON of the statement's Principal; "null" in an identity policy
    action: str
    resource: str
    condition: str  # JSON of the statement's Condition; "null" without one


def permissions(config: dict[str, Any]) -> list[Grant]:
    """Every permission the stack writes down: identity and trust policies, and the resource policies of the
    bucket, the function, the alarm key, the alarm topic and the WAF log groups."""
    resources = config.get("resource", {})
    found: list[Grant] = []

    def add(policy: str, document: str, default_resource: str = "(this role)") -> None:
        for statement in json.loads(document)["Statement"]:
            for action in _list(statement["Action"]):
                for target in _list(statement.get("Resource", default_resource)):
                    found.append(
                        Grant(
                            policy,
                            statement["Effect"],
                            json.dumps(statement.get("Principal"), sort_keys=True),
                            action,
                            target,
                            json.dumps(statement.get("Condition"), sort_keys=True),
                        )
                    )

    for name, policy in resources.get("aws_iam_role_policy", {}).items():
        add(f"role policy {name}", policy["policy"])
    for name, role in resources.get("aws_iam_role", {}).items():
        add(f"trust policy {name}", role["assume_role_policy"])
    for name, policy in resources.get("aws_s3_bucket_policy", {}).items():
        add(f"bucket policy {name}", policy["policy"])
    for name, policy in resources.get("aws_kms_key_policy", {}).items():
        add(f"key policy {name}", policy["policy"])
    for name, policy in resources.get("aws_sns_topic_policy", {}).items():
        add(f"topic policy {name}", policy["policy"])
    for name, policy in resources.get("aws_cloudwatch_log_resource_policy", {}).items():
        add(f"log resource policy {name}", policy["policy_document"])
    for name, permission in resources.get("aws_lambda_permission", {}).items():
        found.append(
            Grant(
                f"function permission {name}",
                "Allow",
                json.dumps({"Service": permission["principal"]}),
                permission["action"],
                permission["function_name"],
                json.dumps({"SourceArn": permission["source_arn"]}),
            )
        )
    return found


def public_surface(config: dict[str, Any]) -> list[str]:
    """What anyone on the internet can reach, and what is explicitly kept private."""
    resources = config.get("resource", {})
    surface = []
    for distribution in resources.get("aws_cloudfront_distribution", {}).values():
        policy = distribution["default_cache_behavior"]["viewer_protocol_policy"]
        surface.append(f"CloudFront distribution (site), viewer protocol {policy}")
    methods = resources.get("aws_api_gateway_method", {}).values()
    for method in methods:
        surface.append(f"API Gateway {method['http_method']} /users, authorization {method['authorization']}")
    for block in resources.get("aws_s3_bucket_public_access_block", {}).values():
        flags = [
            k
            for k in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")
            if block.get(k)
        ]
        surface.append(f"S3 bucket: private ({len(flags)}/4 Block Public Access flags)")
    return surface


def cors_origins(config: dict[str, Any]) -> dict[str, list[str]]:
    """Every place an allowed CORS origin is configured, and its value."""
    resources = config.get("resource", {})
    found: dict[str, list[str]] = defaultdict(list)
    for response in resources.get("aws_api_gateway_integration_response", {}).values():
        for name, value in response.get("response_parameters", {}).items():
            if name.endswith("Access-Control-Allow-Origin"):
                found["OPTIONS preflight (MOCK)"].append(value)
    for response in resources.get("aws_api_gateway_gateway_response", {}).values():
        for name, value in response.get("response_parameters", {}).items():
            if name.endswith("Access-Control-Allow-Origin"):
                found[f"gateway response {response['response_type']}"].append(value)
    for function in resources.get("aws_lambda_function", {}).values():
        origin = function.get("environment", {}).get("variables", {}).get("ALLOWED_ORIGIN")
        if origin:
            found[f"function {function['function_name']} ALLOWED_ORIGIN"].append(origin)
    return dict(found)


def summarize(config: dict[str, Any]) -> dict[str, Any]:
    by_tier: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for resource_type, resources in config.get("resource", {}).items():
        for resource in resources.values():
            by_tier[_tier(resource)][resource_type] += 1
    return {
        "resources": {tier: dict(sorted(types.items())) for tier, types in sorted(by_tier.items())},
        "permissions": [asdict(grant) for grant in permissions(config)],
        "public": public_surface(config),
        "cors_origins": cors_origins(config),
        "outputs": {name: output["value"] for name, output in config.get("output", {}).items()},
        "backend": config.get("terraform", {}).get("backend") or {"cloud": config.get("terraform", {}).get("cloud")},
    }


def render(summary: dict[str, Any]) -> str:
    lines = ["Resources by tier:"]
    for tier, types in summary["resources"].items():
        lines.append(f"  {tier}: " + ", ".join(f"{t} x{n}" for t, n in types.items()))
    lines.append("Permissions (effect action -> resource [principal]):")
    for grant in summary["permissions"]:
        condition = f" if {grant['condition']}" if grant["condition"] != "null" else ""
        lines.append(
            f"  {grant['effect']:<5} {grant['action']} -> {grant['resource']} [{grant['principal']}]{condition}"
        )
    lines.append("Publicly reachable / kept private:")
    lines += [f"  {item}" for item in summary["public"]]
    lines.append("CORS allowed origins:")
    lines += [f"  {where}: {', '.join(values)}" for where, values in summary["cors_origins"].items()]
    lines.append("Outputs:")
    lines += [f"  {name} = {value}" for name, value in summary["outputs"].items()]
    lines.append(f"State backend: {json.dumps(summary['backend'])}")
    return "\n".join(lines)


def write_hcl(stack: str, directory: Path) -> None:
    """`cdktf synth --hcl` of one stack into `directory`, for humans who read HCL."""
    env = {**os.environ, "APP_ENVIRONMENTS": stack, "CI": "1"}
    subprocess.run(
        cdktf_command(["synth", "--hcl", "--output", str(directory)]),
        cwd=PROJECT_DIR,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m operations.review", description=__doc__)
    parser.add_argument("stack", help="the stack (environment) to summarize, e.g. prod")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--hcl", type=Path, metavar="DIR", help="also write `cdktf synth --hcl` output to DIR")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="review-") as outdir:
        summary = summarize(StackWorkspace(args.stack, Path(outdir)).synthesize().config())
    print(json.dumps(summary, indent=2) if args.json else render(summary))
    if args.hcl:
        write_hcl(args.stack, args.hcl)
        print(f"HCL written to {StackWorkspace(args.stack, args.hcl).directory / 'cdk.tf'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

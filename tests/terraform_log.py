"""Reading Terraform's debug log (TF_LOG=DEBUG): what the AWS provider sent and got, so that a test that fails
on an AWS answer can say which calls were resent, when and how each attempt was answered."""

from __future__ import annotations

import re
from pathlib import Path

ENTRY = re.compile(r"^(?=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)", re.MULTILINE)
FIELDS = {
    "method": re.compile(r"rpc\.method=(\w+)"),
    "attempt": re.compile(r'amz_sdk_request="attempt=(\d+)'),
    "status": re.compile(r"http\.status_code=(\d+)"),
}


def calls_that_change(log: Path, prefixes: tuple[str, ...] = ("Create", "Put")) -> list[str]:
    """One line per request sent and answer received for calls whose name starts with `prefixes`, in order:
    time, call, attempt or status. A call sent twice (an SDK retry, or the provider trying again after its own
    timeout) shows up as two "sent" lines."""
    lines = []
    for entry in ENTRY.split(log.read_text(errors="replace")):
        sent, received = "HTTP Request Sent" in entry, "HTTP Response Received" in entry
        method = FIELDS["method"].search(entry)
        if not (sent or received) or not method or not method.group(1).startswith(prefixes):
            continue
        what = FIELDS["attempt" if sent else "status"].search(entry)
        label = f"sent, attempt {what.group(1)}" if sent and what else f"answered {what.group(1) if what else '?'}"
        lines.append(f"{entry[:23]} {method.group(1)}: {label}")
    return lines

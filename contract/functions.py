"""What the stack and the tools that run its functions agree on: where a function's source is, what its package
leaves out, its deployed name, and the CORS values it gets in its environment."""

from __future__ import annotations

from pathlib import Path

FUNCTIONS_DIR = Path(__file__).resolve().parent.parent / "functions"
GET_USER_SOURCE = "get_user"  # functions/get_user/
# What a function's package leaves out of its source folder: bytecode caches, so its hash is the source's.
NOT_PACKAGED = ("__pycache__", "*.pyc")
# What the API allows a browser to send; the preflight answers with these and the function returns them.
CORS_ALLOW_METHODS = "GET,OPTIONS"
CORS_ALLOW_HEADERS = "Content-Type,Authorization"


def deployed_function_name(prefix: str, source: str) -> str:
    """A function's name: the stack's prefix and its folder under functions/ (get_user: <prefix>-get-user)."""
    return f"{prefix}-{source.replace('_', '-')}"

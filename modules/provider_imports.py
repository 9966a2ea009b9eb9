"""Import only the AWS provider submodules the app uses, not all ~2,200 of them.

The provider package's `__init__` imports every one of its submodules (each resource type's jsii bindings), which
costs most of a synth's time and memory; this app uses about twenty. Registering the package in `sys.modules`
without running its `__init__` lets `from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket` load just that
submodule, which loads the shared jsii assembly itself (`from .._jsii import *`). The synthesized output is
byte-identical (tests/test_provider_imports.py compares it; benchmarks/synth.py measures the gain).

It must run before anything imports the provider; `modules/__init__.py` calls it. Set STOCK_PROVIDER_IMPORT=1 to
use the package's own `__init__`. If the package is not laid out as expected, it warns and does nothing.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import warnings
from pathlib import Path

PACKAGE = "cdktf_cdktf_provider_aws"
DISABLE_ENV = "STOCK_PROVIDER_IMPORT"
# What the shortcut relies on: the jsii assembly loader and per-resource submodules that import it themselves.
EXPECTED = ("_jsii/__init__.py", "provider/__init__.py", "s3_bucket/__init__.py")


def install_lean_provider_import(package: str = PACKAGE) -> bool:
    """Register the provider package without running its `__init__`; True if it did."""
    if package in sys.modules or os.environ.get(DISABLE_ENV):
        return False
    spec = importlib.util.find_spec(package)
    locations = list(spec.submodule_search_locations or []) if spec else []
    root = Path(locations[0]) if locations else None
    if (
        spec is None
        or root is None
        or not all((root / part).is_file() for part in EXPECTED)
        or "from .._jsii import *" not in (root / "s3_bucket" / "__init__.py").read_text()
    ):
        warnings.warn(
            f"{package} is not laid out as expected; importing it the stock (slow) way", RuntimeWarning, stacklevel=2
        )
        return False
    sys.modules[package] = importlib.util.module_from_spec(spec)  # a package object, its __init__ not run
    return True

"""A function's deployment package as the stack builds it: functions/<folder>/ zipped, caches left out."""

from __future__ import annotations

import io
import os
import shutil
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

from contract.functions import NOT_PACKAGED


def function_package(project_dir: Path, folder: str) -> bytes:
    """functions/<folder>/ of `project_dir` zipped as the stack's asset zips it (the same files, caches left out)."""
    root = project_dir / "functions" / folder
    ignored = shutil.ignore_patterns(*NOT_PACKAGED)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(_packaged_files(root, ignored)):
            archive.write(path, path.relative_to(root).as_posix())
    return buffer.getvalue()


def _packaged_files(root: Path, ignored: Callable[[str, list[str]], set[str]]) -> Iterator[Path]:
    for directory, subdirectories, names in os.walk(root):
        left_out = ignored(directory, [*subdirectories, *names])
        subdirectories[:] = [d for d in subdirectories if d not in left_out]
        yield from (Path(directory) / name for name in names if name not in left_out)

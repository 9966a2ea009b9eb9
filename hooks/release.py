"""A release: the files of web/ as they will be published, with the generated frontend config.

Files an HTML page references (CSS, JS, the config, images) get content-hashed names, so CloudFront may cache them
for a year; HTML and anything else browsers ask for by name (favicon.ico, robots.txt) keep their names and are
revalidated on every request, so only they ever need invalidating.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path

from modules.site_files import INDEX_DOCUMENT

CONFIG_NAME = "config.js"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
# Attribute values that name another file: src="…", href="…" (either quote).
_REFERENCE = re.compile(
    r"""(?P<attr>\b(?:src|href)\s*=\s*)(?P<quote>["'])(?P<target>[^"'#?]+)(?P=quote)""", re.IGNORECASE
)
_TEXT_TYPES = ("application/javascript", "application/json", "image/svg+xml", "application/xml")


@dataclass(frozen=True)
class Asset:
    """One object to publish."""

    key: str
    body: bytes
    content_type: str
    cache_control: str

    @property
    def fingerprinted(self) -> bool:
        return self.cache_control == IMMUTABLE

    @property
    def md5(self) -> str:
        """What S3 reports as the ETag of a single-part upload."""
        return hashlib.md5(self.body, usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class Release:
    """Fingerprinted assets (uploaded first) and documents (HTML and fixed names, uploaded last)."""

    assets: tuple[Asset, ...]
    documents: tuple[Asset, ...]

    @property
    def keys(self) -> set[str]:
        return {a.key for a in self.assets + self.documents}


def render_config(api_url: str) -> bytes:
    """The frontend config: the one place the page learns the API URL."""
    return f"window.APP_CONFIG = {json.dumps({'apiUrl': api_url})};\n".encode()


def content_type(key: str) -> str:
    guessed = mimetypes.guess_type(key)[0] or "application/octet-stream"
    if guessed.startswith("text/") or guessed in _TEXT_TYPES:
        return f"{guessed}; charset=utf-8"
    return guessed


def fingerprinted_key(key: str, body: bytes) -> str:
    """style.css -> style.3f2a9c1b7d4e.css: a new name whenever the content changes."""
    stem, dot, extension = posixpath.basename(key).rpartition(".")
    if not dot:
        stem, extension = extension, ""
    digest = hashlib.sha256(body).hexdigest()[:12]
    name = f"{stem}.{digest}.{extension}" if extension else f"{stem}.{digest}"
    return posixpath.join(posixpath.dirname(key), name)


def _resolve(target: str, document_key: str) -> str | None:
    """The key a reference in `document_key` points at, or None for another site's URL."""
    target = target.strip()
    if re.match(r"^[a-z][a-z0-9+.-]*:|^//", target, re.IGNORECASE):
        return None
    if target.startswith("/"):
        return posixpath.normpath(target.lstrip("/"))
    return posixpath.normpath(posixpath.join(posixpath.dirname(document_key), target))


def html_references(html: str, document_key: str) -> set[str]:
    """Keys of the local files an HTML document references."""
    return {key for match in _REFERENCE.finditer(html) if (key := _resolve(match["target"], document_key))}


def _rewrite(html: str, document_key: str, renamed: dict[str, str]) -> str:
    """Point each reference at the renamed file, keeping its absolute or relative form."""
    base = posixpath.dirname(document_key) or "."

    def replace(match: re.Match[str]) -> str:
        key = _resolve(match["target"], document_key)
        if key is None or key not in renamed:
            return str(match[0])
        absolute = match["target"].strip().startswith("/")
        value = "/" + renamed[key] if absolute else posixpath.relpath(renamed[key], base)
        return f"{match['attr']}{match['quote']}{value}{match['quote']}"

    return _REFERENCE.sub(replace, html)


def _source_files(source: Path) -> dict[str, bytes]:
    files = {}
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if path.is_file() and not any(part.startswith(".") for part in relative.parts):
            files[relative.as_posix()] = path.read_bytes()
    return files


def build_release(source: Path, api_url: str) -> Release:
    """The release of `source` (web/) for a stack whose API is at `api_url`."""
    if not (source / INDEX_DOCUMENT).is_file():
        raise FileNotFoundError(f"{source}/{INDEX_DOCUMENT} not found: --source must be the site's folder")
    files = _source_files(source)
    files[CONFIG_NAME] = render_config(api_url)  # a config.js left in web/ by hand is replaced, never published
    pages = {key: body.decode("utf-8") for key, body in files.items() if key.endswith(".html")}
    referenced = set().union(*(html_references(html, key) for key, html in pages.items())) & set(files)
    referenced -= set(pages)
    renamed = {key: fingerprinted_key(key, files[key]) for key in referenced}
    assets = tuple(Asset(renamed[key], files[key], content_type(key), IMMUTABLE) for key in sorted(referenced))
    documents = []
    for key in sorted(set(files) - referenced):
        if key == CONFIG_NAME:
            continue  # only published fingerprinted, through the pages that load it
        body = _rewrite(pages[key], key, renamed).encode("utf-8") if key in pages else files[key]
        documents.append(Asset(key, body, content_type(key), REVALIDATE))
    return Release(assets=assets, documents=tuple(documents))

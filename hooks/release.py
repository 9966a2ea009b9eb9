"""A release: the files of web/ as they will be published, with the generated frontend config.

What the pages load (scripts, stylesheets, images, fonts, the config — and what stylesheets load in turn) gets a
content-hashed name, so CloudFront may cache it for a year; references to it are rewritten in the pages and in the
stylesheets, through real parsers. Pages keep their names and are revalidated on every request. Everything else
keeps its name too, with a short cache lifetime: files browsers or people ask for by URL (favicon.ico, robots.txt,
sitemap.xml, the manifest, `.well-known/`, a linked report.pdf) must stay where they are.

A file is renamed only where the hook rewrites every reference to it. So a file whose name appears in a file the
hook does not parse (JavaScript: `import`, `import()`, `new URL(…, import.meta.url)`, workers, source maps; JSON,
XML, SVG) keeps its name, and so does what a kept stylesheet loads. A name a bundler already fingerprinted
(`assets/index-CrXFY4L8.js`, `main.57a0d79d.min.css`) is kept too, and cached as immutable; the publish checks
that such a name never comes back with other bytes (hooks/publish.py).

A page written as `name.html` is also published as `name/index.html` where the site has no such page, so that
`/name`, which the site's routing redirects to `/name/` (contract/routing.py), reaches it.

Reading web/ is careful: a symbolic link that leaves the folder, or a name that could not be served safely, stops
the release before anything is uploaded; dotfiles (`.env`, `.git/`) are left out unless asked for.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import os
import posixpath
import re
import sys
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from contract.config import ConfigError, SiteSettings
from contract.headers import InlineHashes
from contract.site_files import INDEX_DOCUMENT, PRIVATE_PREFIX
from hooks import css
from hooks.csp import ContentSecurityPolicy, Finding, inline_finding, inline_hashes, url_finding
from hooks.html import InlineCode, Reference, StartTag, TagEdit, apply_edits, scan_page, tag_edits

CONFIG_NAME = "config.js"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
SHORT_LIVED = "public, max-age=300"
PAGE_SUFFIXES = (".html", ".htm")
NOT_FOUND_PAGE = "404.html"  # the convention's 404 page (site.not_found_page's default): never a directory
# Files browsers and crawlers ask for by name: never renamed, whoever references them.
WELL_KNOWN = frozenset(
    {
        "favicon.ico",
        "robots.txt",
        "sitemap.xml",
        "manifest.json",
        "site.webmanifest",
        "manifest.webmanifest",
        "browserconfig.xml",
        "humans.txt",
        "ads.txt",
        "security.txt",
        "apple-touch-icon.png",
        "apple-touch-icon-precomposed.png",
    }
)
_TEXT_TYPES = (
    "application/javascript",
    "application/json",
    "image/svg+xml",
    "application/xml",
    "application/manifest+json",
)
MAX_KEY_BYTES = 1024  # S3's limit
# Text the hook does not parse: a file named in it may be fetched by that name.
UNPARSED_TEXT_SUFFIXES = (".js", ".mjs", ".cjs", ".json", ".map", ".xml", ".svg", ".webmanifest", ".txt")
# Where such text names a file: a quoted string without spaces (a URL or path), or a source map comment.
_QUOTED_URL = re.compile(r"""(["'`])([^"'`\s]{1,2048}?)\1""")
_SOURCE_MAP = re.compile(r"sourceMappingURL=([^\s\"'*]+)")
# A bundler's content hash in a name: "-" or "." then 8 or more letters, digits or "_", with a digit and a letter
# among them (Vite's index-CrXFY4L8.js, webpack's main.57a0d79d.min.css, Next's 4bd1b696-67e30520d621c4dd.js), so
# that a version (jquery-3.6.0.min.js) or a date (report-20240101.pdf) is not taken for one.
_BUNDLER_HASH = re.compile(r"[.-](?=[A-Za-z0-9_]*\d)(?=[A-Za-z0-9_]*[A-Za-z])[A-Za-z0-9_]{8,}(?=\.)")
# Vite's own form, `assets/[name]-[hash].[ext]`: 8 characters of base64url, which may hold no digit
# (hero-CLDdwZDr.png) or a "-" (index-Boqb-Z2u.css); both cases of letters tell it from a word (logo-original.png).
_VITE_HASH = re.compile(r"(?:^|/)assets/(?:[^/]+/)*[^/]+-(?=[\w-]*[A-Z])(?=[\w-]*[a-z])[\w-]{8}\.[^/]+$", re.ASCII)


class SourceError(ValueError):
    """The source folder cannot be published as it is; the message names the file and why."""


class SourceChanged(SourceError):
    """A file is no longer what the publish planned to upload: it changed (or went) since the release was built."""


# How an object's bytes are made from its file (`Recipe.kind`).
AS_WRITTEN = "as written"
REWRITTEN_PAGE = "rewritten page"
DIRECTORY_COPY = "directory copy"  # a page again, one folder deeper (`_directory_copies`)
REWRITTEN_STYLESHEET = "rewritten stylesheet"
GENERATED = "generated"  # the frontend config: no file


def _md5(body: bytes) -> str:
    return hashlib.md5(body, usedforsecurity=False).hexdigest()


@dataclass(frozen=True, slots=True)
class Recipe:
    """How an object's bytes are made again when it is uploaded: the release keeps no file's bytes (memory does not
    grow with the site), only what it takes to read the file again, check it is still the one planned, and
    rewrite it as planned."""

    kind: str
    source: Path  # the site's folder
    key: str  # the file in it, as written
    file_md5: str  # the file's bytes when the release was built
    renamed: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)  # a stylesheet's: one map
    edits: tuple[TagEdit, ...] = ()  # a rewritten page's
    generated: bytes = b""  # the frontend config: tens of bytes

    @property
    def file(self) -> Path:
        return self.source / self.key

    def changed(self) -> bool:
        """Whether the file is no longer the one planned (other bytes, or gone)."""
        try:
            self._file_bytes()
        except SourceChanged:
            return True
        return False

    def make(self) -> bytes:
        """The object's bytes, made from the file as planned; raises SourceChanged naming the file when it is no
        longer the one planned."""
        body = self._file_bytes()
        if self.kind in (AS_WRITTEN, GENERATED):
            return body
        if self.kind == REWRITTEN_STYLESHEET:
            return css.rewrite(body.decode("utf-8", errors="replace"), _renaming(self.key, self.renamed)).encode()
        page = apply_edits(body.decode("utf-8"), self.edits)
        if self.kind == DIRECTORY_COPY:
            page = scan_page(page).rewrite(_root_relative(self.key))
        return page.encode()

    def _file_bytes(self) -> bytes:
        if self.kind == GENERATED:
            return self.generated
        try:
            body = self.file.read_bytes()
        except OSError as exc:
            raise SourceChanged(f"{self.file}: {_CHANGED} (it cannot be read any more: {exc.strerror})") from exc
        if _md5(body) != self.file_md5:
            raise SourceChanged(f"{self.file}: {_CHANGED}")
        return body


_CHANGED = "changed since this publish read it, so it was not uploaded; publish again once the site's build is done"


@dataclass(frozen=True, slots=True)
class Asset:
    """One object to publish: what the plan needs of it, and how to make its bytes when it is uploaded."""

    key: str
    content_type: str
    cache_control: str
    md5: str  # of the bytes to upload: what S3 reports as the ETag of a single-part upload
    size: int
    recipe: Recipe = field(repr=False)

    @property
    def fingerprinted(self) -> bool:
        return self.cache_control == IMMUTABLE

    def read(self) -> bytes:
        """The bytes to upload, made again from the file; raises SourceChanged naming the file when they are not
        the ones planned (their MD5 differs)."""
        body = self.recipe.make()
        if self.recipe.kind != AS_WRITTEN and _md5(body) != self.md5:  # as written: make() compared that MD5
            raise SourceChanged(f"{self.recipe.file}: {_CHANGED}")
        return body


@dataclass(frozen=True, slots=True)
class PageFacts:
    """What the release needs of a page once it has been read: what it loads, frames or submits to (not its plain
    links) and its inline code, for the content security policy and for what gets fingerprinted."""

    references: tuple[Reference, ...]
    inline: tuple[InlineCode, ...]


@dataclass(frozen=True)
class Release:
    """Fingerprinted assets (uploaded first) and documents (pages and files with fixed names, uploaded last)."""

    assets: tuple[Asset, ...]
    documents: tuple[Asset, ...]
    api_url: str
    source_name: str = "web"
    pages: dict[str, PageFacts] = field(default_factory=dict)  # by key, as written in the source
    stylesheets: dict[str, list[css.CssReference]] = field(default_factory=dict)  # by key, as written
    left_out: tuple[str, ...] = ()  # dotfiles not published

    @property
    def keys(self) -> set[str]:
        return {a.key for a in self.assets + self.documents}

    @property
    def content_hash(self) -> str:
        """What the release consists of, in one digest: the same files give the same hash."""
        listing = "\n".join(
            f"{a.key} {a.md5} {a.content_type} {a.cache_control}"
            for a in sorted(self.assets + self.documents, key=lambda a: a.key)
        )
        return hashlib.sha256(listing.encode()).hexdigest()

    def csp_findings(self, csp: str, site_origin: str | None, stack: str | None = None) -> list[Finding]:
        """Everything the content security policy would block, one finding each, in file and line order; `stack`
        (where known) is named in the remedies that need a redeploy."""
        policy = ContentSecurityPolicy.parse(csp)
        found: list[Finding] = []
        for key, page in self.pages.items():
            file = f"{self.source_name}/{key}"
            for code in page.inline:
                found += [f] if (f := inline_finding(file, code, policy, stack)) else []
            for ref in page.references:
                if ref.kind != "link" and (ref.loads or ref.kind in ("frame", "form", "base")):
                    what = f"<{ref.tag} {ref.attribute}>"
                    found += (
                        [f]
                        if (f := url_finding(file, ref.line, ref.kind, ref.url, policy, site_origin, what, stack))
                        else []
                    )
        for key, css_references in self.stylesheets.items():
            for css_ref in css_references:
                found += (
                    [f]
                    if (
                        f := url_finding(
                            f"{self.source_name}/{key}",
                            css_ref.line,
                            css_ref.kind,
                            css_ref.url,
                            policy,
                            site_origin,
                            f"url({css_ref.url})",
                            stack,
                        )
                    )
                    else []
                )
        api = url_finding(
            f"{self.source_name}/{CONFIG_NAME}",
            1,
            "connect",
            self.api_url,
            policy,
            site_origin,
            "apiUrl (the generated config)",
        )
        return sorted([*found, *([api] if api else [])], key=lambda f: (f.file, f.line))


def without_reused_names(release: Release, published: dict[str, str]) -> tuple[Release, tuple[str, ...]]:
    """`release` with every immutable file whose name was published before with other bytes (`published`: key ->
    MD5) served as a fixed-name file instead, and one warning each. Only a bundler's name can come back so: the
    hook's own names change with the content."""
    reused = {a.key for a in release.assets if published.get(a.key, a.md5) != a.md5}
    if not reused:
        return release, ()
    moved = tuple(replace(a, cache_control=SHORT_LIVED) for a in release.assets if a.key in reused)
    warnings = tuple(
        f"{key}: published before with other content under the same name, so it is not cached as immutable "
        "(browsers that cached the old one keep it for up to a year); give the build content-hashed names"
        for key in sorted(reused)
    )
    return (
        replace(
            release,
            assets=tuple(a for a in release.assets if a.key not in reused),
            documents=tuple(sorted(release.documents + moved, key=lambda a: a.key)),
        ),
        warnings,
    )


def render_config(api_url: str) -> bytes:
    """The frontend config: the one place the page learns the API URL."""
    return f"window.APP_CONFIG = {json.dumps({'apiUrl': api_url})};\n".encode()


def content_type(key: str) -> str:
    guessed = mimetypes.guess_type(key)[0] or "application/octet-stream"
    if guessed.startswith("text/") or guessed in _TEXT_TYPES:
        return sys.intern(f"{guessed}; charset=utf-8")  # one string per type, not one per file of a large site
    return guessed


def fingerprinted_key(key: str, sha256: str) -> str:
    """style.css -> style.3f2a9c1b7d4e.css (the start of the SHA-256 of its bytes): a new name whenever the content
    changes."""
    stem, dot, extension = posixpath.basename(key).rpartition(".")
    if not dot:
        stem, extension = extension, ""
    digest = sha256[:12]
    name = f"{stem}.{digest}.{extension}" if extension else f"{stem}.{digest}"
    return posixpath.join(posixpath.dirname(key), name)


def is_bundler_fingerprinted(key: str) -> bool:
    """Whether the file's name already carries a content hash a bundler put there."""
    return bool(_BUNDLER_HASH.search(posixpath.basename(key)) or _VITE_HASH.search(key))


def is_well_known(key: str) -> bool:
    return (
        key.startswith(".well-known/")
        or key in WELL_KNOWN
        or key.endswith(".webmanifest")
        or (key.startswith("sitemap") and key.endswith(".xml"))
    )


def resolve(url: str, document_key: str) -> str | None:
    """The key a URL in `document_key` points at, or None for another site's URL (or a data:, mailto:… URL)."""
    parts = urlsplit(url.strip())
    if parts.scheme or parts.netloc or not parts.path:
        return None
    path = unquote(parts.path)
    joined = path.lstrip("/") if path.startswith("/") else posixpath.join(posixpath.dirname(document_key), path)
    key = posixpath.normpath(joined)
    if key.endswith("/") or key == ".":
        key = posixpath.join(key, INDEX_DOCUMENT)
    return None if key.startswith("..") else key


def relink(url: str, document_key: str, new_key: str) -> str:
    """`url` pointed at `new_key`, in the same form: absolute or relative, with its query and fragment."""
    parts = urlsplit(url.strip())
    base = posixpath.dirname(document_key) or "."
    path = "/" + new_key if parts.path.startswith("/") else posixpath.relpath(new_key, base)
    suffix = (f"?{parts.query}" if parts.query else "") + (f"#{parts.fragment}" if parts.fragment else "")
    return quote(path, safe="/~!$&'()*+,;=:@") + suffix


# --- reading the source folder, carefully -----------------------------------------------------------------------


def _unsafe_name(key: str) -> str | None:
    """Why a file name cannot be served safely, or None."""
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        return "its name is not valid UTF-8"
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in key):
        return "its name has control or invisible characters"
    if "\\" in key:
        return "its name has a backslash"
    if len(key.encode()) > MAX_KEY_BYTES:
        return f"its name is longer than {MAX_KEY_BYTES} bytes"
    if any(part in ("", ".", "..") for part in key.split("/")):
        return "its name has an empty, '.' or '..' part"
    return None


def source_files(source: Path, *, allow_dotfiles: bool = False) -> tuple[dict[str, str], list[str]]:
    """The files to publish (key -> path, a string: a Path each weighs more; nothing read yet), and the dotfiles
    left out. Raises SourceError, naming
    the file, for a link that leaves the folder or a name that cannot be served safely: nothing is published then."""
    root = source.resolve()
    files: dict[str, str] = {}
    left_out: list[str] = []
    for directory, subdirectories, names in os.walk(root, followlinks=False):
        here = Path(directory)
        for name in sorted(subdirectories):
            path = here / name
            if path.is_symlink():
                _inside(root, path, source)
                subdirectories.remove(name)  # a link into the folder: its files are published under their own path
        for name in sorted(names):
            path = here / name
            key = path.relative_to(root).as_posix()
            if path.is_symlink():
                _inside(root, path, source)
            if not path.is_file():
                continue
            hidden = any(part.startswith(".") for part in key.split("/"))
            if key.startswith(PRIVATE_PREFIX) or (hidden and not allow_dotfiles and not key.startswith(".well-known/")):
                left_out.append(key)
                continue
            if problem := _unsafe_name(key):
                raise SourceError(f"{source / key!s}: {problem}; rename it (nothing was published)")
            files[key] = os.fspath(path)
    return files, left_out


def _inside(root: Path, link: Path, source: Path) -> None:
    target = link.resolve()
    if target != root and root not in target.parents:
        raise SourceError(
            f"{source / link.relative_to(root)} is a link to {target}, outside {source}; links may "
            "only point inside the site's folder (nothing was published)"
        )


# --- building the release ---------------------------------------------------------------------------------------


def _page_text(key: str, body: bytes, source: Path) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SourceError(
            f"{source / key}: not UTF-8 text ({exc.reason} at byte {exc.start}); save it as "
            "UTF-8 (nothing was published)"
        ) from exc


@dataclass
class _SiteScan:
    """What one read of each file tells the release; the files' bytes are not kept."""

    source: Path
    files: set[str]  # every key, the config's included
    by_name: dict[str, list[str]]  # keys by their last part
    md5: dict[str, str] = field(default_factory=dict)
    size: dict[str, int] = field(default_factory=dict)
    sha256: dict[str, str] = field(default_factory=dict)  # for a fingerprinted name: not of pages
    pages: dict[str, PageFacts] = field(default_factory=dict)
    tags: dict[str, tuple[StartTag, ...]] = field(default_factory=dict)  # a page's start tags naming a site file
    stylesheets: dict[str, list[css.CssReference]] = field(default_factory=dict)
    named: set[str] = field(default_factory=set)  # files named in text the hook does not parse

    def add(self, key: str, body: bytes) -> None:
        self.md5[key], self.size[key] = _md5(body), len(body)
        if key.endswith(PAGE_SUFFIXES):
            page = scan_page(_page_text(key, body, self.source))
            self.pages[key] = PageFacts(
                tuple(r for r in page.references if r.loads or r.kind in ("frame", "form", "base")), tuple(page.inline)
            )
            self.tags[key] = tuple(t for t in page.tags if any(self._may_be_renamed(r, key) for r in t.references))
            return
        self.sha256[key] = hashlib.sha256(body).hexdigest()[:12]  # all a fingerprinted name takes
        if key.endswith(".css"):
            self.stylesheets[key] = css.references(body.decode("utf-8", errors="replace"))
        if key.endswith(UNPARSED_TEXT_SUFFIXES) and key != CONFIG_NAME:
            names = _named_files(body.decode("utf-8", errors="replace"))
            self.named |= {k for name in names & self.by_name.keys() for k in self.by_name[name] if k != key}

    def _may_be_renamed(self, reference: Reference, page_key: str) -> bool:
        key = resolve(reference.url, page_key)
        return key in self.files and not key.endswith(PAGE_SUFFIXES)


def _scan(source: Path, paths: dict[str, str], config: bytes) -> _SiteScan:
    files = set(paths) | {CONFIG_NAME}
    by_name: dict[str, list[str]] = {}
    for key in sorted(files):
        by_name.setdefault(posixpath.basename(key), []).append(key)
    scan = _SiteScan(source, files, by_name)
    for key, path in paths.items():
        with open(path, "rb") as file:
            scan.add(key, file.read())
    scan.add(CONFIG_NAME, config)
    return scan


def build_release(source: Path, api_url: str, *, allow_dotfiles: bool = False) -> Release:
    """The release of `source` (web/) for a stack whose page calls the API at `api_url`: each file is read once
    here (and again when it is uploaded); what the release keeps of it is its MD5, size, headers and how it is
    rewritten."""
    if not (source / INDEX_DOCUMENT).is_file():
        raise FileNotFoundError(f"{source}/{INDEX_DOCUMENT} not found: --source must be the site's folder")
    paths, left_out = source_files(source, allow_dotfiles=allow_dotfiles)
    paths.pop(CONFIG_NAME, None)  # a config.js left in web/ by hand is replaced, never published
    config = render_config(api_url)
    scan = _scan(source, paths, config)
    pages, stylesheets = scan.pages, scan.stylesheets
    kept = _kept_names(scan)
    fingerprint = _what_pages_load(pages, stylesheets, scan.files) - kept
    renamed: dict[str, str] = {}  # the stylesheets' recipes share it: complete once the loop below is done

    def as_written(key: str) -> Recipe:
        if key == CONFIG_NAME:
            return Recipe(GENERATED, source, key, scan.md5[key], generated=config)
        return Recipe(AS_WRITTEN, source, key, scan.md5[key])

    def planned(key: str, recipe: Recipe, cache_control: str, published_as: str | None = None) -> Asset:
        if recipe.kind in (AS_WRITTEN, GENERATED):
            md5, size = scan.md5[key], scan.size[key]
        else:  # made once now for its MD5 and size, and again when uploaded
            body = recipe.make()
            md5, size = _md5(body), len(body)
        return Asset(published_as or key, content_type(key), cache_control, md5, size, recipe)

    assets = []
    for key in _stylesheets_last(fingerprint, stylesheets):
        if key in stylesheets:  # point it at what it loads, under their new names, before hashing it
            recipe = Recipe(REWRITTEN_STYLESHEET, source, key, scan.md5[key], renamed)
            body = recipe.make()
            renamed[key] = fingerprinted_key(key, hashlib.sha256(body).hexdigest())
            assets.append(Asset(renamed[key], content_type(key), IMMUTABLE, _md5(body), len(body), recipe))
        else:
            renamed[key] = fingerprinted_key(key, scan.sha256[key])
            assets.append(planned(key, as_written(key), IMMUTABLE, renamed[key]))
    bundled = {key for key in kept - set(pages) if is_bundler_fingerprinted(key)}
    assets += [planned(key, as_written(key), IMMUTABLE) for key in bundled]
    documents = []
    for key in sorted(scan.files - fingerprint - bundled - {CONFIG_NAME}):
        if key in pages:
            edits = tag_edits(scan.tags[key], _renaming(key, renamed))
            recipe = Recipe(REWRITTEN_PAGE, source, key, scan.md5[key], edits=edits) if edits else as_written(key)
            documents.append(planned(key, recipe, REVALIDATE))
        else:
            documents.append(planned(key, as_written(key), SHORT_LIVED))
    documents += _directory_copies(documents, scan.files)
    return Release(
        assets=tuple(sorted(assets, key=lambda a: a.key)),
        documents=tuple(sorted(documents, key=lambda a: a.key)),
        api_url=api_url,
        source_name=source.name,
        pages=pages,
        stylesheets=stylesheets,
        left_out=tuple(left_out),
    )


def directory_copy_key(key: str) -> str | None:
    """Where a page written as `name.html` is published again so that `/name/` serves it (`name/index.html`), or
    None for an index page and the site's 404 page, which are never asked for without their extension."""
    folder, name = posixpath.split(key)
    if not name.endswith(".html") or name == INDEX_DOCUMENT or key == NOT_FOUND_PAGE:
        return None
    return posixpath.join(folder, name.removesuffix(".html"), INDEX_DOCUMENT)


def _directory_copies(documents: list[Asset], files: set[str]) -> list[Asset]:
    """Pages written as `name.html` (Next's static export, Eleventy), also as `name/index.html` where the site has
    no such page, so that `/name`, redirected to `/name/` (contract/routing.py), reaches them. In the copy, one
    folder deeper, relative references are made root-relative, so they still point where the page's do."""
    copies = []
    for page in documents:
        copy_key = directory_copy_key(page.key)
        if page.cache_control != REVALIDATE or copy_key is None or copy_key in files:
            continue
        recipe = replace(page.recipe, kind=DIRECTORY_COPY)
        body = recipe.make()
        copies.append(replace(page, key=copy_key, md5=_md5(body), size=len(body), recipe=recipe))
    return copies


def _root_relative(document_key: str) -> Callable[[Reference], str | None]:
    """For a reference in `document_key`: a relative URL made root-relative (its query and fragment kept), or None
    for one that is absolute already, another site's, or only a fragment."""

    def new_url(reference: Reference) -> str | None:
        parts = urlsplit(reference.url.strip())
        if parts.scheme or parts.netloc or not parts.path or parts.path.startswith("/"):
            return None
        path = posixpath.normpath(posixpath.join("/" + posixpath.dirname(document_key), unquote(parts.path)))
        folder = parts.path.endswith("/") or parts.path.rsplit("/", 1)[-1] in (".", "..")
        path += "/" if folder and path != "/" else ""
        suffix = (f"?{parts.query}" if parts.query else "") + (f"#{parts.fragment}" if parts.fragment else "")
        return quote(path, safe="/~!$&'()*+,;=:@") + suffix

    return new_url


def site_inline_hashes(source: Path) -> InlineHashes:
    """The hashes of the inline code in the pages of `source` (the site's folder), read as a release reads them:
    what the stack's content security policy lists so that those pages run as published (the hook rewrites
    only URLs in attributes, never inline code). Raises SourceError or FileNotFoundError as `build_release` does."""
    if not source.is_dir():
        raise FileNotFoundError(f"{source} is not a folder")
    files, _ = source_files(source)
    return inline_hashes(
        scan_page(_page_text(key, Path(path).read_bytes(), source))
        for key, path in sorted(files.items())
        if key.endswith(PAGE_SUFFIXES)
    )


def site_code_hashes(site: SiteSettings, project_dir: Path) -> InlineHashes:
    """The hashes of the inline code in the pages of `site.source_dir` (relative to `project_dir`), which the
    stack's content security policy lists. Raises ConfigError naming the setting when the folder cannot be read:
    the policy is made at synth, so the site must be built by then."""
    try:
        return site_inline_hashes(site.source_folder(project_dir))
    except (FileNotFoundError, SourceError) as exc:
        build = (
            f"site.build_command ({site.build_command!r}) builds it"
            if site.build_command
            else "set site.build_command to the command that builds it"
        )
        raise ConfigError(
            f"site.source_dir: {site.source_dir!r} cannot be read ({exc}); the content security policy lists the "
            f"hashes of its pages' inline code, so it must exist at synth: build the site first ({build}; "
            "`pipenv run deploy` runs it before synth), or point site.source_dir at the built folder"
        ) from exc


def _renaming(document_key: str, renamed: Mapping[str, str]) -> Callable[[Reference | css.CssReference], str | None]:
    """For a reference in `document_key`: its URL pointed at the renamed file, or None to leave it as written."""

    def new_url(reference: Reference | css.CssReference) -> str | None:
        key = resolve(reference.url, document_key)
        return relink(reference.url, document_key, renamed[key]) if key is not None and key in renamed else None

    return new_url


def _named_files(text: str) -> set[str]:
    """The file names a text the hook does not parse may fetch: the last part of every URL-like string in it."""
    names = set()
    for url in [m.group(2) for m in _QUOTED_URL.finditer(text)] + _SOURCE_MAP.findall(text):
        try:
            names.add(posixpath.basename(unquote(urlsplit(url).path)))
        except ValueError:  # not a URL after all ("http://[", say)
            continue
    return names


def _kept_names(scan: _SiteScan) -> set[str]:
    """The files that keep their names: named in text the hook does not parse, fingerprinted by a bundler, and
    what a kept stylesheet loads (it is published as written), transitively."""
    kept = {key for key in scan.files if is_bundler_fingerprinted(key)} | scan.named
    pending = [key for key in kept if key in scan.stylesheets]
    while pending:
        sheet = pending.pop()
        for ref in scan.stylesheets[sheet]:
            if (loaded := resolve(ref.url, sheet)) is None:
                continue
            if loaded not in kept and loaded in scan.files:
                kept.add(loaded)
                pending += [loaded] if loaded in scan.stylesheets else []
    return kept - set(scan.pages)


def _what_pages_load(
    pages: dict[str, PageFacts], stylesheets: dict[str, list[css.CssReference]], files: set[str]
) -> set[str]:
    """The files the pages load, and what those stylesheets load in turn, but pages and well-known names."""
    loaded: set[str] = set()
    pending = [key for page_key, page in pages.items() for key in _loaded_by_page(page, page_key)]
    while pending:
        key = pending.pop()
        if key in loaded or key not in files or key in pages or is_well_known(key):
            continue
        loaded.add(key)
        pending += [k for ref in stylesheets.get(key, []) if (k := resolve(ref.url, key))]
    return loaded


def _loaded_by_page(page: PageFacts, page_key: str) -> Iterable[str]:
    return (k for ref in page.references if ref.loads and (k := resolve(ref.url, page_key)))


def _stylesheets_last(keys: set[str], stylesheets: dict[str, list[css.CssReference]]) -> list[str]:
    """`keys` in an order where every file comes after what it loads (stylesheets after their images and fonts,
    after the stylesheets they import)."""
    ordered: list[str] = []
    placed: set[str] = set()  # what `ordered` holds, for a quick look-up
    visiting: set[str] = set()

    def visit(key: str) -> None:
        if key in placed:
            return
        if key in visiting:
            raise SourceError(f"{key} imports itself through other stylesheets; break the @import cycle")
        visiting.add(key)
        for ref in stylesheets.get(key, []):
            if (dependency := resolve(ref.url, key)) in keys:
                visit(dependency)
        visiting.discard(key)
        ordered.append(key)
        placed.add(key)

    for key in sorted(keys):
        visit(key)
    return ordered


def page_references(html: str, key: str) -> set[str]:
    """Keys of the files a published page references (loads or links to)."""
    return {k for ref in scan_page(html).references if (k := resolve(ref.url, key))}

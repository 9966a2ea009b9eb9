"""Pages read with a real HTML parser (the standard library's): what each page loads or links to, its inline code,
and the same page with references pointed at other names.

Used twice by the hook: to find the files a page loads (they get fingerprinted names) and to rewrite the page to
those names; and to check the page against the site's content security policy (`hooks.csp`).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from html.parser import HTMLParser

# Scripts of these types are data, not code: a browser never runs them, so a CSP does not block them.
DATA_SCRIPT_TYPES = ("application/json", "application/ld+json", "text/template", "text/x-template")
# What a `<link rel=…>` makes the page load, by rel.
LINK_LOADS = {
    "stylesheet": "style",
    "icon": "image",
    "shortcut": "image",
    "apple-touch-icon": "image",
    "apple-touch-icon-precomposed": "image",
    "mask-icon": "image",
    "manifest": "manifest",
    "modulepreload": "script",
}
# What `<link rel=preload as=…>` loads.
PRELOAD_AS = {
    "script": "script",
    "style": "style",
    "font": "font",
    "image": "image",
    "fetch": "connect",
    "audio": "media",
    "video": "media",
    "track": "media",
    "document": "frame",
}
# Attributes that hold one URL, by tag: the kind of thing fetched, and whether the page loads it by itself.
URL_ATTRIBUTES: dict[tuple[str, str], tuple[str, bool]] = {
    ("script", "src"): ("script", True),
    ("img", "src"): ("image", True),
    ("input", "src"): ("image", True),
    ("source", "src"): ("media", True),
    ("video", "src"): ("media", True),
    ("video", "poster"): ("image", True),
    ("audio", "src"): ("media", True),
    ("track", "src"): ("media", True),
    ("embed", "src"): ("object", True),
    ("object", "data"): ("object", True),
    ("iframe", "src"): ("frame", False),
    ("frame", "src"): ("frame", False),
    ("a", "href"): ("link", False),
    ("area", "href"): ("link", False),
    ("form", "action"): ("form", False),
    ("button", "formaction"): ("form", False),
    ("input", "formaction"): ("form", False),
    ("base", "href"): ("base", False),
}
SRCSET_TAGS = ("img", "source")
# One attribute in a start tag's source text: name, then an optional value in any of HTML's three forms.
_ATTRIBUTE = re.compile(r"""(?P<name>[^\s"'>/=]+)(?:(?P<equals>\s*=\s*)(?P<value>"[^"]*"|'[^']*'|[^\s"'=<>`]+))?""")


@dataclass(frozen=True, slots=True)  # slots: the release keeps what every page of a large site loads
class Reference:
    """A URL in a page: which attribute of which tag, on which line, and what it fetches."""

    tag: str
    attribute: str
    url: str
    line: int
    kind: str  # script, style, image, font, media, manifest, connect, object, frame, link, form, base
    loads: bool  # the page fetches it by itself (not a link to navigate to)


@dataclass(frozen=True)
class InlineCode:
    """Code written into the page itself: what a CSP without 'unsafe-inline' blocks."""

    what: str  # "inline script", "onclick attribute", "javascript: URL", "style attribute", "<style> block"
    kind: str  # script or style
    line: int
    text: str = ""  # the code as a browser hashes it for a CSP: the element's text, or the attribute's value

    @property
    def is_attribute(self) -> bool:
        """Code in an attribute (an event handler, a style attribute or a javascript: URL), not an element."""
        return self.what not in ("inline script", "<style> block")


@dataclass
class StartTag:
    """A start tag as written in the page, where, and the URLs in it."""

    offset: int
    text: str
    tag: str
    references: list[Reference] = field(default_factory=list)


@dataclass
class Page:
    """What a page references and what code it carries inline."""

    source: str
    references: list[Reference]
    inline: list[InlineCode]
    tags: list[StartTag]

    def rewrite(self, new_url: Callable[[Reference], str | None]) -> str:
        """The page with each reference for which `new_url` gives a URL pointed at it; the rest untouched."""
        return apply_edits(self.source, tag_edits(self.tags, new_url))


@dataclass(frozen=True, slots=True)
class TagEdit:
    """A start tag of a page and the URLs to change in it: with the page's text, all it takes to rewrite the page
    again without parsing it again (`apply_edits`)."""

    offset: int
    text: str
    changes: dict[tuple[str, str], str]  # (attribute, URL as written) -> new URL


def tag_edits(tags: Iterable[StartTag], new_url: Callable[[Reference], str | None]) -> tuple[TagEdit, ...]:
    """The edits to the start tags `tags` (in page order) in which `new_url` changes a URL."""
    edits = []
    for tag in tags:
        changes = {}
        for reference in tag.references:
            replacement = new_url(reference)
            if replacement is not None and replacement != reference.url:
                changes[(reference.attribute, reference.url)] = replacement
        if changes:
            edits.append(TagEdit(tag.offset, tag.text, changes))
    return tuple(edits)


def apply_edits(source: str, edits: Iterable[TagEdit]) -> str:
    """`source` with `edits` (of its start tags, in order) made; the rest untouched."""
    pieces, position = [], 0
    for edit in edits:
        pieces += [source[position : edit.offset], _rewritten_tag(edit.text, edit.changes)]
        position = edit.offset + len(edit.text)
    return "".join([*pieces, source[position:]])


def srcset_urls(srcset: str) -> list[str]:
    """The URLs of a srcset: comma-separated candidates, each a URL and an optional width or density."""
    return [candidate.split()[0] for candidate in srcset.split(",") if candidate.strip()]


def _rewritten_tag(text: str, changes: dict[tuple[str, str], str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name, raw = match["name"].lower(), match["value"]
        if raw is None:
            return match[0]
        quote = raw[0] if raw[0] in "\"'" else '"'
        value = html.unescape(raw[1:-1] if raw[0] in "\"'" else raw)
        if name == "srcset":
            new = ", ".join(
                " ".join([changes.get((name, parts[0]), parts[0]), *parts[1:]])
                for candidate in value.split(",")
                if (parts := candidate.split())
            )
        else:
            new = changes.get((name, value), value)
        if new == value:
            return match[0]
        escaped = html.escape(new, quote=True) if quote == '"' else html.escape(new, quote=False).replace("'", "&#x27;")
        return f"{match['name']}{match['equals']}{quote}{escaped}{quote}"

    # The tag name first, then its attributes: only attribute values are ever replaced.
    head = re.match(r"<[^\s>/]+", text)
    start = head.end() if head else 0
    return text[:start] + _ATTRIBUTE.sub(replace, text[start:])


class _Scanner(HTMLParser):
    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self._line_starts = [0] + [m.end() for m in re.finditer(r"\n", source)]
        self.references: list[Reference] = []
        self.inline: list[InlineCode] = []
        self.tags: list[StartTag] = []
        self._in: tuple[str, int, bool] | None = None  # script or style being read: tag, line, counts as code
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs)

    def _start(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        line, column = self.getpos()
        values = {name: value or "" for name, value in attrs}
        start_tag = StartTag(self._line_starts[line - 1] + column, self.get_starttag_text() or "", tag)
        for name, value in values.items():
            if name.startswith("on"):
                self.inline.append(InlineCode(f"{name} attribute", "script", line, _as_parsed(value)))
            elif name == "style" and value.strip():
                self.inline.append(InlineCode("style attribute", "style", line, _as_parsed(value)))
            if name in ("href", "src", "action", "formaction") and value.strip().lower().startswith("javascript:"):
                self.inline.append(InlineCode("javascript: URL", "script", line, _as_parsed(value)))
                continue
            for url, kind, loads in self._urls(tag, name, value, values):
                start_tag.references.append(Reference(tag, name, url, line, kind, loads))
        self.references += start_tag.references
        self.tags.append(start_tag)
        if tag in ("script", "style"):
            code = tag == "style" or ("src" not in values and values.get("type", "").lower() not in DATA_SCRIPT_TYPES)
            self._in, self._text = (tag, line, code), []

    @staticmethod
    def _urls(tag: str, name: str, value: str, values: dict[str, str]) -> list[tuple[str, str, bool]]:
        if not value.strip():
            return []
        if name == "srcset" and tag in SRCSET_TAGS:
            return [(url, "image", True) for url in srcset_urls(value)]
        if (tag, name) == ("link", "href"):
            rels = values.get("rel", "").lower().split()
            if "preload" in rels:
                return [(value.strip(), PRELOAD_AS.get(values.get("as", "").lower(), "connect"), True)]
            loaded = [LINK_LOADS[rel] for rel in rels if rel in LINK_LOADS]
            return [(value.strip(), loaded[0] if loaded else "link", bool(loaded))]
        if (tag, name) in URL_ATTRIBUTES:
            kind, loads = URL_ATTRIBUTES[(tag, name)]
            return [(value.strip(), kind, loads)]
        return []

    def handle_data(self, data: str) -> None:
        if self._in:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if self._in and tag == self._in[0]:
            element, line, code = self._in
            text = "".join(self._text)
            if code and text.strip():
                self.inline.append(
                    InlineCode(
                        "inline script" if element == "script" else "<style> block",
                        "script" if element == "script" else "style",
                        line,
                        _as_parsed(text),
                    )
                )
            self._in = None


def _as_parsed(text: str) -> str:
    """Text as a browser's HTML parser hands it on: every CR LF and lone CR made LF before tokenizing (the
    standard library's parser keeps them), which is the text a CSP hash is computed over."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def scan_page(source: str) -> Page:
    """Everything the page references, and its inline code, with line numbers."""
    scanner = _Scanner(source)
    scanner.feed(source)
    scanner.close()
    return Page(source, scanner.references, scanner.inline, scanner.tags)

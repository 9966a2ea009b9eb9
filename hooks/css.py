"""Stylesheets read with a real CSS parser (tinycss2): the files a stylesheet loads — `url(…)` anywhere,
`@import` — and the same stylesheet with those references pointed at other names. Only the references change:
every other byte stays as written."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import tinycss2
from tinycss2.ast import AtRule, FunctionBlock, Node, StringToken, URLToken


@dataclass(frozen=True)
class CssReference:
    """A URL in a stylesheet, where it is written, and what it loads (a font in @font-face, else an image or,
    for @import, a stylesheet)."""

    url: str
    line: int
    kind: str  # font, image or style
    start: int  # the written reference: a url(...) token or a string
    end: int


def _children(node: Node) -> Iterable[Node]:
    for attribute in ("prelude", "content", "arguments"):
        value = getattr(node, attribute, None)
        if isinstance(value, list):
            yield from value


def _walk(nodes: Iterable[Node], kind: str) -> Iterable[tuple[Node, str]]:
    """Every node, with what a URL inside it loads: fonts in @font-face, stylesheets in @import, else images."""
    for node in nodes:
        node_kind = kind
        if isinstance(node, AtRule):
            node_kind = {"font-face": "font", "import": "style"}.get(node.lower_at_keyword, kind)
        yield node, node_kind
        yield from _walk(_children(node), node_kind)


def _offset(line_starts: list[int], node: Node) -> int:
    return line_starts[node.source_line - 1] + node.source_column - 1


def _string_end(source: str, start: int) -> int:
    """The end of the quoted string starting at `start` (its closing quote included)."""
    quote, position = source[start], start + 1
    while position < len(source) and source[position] != quote:
        position += 2 if source[position] == "\\" else 1
    return position + 1


def references(source: str) -> list[CssReference]:
    """Every file the stylesheet loads, as written, with where it is written."""
    line_starts = [0] + [m.end() for m in re.finditer(r"\n", source)]
    found = []
    for node, kind in _walk(tinycss2.parse_stylesheet(source, skip_comments=True, skip_whitespace=True), "image"):
        if isinstance(node, URLToken):
            start = _offset(line_starts, node)
            end = source.index(")", start) + 1
            found.append(CssReference(node.value, node.source_line, kind, start, end))
        elif isinstance(node, FunctionBlock) and node.lower_name == "url":
            strings = [a for a in node.arguments if isinstance(a, StringToken)]
            if strings:
                start = _offset(line_starts, strings[0])
                found.append(CssReference(strings[0].value, node.source_line, kind, start, _string_end(source, start)))
        elif isinstance(node, FunctionBlock) and node.lower_name in ("image-set", "-webkit-image-set"):
            for string in (a for a in node.arguments if isinstance(a, StringToken)):  # image-set("a.png" 1x)
                start = _offset(line_starts, string)
                found.append(CssReference(string.value, string.source_line, "image", start, _string_end(source, start)))
        elif isinstance(node, AtRule) and node.lower_at_keyword == "import":
            # @import "x.css": a bare string (@import url(…) is found as a url above)
            strings = [a for a in node.prelude if isinstance(a, StringToken)]
            if strings:
                start = _offset(line_starts, strings[0])
                found.append(
                    CssReference(strings[0].value, node.source_line, "style", start, _string_end(source, start))
                )
    return sorted(found, key=lambda r: r.start)


def _css_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def rewrite(source: str, new_url: Callable[[CssReference], str | None]) -> str:
    """The stylesheet with each reference for which `new_url` gives a URL pointed at it; nothing else changed."""
    pieces, position = [], 0
    for reference in references(source):
        replacement = new_url(reference)
        if replacement is None or replacement == reference.url:
            continue
        written = source[reference.start : reference.end]
        new = f"url({_css_string(replacement)})" if written.startswith("url(") else _css_string(replacement)
        pieces += [source[position : reference.start], new]
        position = reference.end
    return "".join([*pieces, source[position:]])

"""What a setting may be: the rule each settings field declares, checked when the settings are built.

A field is declared with `setting(default, doc, rule)`: its meaning (`doc`) and its allowed values (`rule`) sit
next to it. `Settings.__post_init__` checks every field against its rule and raises a `ConfigError` that names the
field and the allowed values; the README's settings table is generated from the same declarations
(`contract.tables`), so the documentation cannot drift from the checks.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import MISSING, Field, dataclass, field, fields
from typing import Any, ClassVar, Protocol, TypeVar
from urllib.parse import urlsplit

T = TypeVar("T")


class ConfigError(ValueError):
    """A setting is invalid; the message names the field and what it may be."""


def not_allowed(name: str, value: object, allowed: str) -> ConfigError:
    return ConfigError(f"{name}: {value!r} is not allowed; allowed values: {allowed}")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def a_or_an(name: str) -> str:
    return f"an {name}" if name[:1].lower() in "aeiou" else f"a {name}"


class Rule(Protocol):
    """What a value may be: `allows` checks it, `allowed` says it in words for errors and the README."""

    @property
    def allowed(self) -> str: ...

    def allows(self, value: object) -> bool: ...


@dataclass(frozen=True)
class OneOf:
    values: tuple[object, ...]

    @property
    def allowed(self) -> str:
        return ", ".join(str(v) for v in self.values)

    def allows(self, value: object) -> bool:
        # type() too: True == 1, and 1 == 1.0, but neither is the setting's value.
        return any(value == v and type(value) is type(v) for v in self.values)


@dataclass(frozen=True)
class Between:
    low: float
    high: float
    whole: bool = True  # a whole number (int); otherwise int or float

    @property
    def allowed(self) -> str:
        kind = "a whole number" if self.whole else "a number"
        return f"{kind} from {_number(self.low)} to {_number(self.high)}"

    def allows(self, value: object) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if self.whole and not isinstance(value, int):
            return False
        return self.low <= value <= self.high


@dataclass(frozen=True)
class MultipleOf:
    step: int
    low: int
    high: int

    @property
    def allowed(self) -> str:
        return f"a multiple of {self.step} from {self.low} to {self.high}"

    def allows(self, value: object) -> bool:
        return Between(self.low, self.high).allows(value) and isinstance(value, int) and value % self.step == 0


@dataclass(frozen=True)
class Matches:
    """A string that matches `pattern` as a whole (no trailing newline sneaks through)."""

    pattern: str
    description: str

    @property
    def allowed(self) -> str:
        return self.description

    def allows(self, value: object) -> bool:
        return isinstance(value, str) and re.fullmatch(self.pattern, value) is not None


@dataclass(frozen=True)
class IsBool:
    @property
    def allowed(self) -> str:
        return "True, False"

    def allows(self, value: object) -> bool:
        return isinstance(value, bool)


@dataclass(frozen=True)
class IsOrigin:
    """An origin as browsers send it in the Origin header: scheme://host[:port], lowercase, nothing else.

    CORS compares origins byte for byte, so anything a browser would never send (upper case, credentials, a path,
    a query, a fragment, a wildcard, a default or impossible port) silently breaks it.
    """

    @property
    def allowed(self) -> str:
        return "an origin such as https://example.com or http://127.0.0.1:8080 (lowercase scheme, host and port only)"

    def allows(self, value: object) -> bool:
        if not isinstance(value, str) or not re.fullmatch(r"https?://[a-z0-9.\-\[\]:]+", value):
            return False
        parts = urlsplit(value)
        try:
            port = parts.port
        except ValueError:
            return False
        host = parts.hostname or ""
        default_port = {"http": 80, "https": 443}[parts.scheme]
        return (
            bool(host)
            and "*" not in value
            and not host.startswith(".")
            and not host.endswith(".")
            and ".." not in host
            and (port is None or (1 <= port <= 65535 and port != default_port))
        )


@dataclass(frozen=True)
class Optional:
    rule: Rule
    none_means: str = "none"

    @property
    def allowed(self) -> str:
        return f"None ({self.none_means}) or {self.rule.allowed}"

    def allows(self, value: object) -> bool:
        return value is None or self.rule.allows(value)


@dataclass(frozen=True)
class TupleOf:
    rule: Rule
    most: int

    @property
    def allowed(self) -> str:
        return f"a tuple of at most {self.most} distinct values, each {self.rule.allowed}"

    def allows(self, value: object) -> bool:
        return (
            isinstance(value, tuple)
            and len(value) <= self.most
            and len(set(value)) == len(value)
            and all(self.rule.allows(v) for v in value)
        )


@dataclass(frozen=True)
class StringMapping:
    """A mapping of string keys to string values that must include `required` with a non-empty value."""

    required: str

    @property
    def allowed(self) -> str:
        return f"a mapping of string attributes to string values including a non-empty {self.required!r}"

    def allows(self, value: object) -> bool:
        return (
            isinstance(value, Mapping)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
            and bool(value.get(self.required))
        )


@dataclass(frozen=True)
class CspSources:
    """Extra sources for content security policy directives: a mapping from a directive among `directives` to a
    tuple of https origins (or `data:`, except in script-src). Never a wildcard, a keyword such as
    'unsafe-inline', plain http or a path: each would let more than the one host the site needs."""

    directives: tuple[str, ...]

    @property
    def allowed(self) -> str:
        return (
            f"a mapping from a directive ({', '.join(self.directives)}) to a tuple of distinct https origins such "
            "as https://fonts.example.com (or data:, except in script-src); no wildcards, 'unsafe-…' keywords, "
            "http: or paths"
        )

    def allows(self, value: object) -> bool:
        return isinstance(value, Mapping) and all(
            directive in self.directives
            and isinstance(sources, tuple)
            and len(set(sources)) == len(sources)
            and all(_csp_source_allowed(directive, source) for source in sources)
            for directive, sources in value.items()
        )


def _csp_source_allowed(directive: str, source: object) -> bool:
    if source == "data:":
        return directive != "script-src"
    return isinstance(source, str) and source.startswith("https://") and IsOrigin().allows(source)


@dataclass(frozen=True)
class Nested:
    """A section of its own (another settings dataclass), checked by its own rules."""

    kind: type

    @property
    def allowed(self) -> str:
        return a_or_an(self.kind.__name__)

    def allows(self, value: object) -> bool:
        return isinstance(value, self.kind)


def setting(default: T, doc: str, rule: Rule, *, factory: Callable[[], T] | None = None) -> T:
    """A settings field: its default, what it controls and why the default (`doc`), and what it may be (`rule`)."""
    metadata = {"doc": doc, "rule": rule}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


def required(doc: str, rule: Rule) -> Any:
    """A settings field without a default."""
    return field(metadata={"doc": doc, "rule": rule})


def section(kind: type[T], doc: str) -> T:
    """A field holding a section of its own (another settings dataclass), by default with all its defaults."""
    return field(default_factory=kind, metadata={"doc": doc, "rule": Nested(kind)})


class Settings:
    """Base of every settings dataclass: checks each field against its rule, then `check()` across fields."""

    prefix: ClassVar[str] = ""  # field names in errors and the README are "<prefix>.<field>"

    def __post_init__(self) -> None:
        for item in fields(self):  # type: ignore[arg-type]  # every subclass is a dataclass
            rule: Rule | None = item.metadata.get("rule")
            value = getattr(self, item.name)
            if rule is not None and not rule.allows(value):
                raise not_allowed(self.field_name(item.name), value, rule.allowed)
        self.check()

    def check(self) -> None:
        """Rules that involve more than one field; override where needed."""

    @classmethod
    def field_name(cls, name: str) -> str:
        return f"{cls.prefix}.{name}" if cls.prefix else name


def default_of(item: Field[Any]) -> object:
    """A field's default value, MISSING for a required field."""
    if item.default is not MISSING:
        return item.default
    if item.default_factory is not MISSING:
        return item.default_factory()
    return MISSING

"""STIX 2.x patterning: parsed into a tree, evaluated against one event.

Grammar (STIX 2.1 part 9), as parsed here::

    pattern     := obs_or
    obs_or      := obs_and ("OR" obs_and)*
    obs_and     := obs_seq ("AND" obs_seq)*
    obs_seq     := obs_atom ("FOLLOWEDBY" obs_atom)*
    obs_atom    := ("[" comp_or "]" | "(" obs_or ")") qualifier*
    qualifier   := "WITHIN" n "SECONDS" | "REPEATS" n "TIMES" | "START" t'..' "STOP" t'..'
    comp_or     := comp_and ("OR" comp_and)*
    comp_and    := comp_atom ("AND" comp_atom)*
    comp_atom   := "(" comp_or ")" | "EXISTS" path | path ["NOT"] op value
    op          := = != < <= > >= IN LIKE MATCHES ISSUBSET ISSUPERSET

One event is one observation: a pattern of one observation (or several joined by ``OR``) is
evaluated per event. ``AND`` and ``FOLLOWEDBY`` between observations and ``REPEATS`` need
several events; such a pattern parses but :func:`single_event` says why it does not run.
Regular expressions (``MATCHES``) run on RE2. A comparison is true when any value the event
holds for the object path satisfies it.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import re2  # type: ignore[import-untyped]

from maat.detect.ioc_values import instant
from maat.errors import InvalidInput

__all__ = [
    "CompAnd",
    "CompOr",
    "Comparison",
    "Exists",
    "ObsJoin",
    "Observation",
    "compile_pattern",
    "evaluate",
    "parse_pattern",
    "path_parts",
    "single_event",
]

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<str>'(?:[^'\\]|\\.)*')
    | (?P<typed>[thb]'(?:[^'\\]|\\.)*')
    | (?P<num>-?\d+(?:\.\d+)?)
    | (?P<op>!=|<=|>=|=|<|>|\[|\]|\(|\)|,)
    | (?P<word>[A-Za-z0-9_\-]+(?::[A-Za-z0-9_\-]+)?
        (?:\.(?:'[^']*'|[A-Za-z0-9_\-]+)|\[(?:\d+|\*)\])*)
    )""",
    re.VERBOSE,
)
_KEYWORDS = frozenset(("AND", "OR", "NOT", "FOLLOWEDBY", "WITHIN", "SECONDS", "REPEATS",
                       "TIMES", "START", "STOP", "IN", "LIKE", "MATCHES", "ISSUBSET",
                       "ISSUPERSET", "EXISTS", "true", "false"))  # fmt: skip
_OPS = frozenset(("=", "!=", "<", "<=", ">", ">=", "IN", "LIKE", "MATCHES", "ISSUBSET",
                  "ISSUPERSET"))  # fmt: skip


@dataclass(frozen=True, slots=True)
class Comparison:
    """``path [NOT] op value``."""

    path: str
    op: str
    value: Any
    negated: bool = False


@dataclass(frozen=True, slots=True)
class Exists:
    """``EXISTS path``."""

    path: str


@dataclass(frozen=True, slots=True)
class CompAnd:
    parts: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class CompOr:
    parts: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Observation:
    """``[comparison expression]`` with its qualifiers."""

    expression: Any
    qualifiers: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class ObsJoin:
    """Observations joined by ``AND``, ``OR`` or ``FOLLOWEDBY``."""

    operator: str
    parts: tuple[Any, ...]
    qualifiers: tuple[tuple[str, Any], ...] = ()


def _tokens(text: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    position = 0
    stripped_end = len(text.rstrip())
    while position < stripped_end:
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise InvalidInput(
                f"STIX pattern: unexpected text at {position}: {text[position:][:30]!r}"
            )
        position = match.end()
        kind = match.lastgroup
        raw = match.group(kind or "")
        if kind == "str":
            out.append(("value", _unquote(raw)))
        elif kind == "typed":
            out.append(("value", _typed(raw)))
        elif kind == "num":
            out.append(("value", float(raw) if "." in raw else int(raw)))
        elif kind == "op":
            out.append(("op", raw))
        elif raw in ("true", "false"):
            out.append(("value", raw == "true"))
        elif raw in _KEYWORDS:
            out.append(("kw", raw))
        else:
            out.append(("path", raw))
    return out


def _unquote(raw: str) -> str:
    return re.sub(r"\\(.)", r"\1", raw[1:-1])


def _typed(raw: str) -> Any:
    body = _unquote(raw[1:])
    if raw[0] == "h":
        return body.lower()
    return body  # t'...' (a timestamp) and b'...' (base64) compare as text


class _Parser:
    def __init__(self, text: str) -> None:
        self.items = _tokens(text)
        self.index = 0

    def peek(self) -> tuple[str, Any] | None:
        return self.items[self.index] if self.index < len(self.items) else None

    def take(self, kind: str, value: Any = None) -> Any:
        item = self.peek()
        if item is None or item[0] != kind or (value is not None and item[1] != value):
            wanted = value if value is not None else kind
            found = "the end" if item is None else repr(item[1])
            raise InvalidInput(f"STIX pattern: expected {wanted}, found {found}")
        self.index += 1
        return item[1]

    def accept(self, kind: str, value: Any) -> bool:
        item = self.peek()
        if item is not None and item[0] == kind and item[1] == value:
            self.index += 1
            return True
        return False

    # observation expressions
    def obs_join(self, operator: str, lower: Callable[[], Any]) -> Any:
        parts = [lower()]
        while self.accept("kw", operator):
            parts.append(lower())
        return parts[0] if len(parts) == 1 else ObsJoin(operator, tuple(parts))

    def obs_or(self) -> Any:
        return self.obs_join("OR", self.obs_and)

    def obs_and(self) -> Any:
        return self.obs_join("AND", self.obs_seq)

    def obs_seq(self) -> Any:
        return self.obs_join("FOLLOWEDBY", self.obs_atom)

    def obs_atom(self) -> Any:
        if self.accept("op", "["):
            node: Any = Observation(self.comp_or())
            self.take("op", "]")
        else:
            self.take("op", "(")
            node = self.obs_or()
            self.take("op", ")")
        qualifiers = []
        while True:
            if self.accept("kw", "WITHIN"):
                qualifiers.append(("WITHIN", self.take("value")))
                self.take("kw", "SECONDS")
            elif self.accept("kw", "REPEATS"):
                qualifiers.append(("REPEATS", self.take("value")))
                self.take("kw", "TIMES")
            elif self.accept("kw", "START"):
                start = self.take("value")
                self.take("kw", "STOP")
                qualifiers.append(("START", (start, self.take("value"))))
            else:
                break
        if not qualifiers:
            return node
        if isinstance(node, Observation):
            return Observation(node.expression, tuple(qualifiers))
        return ObsJoin(node.operator, node.parts, tuple(qualifiers))

    # comparison expressions
    def comp_or(self) -> Any:
        parts = [self.comp_and()]
        while self.accept("kw", "OR"):
            parts.append(self.comp_and())
        return parts[0] if len(parts) == 1 else CompOr(tuple(parts))

    def comp_and(self) -> Any:
        parts = [self.comp_atom()]
        while self.accept("kw", "AND"):
            parts.append(self.comp_atom())
        return parts[0] if len(parts) == 1 else CompAnd(tuple(parts))

    def comp_atom(self) -> Any:
        if self.accept("op", "("):
            node = self.comp_or()
            self.take("op", ")")
            return node
        if self.accept("kw", "EXISTS"):
            return Exists(self.take("path"))
        path = self.take("path")
        negated = self.accept("kw", "NOT")
        item = self.peek()
        if item is None or item[1] not in _OPS:
            raise InvalidInput(f"STIX pattern: expected an operator after {path}")
        self.index += 1
        op = item[1]
        if op in ("IN",):
            value: Any = self.value_list()
        else:
            value = self.take("value")
        return Comparison(path, op, value, negated)

    def value_list(self) -> tuple[Any, ...]:
        self.take("op", "(")
        values = [self.take("value")]
        while self.accept("op", ","):
            values.append(self.take("value"))
        self.take("op", ")")
        return tuple(values)


def parse_pattern(text: str) -> Any:
    """The tree of a STIX pattern; ``InvalidInput`` says where it does not parse."""
    parser = _Parser(text)
    tree = parser.obs_or()
    if parser.peek() is not None:
        raise InvalidInput(f"STIX pattern: unexpected {parser.peek()[1]!r} after the pattern")  # type: ignore[index]
    return tree


def single_event(tree: Any) -> str | None:
    """None when the pattern can be decided on one event, else why not."""
    if isinstance(tree, Observation):
        if any(name == "REPEATS" for name, _ in tree.qualifiers):
            return "REPEATS needs several events"
        return None
    if tree.operator != "OR":
        return f"observations joined by {tree.operator} need several events"
    if any(name == "REPEATS" for name, _ in tree.qualifiers):
        return "REPEATS needs several events"
    for part in tree.parts:
        why = single_event(part)
        if why is not None:
            return why
    return None


Values = Callable[[str], Sequence[Any]]
"""The values one event holds for a STIX object path (empty when none)."""


Matcher = Callable[[Values, "datetime | None"], bool]
"""A compiled single-event pattern: ``matcher(values, event time)``."""


def compile_pattern(tree: Any) -> Matcher:
    """The pattern compiled once: operators built (regexes on RE2, networks parsed, START/
    STOP times read), so that a bad value is ``InvalidInput`` at load, never at match time."""
    if isinstance(tree, ObsJoin):
        parts = [compile_pattern(part) for part in tree.parts]
        window = _window(tree.qualifiers)
        return lambda values, when: _inside(window, when) and any(p(values, when) for p in parts)
    window = _window(tree.qualifiers)
    test = _compile_comp(tree.expression)
    return lambda values, when: _inside(window, when) and test(values)


def evaluate(tree: Any, values: Values, timestamp: str = "") -> bool:
    """Whether one event (its values per object path) satisfies a single-event pattern."""
    when = instant(timestamp) if timestamp else None
    return compile_pattern(tree)(values, when)


def _window(qualifiers: tuple[tuple[str, Any], ...]) -> tuple[datetime, datetime] | None:
    for name, argument in qualifiers:
        if name == "START":
            start, stop = (instant(str(a)) if isinstance(a, str) else None for a in argument)
            if start is None or stop is None:
                raise InvalidInput("STIX pattern: START and STOP need t'…' timestamps")
            return start, stop
    return None


def _inside(window: tuple[datetime, datetime] | None, when: datetime | None) -> bool:
    return window is None or when is None or window[0] <= when < window[1]


def _compile_comp(node: Any) -> Callable[[Values], bool]:
    if isinstance(node, CompAnd | CompOr):
        parts = [_compile_comp(part) for part in node.parts]
        if isinstance(node, CompAnd):
            return lambda values: all(p(values) for p in parts)
        return lambda values: any(p(values) for p in parts)
    if isinstance(node, Exists):
        path = node.path
        return lambda values: bool(values(path))
    test, negated, path = _operator(node), node.negated, node.path

    def compare(values: Values) -> bool:
        found = values(path)  # STIX: a comparison on an absent property is false, negated or not
        return any(test(value) != negated for value in found)

    return compare


def _operator(node: Comparison) -> Callable[[Any], bool]:
    op, wanted = node.op, node.value
    if op == "=":
        if isinstance(wanted, str) and "/" in wanted and _is_address_path(node.path):
            network = _network(wanted)
            return lambda value: _in_network(value, network)
        return lambda value: _equal(value, wanted)
    if op == "!=":
        return lambda value: not _equal(value, wanted)
    if op == "IN":
        return lambda value: any(_equal(value, item) for item in wanted)
    if op == "LIKE":  # on RE2: a backtracking engine is quadratic or worse on crafted values
        pattern = _re2(
            "(?s)"
            + "".join(".*" if c == "%" else "." if c == "_" else re2.escape(c) for c in str(wanted))
        )
        return lambda value: pattern.fullmatch(str(value)) is not None
    if op == "MATCHES":
        compiled = _re2(str(wanted))
        return lambda value: compiled.search(str(value)) is not None
    if op in ("ISSUBSET", "ISSUPERSET"):
        network = _network(str(wanted))
        if op == "ISSUBSET":
            return lambda value: _in_network(value, network)
        return lambda value: _contains_network(value, network)
    compare = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
               ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}[op]  # fmt: skip
    return lambda value: _ordered(compare, value, wanted)


def _re2(pattern: str) -> Any:
    try:
        return re2.compile(pattern)
    except re2.error as exc:
        raise InvalidInput(f"STIX pattern: expression RE2 cannot run: {exc}") from None


def _network(text: str) -> Any:
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise InvalidInput(f"STIX pattern: {text[:60]!r} is not an address or network") from None


def _is_address_path(path: str) -> bool:
    return path.startswith(("ipv4-addr:", "ipv6-addr:")) or path.endswith("_ref.value")


def _equal(value: Any, wanted: Any) -> bool:
    if isinstance(wanted, str) and isinstance(value, str):
        return value == wanted
    if isinstance(wanted, bool) or isinstance(value, bool):
        return value is wanted
    if isinstance(wanted, int | float):
        try:
            return float(value) == float(wanted)
        except (TypeError, ValueError):
            return False
    return str(value) == str(wanted)


def _ordered(compare: Callable[[Any, Any], bool], value: Any, wanted: Any) -> bool:
    try:
        if isinstance(wanted, int | float):
            return compare(float(value), float(wanted))
        return compare(str(value), str(wanted))
    except (TypeError, ValueError):
        return False


def _in_network(value: Any, network: Any) -> bool:
    try:
        return ipaddress.ip_address(str(value)) in network
    except ValueError:
        try:
            return bool(ipaddress.ip_network(str(value), strict=False).subnet_of(network))
        except (ValueError, TypeError):
            return False


def _contains_network(value: Any, network: Any) -> bool:
    try:
        return bool(network.subnet_of(ipaddress.ip_network(str(value), strict=False)))
    except (ValueError, TypeError):
        return False


def path_parts(path: str) -> tuple[str, str]:
    """``("file", "hashes.SHA-256")`` of ``file:hashes.'SHA-256'`` (quotes removed)."""
    kind, _, prop = path.partition(":")
    return kind, prop.replace("'", "")

"""The rule index of one route key (a bucket) and choosing the rules to run on an event.

A :class:`Bucket` holds the compiled rules filed under one route key and indexes their
anchor literals: an RE2 set per key over its literals, or the literals themselves for a key
with a few. :func:`match_bucket` runs the rules whose anchors the event's lowercased values
contain and whose confirm groups hold (:class:`Lowered` lowers each value once, when first
read), or, with the C extension, the rules the C prefilter chose
(:mod:`maat.detect.prefilter`). The decision is always the rule's own test.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import re2  # type: ignore[import-untyped]

from maat.detect.logsources import EVENT_DATA, Route
from maat.detect.prefilter import Prefilter, native_prefilter
from maat.detect.sigma_compile import FULLTEXT, FULLTEXT_RAW, Anchors, Clause, Group, lowered
from maat.detect.sigma_values import Test

if TYPE_CHECKING:
    from maat.detect.sigma import LoadedRule

__all__ = [
    "MAX_CLAUSES",
    "Bucket",
    "Checks",
    "Compiled",
    "Confirm",
    "Lowered",
    "confirm_groups",
    "match_bucket",
]

# Thousands of literals per field need more than RE2's default 8 MiB of DFA memory.
_SET_OPTIONS = re2.Options()
_SET_OPTIONS.max_mem = 1 << 30
_FEW_LITERALS = 4

Confirm = tuple[tuple[tuple[str, tuple[str, ...]], ...], ...]
"""A rule's other necessary literal groups: each group as ``(key, literals)`` pairs, of
which the event's lowercased values must contain one before the rule is run."""
_MAX_CONFIRM_GROUPS = 3  # the most selective; each costs a few substring tests
MAX_CLAUSES = 16  # alternatives the C prefilter checks per rule; past this, none
_MAX_CONFIRM_LITERALS = 8  # a longer group is cheaper left to the rule itself


Checks = tuple[Confirm, tuple[Clause, ...], Group]
"""What a rule's prefilter checks beside its anchors: confirm groups (Python), clauses and
vetoes (C)."""


@dataclass(slots=True)
class Compiled:
    rule: LoadedRule
    route: Route
    test: Test
    confirm: Confirm = ()
    clauses: tuple[Clause, ...] = ((),)
    """Alternatives of necessary literal groups, for the C prefilter (see ``clauses_of``)."""
    vetoes: Group = frozenset()
    """Literals any one of which, found, proves the rule false (see ``vetoes_of``)."""


def confirm_groups(groups: list[Group]) -> Confirm:
    """The groups worth checking before a rule runs, by key, most selective first."""
    out = []
    for group in groups:
        if len(group) > _MAX_CONFIRM_LITERALS:
            continue
        by_key: dict[str, list[str]] = {}
        for key, literal in sorted(group):
            by_key.setdefault(key, []).append(literal)
        out.append(tuple((key, tuple(literals)) for key, literals in by_key.items()))
        if len(out) == _MAX_CONFIRM_GROUPS:
            break
    return tuple(out)


def confirmed(confirm: Confirm, low: Mapping[str, Any]) -> bool:
    """Whether every group has a literal in its key's lowercased value (list items and
    keyword values one by one)."""
    for group in confirm:  # noqa: SIM110 - a loop is twice as fast as all(genexpr)
        if not _any_literal(group, low):
            return False
    return True


def _any_literal(group: tuple[tuple[str, tuple[str, ...]], ...], low: Mapping[str, Any]) -> bool:
    for key, literals in group:
        text = low[key]
        if text is None:
            continue
        for item in (text,) if type(text) is str else text:
            for literal in literals:
                if literal in item:
                    return True
    return False


class Bucket:
    """The rules of one route key, with their anchor index."""

    def __init__(self) -> None:
        self.members: list[tuple[Compiled, Anchors]] = []
        self.prefilter: Prefilter[Compiled] | None = None
        self.rules: list[Compiled] = []
        self.always: list[int] = []
        self.sets: list[tuple[str, Any, list[list[int]]]] = []
        self.few: list[tuple[str, tuple[tuple[str, list[int]], ...]]] = []

    def build(self, native: bool) -> None:
        """Index the anchors: an RE2 set per key over the literals about it, or, for a
        key with a few literals, the literals themselves (a substring test costs a tenth
        of a set's call). One set over all keys' tagged values was tried: its DFA outgrows
        RE2's cache on the process creation bucket, 1 ms a search. With ``native``, the C
        prefilter does the same work when it was built (:mod:`maat.detect.prefilter`)."""
        if native:
            self.prefilter = native_prefilter(
                [anchors for _, anchors in self.members],
                [compiled.clauses for compiled, _ in self.members],
                [compiled.vetoes for compiled, _ in self.members],
                [compiled for compiled, _ in self.members],
            )
        if self.prefilter is not None:
            self.rules = [compiled for compiled, _ in self.members]
            self.members = []
            return
        by_key: dict[str, dict[str, list[int]]] = {}
        for index, (compiled, anchors) in enumerate(self.members):
            self.rules.append(compiled)
            if anchors is None:
                self.always.append(index)
                continue
            for key, literal in anchors:
                by_key.setdefault(key, {}).setdefault(literal, []).append(index)
        for key, literals in sorted(by_key.items()):
            if len(literals) <= _FEW_LITERALS:
                self.few.append((key, tuple(literals.items())))
                continue
            matcher = re2.Set.SearchSet(_SET_OPTIONS)
            owners: list[list[int]] = []
            for literal, indices in literals.items():
                matcher.Add(re2.escape(literal))
                owners.append(indices)
            matcher.Compile()
            # The wrapper's Match() encodes and re-checks types per call; on the hot path
            # the compiled set is called with UTF-8 bytes directly.
            raw = getattr(matcher, "_set", None)
            search = raw.Match if raw is not None else matcher.Match
            self.sets.append((key, search, owners))
        self.members = []


class Lowered(dict[str, Any]):
    """An event's values as matchers compare them (lowercased; keywords' text values),
    each computed the first time a rule reads it: most rules never run on an event."""

    __slots__ = ("event",)

    def __init__(self, event: Mapping[str, Any]) -> None:
        super().__init__()
        self.event = event

    def __missing__(self, key: str) -> Any:
        if key == FULLTEXT_RAW:
            value: Any = text_values(self.event)
        elif key == FULLTEXT:
            value = tuple(item.lower() for item in self[FULLTEXT_RAW])
        else:
            raw = self.event.get(key)
            value = raw.lower() if type(raw) is str else lowered(raw)
        self[key] = value
        return value


def match_bucket(
    bucket: Bucket, event: Mapping[str, Any], matched: list[Compiled], low: Lowered
) -> None:
    """Append to ``matched`` the rules of ``bucket`` that ``event`` matches, in order."""
    prefilter = bucket.prefilter
    if prefilter is not None:  # anchors and confirm groups checked in C
        for compiled in prefilter(event if type(event) is dict else dict(event), low):
            if compiled.test(event, low):
                matched.append(compiled)
        return
    candidates = set(bucket.always)
    for key, pairs in bucket.few:
        if key not in event and key[0] != "\x00":
            continue
        text = low[key]
        if text is None:
            continue
        items = (text,) if type(text) is str else text
        for literal, indices in pairs:
            for item in items:
                if literal in item:
                    candidates.update(indices)
                    break
    for key, matcher, owners in bucket.sets:
        if key not in event and key[0] != "\x00":  # keywords' pseudo-keys: always there
            continue
        text = low[key]
        if text is None:
            continue
        for item in (text,) if type(text) is str else text:
            found = matcher(item.encode("utf-8", "surrogatepass"))  # lone surrogates too
            if found:
                for index in found:
                    candidates.update(owners[index])
    rules = bucket.rules
    for index in sorted(candidates):
        compiled = rules[index]
        if compiled.confirm and not confirmed(compiled.confirm, low):
            continue
        if compiled.test(event, low):
            matched.append(compiled)


# Keys that say what an event is, not what happened: never searched by keywords.
NOT_TEXT = frozenset(
    [
        "@timestamp",
        "event.id",
        "event.module",
        "event.kind",
        "event.dataset",
        "event.original",
        "event.ingested",
        "event.category",
        "event.type",
    ]
)


def text_values(event: Mapping[str, Any]) -> tuple[str, ...]:
    """The values keywords search: a Windows event's event data, another event's fields
    (numbers as text, list items one by one)."""
    windows = "winlog.channel" in event
    out: list[str] = []
    for key, value in event.items():
        if windows and not key.startswith(EVENT_DATA):
            continue
        if not windows and (key in NOT_TEXT or key.startswith("maat.")):
            continue
        if type(value) is str:
            out.append(value)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            out.append(str(value))
        elif isinstance(value, list):
            out.extend(str(item) for item in value if isinstance(item, str | int | float))
    return tuple(out)

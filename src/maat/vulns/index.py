"""The advisory index: OSV advisories compiled for matching, and stored compactly.

Advisories are grouped by (ecosystem, normalised package name). Range events are kept as text
and parsed with the ecosystem's comparator the first time a component of that package is
matched, so building or loading the index for 200,000 advisories parses no version at all.
The index serialises to one orjson document, which loads much faster than the OSV files.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from maat.errors import InvalidInput, Problem

INDEX_FORMAT = "maat-advisory-index/1"
_PEP503 = re.compile(r"[-_.]+")
# Ecosystems whose package names compare without regard to case. npm names are lower-case by
# rule, but legacy mixed-case names exist (``JSONStream``) and purls lower-case every npm name,
# so both sides are folded.
_CASE_INSENSITIVE = {
    "PyPI",
    "NuGet",
    "Packagist",
    "crates.io",
    "Debian",
    "Ubuntu",
    "Alpine",
    "npm",
}


def base_ecosystem(ecosystem: str) -> str:
    """``Debian:12`` -> ``Debian``; ``PyPI`` -> ``PyPI``."""
    return ecosystem.split(":", 1)[0]


def release_of(ecosystem: str) -> str | None:
    """``Debian:12`` -> ``12``; ``Ubuntu:22.04:LTS`` -> ``22.04:LTS``; ``PyPI`` -> ``None``."""
    _, sep, release = ecosystem.partition(":")
    return release if sep and release else None


def normalise_name(ecosystem: str, name: str) -> str:
    """The name as the index compares it (PEP 503 for PyPI, case folding where names fold)."""
    base = base_ecosystem(ecosystem)
    if base == "PyPI":
        return _PEP503.sub("-", name).lower()
    if base in _CASE_INSENSITIVE:
        return name.lower()
    return name


@dataclass(frozen=True)
class IndexedAdvisory:
    """What a finding needs to know of an advisory (a merged group of aliases).

    ``severity`` and ``score`` are ``None`` (unknown: a finding ranks it medium and says so)
    when a member's severity entry could not be read and the readable ones rate the group
    below medium: the unreadable one may be critical, so a low rating is no lower bound.
    """

    id: str
    aliases: tuple[str, ...]
    summary: str
    severity: str | None  # none/low/medium/high/critical
    score: float | None  # highest CVSS v3/v4 base score of the group (v2 only without one)
    vectors: tuple[str, ...]
    modified: str
    published: str | None
    withdrawn: bool

    def to_list(self) -> list[Any]:
        """Compact form for the index file."""
        return [
            self.id,
            list(self.aliases),
            self.summary,
            self.severity,
            self.score,
            list(self.vectors),
            self.modified,
            self.published,
            self.withdrawn,
        ]

    @classmethod
    def from_list(cls, v: Sequence[Any]) -> IndexedAdvisory:
        """Inverse of :meth:`to_list`; ``ValueError`` when ``v`` is not of that shape."""
        _shape(v, 9, "advisory")
        score = v[4]
        if score is not None and (isinstance(score, bool) or not isinstance(score, int | float)):
            raise ValueError(f"advisory score must be a number or null, got {_kind(score)}")
        if not isinstance(v[8], bool):
            raise ValueError(f"advisory withdrawn must be a boolean, got {_kind(v[8])}")
        return cls(
            _text(v[0], "advisory id"),
            _texts(v[1], "advisory aliases"),
            _text(v[2], "advisory summary"),
            _text(v[3], "advisory severity", null=True),
            None if score is None else float(score),
            _texts(v[5], "advisory vectors"),
            _text(v[6], "advisory modified"),
            _text(v[7], "advisory published", null=True),
            v[8],
        )

    @property
    def ids(self) -> tuple[str, ...]:
        """The id and every alias."""
        return (self.id, *self.aliases)


@dataclass
class IndexedAffected:
    """One ``affected`` entry: a package, its ranges (as text) and listed versions."""

    advisory: int  # position in AdvisoryIndex.advisories
    ecosystem: str  # as written, e.g. "Debian:12"
    name: str
    ranges: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]  # (type, ((kind, version), ...))
    versions: tuple[str, ...]
    # Filled on first use by the matcher (parsed keys or the reason they cannot be parsed).
    # Shared by every matcher of this index, in any thread: a matcher builds the value whole
    # and assigns it once, and every matcher builds an equal value (see ``maat.vulns.match``).
    compiled: Any = field(default=None, repr=False, compare=False)

    def fixed_versions(self) -> tuple[str, ...]:
        """Every ``fixed`` version named in the ranges."""
        # GIT ranges name commits, which are no use to someone upgrading a package.
        return tuple(
            v for t, events in self.ranges if t != "GIT" for kind, v in events if kind == "fixed"
        )

    def to_list(self) -> list[Any]:
        """Compact form for the index file."""
        return [
            self.advisory,
            self.ecosystem,
            self.name,
            [[t, [list(e) for e in events]] for t, events in self.ranges],
            list(self.versions),
        ]

    @classmethod
    def from_list(cls, v: Sequence[Any]) -> IndexedAffected:
        """Inverse of :meth:`to_list`; ``ValueError`` when ``v`` is not of that shape."""
        _shape(v, 5, "affected entry")
        position = v[0]
        if isinstance(position, bool) or not isinstance(position, int) or position < 0:
            raise ValueError(f"affected advisory must be a position, got {_kind(position)}")
        if not isinstance(v[3], list):
            raise ValueError(f"affected ranges must be a list, got {_kind(v[3])}")
        ranges = []
        for item in v[3]:
            _shape(item, 2, "range")
            if not isinstance(item[1], list):
                raise ValueError(f"range events must be a list, got {_kind(item[1])}")
            events = []
            for event in item[1]:
                _shape(event, 2, "range event")
                events.append((_text(event[0], "event kind"), _text(event[1], "event version")))
            ranges.append((_text(item[0], "range type"), tuple(events)))
        return cls(
            position,
            _text(v[1], "affected ecosystem"),
            _text(v[2], "affected name"),
            tuple(ranges),
            _texts(v[4], "affected versions"),
        )


@dataclass
class AdvisoryIndex:
    """Advisories and their affected packages, keyed for lookup by package."""

    advisories: list[IndexedAdvisory]
    by_package: dict[tuple[str, str], list[IndexedAffected]]
    problems: list[Problem] = field(default_factory=list)

    def lookup(self, ecosystem: str, name: str) -> list[IndexedAffected]:
        """Affected entries for a package (any release of a distro ecosystem)."""
        key = (base_ecosystem(ecosystem), normalise_name(ecosystem, name))
        return self.by_package.get(key, [])

    @property
    def package_count(self) -> int:
        """How many distinct packages the index covers."""
        return len(self.by_package)

    def to_bytes(self) -> bytes:
        """Serialise (orjson) for fast loading."""
        return orjson.dumps(
            {
                "format": INDEX_FORMAT,
                "advisories": [a.to_list() for a in self.advisories],
                "affected": [e.to_list() for entries in self.by_package.values() for e in entries],
                "problems": [
                    [str(p.message), p.location.file, p.location.field] for p in self.problems
                ],
            }
        )

    @classmethod
    def from_bytes(cls, data: bytes, *, source: str = "<index>") -> AdvisoryIndex:
        """Load an index written by :meth:`to_bytes`."""
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise InvalidInput(f"not an advisory index: {exc}", file=source) from None
        if not isinstance(doc, dict) or doc.get("format") != INDEX_FORMAT:
            raise InvalidInput(
                f"not an advisory index of format {INDEX_FORMAT}",
                file=source,
                field="format",
                hint="rebuild it with 'maat advisories import'",
            )
        where = "advisories"
        try:
            advisories = []
            for i, raw in enumerate(_items(doc.get("advisories"), "advisories")):
                where = f"advisories[{i}]"
                advisories.append(IndexedAdvisory.from_list(raw))
            by_package: dict[tuple[str, str], list[IndexedAffected]] = {}
            where = "affected"
            for i, raw in enumerate(_items(doc.get("affected"), "affected")):
                where = f"affected[{i}]"
                entry = IndexedAffected.from_list(raw)
                if entry.advisory >= len(advisories):
                    raise ValueError(
                        f"names advisory {entry.advisory}, but there are {len(advisories)}"
                    )
                key = (base_ecosystem(entry.ecosystem), normalise_name(entry.ecosystem, entry.name))
                by_package.setdefault(key, []).append(entry)
            problems = []
            where = "problems"
            for i, raw in enumerate(_items(doc.get("problems", []), "problems")):
                where = f"problems[{i}]"
                _shape(raw, 3, "problem")
                problems.append(
                    Problem.at(
                        _text(raw[0], "problem message"),
                        file=_text(raw[1], "problem file", null=True),
                        field=_text(raw[2], "problem field", null=True),
                    )
                )
        except ValueError as exc:
            raise InvalidInput(
                f"damaged advisory index at {where}: {exc}",
                file=source,
                hint="rebuild it with 'maat advisories import'",
            ) from None
        return cls(advisories, by_package, problems)


def _kind(value: object) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string"}.get(
        type(value), "a list" if isinstance(value, list) else "an object"
    )


def _items(value: object, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError(f"{what} must be a list, got {_kind(value)}")
    return value


def _shape(value: object, length: int, what: str) -> None:
    if not isinstance(value, list) or len(value) != length:
        shown = f"{len(value)} items" if isinstance(value, list) else _kind(value)
        raise ValueError(f"{what} must be a list of {length} items, got {shown}")


def _text(value: object, what: str, *, null: bool = False) -> Any:
    if isinstance(value, str) or (null and value is None):
        return value
    raise ValueError(f"{what} must be a string{' or null' if null else ''}, got {_kind(value)}")


def _texts(value: object, what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{what} must be a list of strings")
    return tuple(value)


def build_index(groups: Iterable[Any], *, problems: Sequence[Problem] = ()) -> AdvisoryIndex:
    """Build the index from merged advisory groups (``maat.vulns.aliases.MergedAdvisory``).

    Each group becomes one :class:`IndexedAdvisory`; its ``affected`` entries are filed under
    their package. Withdrawn groups are kept (and marked), so a scan can say why it ignores them.
    """
    advisories: list[IndexedAdvisory] = []
    by_package: dict[tuple[str, str], list[IndexedAffected]] = {}
    for group in groups:
        position = len(advisories)
        advisories.append(_indexed(group))
        for affected in group.affected:
            entry = IndexedAffected(
                advisory=position,
                ecosystem=affected.ecosystem,
                name=affected.name,
                ranges=tuple(
                    (r.type, tuple((e.kind, e.value) for e in r.events)) for r in affected.ranges
                ),
                versions=tuple(affected.versions),
            )
            key = (base_ecosystem(entry.ecosystem), normalise_name(entry.ecosystem, entry.name))
            by_package.setdefault(key, []).append(entry)
    return AdvisoryIndex(advisories, by_package, list(problems))


_RANK = {"none": 0, "low": 1, "medium": 2, "moderate": 2, "high": 3, "critical": 4}


def _indexed(group: Any) -> IndexedAdvisory:
    ratings = [s.rating for s in group.severity if getattr(s, "rating", None)]
    # CVSS v3 and v4 scores are on today's scale; v2 scores (often higher for the same flaw)
    # count only when the group has no v3 or v4 score.
    scored = [s for s in group.severity if getattr(s, "score", None) is not None]
    modern = [s.score for s in scored if str(s.vector).startswith(("CVSS:3", "CVSS:4"))]
    scores = modern or [s.score for s in scored]
    vectors = tuple(
        s.vector
        for s in group.severity
        if getattr(s, "vector", None) and str(getattr(s, "type", "")).startswith("CVSS")
    )
    rating = max(ratings, key=lambda r: _RANK.get(r, 0)) if ratings else None
    score = max(scores) if scores else None
    members = list(group.advisories)
    if _RANK.get(rating or "none", 0) < _RANK["medium"] and any(
        getattr(a, "problems", ()) for a in members
    ):
        # A severity entry was unreadable (OsvAdvisory.problems): what is left is not the
        # group's severity, only part of it. Unknown ranks as medium, never below.
        rating = score = None
    modified = max(a.modified for a in members)
    published = [a.published for a in members if a.published is not None]
    return IndexedAdvisory(
        id=group.id,
        aliases=tuple(i for i in group.ids if i != group.id),
        summary=group.summary,
        severity=rating,
        score=score,
        vectors=vectors,
        modified=modified.isoformat(),
        published=min(published).isoformat() if published else None,
        withdrawn=bool(group.withdrawn),
    )

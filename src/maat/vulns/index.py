"""The advisory index: OSV advisories compiled for matching, and stored compactly.

Advisories are grouped by (ecosystem, normalised package name). Range events are kept as text
and parsed with the ecosystem's comparator the first time a component of that package is
matched, so building or loading the index for 200,000 advisories parses no version at all.
The index serialises to one orjson document, which loads much faster than the OSV files.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from maat.errors import InvalidInput, Problem

INDEX_FORMAT = "maat-advisory-index/1"
_PEP503 = re.compile(r"[-_.]+")
# Ecosystems whose package names compare without regard to case.
_CASE_INSENSITIVE = {"PyPI", "NuGet", "Packagist", "crates.io", "Debian", "Ubuntu", "Alpine"}


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
    """What a finding needs to know of an advisory (a merged group of aliases)."""

    id: str
    aliases: tuple[str, ...]
    summary: str
    severity: str | None  # none/low/medium/high/critical
    score: float | None  # highest CVSS base score among the group
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
        """Inverse of :meth:`to_list`."""
        return cls(v[0], tuple(v[1]), v[2], v[3], v[4], tuple(v[5]), v[6], v[7], bool(v[8]))

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
        """Inverse of :meth:`to_list`."""
        ranges = tuple((t, tuple((k, x) for k, x in events)) for t, events in v[3])
        return cls(v[0], v[1], v[2], ranges, tuple(v[4]))


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
        try:
            advisories = [IndexedAdvisory.from_list(a) for a in doc["advisories"]]
            by_package: dict[tuple[str, str], list[IndexedAffected]] = {}
            for raw in doc["affected"]:
                entry = IndexedAffected.from_list(raw)
                key = (base_ecosystem(entry.ecosystem), normalise_name(entry.ecosystem, entry.name))
                by_package.setdefault(key, []).append(entry)
            problems = [Problem.at(m, file=f, field=fl) for m, f, fl in doc.get("problems", [])]
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise InvalidInput(f"damaged advisory index: {exc}", file=source) from None
        return cls(advisories, by_package, problems)


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
    scores = [s.score for s in group.severity if getattr(s, "score", None) is not None]
    vectors = tuple(
        s.vector
        for s in group.severity
        if getattr(s, "vector", None) and str(getattr(s, "type", "")).startswith("CVSS")
    )
    rating = max(ratings, key=lambda r: _RANK.get(r, 0)) if ratings else None
    members = list(group.advisories)
    modified = max(a.modified for a in members)
    published = [a.published for a in members if a.published is not None]
    return IndexedAdvisory(
        id=group.id,
        aliases=tuple(i for i in group.ids if i != group.id),
        summary=group.summary,
        severity=rating,
        score=max(scores) if scores else None,
        vectors=vectors,
        modified=modified.isoformat(),
        published=min(published).isoformat() if published else None,
        withdrawn=bool(group.withdrawn),
    )


def advisory_by_id(index: AdvisoryIndex) -> Mapping[str, IndexedAdvisory]:
    """Every id and alias mapped to its advisory (for VEX and KEV look-ups)."""
    return {i: a for a in index.advisories for i in a.ids}

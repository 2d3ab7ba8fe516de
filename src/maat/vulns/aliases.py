"""Advisories that describe the same vulnerability under different ids, merged into one.

Two advisories belong together when one's ``id`` or ``aliases`` shares an id with the
other's, directly or through a chain (union-find over ``id`` + ``aliases``). ``related`` is not
followed: a related advisory is another vulnerability.

The canonical id of a group is its CVE id when the group names exactly one CVE, otherwise the
lexicographically smallest of all its ids (advisory ids and aliases). Output is deterministic:
groups sorted by canonical id, members by id, ids sorted, affected and severity entries in
member order without repeats.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from maat.vulns.osv import Affected, OsvAdvisory
from maat.vulns.severity import Severity, highest

__all__ = ["SUMMARY_FROM_DETAILS", "MergedAdvisory", "canonical_id", "merge_aliases"]

SUMMARY_FROM_DETAILS = 200
"""Longest summary taken from ``details`` when no member has a summary."""


@dataclass(frozen=True)
class MergedAdvisory:
    """One vulnerability: the advisories that describe it and their union.

    ``withdrawn`` is true only when every member is withdrawn. ``summary`` is the first
    non-empty summary of the members (in id order); when none has one (most PyPA advisories),
    the first line of the first non-empty ``details``, cut at 200 characters.
    ``severity`` holds every member's ``severity`` entries and their ``database_specific``
    rating (type ``DATABASE_SPECIFIC``).

    ``affected``, ``severity`` and ``summary`` come from the members that are not withdrawn
    when there is at least one: a withdrawn advisory (often withdrawn *because* its ranges
    were wrong) must not widen what a live group says is affected. When every member is
    withdrawn they come from all members, so the group still says what it was about.
    ``advisories`` and ``ids`` always list every member.
    """

    id: str
    ids: tuple[str, ...]
    advisories: tuple[OsvAdvisory, ...]
    affected: tuple[Affected, ...]
    severity: tuple[Severity, ...]
    withdrawn: bool
    summary: str

    @property
    def aliases(self) -> tuple[str, ...]:
        """Every id of the group except the canonical one."""
        return tuple(i for i in self.ids if i != self.id)

    @property
    def cve_ids(self) -> tuple[str, ...]:
        """The CVE ids of the group."""
        return tuple(i for i in self.ids if _is_cve(i))

    @property
    def modified(self) -> datetime:
        """The latest modification time of any member."""
        return max(a.modified for a in self.advisories)

    @property
    def published(self) -> datetime | None:
        """The earliest publication time of any member."""
        times = [a.published for a in self.advisories if a.published is not None]
        return min(times) if times else None

    @property
    def highest_severity(self) -> Severity | None:
        """The most severe of :attr:`severity`."""
        return highest(self.severity)


def _is_cve(identifier: str) -> bool:
    return identifier.upper().startswith("CVE-")


def canonical_id(ids: Iterable[str]) -> str:
    """The CVE id when there is exactly one, else the smallest id."""
    distinct = sorted(set(ids))
    if not distinct:
        raise ValueError("canonical_id needs at least one id")
    cves = [i for i in distinct if _is_cve(i)]
    return cves[0] if len(cves) == 1 else distinct[0]


class _UnionFind:
    __slots__ = ("parent",)

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, item: str) -> str:
        parent = self.parent.setdefault(item, item)
        root = item
        while parent != root:
            root = parent
            parent = self.parent[root]
        while item != root:  # path compression
            self.parent[item], item = root, self.parent[item]
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            # the smaller root wins, so the structure does not depend on input order
            if rb < ra:
                ra, rb = rb, ra
            self.parent[rb] = ra


def merge_aliases(advisories: Iterable[OsvAdvisory]) -> list[MergedAdvisory]:
    """Group advisories that share an id or alias and merge each group."""
    members = list(advisories)
    sets = _UnionFind()
    for advisory in members:
        sets.find(advisory.id)
        for alias in advisory.aliases:
            sets.union(advisory.id, alias)
    groups: dict[str, list[OsvAdvisory]] = {}
    for advisory in members:
        groups.setdefault(sets.find(advisory.id), []).append(advisory)
    ids_of: dict[str, set[str]] = {}
    for item in list(sets.parent):
        ids_of.setdefault(sets.find(item), set()).add(item)
    merged = [_merge(group, ids_of[root]) for root, group in groups.items()]
    merged.sort(key=lambda m: m.id)
    return merged


def _first_line(text: str, limit: int = SUMMARY_FROM_DETAILS) -> str:
    line = text.strip().splitlines()[0].strip()
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def _merge(group: list[OsvAdvisory], ids: set[str]) -> MergedAdvisory:
    group = sorted(group, key=lambda a: (a.id, a.modified, a.source))
    live = [a for a in group if a.withdrawn is None]
    contributors = live or group  # withdrawn members speak only for all-withdrawn groups
    affected: dict[Affected, None] = {}
    severity: dict[Severity, None] = {}
    for advisory in contributors:
        for entry in advisory.affected:
            affected.setdefault(entry, None)
        for s in advisory.severity:
            severity.setdefault(s, None)
        extra = advisory.database_severity
        if extra is not None:
            severity.setdefault(extra, None)
    summary = next((a.summary.strip() for a in contributors if a.summary.strip()), "")
    if not summary:
        summary = next((_first_line(a.details) for a in contributors if a.details.strip()), "")
    return MergedAdvisory(
        id=canonical_id(ids),
        ids=tuple(sorted(ids)),
        advisories=tuple(group),
        affected=tuple(affected),
        severity=tuple(severity),
        withdrawn=not live,
        summary=summary,
    )

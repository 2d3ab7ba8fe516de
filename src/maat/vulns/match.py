"""Matching components against the advisory index with exact OSV range semantics.

A component is affected by an ``affected`` entry when its version is listed in ``versions``
or lies in one of the ``ranges``. Range evaluation follows the OSV schema: events sorted by
version (``introduced: 0`` first); ``introduced`` opens an affected interval, ``fixed`` closes
it before the fixed version, ``last_affected`` closes it after that version; ``limit`` events
cap the range. GIT ranges name commits, not versions, and are reported as skipped. Anything
that cannot be evaluated is reported with its reason, never dropped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from maat.errors import InvalidInput, Location
from maat.vulns.index import AdvisoryIndex, IndexedAdvisory, IndexedAffected, release_of
from maat.vulns.versions import SEMVER, ZERO, Comparator, comparator_for

_KIND_ORDER = {"introduced": 0, "last_affected": 1, "fixed": 2, "limit": 3}


@dataclass(frozen=True)
class Subject:
    """Something that has a version and may be vulnerable: an SBOM component or a package
    installed on a host."""

    ref: str
    name: str  # as shown to people
    version: str | None
    ecosystem: str | None  # OSV ecosystem, with release for distros ("Debian:12")
    package: str | None  # the name as OSV writes it (Maven group:artifact, deb source package)
    purl: str | None = None
    location: Location = Location()
    unmatchable: str | None = None  # why it cannot be matched at all (no purl, bad purl, ...)


@dataclass(frozen=True)
class Match:
    """A subject affected by an advisory."""

    subject: Subject
    advisory: IndexedAdvisory
    fixed_versions: tuple[str, ...]
    how: str  # "range" or "versions list"


@dataclass(frozen=True)
class Skip:
    """A subject (or one subject × advisory pair) that could not be evaluated, and why."""

    subject: Subject
    reason: str
    advisory_id: str | None = None


@dataclass
class MatchResult:
    """Everything a scan found and everything it could not evaluate."""

    matches: list[Match] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)
    withdrawn_ignored: int = 0


@dataclass
class _Compiled:
    """An affected entry's ranges parsed with its comparator (or why they cannot be)."""

    ranges: list[tuple[Comparator, list[tuple[Any, str]], list[Any]]]  # (cmp, events, limits)
    unevaluable: list[str]  # reasons, one per range that cannot be evaluated
    version_texts: frozenset[str]
    version_keys: dict[str, set[Any]]  # comparator name -> keys of listed versions


class Matcher:
    """Matches subjects against one index; caches parsed versions across calls."""

    def __init__(self, index: AdvisoryIndex) -> None:
        self.index = index
        self._keys: dict[tuple[str, str], Any] = {}

    def key(self, comparator: Comparator, version: str) -> Any:
        """The comparator's key for ``version`` (cached); raises InvalidInput if unparsable."""
        cache_key = (comparator.name, version)
        cached = self._keys.get(cache_key)
        if cached is None:
            try:
                cached = comparator.key(version)
            except InvalidInput as exc:
                cached = exc
            self._keys[cache_key] = cached
        if isinstance(cached, InvalidInput):
            raise cached
        return cached

    def match(self, subjects: Iterable[Subject]) -> MatchResult:
        """Match every subject; the result lists matches and skips in input order."""
        result = MatchResult()
        for subject in subjects:
            self._match_one(subject, result)
        return result

    def _match_one(self, subject: Subject, result: MatchResult) -> None:
        # 1. The subject must be matchable: ecosystem, package name and version known.
        reason = _unmatchable(subject)
        if reason is not None:
            result.skipped.append(Skip(subject, reason))
            return
        assert subject.ecosystem
        assert subject.package
        assert subject.version
        entries = self.index.lookup(subject.ecosystem, subject.package)
        if not entries:
            return
        comparator = comparator_for(subject.ecosystem)
        if comparator is None:
            result.skipped.append(
                Skip(subject, f"no version comparator for ecosystem {subject.ecosystem!r}")
            )
            return
        unparsable: str | None = None
        try:
            self.key(comparator, subject.version)
        except InvalidInput as exc:
            # Still worth checking: an advisory may list this exact (legacy) version string.
            unparsable = f"version {subject.version!r} cannot be compared: {exc.message}"
        # 2. Each affected entry of the same package (and distro release) is evaluated.
        seen: set[int] = set()
        subject_release = release_of(subject.ecosystem)
        for entry in entries:
            advisory = self.index.advisories[entry.advisory]
            entry_release = release_of(entry.ecosystem)
            if entry_release is not None and entry_release != subject_release:
                if subject_release is None:
                    result.skipped.append(
                        Skip(
                            subject,
                            f"advisory is for {entry.ecosystem}; the component's "
                            "distribution release is unknown",
                            advisory.id,
                        )
                    )
                continue
            if entry.advisory in seen:
                continue
            if unparsable is not None:
                if subject.version in entry.versions:
                    status, detail = "affected", "versions list"
                else:
                    continue
            else:
                status, detail = self._evaluate(entry, subject.version)
            if status == "skip":
                result.skipped.append(Skip(subject, detail, advisory.id))
            elif status == "affected" and advisory.withdrawn:
                result.withdrawn_ignored += 1
            elif status == "affected":
                seen.add(entry.advisory)
                result.matches.append(Match(subject, advisory, entry.fixed_versions(), detail))
        if unparsable is not None:
            # Ranges could not be evaluated for this version: say so, even if a list matched.
            result.skipped.append(Skip(subject, unparsable))

    def _evaluate(self, entry: IndexedAffected, version: str) -> tuple[str, str]:
        """``("affected", how)``, ``("clear", "")`` or ``("skip", reason)``.

        An entry is skipped only when nothing in it could be evaluated: a GIT range next to
        an ECOSYSTEM range (common in OSV) is commit detail of the same fix, not a gap.
        """
        compiled = entry.compiled
        if compiled is None:
            compiled = entry.compiled = self._compile(entry)
        # 3. Listed versions: exact text first, then equal under the ecosystem's comparator.
        if version in compiled.version_texts:
            return "affected", "versions list"
        ecosystem_cmp = comparator_for(entry.ecosystem)
        if compiled.version_texts and ecosystem_cmp is not None:
            keys = compiled.version_keys.get(ecosystem_cmp.name)
            if keys is None:
                keys = self._keys_of(ecosystem_cmp, compiled.version_texts)
                compiled.version_keys[ecosystem_cmp.name] = keys
            try:
                if self.key(ecosystem_cmp, version) in keys:
                    return "affected", "versions list"
            except InvalidInput:
                pass
        # 4. Ranges, each under its own comparator (SEMVER ranges under SemVer).
        reasons = list(compiled.unevaluable)
        evaluated = bool(compiled.version_texts)
        for comparator, events, limits in compiled.ranges:
            try:
                key = self.key(comparator, version)
            except InvalidInput as exc:
                reasons.append(f"version {version!r} under {comparator.name}: {exc.message}")
                continue
            evaluated = True
            if _in_range(key, events, limits):
                return "affected", "range"
        if not evaluated and reasons:
            return "skip", "; ".join(reasons)
        return "clear", ""

    def _keys_of(self, comparator: Comparator, texts: Iterable[str]) -> set[Any]:
        keys: set[Any] = set()
        for text in texts:
            try:
                keys.add(self.key(comparator, text))
            except InvalidInput:
                continue  # an unparsable listed version cannot equal a parsable one
        return keys

    def _compile(self, entry: IndexedAffected) -> _Compiled:
        ranges: list[tuple[Comparator, list[tuple[Any, str]], list[Any]]] = []
        unevaluable: list[str] = []
        for range_type, events in entry.ranges:
            if range_type == "GIT":
                unevaluable.append("GIT range: commit ranges cannot be compared with versions")
                continue
            comparator = SEMVER if range_type == "SEMVER" else comparator_for(entry.ecosystem)
            if comparator is None:
                unevaluable.append(f"no version comparator for ecosystem {entry.ecosystem!r}")
                continue
            parsed: list[tuple[Any, str, int]] = []
            limits: list[Any] = []
            try:
                for kind, value in events:
                    if kind == "limit":
                        if value != "*":
                            limits.append(self.key(comparator, value))
                        continue
                    key = self.key(comparator, ZERO if value == "0" else value)
                    parsed.append((key, kind, _KIND_ORDER.get(kind, 9)))
            except InvalidInput as exc:
                unevaluable.append(f"range event version cannot be parsed: {exc.message}")
                continue
            parsed.sort(key=lambda item: (item[0], item[2]))
            ranges.append((comparator, [(k, kind) for k, kind, _ in parsed], limits))
        return _Compiled(ranges, unevaluable, frozenset(entry.versions), {})


def _in_range(key: Any, events: list[tuple[Any, str]], limits: list[Any]) -> bool:
    """OSV's evaluation: walk events in version order, tracking whether ``key`` is affected."""
    if limits and not any(key < limit for limit in limits):
        return False
    affected = False
    for event_key, kind in events:
        if kind == "introduced":
            if key >= event_key:
                affected = True
        elif kind == "fixed":
            if key >= event_key:
                affected = False
        elif kind == "last_affected" and key > event_key:
            affected = False
    return affected


def _unmatchable(subject: Subject) -> str | None:
    if subject.unmatchable:
        return subject.unmatchable
    if not subject.ecosystem:
        return "no OSV ecosystem known for this component (no purl, or a purl type OSV lacks)"
    if not subject.package:
        return "no package name"
    if not subject.version:
        return "no version"
    return None

"""Matching components against the advisory index with exact OSV range semantics.

A component is affected by an ``affected`` entry when its version is listed in ``versions``
or lies in one of the ``ranges``. Range evaluation follows the OSV schema: events sorted by
version (``introduced: 0`` first); ``introduced`` opens an affected interval, ``fixed`` closes
it before the fixed version, ``last_affected`` closes it after that version; ``limit`` events
cap the range. GIT ranges name commits, not versions, and are reported as skipped, as are
entries that give neither ranges nor versions. Anything that cannot be evaluated is reported
with its reason, never dropped. The entries of one advisory are combined: one match per
advisory, with the fixed versions of every entry that applies.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from maat.errors import InvalidInput, Location
from maat.vulns.index import (
    AdvisoryIndex,
    IndexedAdvisory,
    IndexedAffected,
    base_ecosystem,
    release_of,
)
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
    fixed_versions: tuple[str, ...]  # of every affected entry of the advisory that applies
    how: str  # "range" or "versions list", with notes ("; release not checked: ...")


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


@dataclass(frozen=True)
class _Compiled:
    """An affected entry's ranges parsed with its comparator (or why they cannot be).

    Built whole by :meth:`Matcher._compile` and never changed afterwards.
    """

    ranges: tuple[tuple[Comparator, tuple[tuple[Any, str], ...], tuple[Any, ...]], ...]
    unevaluable: tuple[str, ...]  # reasons, one per range that cannot be evaluated
    version_texts: frozenset[str]
    version_keys: frozenset[Any]  # the listed versions under the ecosystem's comparator


# Ecosystems whose OSV advisories name a product stream the component cannot tell (see
# ``_match_one``): "Red Hat:enterprise_linux:9::appstream", "SUSE:Linux Enterprise Server 15
# SP5", "openSUSE:Leap 15.5".
_STREAM_ECOSYSTEMS = frozenset({"Red Hat", "SUSE", "openSUSE"})


@dataclass
class _Verdict:
    """What the affected entries of one advisory said about one subject."""

    fixed: dict[str, None] = field(default_factory=dict)  # union, in entry order
    how: str | None = None
    notes: dict[str, None] = field(default_factory=dict)
    skips: list[str] = field(default_factory=list)


class Matcher:
    """Matches subjects against one index; caches parsed versions across calls.

    A matcher is not shared between threads (its version cache is a plain dict); the index
    may be. Parsed ranges are cached on the index's :class:`IndexedAffected` entries
    (``compiled``): compiling is idempotent — any matcher, in any thread, builds an equal
    :class:`_Compiled` from the same entry, builds it completely before publishing it with
    one attribute assignment, and never changes it afterwards — so a race costs at most a
    duplicate compile, never a wrong or half-built result.
    """

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

    def affects(self, entry: IndexedAffected, version: str) -> bool | None:
        """Whether ``entry`` covers ``version``: ``None`` when that cannot be told (no
        comparator, unparsable versions, GIT-only ranges, no ranges nor versions)."""
        if not entry.ranges and not entry.versions:
            return None
        status, _ = self._evaluate(entry, version)
        return None if status == "skip" else status == "affected"

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
        # 2. Every affected entry of the same package (and distro release) is evaluated; the
        # entries of one advisory are combined: it matches when any of them does, with the
        # fixed versions of all that do (an advisory may split a package over several
        # entries, each with its own fix).
        verdicts: dict[int, _Verdict] = {}
        subject_release = release_of(subject.ecosystem)
        for entry in entries:
            verdict = verdicts.setdefault(entry.advisory, _Verdict())
            note: str | None = None
            entry_release = release_of(entry.ecosystem)
            if entry_release is not None and entry_release != subject_release:
                if subject_release is None and base_ecosystem(entry.ecosystem) in (
                    _STREAM_ECOSYSTEMS
                ):
                    # Trade-off: Red Hat, SUSE and openSUSE advisories name a product stream
                    # ("Red Hat:enterprise_linux:9::appstream") that an installed package or
                    # an SBOM hardly ever states; os-release says only "rhel 9.3". Skipping
                    # them would leave these hosts with no findings at all, so the entry is
                    # evaluated regardless of stream and the match says so. The cost: an
                    # advisory for another stream (RHEL 8 when the host runs RHEL 9) may match
                    # and name that stream's fixed versions. Debian, Ubuntu and Alpine
                    # releases are told by the subject and stay strict.
                    note = (
                        f"release not checked: the advisory is for {entry.ecosystem}, the "
                        "component's release is unknown"
                    )
                else:
                    if subject_release is None:
                        verdict.skips.append(
                            f"advisory is for {entry.ecosystem}; the component's "
                            "distribution release is unknown"
                        )
                    continue
            if not entry.ranges and not entry.versions:
                status, detail = "skip", _NOTHING_LISTED
            elif unparsable is not None:
                if subject.version not in entry.versions:
                    continue
                status, detail = "affected", "versions list"
            else:
                status, detail = self._evaluate(entry, subject.version)
            if status == "skip":
                verdict.skips.append(detail)
            elif status == "affected":
                verdict.how = verdict.how or detail
                verdict.fixed.update(dict.fromkeys(entry.fixed_versions()))
                if note is not None:
                    verdict.notes[note] = None
        for position, verdict in verdicts.items():
            advisory = self.index.advisories[position]
            if verdict.how is None:
                # Nothing matched: say what could not be evaluated (once per reason).
                for text in dict.fromkeys(verdict.skips):
                    result.skipped.append(Skip(subject, text, advisory.id))
            elif advisory.withdrawn:
                result.withdrawn_ignored += 1
            else:
                how = "; ".join([verdict.how, *verdict.notes])
                result.matches.append(Match(subject, advisory, tuple(verdict.fixed), how))
        if unparsable is not None:
            # Ranges could not be evaluated for this version: say so, even if a list matched.
            result.skipped.append(Skip(subject, unparsable))

    def _evaluate(self, entry: IndexedAffected, version: str) -> tuple[str, str]:
        """``("affected", how)``, ``("clear", "")`` or ``("skip", reason)``.

        A GIT range next to an ECOSYSTEM range (common in OSV) is commit detail of the same
        fix, not a gap. Any other range that cannot be evaluated is: the version may lie in
        exactly that range, so the entry is skipped with the reason unless something else in
        it says "affected".
        """
        compiled = entry.compiled
        if not isinstance(compiled, _Compiled):
            compiled = self._compile(entry)
            entry.compiled = compiled  # idempotent: see the class docstring
        # 3. Listed versions: exact text first, then equal under the ecosystem's comparator.
        if version in compiled.version_texts:
            return "affected", "versions list"
        if compiled.version_keys:
            ecosystem_cmp = comparator_for(entry.ecosystem)
            try:
                if ecosystem_cmp is not None and (
                    self.key(ecosystem_cmp, version) in compiled.version_keys
                ):
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
        gaps = [reason for reason in reasons if reason != _GIT_RANGE]
        if gaps or not evaluated:
            return "skip", "; ".join(dict.fromkeys(gaps or reasons)) or _NOTHING_LISTED
        return "clear", ""

    def _keys_of(self, comparator: Comparator, texts: Iterable[str]) -> frozenset[Any]:
        keys: set[Any] = set()
        for text in texts:
            try:
                keys.add(self.key(comparator, text))
            except InvalidInput:
                continue  # an unparsable listed version cannot equal a parsable one
        return frozenset(keys)

    def _compile(self, entry: IndexedAffected) -> _Compiled:
        ranges: list[tuple[Comparator, tuple[tuple[Any, str], ...], tuple[Any, ...]]] = []
        unevaluable: list[str] = []
        for range_type, events in entry.ranges:
            if range_type == "GIT":
                unevaluable.append(_GIT_RANGE)
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
            ranges.append((comparator, tuple((k, kind) for k, kind, _ in parsed), tuple(limits)))
        texts = frozenset(entry.versions)
        ecosystem_cmp = comparator_for(entry.ecosystem)
        keys = self._keys_of(ecosystem_cmp, texts) if ecosystem_cmp is not None else frozenset()
        return _Compiled(tuple(ranges), tuple(unevaluable), texts, keys)


_GIT_RANGE = "GIT range: commit ranges cannot be compared with versions"
_NOTHING_LISTED = (
    "the advisory's affected entry gives neither ranges nor versions: which versions are "
    "affected cannot be told"
)


def _in_range(key: Any, events: Sequence[tuple[Any, str]], limits: Sequence[Any]) -> bool:
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

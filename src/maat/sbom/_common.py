"""Shared reading machinery: drafts of components, problems, limits, refs and dependencies.

Every format reader fills a :class:`Collector`: one :class:`Draft` per component, located
problems for bad entries, and dependency edges. :meth:`Collector.finish` gives refs to drafts
that have none (stable: from the purl or from name and version) and freezes the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from maat.core import Digest, Purl
from maat.errors import InvalidInput, Location, Problem
from maat.sbom.model import Component

__all__ = ["Collector", "Draft", "describe", "kebab"]

# Hash algorithms that are valid in CycloneDX / SPDX but that Digest does not model: they are
# skipped without a problem. Names are compared lower-case without '-' and '_'.
UNMODELLED_ALGORITHMS = frozenset(
    {
        "sha224",
        "sha3224",
        "sha3256",
        "sha3384",
        "sha3512",
        "blake2b256",
        "blake2b384",
        "blake2b512",
        "blake3",
        "md2",
        "md4",
        "md6",
        "adler32",
        "crystalskyber",
        "crystalsdilithium",
        "falcon",
        "streebog256",
        "streebog512",
        "other",
    }
)

NO_LICENSE = frozenset({"NOASSERTION", "NONE", ""})

MAX_PROBLEMS = 10_000
"""Problems listed per document; beyond that they are only counted."""


def describe(value: object) -> str:
    """A short name for the JSON type of ``value`` (for messages)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def kebab(value: str) -> str:
    """``operatingSystem`` / ``OPERATING_SYSTEM`` / ``operating-system`` → ``operating-system``."""
    out: list[str] = []
    for i, ch in enumerate(value):
        if ch.isupper() and i > 0 and value[i - 1].islower():
            out.append("-")
        out.append(ch)
    return "".join(out).replace("_", "-").lower()


@dataclass
class Draft:
    """A component being read; ``ref`` may still be missing and ``parent`` be another draft."""

    location: Location
    ref: str | None = None
    name: str = ""
    version: str | None = None
    purl: Purl | None = None
    purl_text: str | None = None
    purl_problem: str | None = None
    cpes: list[str] = field(default_factory=list)
    supplier: str | None = None
    hashes: list[Digest] = field(default_factory=list)
    licenses: list[str] = field(default_factory=list)
    type: str | None = None
    parent: Draft | None = None
    parent_ref: str | None = None

    def add_license(self, text: str) -> None:
        """Add a license (expression, id or name) unless empty, NOASSERTION/NONE or known."""
        text = text.strip()
        if text.upper() not in NO_LICENSE and text not in self.licenses:
            self.licenses.append(text)

    def freeze(self) -> Component:
        """The frozen component (``ref`` must be set by then)."""
        assert self.ref is not None
        parent = self.parent.ref if self.parent is not None else self.parent_ref
        return Component(
            ref=self.ref,
            name=self.name,
            version=self.version,
            purl=self.purl,
            purl_text=self.purl_text,
            purl_problem=self.purl_problem,
            cpes=tuple(self.cpes),
            supplier=self.supplier,
            hashes=tuple(self.hashes),
            licenses=tuple(self.licenses),
            type=self.type,
            parent=parent,
            location=self.location,
        )


class Collector:
    """Collects drafts, problems and dependency edges for one document."""

    def __init__(
        self, source: str, max_components: int, lines: dict[str, int] | None = None
    ) -> None:
        self.source = source
        self.lines = lines or {}
        self.max_components = max_components
        self.problems: list[Problem] = []
        self.drafts: list[Draft] = []
        self.metadata: Draft | None = None
        self.count = 0
        self.unlisted = 0
        self._deps: dict[str, list[str]] = {}
        self._dep_sets: dict[str, set[str]] = {}
        self._ref_uses: dict[str, str] = {}

    # -- locations and problems ------------------------------------------------------------

    def at(self, field: str | None, line: int | None = None) -> Location:
        """A location in this document; the line, when not given, comes from ``lines``.

        ``lines`` maps field paths to source lines (XML, tag-value); a path not in it takes
        the line of its nearest enclosing path that is.
        """
        if line is None and field is not None and self.lines:
            line = self.line_of(field)
        return Location(file=self.source, line=line, field=field)

    def line_of(self, field: str) -> int | None:
        """The source line of ``field`` or of its nearest enclosing field, if known."""
        path = field
        while path:
            line = self.lines.get(path)
            if line is not None:
                return line
            cut = max(path.rfind("."), path.rfind("["))
            if cut <= 0:
                return None
            path = path[:cut]
        return None

    def problem(self, message: str, field: str | None, line: int | None = None) -> None:
        """Record a problem with one entry; reading goes on."""
        if len(self.problems) >= MAX_PROBLEMS:
            self.unlisted += 1
            return
        self.problems.append(Problem(message, self.at(field, line)))

    def all_problems(self) -> tuple[Problem, ...]:
        """The problems, with a last one counting those not listed."""
        if not self.unlisted:
            return tuple(self.problems)
        more = Problem(f"{self.unlisted} more problems not listed", self.at(None))
        return (*self.problems, more)

    def fail(self, message: str, field: str | None, line: int | None = None) -> InvalidInput:
        """An error that rejects the whole document."""
        if line is None and field is not None:
            line = self.line_of(field)
        return InvalidInput(message, file=self.source, line=line, field=field)

    # -- components -------------------------------------------------------------------------

    def tick(self, field: str, line: int | None = None) -> None:
        """Count one component entry (usable or not); enforces ``max_components``."""
        self.count += 1
        if self.count > self.max_components:
            raise InvalidInput(
                f"more than {self.max_components} components",
                file=self.source,
                line=line if line is not None else self.line_of(field),
                field=field,
                hint="raise the SBOM component limit (max_components) if this SBOM is genuine",
            )

    def new(self, field: str, line: int | None = None, *, metadata: bool = False) -> Draft:
        """Start a component at ``field``; enforces ``max_components``."""
        self.tick(field, line)
        draft = Draft(location=self.at(field, line))
        if metadata:
            self.metadata = draft
        else:
            self.drafts.append(draft)
        return draft

    def drop(self, draft: Draft) -> None:
        """Remove a draft that turned out unusable (its problem is already recorded)."""
        if draft is self.metadata:
            self.metadata = None
            return
        # By identity from the end, where the draft just started is: ``list.remove`` compares
        # every earlier draft by (dataclass) equality, quadratic over many skipped entries.
        for i in range(len(self.drafts) - 1, -1, -1):
            if self.drafts[i] is draft:
                del self.drafts[i]
                return

    def text(self, value: object, field: str, line: int | None = None) -> str | None:
        """``value`` when it is a string, ``None`` when absent; else a problem and ``None``."""
        if value is None or isinstance(value, str):
            return value
        self.problem(f"expected a string, got {describe(value)}", field, line)
        return None

    def set_purl(self, draft: Draft, value: object, field: str, line: int | None = None) -> None:
        """Set the draft's purl from ``value``; an invalid purl is kept as text with a problem."""
        if value is None:
            return
        if isinstance(value, str):
            draft.purl_text = value
            if not value.strip():
                draft.purl_text = None
                return
        try:
            draft.purl = Purl.parse(value, field, file=self.source)
        except InvalidInput as exc:
            draft.purl_problem = exc.message
            self.problem(exc.message, field, line)

    def check_purl_version(self, draft: Draft, field: str, line: int | None = None) -> None:
        """A problem when the draft's version and its purl's version differ.

        Advisories are matched on the purl's version, so a vendor SBOM whose two versions
        disagree must not pass silently: one of them is wrong, and it may be the one used.
        """
        if draft.purl is None or not draft.purl.version or not draft.version:
            return
        ours, theirs = draft.version.strip(), draft.purl.version.strip()
        go = draft.purl.type == "golang" and draft.purl.package_name == "stdlib"
        epoch = (draft.purl.qualifier("epoch") or "").strip()
        if not _same_version(ours, theirs, epoch, go):
            self.problem(
                f"version {ours[:80]!r} differs from the purl's version {theirs[:80]!r}; "
                "advisories are matched on the purl's version",
                field,
                line,
            )

    def digest(
        self, algorithm: object, value: object, field: str, line: int | None = None
    ) -> Digest | None:
        """A digest, or ``None`` (with a problem unless the algorithm is valid but unmodelled)."""
        if isinstance(algorithm, str):
            key = algorithm.strip().lower().replace("-", "").replace("_", "")
            if key in UNMODELLED_ALGORITHMS:
                return None
        try:
            return Digest.from_hex(algorithm, value, field=field, file=self.source)  # type: ignore[arg-type]
        except InvalidInput as exc:
            self.problem(f"hash skipped: {exc.message}", field, line)
            return None

    # -- dependencies -----------------------------------------------------------------------

    def depend(self, ref: str, targets: list[str] | tuple[str, ...] = ()) -> None:
        """Record that ``ref`` depends on each of ``targets`` (duplicates are merged)."""
        seen = self._dep_sets.get(ref)
        if seen is None:
            seen = self._dep_sets[ref] = set()
            self._deps[ref] = []
        for target in targets:
            if target not in seen:
                seen.add(target)
                self._deps[ref].append(target)

    def expect_ref(self, ref: str, field: str) -> None:
        """Note that ``ref`` must name a component; :meth:`finish` reports it when none does."""
        self._ref_uses.setdefault(ref, field)

    def dependencies(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """The dependency graph, frozen."""
        return tuple((ref, tuple(targets)) for ref, targets in self._deps.items())

    # -- finishing --------------------------------------------------------------------------

    def finish(self) -> tuple[Component | None, tuple[Component, ...]]:
        """Give every draft a unique ref and freeze them: ``(metadata, components)``."""
        everyone = ([self.metadata] if self.metadata is not None else []) + self.drafts
        used: dict[str, Draft] = {}
        for draft in everyone:
            if draft.ref is None:
                continue
            first = used.get(draft.ref)
            if first is None:
                used[draft.ref] = draft
                continue
            self.problem(
                f"duplicate ref {draft.ref[:200]!r} (first at {first.location.field}); "
                "this one was given a new ref",
                draft.location.field,
                draft.location.line,
            )
            draft.ref = None
        # A made-up ref must not be one the dependencies name: a component without a ref
        # cannot be depended on, and taking the ref would give it another's edges and hide
        # that no component has it.
        named = set(self._ref_uses)
        for source, targets in self._deps.items():
            named.add(source)
            named.update(targets)
        # the last suffix tried per base, so many drafts sharing a base stay linear
        suffixes: dict[str, int] = {}
        for draft in everyone:
            if draft.ref is not None:
                continue
            if draft.purl_text:
                base = draft.purl_text
            elif draft.version:
                base = f"{draft.name}@{draft.version}"
            else:
                base = draft.name or "component"
            n = suffixes.get(base, 1)
            ref = base if n == 1 else f"{base}#{n}"
            while ref in used or ref in named:
                n += 1
                ref = f"{base}#{n}"
            suffixes[base] = n
            draft.ref = ref
            used[ref] = draft
        for ref, where in self._ref_uses.items():
            if ref not in used:
                self.problem(
                    f"dependency ref {ref[:200]!r} names no component of this document "
                    "(a component the SBOM does not list?)",
                    where,
                )
        metadata = self.metadata.freeze() if self.metadata is not None else None
        return metadata, tuple(d.freeze() for d in self.drafts)


def _epoch_and_rest(version: str, go: bool) -> tuple[str | None, str]:
    """``(epoch without leading zeros or None, the rest without a v/V or Go "go" prefix)``."""
    epoch, colon, rest = version.partition(":")
    if not (colon and epoch.isascii() and epoch.isdigit()):
        epoch, rest = "", version
    if go and rest.startswith("go"):
        rest = rest[2:]
    return epoch.lstrip("0") or None, rest.removeprefix("v").removeprefix("V")


def _same_version(ours: str, theirs: str, purl_epoch: str, go: bool) -> bool:
    """Whether a component's version and its purl's name the same release.

    Tools spell one version several ways, and a problem raised for each of them would teach
    users to ignore the problem: the rpm/deb epoch in the version or as the purl's ``epoch``
    qualifier (syft), epoch 0 or none, an epoch one side leaves out, ``v1.0``/``1.0``, and
    syft's Go standard library ``go1.21.0``/``1.21.0``. Two epochs that differ still differ.
    """
    our_epoch, our_rest = _epoch_and_rest(ours, go)
    their_epoch, their_rest = _epoch_and_rest(theirs, go)
    if their_epoch is None and purl_epoch.isascii() and purl_epoch.isdigit():
        their_epoch = purl_epoch.lstrip("0") or None
    if our_epoch is not None and their_epoch is not None and our_epoch != their_epoch:
        return False
    return our_rest == their_rest


def as_list(collector: Collector, value: Any, field: str, line: int | None = None) -> list[Any]:
    """``value`` when it is a list, ``[]`` when absent; else a problem and ``[]``."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    collector.problem(f"expected an array, got {describe(value)}", field, line)
    return []

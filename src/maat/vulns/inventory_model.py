"""Value types of host package inventories and the helpers their parsers share.

The public names are re-exported by :mod:`maat.vulns.inventory`; import them from there.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from maat.core.purl import Purl
from maat.errors import InvalidInput, Location, Problem
from maat.vulns.distros import OsRelease

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_PACKAGES",
    "MAX_PROBLEMS",
    "Inventory",
    "InventoryPackage",
    "load_json",
    "quote",
]

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
"""Largest inventory accepted by default (big monorepo lock files reach tens of MiB)."""

DEFAULT_MAX_PACKAGES = 200_000
"""Most packages accepted in one inventory by default."""

MAX_PROBLEMS = 1_000
"""Problems listed one by one; beyond this a last problem gives the count of the others."""


@dataclass(frozen=True)
class InventoryPackage:
    """One package installed on a host or pinned by a project.

    ``version`` is written as the package's OSV ecosystem compares it: Debian versions with
    their epoch (``1:2.36-9``), RPM ``[epoch:]version-release`` (epoch 0 left out), Go
    versions without the leading ``v`` (the purl keeps it). ``ecosystem`` is the OSV
    ecosystem (``Debian:12``, ``PyPI``); it is empty when it could not be told (the
    inventory's problems say why). ``source_name`` is the Debian source package, or the
    Alpine origin, when the inventory names it: distro advisories are filed under it.
    ``source_version`` is the version of that source package when the inventory gives it
    and it may differ from ``version`` (Debian binNMUs such as ``2.03.16-2+b1`` built from
    source ``2.03.16-2``); advisories give source versions, so matching uses it. ``None``
    means the same as ``version``.
    """

    name: str
    version: str
    ecosystem: str
    purl: Purl | None
    source_name: str | None
    arch: str | None
    location: Location
    source_version: str | None = None


@dataclass(frozen=True)
class Inventory:
    """The packages of one inventory file, and every entry that could not be used."""

    kind: str
    packages: tuple[InventoryPackage, ...]
    problems: tuple[Problem, ...]
    os_release: OsRelease | None


class Collector:
    """Gathers packages and problems while one inventory is parsed.

    Enforces ``max_packages`` (raising :class:`InvalidInput`), keeps the first of identical
    packages (same ecosystem, name, version and arch) and caps the listed problems at
    :data:`MAX_PROBLEMS` while still counting the rest.
    """

    def __init__(self, source: str, max_packages: int) -> None:
        self.source = source
        self.max_packages = max_packages
        self.packages: list[InventoryPackage] = []
        self.problems: list[Problem] = []
        self._more_problems = 0
        self._seen: set[tuple[str, str, str, str | None]] = set()

    def add(self, package: InventoryPackage) -> None:
        """Add a package unless an identical one is already there."""
        key = (package.ecosystem, package.name, package.version, package.arch)
        if key in self._seen:
            return
        if len(self.packages) >= self.max_packages:
            raise InvalidInput(
                f"more than {self.max_packages} packages",
                file=self.source,
                line=package.location.line,
                hint="raise max_packages if this inventory is genuine",
            )
        self._seen.add(key)
        self.packages.append(package)

    def problem(self, message: str, *, line: int | None = None, field: str | None = None) -> None:
        """Record a problem at a line (and field) of the source."""
        if len(self.problems) >= MAX_PROBLEMS:
            self._more_problems += 1
            return
        self.problems.append(Problem.at(message, file=self.source, line=line, field=field))

    def where(self, line: int | None = None, field: str | None = None) -> Location:
        """A location in the source."""
        return Location(file=self.source, line=line, field=field)

    def purl(
        self,
        type: str,
        name: str,
        *,
        namespace: str | None = None,
        version: str | None = None,
        qualifiers: Mapping[str, str] | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> Purl | None:
        """A purl for a package, or ``None`` with a problem when one cannot be built."""
        try:
            return Purl.from_parts(
                type,
                name,
                namespace=namespace,
                version=version,
                qualifiers={k: v for k, v in (qualifiers or {}).items() if v},
                file=self.source,
            )
        except InvalidInput as exc:
            self.problem(f"no purl for {name!r}: {exc.message}", line=line, field=field)
            return None

    def finish(self, kind: str, os_release: OsRelease | None) -> Inventory:
        """The inventory gathered so far."""
        problems = list(self.problems)
        if self._more_problems:
            problems.append(
                Problem.at(f"{self._more_problems} more problems not listed", file=self.source)
            )
        return Inventory(
            kind=kind,
            packages=tuple(self.packages),
            problems=tuple(problems),
            os_release=os_release,
        )


def text_lines(data: bytes, collector: Collector) -> Iterator[tuple[int, str]]:
    """Each line of ``data`` as ``(number, text)`` without its line ending.

    A line that is not UTF-8 is reported as a problem and not yielded.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        try:
            yield number, raw.decode("utf-8")
        except UnicodeDecodeError:
            collector.problem("line is not valid UTF-8; skipped", line=number)


def decode_text(data: bytes, source: str) -> str:
    """The whole of ``data`` as text (BOM removed); :class:`InvalidInput` if not UTF-8."""
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InvalidInput(f"not valid UTF-8 (byte {exc.start})", file=source, line=line) from None


class LineFinder:
    """Finds the line numbers of JSON object keys, searching forward through the text.

    JSON parsers give no positions; keys of pretty-printed lock files are found in the
    order a parser walks them, so a forward search recovers most line numbers cheaply.

    Linear in the size of the text overall, whatever it holds: a search scans only as far as
    the nearest occurrence (in windows that double, so a needle that is absent costs no more
    than the one found), the position only moves forward, and after :data:`MAX_MISSES`
    searches that found nothing (each of which scans to the end) it stops searching and
    answers ``None``: a crafted file of keys that never appear verbatim cannot make it
    rescan the text once per key.
    """

    MAX_MISSES = 8
    _FIRST_WINDOW = 256

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._position = 0
        self._line = 1
        self._misses = 0

    def line_of(self, *needles: bytes) -> int | None:
        """The line of the nearest next occurrence of any of ``needles`` (after the previous
        find), or ``None`` when none occurs (or after too many such misses)."""
        if self._misses >= self.MAX_MISSES or not needles:
            return None
        data, start, size = self._data, self._position, len(self._data)
        longest = max(len(n) for n in needles)
        window = self._FIRST_WINDOW
        while True:
            end = min(size, start + window + longest)
            found = [i for i in (data.find(n, start, end) for n in needles) if i >= 0]
            if found or end >= size:
                break
            window *= 2
        if not found:
            self._misses += 1
            return None
        index = min(found)
        self._line += data.count(b"\n", start, index)
        self._position = index + 1  # needles start with a quote, never a newline
        return self._line


def quote(text: str) -> str:
    """``text`` cut to 80 characters and quoted, for messages."""
    return repr(text[:80])


def load_json(data: bytes, source: str) -> Any:
    """The JSON value of ``data``; :class:`InvalidInput` naming the position when invalid."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"not valid JSON: {exc}", file=source) from None

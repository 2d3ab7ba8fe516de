"""Alpine-style package inventories: ``apk info -v``, ``apk list --installed`` and
``/lib/apk/db/installed``."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from types import MappingProxyType

from maat.vulns.distros import OsRelease
from maat.vulns.inventory_model import Collector, quote, text_lines
from maat.vulns.inventory_os import Record, distro_target, emit

__all__ = ["parse_apk"]

_APK_PACKAGE = re.compile(
    r"(?P<name>[A-Za-z0-9][A-Za-z0-9._+-]*?)-(?P<version>\d[A-Za-z0-9._+]*-r\d+)"
)
_APK_LIST = re.compile(
    r"(?P<package>\S+) (?P<arch>\S+) \{(?P<origin>[^}]*)\} \((?P<license>[^)]*)\)"
    r"(?: \[(?P<status>[^\]]*)\])?"
)
_APK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")
_APK_VERSION = re.compile(r"\d[A-Za-z0-9._+]*-r\d+")
_APK_GUESS: Mapping[str, str] = MappingProxyType(
    {
        "alpine-baselayout": "Alpine",
        "alpine-baselayout-data": "Alpine",
        "alpine-release": "Alpine",
        "alpine-keys": "Alpine",
        "wolfi-baselayout": "Wolfi",
        "wolfi-keys": "Wolfi",
    }
)


def _apk_record(
    name: str,
    version: str,
    arch: str | None,
    origin: str | None,
    line: int,
    collector: Collector,
) -> Record | None:
    if not _APK_NAME.fullmatch(name):
        collector.problem(f"not an apk package name: {quote(name)}; skipped", line=line)
        return None
    if not _APK_VERSION.fullmatch(version):
        collector.problem(f"{name}: not an apk version: {quote(version)}; skipped", line=line)
        return None
    if arch is not None and not re.fullmatch(r"[A-Za-z0-9_]+", arch):
        collector.problem(f"{name}: not an architecture: {quote(arch)}; ignored", line=line)
        arch = None
    if origin is not None and not _APK_NAME.fullmatch(origin):
        collector.problem(f"{name}: not an origin package name: {quote(origin)}", line=line)
        origin = None
    return Record(name, version, version, arch, origin, line)


def _apk_database(lines: Iterable[tuple[int, str]], collector: Collector) -> list[Record]:
    """Records of ``/lib/apk/db/installed`` (blocks of ``X:value`` lines)."""
    records: list[Record] = []
    block: dict[str, str] = {}
    start = 0

    def flush() -> None:
        if not block:
            return
        name, version = block.get("P", ""), block.get("V", "")
        if not name or not version:
            collector.problem(
                "package block without P: (name) or V: (version); skipped", line=start
            )
            return
        record = _apk_record(
            name, version, block.get("A") or None, block.get("o") or None, start, collector
        )
        if record is not None:
            records.append(record)

    for number, line in lines:
        if not line.strip():
            flush()
            block = {}
            continue
        if len(line) < 2 or line[1] != ":":
            collector.problem(f"not an 'X:value' line: {quote(line)}", line=number)
            continue
        if not block:
            start = number
        block.setdefault(line[0], line[2:].strip())
    flush()
    return records


_NO_ORIGIN = (
    "origin packages are unknown: 'apk info -v' does not name them, and Alpine advisories are "
    "filed under the origin (libssl3 and libcrypto3 are built from openssl), so sub-packages "
    "such as libssl3 will not be matched to their origin's advisories; pass "
    "/lib/apk/db/installed or the output of 'apk list --installed', which name the origin"
)


def _apk_lines(lines: Iterable[tuple[int, str]], collector: Collector) -> list[Record]:
    records: list[Record] = []
    without_origin = False
    for number, raw in lines:
        line = raw.strip()
        if not line:
            continue
        listed = _APK_LIST.fullmatch(line)
        arch = origin = None
        if listed is not None:  # apk list --installed
            status = listed.group("status") or ""
            if not status.startswith("installed"):
                collector.problem(
                    f"{listed.group('package')} is not installed ({status or 'available'}); "
                    "skipped",
                    line=number,
                )
                continue
            text, arch, origin = (
                listed.group("package"),
                listed.group("arch"),
                listed.group("origin"),
            )
        else:  # apk info -v, or -vv with " - description": no origin
            text = line.split(" - ", 1)[0].strip()
        match = _APK_PACKAGE.fullmatch(text)
        if match is None:
            collector.problem(
                f"expected name-version-rN (apk info -v): {quote(line)}; skipped", line=number
            )
            continue
        record = _apk_record(
            match.group("name"), match.group("version"), arch, origin or None, number, collector
        )
        if record is not None:
            records.append(record)
            without_origin = without_origin or listed is None
    if without_origin:
        collector.problem(_NO_ORIGIN)
    return records


def parse_apk(data: bytes, collector: Collector, os_release: OsRelease | None) -> None:
    """Packages of ``apk info -v`` (or ``-vv``) output, ``apk list --installed`` output or
    the ``/lib/apk/db/installed`` database (which also names each package's origin)."""
    lines = list(text_lines(data, collector))
    first = next((line for _, line in lines if line.strip()), "")
    if first.startswith(("P:", "C:")) and any(line.startswith("P:") for _, line in lines):
        records = _apk_database(lines, collector)
    else:
        records = _apk_lines(lines, collector)
    guessed = next((_APK_GUESS[r.name] for r in records if r.name in _APK_GUESS), None)
    target = distro_target("apk", "apk", os_release, guessed, collector)
    emit(records, target, collector)

"""Host and project package inventories: each entry becomes an :class:`InventoryPackage`.

The caller reads the file (or runs the command on the host) and passes the bytes. Kinds:

``dpkg``
    ``dpkg-query -W`` output (``name\\tversion``; ``name:arch`` accepted), or with
    ``-f '${Package}\\t${Version}\\t${Architecture}\\t${source:Package}\\n'`` (3 or 4
    columns), or the ``/var/lib/dpkg/status`` file. ``dpkg -l`` output is refused (its
    columns are cut to the terminal width).
``rpm``
    ``rpm -qa`` NEVRA lines (``openssl-libs-3.0.7-25.el9_3.x86_64``, with an epoch as
    ``1:openssl-libs-…`` or ``openssl-libs-1:3.0.7-…``), or
    ``rpm -qa --qf '%{NAME}\\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}\\t%{ARCH}\\n'``.
``apk``
    ``apk info -v`` lines (``musl-1.2.4-r2``), ``apk list --installed``, or
    ``/lib/apk/db/installed``.
``pip``
    ``pip list --format=json`` (or the default column output).
``requirements``
    ``requirements.txt``: only ``==``/``===`` pins are exact versions; every other entry is
    reported as a problem, never dropped silently.
``npm``
    ``package-lock.json`` / ``npm-shrinkwrap.json``, lockfile versions 1, 2 and 3.
``gomod`` / ``gosum``
    ``go.mod`` (requires, with ``replace`` applied) and ``go.sum``.

Distribution packages (dpkg, rpm, apk) need the host's OSV ecosystem (``Debian:12``): pass
the host's :class:`~maat.vulns.distros.OsRelease`. Without it the bare distribution name is
used when the packages tell it (``Debian``, ``Ubuntu``, ``Alpine``), else the packages get
no ecosystem; a problem says so either way.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import PurePosixPath, PureWindowsPath
from types import MappingProxyType

from maat.errors import InvalidInput
from maat.vulns.distros import OsRelease
from maat.vulns.inventory_apk import parse_apk
from maat.vulns.inventory_go import parse_gomod, parse_gosum
from maat.vulns.inventory_lang import parse_npm, parse_pip, parse_requirements
from maat.vulns.inventory_model import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_PACKAGES,
    Collector,
    Inventory,
    InventoryPackage,
    load_json,
)
from maat.vulns.inventory_os import RPM_ARCHES, parse_dpkg, parse_rpm

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_PACKAGES",
    "KINDS",
    "Inventory",
    "InventoryPackage",
    "detect_inventory_kind",
    "parse_inventory",
]

_Parser = Callable[[bytes, Collector, OsRelease | None], None]


def _language(parse: Callable[[bytes, Collector], None]) -> _Parser:
    def run(data: bytes, collector: Collector, os_release: OsRelease | None) -> None:
        parse(data, collector)

    return run


_PARSERS: Mapping[str, _Parser] = MappingProxyType(
    {
        "dpkg": parse_dpkg,
        "rpm": parse_rpm,
        "apk": parse_apk,
        "pip": _language(parse_pip),
        "requirements": _language(parse_requirements),
        "npm": _language(parse_npm),
        "gomod": _language(parse_gomod),
        "gosum": _language(parse_gosum),
    }
)

KINDS: tuple[str, ...] = tuple(_PARSERS)
"""The inventory kinds :func:`parse_inventory` reads."""

_EXPECTED = (
    "dpkg-query -W output or /var/lib/dpkg/status, rpm -qa output, apk info -v output or "
    "/lib/apk/db/installed, pip list --format=json, requirements.txt, package-lock.json, "
    "go.mod or go.sum"
)
_DISTRO_KINDS = frozenset({"dpkg", "rpm", "apk"})


def parse_inventory(
    data: bytes,
    *,
    source: str,
    kind: str | None = None,
    os_release: OsRelease | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_packages: int = DEFAULT_MAX_PACKAGES,
) -> Inventory:
    """Read an inventory of ``kind`` (detected from ``data`` and ``source`` when ``None``).

    ``source`` names the file (used in every location and problem). ``os_release`` gives
    distribution packages their OSV ecosystem and purl namespace. Entries that cannot be
    used are kept out and listed in ``problems`` with their line (or JSON field).

    Raises :class:`~maat.errors.InvalidInput` when ``data`` is longer than ``max_bytes``,
    holds more than ``max_packages`` packages, is of an unknown kind, is not of the kind
    given as a whole (a JSON kind that is not JSON), or when ``os_release`` is of a
    distribution whose package format differs from ``kind``.
    """
    if len(data) > max_bytes:
        raise InvalidInput(
            f"inventory is {len(data)} bytes, more than the limit of {max_bytes}",
            file=source,
            hint="raise max_bytes if this inventory is genuine",
        )
    if kind is None:
        kind = detect_inventory_kind(data, source)
    parser = _PARSERS.get(kind)
    if parser is None:
        raise InvalidInput(
            f"unknown inventory kind {kind!r}; expected one of {', '.join(KINDS)}",
            file=source,
            field="kind",
        )
    collector = Collector(source, max_packages)
    parser(data, collector, os_release if kind in _DISTRO_KINDS else None)
    return collector.finish(kind, os_release)


# --------------------------------------------------------------------------------------------
# Detection
# --------------------------------------------------------------------------------------------

_BY_FILE_NAME: Mapping[str, str] = MappingProxyType(
    {
        "package-lock.json": "npm",
        "npm-shrinkwrap.json": "npm",
        "go.mod": "gomod",
        "go.sum": "gosum",
    }
)
_DEB_ARCHES = frozenset(
    {"amd64", "all", "arm64", "armhf", "armel", "i386", "ppc64el", "s390x", "mips64el", "riscv64"}
)
_RPM_ONLY_ARCHES = RPM_ARCHES - _DEB_ARCHES
_DEB_PACKAGE = re.compile(r"[a-z0-9][a-z0-9+.-]+(?::[a-z0-9-]+)?")
_EPOCH_EVR = re.compile(r"(?:\d+|\(none\)):[^-\s]+-\S+")
_NEVRA = re.compile(
    r"(?:\d+:)?\S+-[^-\s]+-[^-\s]+\.(?:" + "|".join(sorted(RPM_ARCHES)) + r")|gpg-pubkey-\w+-\w+"
)
_APK_LINE = re.compile(r"\S+-\d[A-Za-z0-9._+]*-r\d+(?: .*)?")
_REQUIREMENT = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9._-]*\s*(?:\[[^\]]*\])?\s*(?:===|==|~=|>=|<=|!=|<|>|@|;|$)"
)
_REQUIREMENT_OPTION = re.compile(
    r"-[rce]\s*\S|--(?:requirement|constraint|editable|index-url|"
    r"extra-index-url|find-links|hash|trusted-host|no-index)\b"
)
_GOSUM_LINE = re.compile(r"\S+ v\S+ h1:\S+")
_GOMOD_LINE = re.compile(r"(?:module|require|go|replace|toolchain)\s")
_SAMPLE_LINES = 400


def _vote(line: str) -> str | None:
    """The kind one line of a line-oriented inventory looks like, if any."""
    if "\t" in line:
        columns = line.split("\t")
        if not 2 <= len(columns) <= 4:
            return None
        arch = columns[2].strip() if len(columns) > 2 else ""
        if arch in _RPM_ONLY_ARCHES or (
            _EPOCH_EVR.fullmatch(columns[1].strip()) and arch not in _DEB_ARCHES
        ):
            return "rpm"
        if _DEB_PACKAGE.fullmatch(columns[0].strip()):
            return "dpkg"
        return None
    stripped = line.strip()
    if _GOSUM_LINE.fullmatch(stripped):
        return "gosum"
    if _NEVRA.fullmatch(stripped):
        return "rpm"
    if _APK_LINE.fullmatch(stripped):
        return "apk"
    if _REQUIREMENT_OPTION.match(stripped) or _REQUIREMENT.match(stripped):
        return "requirements"
    return None


def _detect_json(data: bytes, source: str) -> str:
    value = load_json(data, source)
    if isinstance(value, dict) and (
        "lockfileVersion" in value
        or isinstance(value.get("packages"), dict)
        or isinstance(value.get("dependencies"), dict)
    ):
        return "npm"
    if isinstance(value, list) and (
        not value
        or any(
            isinstance(entry, dict) and "name" in entry and "version" in entry for entry in value
        )
    ):
        return "pip"
    raise InvalidInput(
        "JSON that is neither a package-lock.json nor pip list --format=json output",
        file=source,
        hint=f"inventories read: {_EXPECTED}",
    )


def detect_inventory_kind(data: bytes, source: str) -> str:
    """The kind of inventory ``data`` is (one of :data:`KINDS`), from the file name for
    lock files and from the content otherwise.

    Raises :class:`~maat.errors.InvalidInput` naming what was expected when it is none of
    them.
    """
    name = PureWindowsPath(PurePosixPath(source).name).name.lower()
    if name in _BY_FILE_NAME:
        return _BY_FILE_NAME[name]
    if name.endswith(".txt") and ("requirements" in name or "constraints" in name):
        return "requirements"
    text = data[:1_048_576].decode("utf-8", errors="replace").removeprefix("\ufeff")
    stripped = text.lstrip()
    if not stripped:
        raise InvalidInput(f"empty input; expected {_EXPECTED}", file=source)
    if stripped[0] in "[{":
        return _detect_json(data, source)
    lines = [line.rstrip("\r") for line in text.split("\n")]
    content = [line for line in lines if line.strip() and not line.lstrip().startswith("#")]
    first = content[0] if content else ""
    if first.startswith(("Desired=", "| Status=")):
        return "dpkg"  # refused with an explanation by the dpkg parser
    if first.startswith("Package:"):
        return "dpkg"
    if first.startswith(("P:", "C:")) and any(line.startswith("P:") for line in content):
        return "apk"
    if re.match(r"(?:NAME|ID|VERSION_ID|PRETTY_NAME)=", first):
        raise InvalidInput(
            "this is an os-release file, not a package inventory",
            file=source,
            hint="pass it as os_release (maat.vulns.distros.parse_os_release)",
        )
    if first.split()[:2] == ["Package", "Version"]:
        return "pip"
    if any(_GOMOD_LINE.match(line) for line in content[:50]) and any(
        line.startswith("module") for line in content[:50]
    ):
        return "gomod"
    votes: dict[str, int] = {}
    sample = content[:_SAMPLE_LINES]
    for line in sample:
        kind = _vote(line)
        if kind is not None:
            votes[kind] = votes.get(kind, 0) + 1
    if votes:
        best = max(votes, key=lambda k: votes[k])
        if votes[best] * 2 >= len(sample):
            return best
    raise InvalidInput(
        f"cannot tell what kind of inventory this is; expected {_EXPECTED}",
        file=source,
        hint=f"pass kind= (one of {', '.join(KINDS)}) if it is one of them",
    )

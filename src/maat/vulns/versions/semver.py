"""SemVer 2.0.0 precedence (SEMVER ranges, npm, crates.io, Hex, Go) and NuGet's 4-part variant.

SemVer key: ``(major, minor, patch, 1)`` for a release, ``(major, minor, patch, 0, ids...)``
for a pre-release, each pre-release identifier as ``(0, number)`` or ``(1, text)``: numeric
identifiers compare numerically and below alphanumeric ones (ASCII order), a longer list of
identifiers ranks higher when the shorter is its prefix, and every pre-release of a version
ranks below the version itself. Build metadata (``+...``, Go's ``+incompatible``) is checked
and ignored. A leading ``v`` is tolerated, and OSV-style partial versions are padded
(``1.2`` is ``1.2.0``, ``1`` is ``1.0.0``). Leading zeros in numeric parts are refused, as the
specification (and Go) refuse them.

Go pseudo-versions need no special case: ``v0.0.0-20191109021931-daa7c04131f5`` is a
pre-release of ``v0.0.0`` and ``v1.2.4-0.20191109021931-daa7c04131f5`` a pre-release of
``v1.2.4`` ordered by its timestamp, exactly what SemVer precedence gives.

NuGet key: ``(major, minor, patch, revision, 1)`` or ``(..., 0, labels...)``; one to four
numeric parts with leading zeros allowed and normalised (``1.01`` == ``1.1.0.0``), labels
compared without regard to case, numeric labels numerically and below alphanumeric ones.
"""

from __future__ import annotations

import re

from maat.vulns.versions._base import Key, VersionSyntaxError

_IDENTS = r"[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*"
_SEMVER = re.compile(
    r"[vV]?([0-9]+)(?:\.([0-9]+)(?:\.([0-9]+))?)?"
    rf"(?:-({_IDENTS}))?(?:\+{_IDENTS})?"
)
_NUGET = re.compile(
    r"([0-9]+)(?:\.([0-9]+))?(?:\.([0-9]+))?(?:\.([0-9]+))?"
    rf"(?:-({_IDENTS}))?(?:\+{_IDENTS})?"
)


def _number(part: str | None) -> int:
    if part is None:
        return 0
    if len(part) > 1 and part[0] == "0":
        raise VersionSyntaxError(f"numeric part {part!r} has a leading zero")
    return int(part)


def semver_key(text: str) -> Key:
    """The SemVer 2.0.0 precedence key of ``text``."""
    match = _SEMVER.fullmatch(text)
    if match is None:
        raise VersionSyntaxError(
            "not a semantic version MAJOR[.MINOR[.PATCH]][-PRERELEASE][+BUILD]"
        )
    major, minor, patch, pre = match.groups()
    if pre is None:
        return (_number(major), _number(minor), _number(patch), 1)
    key: list[object] = [_number(major), _number(minor), _number(patch), 0]
    for ident in pre.split("."):
        if ident.isdigit():
            if len(ident) > 1 and ident[0] == "0":
                raise VersionSyntaxError(
                    f"numeric pre-release identifier {ident!r} has a leading zero"
                )
            key += (0, int(ident))
        else:
            key += (1, ident)
    return tuple(key)


def nuget_key(text: str) -> Key:
    """The NuGet (SemVer 2 with an optional fourth part) precedence key of ``text``."""
    match = _NUGET.fullmatch(text)
    if match is None:
        raise VersionSyntaxError(
            "not a NuGet version MAJOR[.MINOR[.PATCH[.REVISION]]][-PRERELEASE][+METADATA]"
        )
    major, minor, patch, revision, pre = match.groups()
    numbers = [int(major), int(minor or 0), int(patch or 0), int(revision or 0)]
    if pre is None:
        return (*numbers, 1)
    key: list[object] = [*numbers, 0]
    for label in pre.split("."):
        if label.isdigit():
            key += (0, int(label))
        else:
            key += (1, label.lower())
    return tuple(key)

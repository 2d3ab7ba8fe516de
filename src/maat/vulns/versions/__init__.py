"""Exact version comparison for OSV range matching: one comparator per ecosystem.

A comparator parses a version once into a key (a flat tuple of ints and strings) and callers
compare keys with ``<``, ``<=`` and ``==`` as often as they like; keys are hashable, so the
matcher caches them and puts listed versions in sets. Keys of different comparators must not
be compared with each other.

``comparator_for(ecosystem)`` takes OSV ecosystem names, with or without their release suffix
(``Debian:12``, ``Ubuntu:Pro:18.04:LTS``, ``Red Hat:enterprise_linux:9::appstream``), and
answers ``None`` for ecosystems without a version order here (``GitHub Actions``, ``OSS-Fuzz``,
``Linux``, ``Android``, unknown names): callers report those as skipped. ``SEMVER`` is for OSV
ranges of type ``SEMVER`` whatever the ecosystem.

``ZERO`` (``"0"``) is OSV's "since the beginning": every comparator maps exactly that text to
``MINIMUM``, the empty tuple, below every other key (even versions the ecosystem would put
below ``0``, such as ``0.dev0`` or ``0~rc``). A real version spelled exactly ``0`` gets the
same key, so it is equal to ``introduced: 0`` but not to ``0.0``.

Algorithms (each module's docstring gives the details and the choices made):

=================  ==========================================================================
PyPI               PEP 440 (``packaging``), legacy versions refused
npm, crates.io,    SemVer 2.0.0 precedence; build metadata ignored, ``v`` tolerated, partial
Hex, SEMVER, Go    versions padded; Go pseudo-versions and ``+incompatible`` included
NuGet              NuGet SemVer 2 with a fourth part, case-insensitive labels
Maven              Maven's ComparableVersion (3.9 / 4)
RubyGems           Gem::Version
Packagist          Composer normalisation + PHP version_compare; dev- branches refused
Debian, Ubuntu     dpkg
Alpine, Wolfi,     apk-tools 3
Chainguard
RPM distributions  rpmvercmp on epoch:version-release (Red Hat, Rocky Linux, AlmaLinux,
                   openSUSE, SUSE, Mageia, Photon OS, openEuler, Azure Linux)
=================  ==========================================================================
"""

from __future__ import annotations

from maat.vulns.versions._base import (
    MAX_VERSION_LENGTH,
    MINIMUM,
    ZERO,
    Comparator,
    SchemeComparator,
    VersionKey,
)
from maat.vulns.versions.apk import apk_key
from maat.vulns.versions.dpkg import dpkg_key
from maat.vulns.versions.maven import maven_key
from maat.vulns.versions.packagist import packagist_key
from maat.vulns.versions.pypi import pypi_key
from maat.vulns.versions.rpm import rpm_key
from maat.vulns.versions.rubygems import rubygems_key
from maat.vulns.versions.semver import nuget_key, semver_key

__all__ = [
    "MAX_VERSION_LENGTH",
    "MINIMUM",
    "SEMVER",
    "ZERO",
    "Comparator",
    "VersionKey",
    "comparator_for",
    "ecosystems",
]

SEMVER: Comparator = SchemeComparator("semver", "SemVer 2.0.0", semver_key)
"""The comparator for OSV ranges of type SEMVER, whatever the ecosystem."""

_SCHEMES = {
    "PyPI": ("PEP 440", pypi_key),
    "npm": ("SemVer 2.0.0", semver_key),
    "crates.io": ("SemVer 2.0.0", semver_key),
    "Hex": ("SemVer 2.0.0", semver_key),
    "Go": ("SemVer 2.0.0 (Go modules)", semver_key),
    "NuGet": ("NuGet SemVer 2", nuget_key),
    "Maven": ("Maven ComparableVersion", maven_key),
    "RubyGems": ("Gem::Version", rubygems_key),
    "Packagist": ("Composer", packagist_key),
    "Debian": ("dpkg", dpkg_key),
    "Ubuntu": ("dpkg", dpkg_key),
    "Alpine": ("apk-tools", apk_key),
    "Wolfi": ("apk-tools", apk_key),
    "Chainguard": ("apk-tools", apk_key),
    "Red Hat": ("rpmvercmp", rpm_key),
    "Rocky Linux": ("rpmvercmp", rpm_key),
    "AlmaLinux": ("rpmvercmp", rpm_key),
    "openSUSE": ("rpmvercmp", rpm_key),
    "SUSE": ("rpmvercmp", rpm_key),
    "Mageia": ("rpmvercmp", rpm_key),
    "Photon OS": ("rpmvercmp", rpm_key),
    "openEuler": ("rpmvercmp", rpm_key),
    "Azure Linux": ("rpmvercmp", rpm_key),
}

_COMPARATORS: dict[str, Comparator] = {
    name: SchemeComparator(name, scheme, parse) for name, (scheme, parse) in _SCHEMES.items()
}


def comparator_for(ecosystem: str) -> Comparator | None:
    """The comparator of an OSV ecosystem (``PyPI``, ``Debian:12``, ``Alpine:v3.18``, ...).

    The release suffix after the first ``:`` is ignored. ``None`` when the ecosystem has no
    version order here; callers report such packages as skipped.
    """
    comparator = _COMPARATORS.get(ecosystem)
    if comparator is None:
        comparator = _COMPARATORS.get(ecosystem.partition(":")[0])
    return comparator


def ecosystems() -> tuple[str, ...]:
    """The base ecosystem names that have a comparator, in a stable order."""
    return tuple(_COMPARATORS)

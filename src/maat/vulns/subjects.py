"""What can be matched: SBOM components and installed packages turned into ``Subject``s."""

from __future__ import annotations

import re
from typing import Any

from maat.core.purl import Purl
from maat.vulns.match import Subject

_DEBIAN_CODENAMES = {
    "buster": "10",
    "bullseye": "11",
    "bookworm": "12",
    "trixie": "13",
    "forky": "14",
}
_UBUNTU_CODENAMES = {
    "xenial": "16.04",
    "bionic": "18.04",
    "focal": "20.04",
    "jammy": "22.04",
    "noble": "24.04",
    "resolute": "26.04",
}
_VERSIONED = re.compile(r"^[a-z-]*?-?(\d+(?:\.\d+)*)$")


def distro_ecosystem(base: str, distro: str | None) -> str:
    """The OSV ecosystem of a distro package from the purl ``distro`` qualifier.

    ``debian-12``/``bookworm``/``debian-bookworm`` → ``Debian:12``;
    ``ubuntu-22.04``/``jammy``/``ubuntu-jammy`` → ``Ubuntu:22.04:LTS``; ``alpine-3.19.1`` →
    ``Alpine:v3.19``. Unknown: the bare ecosystem.
    """
    if not distro:
        return base
    text = distro.strip().lower().removeprefix(f"{base.lower()}-")
    if base == "Debian":
        release = _DEBIAN_CODENAMES.get(text) or _number(text)
        return f"Debian:{release.split('.')[0]}" if release else base
    if base == "Ubuntu":
        release = _UBUNTU_CODENAMES.get(text) or _number(text)
        if not release:
            return base
        # OSV files Ubuntu by YY.MM: a point release (22.04.3) is that release.
        major, _, minor = release.partition(".")
        minor = minor.split(".")[0]
        release = f"{major}.{minor}" if minor else major
        lts = minor == "04" and int(major) % 2 == 0
        return f"Ubuntu:{release}{':LTS' if lts else ''}"
    if base == "Alpine":
        release = _number(text)
        return f"Alpine:v{'.'.join(release.split('.')[:2])}" if release else base
    return base


def _number(text: str) -> str | None:
    match = _VERSIONED.match(text)
    return match.group(1) if match else None


def purl_version(purl: Purl, version: str | None = None) -> str | None:
    """The version of the package a purl names, as advisories write it (else ``version``).

    ``pkg:golang/stdlib@go1.21.0`` (older syft) is ``1.21.0``; an rpm purl's non-zero
    ``epoch`` qualifier is written into the version, ``epoch:version-release``, unless the
    version already has one. Subjects and VEX products are both read through this, so a VEX
    product purl and the subject of the same package always compare equal.
    """
    found = purl.version or version
    if not found:
        return found
    if purl.type == "golang" and purl.package_name == "stdlib" and found.startswith("go"):
        return found[2:]
    epoch = (purl.qualifier("epoch") or "").strip()
    if purl.type == "rpm" and ":" not in found and _digits(epoch):
        # OSV writes the epoch in the version: without it ``1:3.0.7-27.el9`` reads as epoch 0
        # and sorts below its own fix. Epoch 0 is what no epoch means, so it is left out;
        # zeros are stripped as text since int() refuses very long digit strings.
        number = epoch.lstrip("0")
        return f"{number}:{found}" if number else found
    return found


def _bad_epoch(purl: Purl) -> bool:
    """Whether an rpm purl has an ``epoch`` qualifier that :func:`purl_version` cannot read
    (and its own version carries no epoch to go by)."""
    epoch = (purl.qualifier("epoch") or "").strip()
    version = purl.version or ""
    return purl.type == "rpm" and bool(epoch) and ":" not in version and not _digits(epoch)


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def subject_from_purl(
    purl: Purl, *, ref: str, name: str | None = None, version: str | None = None, **extra: Any
) -> Subject:
    """A subject for a package named by a purl (version from the purl, else ``version``).

    For Debian, Ubuntu and Alpine packages the ``upstream`` qualifier (``lvm2`` or, as syft
    writes it when the versions differ, ``lvm2@2.03.16-2``) names the source package, which
    distro advisories are filed under: the subject is matched by that name and, when given,
    that version (the binary ``liblvm2cmd2.03@2.03.16-2+b1`` is built from source
    ``lvm2 2.03.16-2``, and advisories give source versions).
    """
    ecosystem = purl.ecosystem
    package: str | None = purl.package_name
    matched_version = purl_version(purl, version)
    if ecosystem in ("Debian", "Ubuntu", "Alpine"):
        ecosystem = distro_ecosystem(ecosystem, purl.qualifier("distro"))
        upstream = purl.qualifier("upstream")
        if upstream:
            source, _, source_version = upstream.partition("@")
            package = source.strip() or package
            matched_version = source_version.strip() or matched_version
    unmatchable = None
    if ecosystem is None:
        unmatchable = f"no OSV ecosystem for purl type {purl.type!r}"
    elif _bad_epoch(purl):
        # Read as epoch 0 it may sort below an "introduced: 1:..." and pass as clear.
        unmatchable = (
            f"rpm epoch qualifier {purl.qualifier('epoch')!r} is not a number: the version "
            "cannot be ordered"
        )
    return Subject(
        ref=ref,
        name=name or purl.name,
        version=matched_version,
        ecosystem=ecosystem,
        package=package,
        purl=str(purl),
        unmatchable=unmatchable,
        **extra,
    )


def subject_from_component(component: Any) -> Subject:
    """A subject for an SBOM component (``maat.sbom.Component``)."""
    if component.purl is not None:
        return subject_from_purl(
            component.purl,
            ref=component.ref,
            name=component.name,
            version=component.version,
            location=component.location,
        )
    if component.purl_text:
        reason = f"invalid purl {component.purl_text!r}: {component.purl_problem}"
    elif component.cpes:
        reason = "only a CPE is given; Maat matches OSV advisories by purl"
    else:
        reason = "no purl: the component's ecosystem is unknown"
    return Subject(
        ref=component.ref,
        name=component.name,
        version=component.version,
        ecosystem=None,
        package=None,
        purl=component.purl_text,
        location=component.location,
        unmatchable=reason,
    )


def subject_from_package(package: Any) -> Subject:
    """A subject for an installed package (``maat.vulns.inventory.InventoryPackage``).

    Matched by the source package (``source_name``) and its version (``source_version``)
    when the inventory names them, as distro advisories are filed; else by the package's
    own name and version.
    """
    source_version = getattr(package, "source_version", None)
    return Subject(
        ref=f"{package.name}@{package.version}",
        name=package.name,
        version=(source_version if package.source_name else None) or package.version,
        ecosystem=package.ecosystem,
        package=package.source_name or package.name,
        purl=str(package.purl) if package.purl is not None else None,
        location=package.location,
        unmatchable=None if package.ecosystem else "the package's ecosystem is unknown",
    )

"""Tests for maat.vulns.subjects: what SBOM components and installed packages are matched as."""

from __future__ import annotations

import pytest

from maat.core.purl import Purl
from maat.errors import Location
from maat.vulns.inventory import InventoryPackage
from maat.vulns.match import Matcher
from maat.vulns.subjects import distro_ecosystem, subject_from_package, subject_from_purl
from vulns_kit import advisory, eco_range, index_of


@pytest.mark.parametrize(
    ("base", "distro", "ecosystem"),
    [
        ("Debian", "debian-bookworm", "Debian:12"),
        ("Debian", "bookworm", "Debian:12"),
        ("Debian", "debian-12", "Debian:12"),
        ("Debian", "debian-12.5", "Debian:12"),
        ("Debian", "Debian-Trixie", "Debian:13"),
        ("Ubuntu", "ubuntu-jammy", "Ubuntu:22.04:LTS"),
        ("Ubuntu", "jammy", "Ubuntu:22.04:LTS"),
        ("Ubuntu", "ubuntu-22.04", "Ubuntu:22.04:LTS"),
        ("Ubuntu", "ubuntu-23.10", "Ubuntu:23.10"),
        ("Alpine", "alpine-3.19.1", "Alpine:v3.19"),
        ("Debian", "debian-sid", "Debian"),
        ("Debian", None, "Debian"),
    ],
)
def test_distro_codename_after_the_distribution_prefix_gives_the_release(
    base: str, distro: str | None, ecosystem: str
) -> None:
    assert distro_ecosystem(base, distro) == ecosystem


DEBIAN_LVM = advisory(
    "DSA-9-1",
    "Debian:12",
    "lvm2",
    ranges=[eco_range(("introduced", "0"), ("fixed", "2.03.16-2+deb12u1"))],
)


def test_debian_upstream_with_version_matches_by_source_name_and_source_version() -> None:
    purl = Purl.parse(
        "pkg:deb/debian/liblvm2cmd2.03@2.03.16-2%2Bb1?arch=amd64&distro=debian-bookworm"
        "&upstream=lvm2%402.03.16-2"
    )
    subject = subject_from_purl(purl, ref="c1")
    assert (subject.ecosystem, subject.package, subject.version) == (
        "Debian:12",
        "lvm2",
        "2.03.16-2",
    )
    assert subject.name == "liblvm2cmd2.03"
    (match,) = Matcher(index_of(DEBIAN_LVM)).match([subject]).matches
    assert match.fixed_versions == ("2.03.16-2+deb12u1",)
    # without a version in upstream, the binary's version is compared
    bare = subject_from_purl(
        Purl.parse("pkg:deb/debian/dmsetup@2:1.02.185-2?distro=debian-12&upstream=lvm2"), ref="c"
    )
    assert (bare.package, bare.version) == ("lvm2", "2:1.02.185-2")


def test_installed_package_is_matched_by_its_source_version() -> None:
    package = InventoryPackage(
        name="liblvm2cmd2.03",
        version="2.03.16-2+deb12u1+b1",  # a binNMU of a fixed source would look fixed ...
        ecosystem="Debian:12",
        purl=None,
        source_name="lvm2",
        arch="amd64",
        location=Location(),
        source_version="2.03.16-2",  # ... but the source it was built from is not
    )
    subject = subject_from_package(package)
    assert (subject.package, subject.version, subject.name) == (
        "lvm2",
        "2.03.16-2",
        "liblvm2cmd2.03",
    )
    assert len(Matcher(index_of(DEBIAN_LVM)).match([subject]).matches) == 1
    plain = subject_from_package(
        InventoryPackage("bash", "5.2-1", "Debian:12", None, None, None, Location())
    )
    assert (plain.package, plain.version) == ("bash", "5.2-1")


def test_go_standard_library_component_is_matched_as_stdlib() -> None:
    index = index_of(
        advisory(
            "GO-2024-1",
            "Go",
            "stdlib",
            ranges=[eco_range(("introduced", "0"), ("fixed", "1.21.8"), type_="SEMVER")],
        )
    )
    for text in ("pkg:golang/stdlib@1.21.0", "pkg:golang/stdlib@go1.21.0"):
        subject = subject_from_purl(Purl.parse(text), ref="go")
        assert (subject.ecosystem, subject.package, subject.version) == ("Go", "stdlib", "1.21.0")
        assert [m.advisory.id for m in Matcher(index).match([subject]).matches] == ["GO-2024-1"]


def test_dpkg_inventory_with_source_versions_is_matched_by_them() -> None:
    from maat.vulns.distros import parse_os_release
    from maat.vulns.inventory import parse_inventory

    release = parse_os_release("ID=debian\nVERSION_ID=12\n")
    data = b"liblvm2cmd2.03\t2.03.16-2+deb12u1+b1\tamd64\tlvm2\t2.03.16-2\n"
    inventory = parse_inventory(data, source="dpkg.tsv", kind="dpkg", os_release=release)
    subjects = [subject_from_package(p) for p in inventory.packages]
    assert [(s.package, s.version) for s in subjects] == [("lvm2", "2.03.16-2")]
    assert len(Matcher(index_of(DEBIAN_LVM)).match(subjects).matches) == 1

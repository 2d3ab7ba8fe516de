"""Distribution inventories: dpkg, rpm and apk."""

from __future__ import annotations

import pytest

from maat.errors import InvalidInput
from maat.vulns.distros import parse_os_release
from maat.vulns.inventory import Inventory, InventoryPackage, parse_inventory

DEBIAN_12 = parse_os_release(
    'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n'
    "VERSION_CODENAME=bookworm\n"
)
UBUNTU_2204 = parse_os_release('ID=ubuntu\nID_LIKE=debian\nVERSION_ID="22.04"\n')
RHEL_9 = parse_os_release('ID="rhel"\nID_LIKE="fedora"\nVERSION_ID="9.3"\n')
ROCKY_9 = parse_os_release('ID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.3"\n')
ALPINE_319 = parse_os_release("ID=alpine\nVERSION_ID=3.19.1\n")
FEDORA_39 = parse_os_release("ID=fedora\nVERSION_ID=39\n")


def by_name(inventory: Inventory) -> dict[str, InventoryPackage]:
    return {f"{p.name}:{p.arch}" if p.arch else p.name: p for p in inventory.packages}


def messages(inventory: Inventory) -> list[str]:
    return [p.message for p in inventory.problems]


# --------------------------------------------------------------------------------------------
# dpkg
# --------------------------------------------------------------------------------------------

DPKG_DEFAULT = b"""adduser\t3.134
base-files\t12.4+deb12u5
libc6:amd64\t2.36-9+deb12u4
libc6:i386\t2.36-9+deb12u4
libssl3:amd64\t3.0.11-1~deb12u2
openssl\t3.0.11-1~deb12u2
tzdata\t2024a-0+deb12u1
vim-common\t2:9.0.1378-2
Bad_Name\t1.0
linux-image-6.1.0-13-amd64\t
zlib1g:amd64\t1:1.2.13.dfsg-1
"""

DPKG_WITH_SOURCE = (
    b"libssl3\t3.0.11-1~deb12u2\tamd64\topenssl\n"
    b"libc6\t2.36-9+deb12u4\tamd64\tglibc\n"
    b"vim-common\t2:9.0.1378-2\tall\tvim\n"
    b"openssl\t3.0.11-1~deb12u2\tamd64\topenssl\n"
    b"libgcc-s1\t12.2.0-14\tamd64\tgcc-12 (12.2.0-14)\n"
    b"too\tmany\tcolumns\there\tnow\tsix\n"
)


def test_dpkg_query_default_output() -> None:
    inventory = parse_inventory(
        DPKG_DEFAULT, source="host1/dpkg.txt", kind="dpkg", os_release=DEBIAN_12
    )
    packages = by_name(inventory)
    assert inventory.kind == "dpkg"
    assert inventory.os_release is DEBIAN_12
    assert set(packages) == {
        "adduser",
        "base-files",
        "libc6:amd64",
        "libc6:i386",
        "libssl3:amd64",
        "openssl",
        "tzdata",
        "vim-common",
        "zlib1g:amd64",
    }
    ssl = packages["libssl3:amd64"]
    assert ssl.version == "3.0.11-1~deb12u2"
    assert ssl.ecosystem == "Debian:12"
    assert str(ssl.purl) == "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12"
    assert ssl.location.file == "host1/dpkg.txt"
    assert ssl.location.line == 5
    assert (
        str(packages["openssl"].purl) == "pkg:deb/debian/openssl@3.0.11-1~deb12u2?distro=debian-12"
    )
    assert packages["vim-common"].version == "2:9.0.1378-2"  # epoch kept for comparison
    assert packages["zlib1g:amd64"].version == "1:1.2.13.dfsg-1"
    assert packages["libc6:i386"].location.line == 4
    problems = {p.location.line: p.message for p in inventory.problems}
    assert "not a Debian package name" in problems[9]
    assert "not installed" in problems[10]
    assert any("source packages are unknown" in m for m in messages(inventory))


def test_dpkg_query_with_source_and_arch_columns() -> None:
    inventory = parse_inventory(
        DPKG_WITH_SOURCE, source="dpkg.tsv", kind="dpkg", os_release=DEBIAN_12
    )
    packages = by_name(inventory)
    assert packages["libssl3:amd64"].source_name == "openssl"
    assert packages["libc6:amd64"].source_name == "glibc"
    assert packages["vim-common:all"].arch == "all"
    assert packages["libgcc-s1:amd64"].source_name == "gcc-12"
    assert str(packages["vim-common:all"].purl).startswith(
        "pkg:deb/debian/vim-common@2:9.0.1378-2?arch=all"
    )
    assert [(p.location.line, "columns" in p.message) for p in inventory.problems] == [(6, True)]


def test_dpkg_ubuntu_release_and_lts_ecosystem() -> None:
    data = b"libssl3:amd64\t3.0.2-0ubuntu1.15\nbash\t5.1-6ubuntu1.1\n"
    inventory = parse_inventory(data, source="u", kind="dpkg", os_release=UBUNTU_2204)
    ssl = by_name(inventory)["libssl3:amd64"]
    assert ssl.ecosystem == "Ubuntu:22.04:LTS"
    assert (
        str(ssl.purl) == "pkg:deb/ubuntu/libssl3@3.0.2-0ubuntu1.15?arch=amd64&distro=ubuntu-22.04"
    )


@pytest.mark.parametrize(
    ("data", "ecosystem", "namespace"),
    [
        (b"bash\t5.1-6ubuntu1.1\nlibc6\t2.35-0ubuntu3.6\n", "Ubuntu", "ubuntu"),
        (DPKG_DEFAULT, "Debian", "debian"),
        (b"base-files\t12.4\n", "Debian", "debian"),
    ],
)
def test_dpkg_without_os_release_guesses_the_bare_distribution(
    data: bytes, ecosystem: str, namespace: str
) -> None:
    inventory = parse_inventory(data, source="d", kind="dpkg")
    assert {p.ecosystem for p in inventory.packages} == {ecosystem}
    assert all(p.purl is not None and p.purl.namespace == namespace for p in inventory.packages)
    assert all(p.purl is None or p.purl.qualifier("distro") is None for p in inventory.packages)
    assert any(
        "/etc/os-release" in m and "told from the packages" in m for m in messages(inventory)
    )


def test_dpkg_without_any_clue_asks_for_os_release() -> None:
    inventory = parse_inventory(b"adduser\t3.134\nbash\t5.2.15-2\n", source="d", kind="dpkg")
    assert [p.ecosystem for p in inventory.packages] == ["", ""]
    assert all(p.purl is None for p in inventory.packages)
    assert any("pass the host's /etc/os-release" in m for m in messages(inventory))


def test_dpkg_unknown_to_osv_keeps_packages_without_ecosystem() -> None:
    kali = parse_os_release("ID=kali\nID_LIKE=debian\nVERSION_ID=2024.1\n")
    inventory = parse_inventory(b"bash\t5.2.21-2\n", source="k", kind="dpkg", os_release=kali)
    (package,) = inventory.packages
    assert package.ecosystem == ""
    assert str(package.purl) == "pkg:deb/kali/bash@5.2.21-2?distro=kali-2024.1"
    assert any("OSV has no ecosystem" in m for m in messages(inventory))


def test_dpkg_with_the_os_release_of_another_format_is_refused() -> None:
    with pytest.raises(InvalidInput, match="whose packages are 'rpm'"):
        parse_inventory(DPKG_DEFAULT, source="d", kind="dpkg", os_release=RHEL_9)


DPKG_STATUS = b"""Package: libssl3
Status: install ok installed
Priority: optional
Section: libs
Installed-Size: 6180
Maintainer: Debian OpenSSL Team <pkg-openssl-devel@alioth-lists.debian.net>
Architecture: amd64
Multi-Arch: same
Source: openssl
Version: 3.0.11-1~deb12u2
Depends: libc6 (>= 2.34)
Description: Secure Sockets Layer toolkit - shared libraries
 This package is part of the OpenSSL project's implementation of the SSL
 and TLS cryptographic protocols for secure communication over the
 Internet.
Homepage: https://www.openssl.org/

Package: old-kernel
Status: deinstall ok config-files
Architecture: amd64
Version: 6.1.0-10

Package: libgcc-s1
Status: install ok installed
Architecture: amd64
Source: gcc-12 (12.2.0-14)
Version: 12.2.0-14

Package: bash
Status: install ok installed
Architecture: amd64
Version: 5.2.15-2+b2

Status: install ok installed
Version: 1.0
"""


def test_dpkg_status_file() -> None:
    inventory = parse_inventory(DPKG_STATUS, source="/var/lib/dpkg/status", os_release=DEBIAN_12)
    assert inventory.kind == "dpkg"
    packages = by_name(inventory)
    assert set(packages) == {"libssl3:amd64", "libgcc-s1:amd64", "bash:amd64"}
    assert packages["libssl3:amd64"].source_name == "openssl"
    assert packages["libssl3:amd64"].location.line == 1
    assert packages["libgcc-s1:amd64"].source_name == "gcc-12"
    assert packages["bash:amd64"].source_name == "bash"  # no Source field: same as the package
    assert [(p.location.line, "without a Package" in p.message) for p in inventory.problems] == [
        (34, True)
    ]


def test_dpkg_l_output_is_refused_with_a_hint() -> None:
    data = (
        b"Desired=Unknown/Install/Remove/Purge/Hold\n"
        b"| Status=Not/Inst/Conf-files/Unpacked/halF-conf/Half-inst/trig-aWait/Trig-pend\n"
        b"ii  adduser  3.134  all  add and remove users and groups\n"
    )
    with pytest.raises(InvalidInput, match="dpkg -l") as info:
        parse_inventory(data, source="dpkg-l.txt")
    assert "dpkg-query -W" in (info.value.hint or "")


# --------------------------------------------------------------------------------------------
# rpm
# --------------------------------------------------------------------------------------------

RPM_QA = b"""openssl-libs-3.0.7-25.el9_3.x86_64
1:openssl-3.0.7-25.el9_3.x86_64
glibc-2.34-83.el9_3.7.x86_64
gpg-pubkey-fd431d51-4ae0493b
tzdata-2023c-1.el9.noarch
libstdc++-11.4.1-2.1.el9.x86_64
vim-minimal-2:8.2.2637-20.el9_1.x86_64
rocky-release-9.3-1.2.el9.noarch
kernel-core-5.14.0-362.13.1.el9_3.x86_64
notanrpmline
"""

RPM_QF = (
    b"openssl-libs\t1:3.0.7-25.el9_3\tx86_64\n"
    b"bash\t0:5.1.8-6.el9_1\tx86_64\n"
    b"gpg-pubkey\t(none):fd431d51-4ae0493b\t(none)\n"
    b"tzdata\t0:2023c-1.el9\tnoarch\n"
    b"glibc\t0:2.34-83.el9_3.7\tx86_64\tglibc-2.34-83.el9_3.7.src.rpm\n"
    b"broken\tno-epoch-here\n"
)


def test_rpm_qa_nevra_lines() -> None:
    inventory = parse_inventory(RPM_QA, source="rpm.txt", kind="rpm", os_release=ROCKY_9)
    packages = by_name(inventory)
    assert set(packages) == {
        "openssl-libs:x86_64",
        "openssl:x86_64",
        "glibc:x86_64",
        "tzdata:noarch",
        "libstdc++:x86_64",
        "vim-minimal:x86_64",
        "rocky-release:noarch",
        "kernel-core:x86_64",
    }
    openssl = packages["openssl:x86_64"]
    assert openssl.version == "1:3.0.7-25.el9_3"
    assert openssl.ecosystem == "Rocky Linux:9"
    assert str(openssl.purl) == (
        "pkg:rpm/rocky-linux/openssl@3.0.7-25.el9_3?arch=x86_64&distro=rocky-9.3&epoch=1"
    )
    assert packages["vim-minimal:x86_64"].version == "2:8.2.2637-20.el9_1"
    assert packages["openssl-libs:x86_64"].version == "3.0.7-25.el9_3"
    assert packages["libstdc++:x86_64"].purl is not None
    assert packages["kernel-core:x86_64"].version == "5.14.0-362.13.1.el9_3"
    assert all(p.source_name is None for p in inventory.packages)
    problems = {p.location.line: p.message for p in inventory.problems}
    assert "signing key" in problems[4]
    assert "expected name-version-release" in problems[10]


def test_rpm_query_format_with_epochs() -> None:
    inventory = parse_inventory(RPM_QF, source="rpm.tsv", kind="rpm", os_release=RHEL_9)
    packages = by_name(inventory)
    libs = packages["openssl-libs:x86_64"]
    assert libs.version == "1:3.0.7-25.el9_3"
    assert libs.ecosystem == "Red Hat"
    assert (
        str(libs.purl)
        == "pkg:rpm/redhat/openssl-libs@3.0.7-25.el9_3?arch=x86_64&distro=rhel-9.3&epoch=1"
    )
    assert packages["bash:x86_64"].version == "5.1.8-6.el9_1"  # epoch 0 left out
    assert packages["bash:x86_64"].purl is not None
    assert packages["bash:x86_64"].purl.qualifier("epoch") is None
    assert "glibc:x86_64" in packages
    lines = sorted(p.location.line or 0 for p in inventory.problems)
    assert lines == [3, 6]
    assert not any("leaves out epochs" in m for m in messages(inventory))


def test_rpm_without_query_format_warns_about_epochs() -> None:
    data = b"bash-5.1.8-6.el9_1.x86_64\nopenssl-libs-3.0.7-25.el9_3.x86_64\n"
    inventory = parse_inventory(data, source="r", kind="rpm", os_release=RHEL_9)
    assert any("leaves out epochs" in m for m in messages(inventory))


def test_rpm_without_os_release_uses_the_release_package() -> None:
    inventory = parse_inventory(RPM_QA, source="r", kind="rpm")
    assert {p.ecosystem for p in inventory.packages} == {"Rocky Linux"}
    assert all(p.purl is not None and p.purl.namespace == "rocky-linux" for p in inventory.packages)


def test_rpm_distribution_without_osv_ecosystem() -> None:
    inventory = parse_inventory(
        b"bash-5.2.26-1.fc39.x86_64\n", source="r", kind="rpm", os_release=FEDORA_39
    )
    (package,) = inventory.packages
    assert package.ecosystem == ""
    assert str(package.purl) == "pkg:rpm/fedora/bash@5.2.26-1.fc39?arch=x86_64&distro=fedora-39"


# --------------------------------------------------------------------------------------------
# apk
# --------------------------------------------------------------------------------------------

APK_INFO = b"""alpine-baselayout-3.4.3-r2
alpine-baselayout-data-3.4.3-r2
alpine-keys-2.4-r1
apk-tools-2.14.0-r5
busybox-1.36.1-r15
ca-certificates-bundle-20230506-r0
libcrypto3-3.1.4-r5
libssl3-3.1.4-r5
musl-1.2.4-r2
musl-utils-1.2.4_git20230717-r4
py3-pip-23.3.1-r0
ssl_client-1.36.1-r15
WARNING: opening /etc/apk/repositories: No such file
zlib-1.3.1-r0
"""


def test_apk_info_v() -> None:
    inventory = parse_inventory(APK_INFO, source="apk.txt", kind="apk", os_release=ALPINE_319)
    packages = by_name(inventory)
    assert len(packages) == 13
    musl = packages["musl"]
    assert musl.version == "1.2.4-r2"
    assert musl.ecosystem == "Alpine:v3.19"
    assert str(musl.purl) == "pkg:apk/alpine/musl@1.2.4-r2?distro=alpine-3.19.1"
    assert packages["libcrypto3"].version == "3.1.4-r5"
    assert packages["py3-pip"].version == "23.3.1-r0"
    assert packages["musl-utils"].version == "1.2.4_git20230717-r4"
    assert packages["ca-certificates-bundle"].version == "20230506-r0"
    assert [
        (p.location.line, "expected name-version-rN" in p.message) for p in inventory.problems
    ] == [(13, True), (None, False)]
    assert "origin packages are unknown" in inventory.problems[-1].message


def test_apk_list_installed_gives_arch_and_origin() -> None:
    data = (
        b"musl-1.2.4_git20230717-r4 x86_64 {musl} (MIT) [installed]\n"
        b"libcrypto3-3.1.4-r5 x86_64 {openssl} (Apache-2.0) [installed]\n"
        b"curl-8.5.0-r0 x86_64 {curl} (curl) [upgradable from: curl-8.4.0-r0]\n"
        b"busybox-1.36.1-r15 x86_64 {busybox} (GPL-2.0-only)\n"
    )
    inventory = parse_inventory(data, source="apk-list.txt", kind="apk", os_release=ALPINE_319)
    packages = by_name(inventory)
    crypto = packages["libcrypto3:x86_64"]
    assert crypto.source_name == "openssl"
    assert str(crypto.purl) == "pkg:apk/alpine/libcrypto3@3.1.4-r5?arch=x86_64&distro=alpine-3.19.1"
    assert set(packages) == {"musl:x86_64", "libcrypto3:x86_64"}
    assert [p.location.line for p in inventory.problems] == [3, 4]


def test_apk_installed_database() -> None:
    data = (
        "C:Q1SLkS9hBidUK/d2mPbvc/yV1l2fs=\nP:musl\nV:1.2.4_git20230717-r4\nA:x86_64\nS:383152\n"
        "I:622592\nT:the musl c library (libc) implementation\nU:https://musl.libc.org/\nL:MIT\n"
        "o:musl\nm:Timo Teräs <timo.teras@iki.fi>\nt:1700000000\nF:lib\nR:ld-musl-x86_64.so.1\n"
        "\n"
        "C:Q1abc=\nP:libssl3\nV:3.1.4-r5\nA:x86_64\no:openssl\n"
        "\n"
        "C:Q1def=\nP:broken\nA:x86_64\n"
    ).encode()
    inventory = parse_inventory(data, source="/lib/apk/db/installed", os_release=ALPINE_319)
    assert inventory.kind == "apk"
    packages = by_name(inventory)
    assert packages["libssl3:x86_64"].source_name == "openssl"
    assert packages["libssl3:x86_64"].location.line == 16
    assert packages["musl:x86_64"].version == "1.2.4_git20230717-r4"
    assert [p.location.line for p in inventory.problems] == [22]


def test_apk_without_os_release_tells_alpine_from_wolfi() -> None:
    alpine = parse_inventory(APK_INFO, source="a", kind="apk")
    assert {p.ecosystem for p in alpine.packages} == {"Alpine"}
    wolfi = parse_inventory(
        b"wolfi-baselayout-20230201-r7\nglibc-2.38-r10\n", source="w", kind="apk"
    )
    assert {p.ecosystem for p in wolfi.packages} == {"Wolfi"}
    unknown = parse_inventory(b"musl-1.2.4-r2\n", source="u", kind="apk")
    assert {p.ecosystem for p in unknown.packages} == {""}
    assert any("/etc/os-release" in m for m in messages(unknown))


# --------------------------------------------------------------------------------------------
# source versions and origins
# --------------------------------------------------------------------------------------------


def test_dpkg_source_column_with_version_carries_the_source_version() -> None:
    data = (
        b"liblvm2cmd2.03\t2.03.16-2+b1\tamd64\tlvm2 (2.03.16-2)\n"  # ${Source}
        b"dmsetup\t2:1.02.185-2+b1\tamd64\tlvm2\t2.03.16-2\n"  # ${source:Package} ${source:Version}
        b"libssl3\t3.0.11-1~deb12u2\tamd64\topenssl\t3.0.11-1~deb12u2\n"  # same as the binary
        b"odd\t1.0-1\tamd64\todd-src\tnot a version\n"
        b"spaced 1.0-1 amd64 spaced-src (0.9-1)\n"  # no tabs: the parentheses split off
    )
    inventory = parse_inventory(data, source="dpkg.tsv", kind="dpkg", os_release=DEBIAN_12)
    packages = by_name(inventory)
    lvm = packages["liblvm2cmd2.03:amd64"]
    assert (lvm.source_name, lvm.source_version, lvm.version) == (
        "lvm2",
        "2.03.16-2",
        "2.03.16-2+b1",
    )
    assert packages["dmsetup:amd64"].source_version == "2.03.16-2"
    assert packages["libssl3:amd64"].source_version is None  # the same as its version
    assert packages["odd:amd64"].source_version is None
    assert packages["spaced:amd64"].source_version == "0.9-1"
    assert [(p.location.line, "source version" in p.message) for p in inventory.problems] == [
        (4, True)
    ]


def test_dpkg_status_source_field_with_version_carries_the_source_version() -> None:
    inventory = parse_inventory(DPKG_STATUS, source="/var/lib/dpkg/status", os_release=DEBIAN_12)
    packages = by_name(inventory)
    assert packages["libgcc-s1:amd64"].source_version is None  # 12.2.0-14, as the binary
    data = DPKG_STATUS.replace(b"Source: gcc-12 (12.2.0-14)", b"Source: gcc-12 (12.2.0-13)")
    inventory = parse_inventory(data, source="/var/lib/dpkg/status", os_release=DEBIAN_12)
    assert by_name(inventory)["libgcc-s1:amd64"].source_version == "12.2.0-13"


def test_dpkg_problem_recommends_the_query_format_with_source_versions() -> None:
    inventory = parse_inventory(DPKG_DEFAULT, source="d", kind="dpkg", os_release=DEBIAN_12)
    (hint,) = [m for m in messages(inventory) if "source packages are unknown" in m]
    assert "${source:Package}\\t${source:Version}\\n" in hint
    with pytest.raises(InvalidInput) as info:
        parse_inventory(b"Desired=Unknown\n", source="dpkg-l.txt", kind="dpkg")
    assert "${source:Version}" in (info.value.hint or "")


def test_apk_info_v_says_once_that_sub_packages_miss_their_origins_advisories() -> None:
    inventory = parse_inventory(APK_INFO, source="apk.txt", kind="apk", os_release=ALPINE_319)
    origin = [m for m in messages(inventory) if "origin packages are unknown" in m]
    assert len(origin) == 1
    assert "libssl3" in origin[0]
    assert "/lib/apk/db/installed" in origin[0] and "apk list --installed" in origin[0]
    listed = parse_inventory(
        b"libcrypto3-3.1.4-r5 x86_64 {openssl} (Apache-2.0) [installed]\n",
        source="apk-list.txt",
        kind="apk",
        os_release=ALPINE_319,
    )
    assert listed.problems == ()

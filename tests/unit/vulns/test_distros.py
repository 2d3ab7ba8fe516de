"""os-release parsing, OSV ecosystems, purl namespaces and end-of-life decisions."""

from __future__ import annotations

import contextlib
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maat.errors import InvalidInput
from maat.vulns.distros import (
    END_OF_LIFE,
    OsRelease,
    end_of_life,
    find_end_of_life,
    os_release_for,
    osv_ecosystem,
    parse_os_release,
    purl_type_and_namespace,
)

DEBIAN_12 = """\
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
"""

UBUNTU_2204 = """\
PRETTY_NAME="Ubuntu 22.04.4 LTS"
NAME="Ubuntu"
VERSION_ID="22.04"
VERSION="22.04.4 LTS (Jammy Jellyfish)"
VERSION_CODENAME=jammy
ID=ubuntu
ID_LIKE=debian
HOME_URL="https://www.ubuntu.com/"
SUPPORT_URL="https://help.ubuntu.com/"
BUG_REPORT_URL="https://bugs.launchpad.net/ubuntu/"
PRIVACY_POLICY_URL="https://www.ubuntu.com/legal/terms-and-policies/privacy-policy"
UBUNTU_CODENAME=jammy
"""

UBUNTU_2404 = """\
PRETTY_NAME="Ubuntu 24.04.1 LTS"
NAME="Ubuntu"
VERSION_ID="24.04"
VERSION="24.04.1 LTS (Noble Numbat)"
VERSION_CODENAME=noble
ID=ubuntu
ID_LIKE=debian
HOME_URL="https://www.ubuntu.com/"
SUPPORT_URL="https://help.ubuntu.com/"
BUG_REPORT_URL="https://bugs.launchpad.net/ubuntu/"
PRIVACY_POLICY_URL="https://www.ubuntu.com/legal/terms-and-policies/privacy-policy"
UBUNTU_CODENAME=noble
LOGO=ubuntu-logo
"""

ALPINE_319 = """\
NAME="Alpine Linux"
ID=alpine
VERSION_ID=3.19.1
PRETTY_NAME="Alpine Linux v3.19"
HOME_URL="https://alpinelinux.org/"
BUG_REPORT_URL="https://gitlab.alpinelinux.org/alpine/aports/-/issues"
"""

RHEL_9 = """\
NAME="Red Hat Enterprise Linux"
VERSION="9.3 (Plow)"
ID="rhel"
ID_LIKE="fedora"
VERSION_ID="9.3"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Red Hat Enterprise Linux 9.3 (Plow)"
ANSI_COLOR="0;31"
LOGO="fedora-logo-icon"
CPE_NAME="cpe:/o:redhat:enterprise_linux:9::baseos"
HOME_URL="https://www.redhat.com/"
DOCUMENTATION_URL="https://access.redhat.com/documentation/en-us/red_hat_enterprise_linux/9"
BUG_REPORT_URL="https://bugzilla.redhat.com/"

REDHAT_BUGZILLA_PRODUCT="Red Hat Enterprise Linux 9"
REDHAT_BUGZILLA_PRODUCT_VERSION=9.3
REDHAT_SUPPORT_PRODUCT="Red Hat Enterprise Linux"
REDHAT_SUPPORT_PRODUCT_VERSION="9.3"
"""

ROCKY_9 = """\
NAME="Rocky Linux"
VERSION="9.3 (Blue Onyx)"
ID="rocky"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.3"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Rocky Linux 9.3 (Blue Onyx)"
ANSI_COLOR="0;32"
LOGO="fedora-logo-icon"
CPE_NAME="cpe:/o:rocky:rocky:9::baseos"
HOME_URL="https://rockylinux.org/"
BUG_REPORT_URL="https://bugs.rockylinux.org/"
SUPPORT_END="2032-05-31"
ROCKY_SUPPORT_PRODUCT="Rocky-Linux-9"
ROCKY_SUPPORT_PRODUCT_VERSION="9.3"
REDHAT_SUPPORT_PRODUCT="Rocky Linux"
REDHAT_SUPPORT_PRODUCT_VERSION="9.3"
"""

ALMA_9 = """\
NAME="AlmaLinux"
VERSION="9.4 (Seafoam Ocelot)"
ID="almalinux"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.4"
PLATFORM_ID="platform:el9"
PRETTY_NAME="AlmaLinux 9.4 (Seafoam Ocelot)"
"""

MINT_21 = """\
NAME="Linux Mint"
VERSION="21.3 (Virginia)"
ID=linuxmint
ID_LIKE="ubuntu debian"
PRETTY_NAME="Linux Mint 21.3"
VERSION_ID="21.3"
UBUNTU_CODENAME=jammy
"""


@pytest.mark.parametrize(
    ("text", "distro", "version", "codename", "like", "ecosystem", "purl"),
    [
        (DEBIAN_12, "debian", "12", "bookworm", (), "Debian:12", ("deb", "debian")),
        (
            UBUNTU_2204,
            "ubuntu",
            "22.04",
            "jammy",
            ("debian",),
            "Ubuntu:22.04:LTS",
            ("deb", "ubuntu"),
        ),
        (
            UBUNTU_2404,
            "ubuntu",
            "24.04",
            "noble",
            ("debian",),
            "Ubuntu:24.04:LTS",
            ("deb", "ubuntu"),
        ),
        (ALPINE_319, "alpine", "3.19.1", None, (), "Alpine:v3.19", ("apk", "alpine")),
        (RHEL_9, "rhel", "9.3", None, ("fedora",), "Red Hat", ("rpm", "redhat")),
        (
            ROCKY_9,
            "rocky",
            "9.3",
            None,
            ("rhel", "centos", "fedora"),
            "Rocky Linux:9",
            ("rpm", "rocky-linux"),
        ),
        (
            ALMA_9,
            "almalinux",
            "9.4",
            None,
            ("rhel", "centos", "fedora"),
            "AlmaLinux:9",
            ("rpm", "almalinux"),
        ),
    ],
)
def test_real_os_release_files(
    text: str,
    distro: str,
    version: str,
    codename: str | None,
    like: tuple[str, ...],
    ecosystem: str,
    purl: tuple[str, str],
) -> None:
    release = parse_os_release(text)
    assert release.id == distro
    assert release.version_id == version
    assert release.version_codename == codename
    assert release.id_like == like
    assert release.problems == ()
    assert release.pretty_name
    assert release.label == release.pretty_name
    assert osv_ecosystem(release) == ecosystem
    assert purl_type_and_namespace(release) == purl


def test_raw_keeps_every_assignment() -> None:
    release = parse_os_release(RHEL_9)
    assert release.raw["CPE_NAME"] == "cpe:/o:redhat:enterprise_linux:9::baseos"
    assert release.raw["REDHAT_BUGZILLA_PRODUCT_VERSION"] == "9.3"
    assert "ANSI_COLOR" in release.raw
    hash(release)  # usable as a key despite the mapping


def test_quoting_and_escapes_follow_os_release_5() -> None:
    text = (
        "# a comment\n"
        "\n"
        'ID="my\\"distro"\n'
        "NAME='single $quoted \\n'\n"
        'PRETTY_NAME="costs \\$5 and a \\`tick\\` \\\\ \\x"\n'
        "VARIANT=bare\\ word\n"
        'HOME_URL="https://x/"  # trailing comment\n'
        "BUILD_ID=\"a\"'b'c\n"
    )
    release = parse_os_release(text, source="img/etc/os-release")
    assert release.id == 'my"distro'
    assert release.raw["NAME"] == "single $quoted \\n"
    assert release.pretty_name == "costs $5 and a `tick` \\ \\x"
    assert release.raw["VARIANT"] == "bare word"
    assert release.raw["HOME_URL"] == "https://x/"
    assert release.raw["BUILD_ID"] == "abc"
    assert release.problems == ()


def test_bad_lines_are_problems_with_their_line() -> None:
    text = 'ID=debian\nthis is not an assignment\nNAME="unclosed\nVERSION_ID=12 extra words\nVERSION_CODENAME=bookworm\n'
    release = parse_os_release(text, source="host/os-release")
    assert release.id == "debian"
    assert release.version_codename == "bookworm"
    assert release.version_id is None
    assert [(p.location.file, p.location.line) for p in release.problems] == [
        ("host/os-release", 2),
        ("host/os-release", 3),
        ("host/os-release", 4),
    ]
    assert release.problems[1].location.field == "NAME"
    # Debian without VERSION_ID: the release comes from the codename.
    assert osv_ecosystem(release) == "Debian:12"


def test_id_defaults_to_linux_and_is_lowercased() -> None:
    assert parse_os_release("NAME=Foo\n").id == "linux"
    assert parse_os_release("ID=Debian\nVERSION_ID=12\n").id == "debian"


@pytest.mark.parametrize("text", ["", "\n\n# only comments\n", "garbage without equals"])
def test_no_assignment_is_invalid_input(text: str) -> None:
    with pytest.raises(InvalidInput, match="not an os-release file") as info:
        parse_os_release(text, source="x/os-release")
    assert info.value.location.file == "x/os-release"


def test_too_long_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="longer than"):
        parse_os_release("ID=debian\n" + "#" * 70_000)


@pytest.mark.parametrize(
    ("lines", "ecosystem"),
    [
        ("ID=ubuntu\nVERSION_ID=23.10", "Ubuntu:23.10"),
        ("ID=ubuntu\nVERSION_ID=20.04", "Ubuntu:20.04:LTS"),
        ("ID=ubuntu\nVERSION_ID=21.04", "Ubuntu:21.04"),  # odd year: not LTS
        ("ID=ubuntu\nVERSION_ID=26.04", "Ubuntu:26.04:LTS"),
        ("ID=ubuntu", "Ubuntu"),
        ("ID=debian\nVERSION_CODENAME=trixie", "Debian:13"),
        ("ID=debian", "Debian"),
        ("ID=alpine\nVERSION_ID=3.20.0_alpha20240329", "Alpine:v3.20"),
        ("ID=opensuse-leap\nVERSION_ID=15.5", "openSUSE"),
        ("ID=opensuse-tumbleweed", "openSUSE"),
        ("ID=sles\nVERSION_ID=15.5", "SUSE"),
        ("ID=photon\nVERSION_ID=5.0", "Photon OS:5.0"),
        ("ID=wolfi", "Wolfi"),
        ("ID=chainguard", "Chainguard"),
        ("ID=mageia\nVERSION_ID=9", "Mageia:9"),
        ("ID=fedora\nVERSION_ID=39", None),
        ("ID=linuxmint\nID_LIKE=ubuntu", None),
        ("ID=arch", None),
    ],
)
def test_osv_ecosystem(lines: str, ecosystem: str | None) -> None:
    assert osv_ecosystem(parse_os_release(lines)) == ecosystem


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (MINT_21, ("deb", "linuxmint")),
        ("ID=kali\nID_LIKE=debian", ("deb", "kali")),
        ("ID=opensuse-leap", ("rpm", "opensuse")),
        ("ID=sles", ("rpm", "suse")),
        ("ID=wolfi", ("apk", "wolfi")),
        ("ID=fedora", ("rpm", "fedora")),
        ('ID=amzn\nID_LIKE="centos rhel fedora"', ("rpm", "amazonlinux")),
    ],
)
def test_purl_namespace_of_derivatives(text: str, expected: tuple[str, str]) -> None:
    assert purl_type_and_namespace(parse_os_release(text)) == expected


def test_unknown_distribution_has_no_purl_namespace() -> None:
    with pytest.raises(InvalidInput, match="unknown distribution 'plan9'") as info:
        purl_type_and_namespace(parse_os_release("ID=plan9\n"))
    assert info.value.location.field == "ID"


# --------------------------------------------------------------------------------------------
# End of life
# --------------------------------------------------------------------------------------------

NOV_2026 = date(2026, 11, 15)


@pytest.mark.parametrize(
    ("release", "today", "past"),
    [
        (parse_os_release(DEBIAN_12), NOV_2026, False),
        (parse_os_release(DEBIAN_12), date(2028, 7, 1), True),
        (os_release_for("debian", "10"), date(2024, 6, 30), False),  # the last day is covered
        (os_release_for("debian", "10"), date(2024, 7, 1), True),
        (os_release_for("debian", "11"), NOV_2026, True),  # LTS ended 2026-08-31
        (os_release_for("debian", "9"), NOV_2026, True),
        (parse_os_release(UBUNTU_2204), NOV_2026, False),
        (parse_os_release(UBUNTU_2404), NOV_2026, False),
        (os_release_for("ubuntu", "20.04"), NOV_2026, True),
        (os_release_for("ubuntu", "18.04"), NOV_2026, True),
        (os_release_for("ubuntu", "23.10"), NOV_2026, True),
        (os_release_for("ubuntu", "24.10"), date(2025, 7, 1), False),
        (parse_os_release(ALPINE_319), NOV_2026, True),
        (parse_os_release(ALPINE_319), date(2025, 6, 1), False),
        (os_release_for("alpine", "3.22.2"), NOV_2026, False),
        (os_release_for("alpine", "3.12.0"), NOV_2026, True),
        (parse_os_release(RHEL_9), NOV_2026, False),
        (parse_os_release(ROCKY_9), NOV_2026, False),
        (parse_os_release(ALMA_9), NOV_2026, False),
        (os_release_for("rhel", "7.9"), NOV_2026, True),
        (os_release_for("centos", "7"), NOV_2026, True),
        (os_release_for("windows", "10"), NOV_2026, True),
        (os_release_for("windows", "7"), NOV_2026, True),
        (os_release_for("windows", "server-2016"), NOV_2026, False),
        (os_release_for("windows", "Server-2012-R2"), NOV_2026, True),
    ],
)
def test_end_of_life_decisions(release: OsRelease, today: date, past: bool) -> None:
    entry = end_of_life(release, today)
    assert (entry is not None) is past
    if entry is not None:
        assert entry.distro == release.id
        assert entry.past_eol(today)


def test_paid_extended_support_is_told_apart() -> None:
    focal = end_of_life(os_release_for("ubuntu", "20.04"), NOV_2026)
    assert focal is not None
    assert focal.eol == date(2025, 5, 31)
    assert focal.extended_until == date(2030, 4, 30)
    assert not focal.past_extended(NOV_2026)
    win7 = end_of_life(os_release_for("windows", "7"), NOV_2026)
    assert win7 is not None
    assert win7.past_extended(NOV_2026)
    win2012 = end_of_life(os_release_for("windows", "server-2012"), NOV_2026)
    assert win2012 is not None
    assert win2012.past_extended(NOV_2026)  # ESU year 3 ended 2026-10-13


@pytest.mark.parametrize(
    "release",
    [
        parse_os_release("ID=arch\n"),
        parse_os_release("ID=debian\n"),  # sid: no release
        os_release_for("ubuntu", "12.04"),  # not in the table
        os_release_for("wolfi"),
    ],
)
def test_no_entry_means_no_decision(release: OsRelease) -> None:
    assert end_of_life(release, date(2100, 1, 1)) is None


def test_end_of_life_table_is_consistent() -> None:
    keys = [(e.distro, e.version) for e in END_OF_LIFE]
    assert len(keys) == len(set(keys))
    for entry in END_OF_LIFE:
        assert entry.label
        if entry.extended_until is not None:
            assert entry.extended_until > entry.eol, entry
    required = (
        {("debian", v) for v in ("9", "10", "11", "12", "13")}
        | {("alpine", f"3.{minor}") for minor in range(12, 23)}
        | {(d, v) for d in ("rhel",) for v in ("7", "8", "9", "10")}
        | {("rocky", v) for v in ("8", "9", "10")}
        | {("almalinux", v) for v in ("8", "9", "10")}
        | {("ubuntu", v) for v in ("16.04", "18.04", "20.04", "22.04", "24.04", "26.04")}
        | {
            ("windows", v)
            for v in (
                "7",
                "8.1",
                "10",
                "server-2008",
                "server-2008-r2",
                "server-2012",
                "server-2012-r2",
                "server-2016",
            )
        }
    )
    assert required <= set(keys)
    assert find_end_of_life("rhel", "9.3") == find_end_of_life("RHEL", "9")
    assert find_end_of_life("debian", None) is None


def test_os_release_for_validates() -> None:
    with pytest.raises(InvalidInput):
        os_release_for("  ")
    release = os_release_for("Windows", " 10 ", pretty_name="Windows 10 Pro 22H2")
    assert (release.id, release.version_id, release.label) == (
        "windows",
        "10",
        "Windows 10 Pro 22H2",
    )
    assert osv_ecosystem(release) is None


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_fuzz_os_release_only_invalid_input(text: str) -> None:
    try:
        release = parse_os_release(text)
    except InvalidInput:
        return
    assert release.id
    osv_ecosystem(release)
    end_of_life(release, NOV_2026)
    with contextlib.suppress(InvalidInput):
        purl_type_and_namespace(release)


def test_this_machines_os_release() -> None:
    path = next(
        (p for p in (Path("/etc/os-release"), Path("/usr/lib/os-release")) if p.is_file()), None
    )
    if path is None:
        pytest.skip("this machine has no os-release file")
    release = parse_os_release(path.read_text(encoding="utf-8"), source=str(path))
    assert release.problems == ()
    assert release.id
    end_of_life(release, NOV_2026)  # any answer, no error

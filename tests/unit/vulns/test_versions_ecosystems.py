"""Hand-checked orders per ecosystem, taken from each scheme's specification or reference tests.

Each ``ORDERED`` list is strictly ascending under its ecosystem (every pair i < j is checked,
and shuffling then sorting by key gives the list back); ``EQUAL`` pairs spell one version two
ways; ``INVALID`` texts are refused with InvalidInput.
"""

from __future__ import annotations

import random

import pytest

from maat.errors import InvalidInput
from maat.vulns.versions import SEMVER, Comparator, comparator_for


def _comparator(ecosystem: str) -> Comparator:
    if ecosystem == "SEMVER":
        return SEMVER
    comparator = comparator_for(ecosystem)
    assert comparator is not None
    return comparator


ORDERED: list[tuple[str, list[str]]] = [
    # PEP 440, "Summary of permitted suffixes and relative ordering", plus epochs.
    (
        "PyPI",
        [
            "1.dev0",
            "1.0.dev456",
            "1.0a1",
            "1.0a2.dev456",
            "1.0a12.dev456",
            "1.0a12",
            "1.0b1.dev456",
            "1.0b2",
            "1.0b2.post345.dev456",
            "1.0b2.post345",
            "1.0rc1.dev456",
            "1.0rc1",
            "1.0",
            "1.0+abc.5",
            "1.0+abc.7",
            "1.0+5",
            "1.0.post456.dev34",
            "1.0.post456",
            "1.0.15",
            "1.1.dev1",
            "1.1",
            "2.0",
            "10.0",
            "1!0.1",
            "1!1.0",
            "2!0.0.1",
        ],
    ),
    ("PyPI", ["0.9", "0.10", "0.10.1", "1.0.0.0.1", "1.1a1", "1.1b1", "1.1rc1", "1.1"]),
    ("PyPI", ["1.0+1", "1.0+2", "1.0+10", "1.0+10.a"]),
    # semver.org, item 11.
    (
        "SEMVER",
        [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "2.0.0",
            "2.1.0",
            "2.1.1",
        ],
    ),
    (
        "SEMVER",
        [
            "0.0.0-0",
            "0.0.0",
            "0.0.1",
            "0.1",
            "0.1.1",
            "1",
            "1.0.1-x-y",
            "1.0.1",
            "1.10.0",
            "10.0.0",
        ],
    ),
    (
        "npm",
        [
            "1.0.0-0",
            "1.0.0-1",
            "1.0.0-10",
            "1.0.0-Alpha",
            "1.0.0-a",
            "1.0.0-a.1",
            "1.0.0-a-b",
            "1.0.0",
            "v1.0.1",
            "1.2.3-rc.1",
            "1.2.3",
            "1.10.0",
        ],
    ),
    (
        "crates.io",
        [
            "0.1.0-alpha.1",
            "0.1.0",
            "0.1.1",
            "0.2.0-pre",
            "0.2.0",
            "1.0.0-rc.1",
            "1.0.0",
            "1.0.10",
            "1.1.0",
        ],
    ),
    ("Hex", ["1.14.0-rc.0", "1.14.0-rc.1", "1.14.0", "1.14.1", "1.15.0-dev", "1.15.0"]),
    # Go: modules, pseudo-versions (base v0.0.0, vX.Y.(Z+1)-0.ts, vX.Y.Z-pre.0.ts).
    (
        "Go",
        [
            "v0.0.0-20191109021931-daa7c04131f5",
            "v0.0.0-20200101000000-000000000000",
            "v0.0.0",
            "v0.1.0",
            "v1.2.3",
            "v1.2.4-0.20191109021931-daa7c04131f5",
            "v1.2.4-0.20200101000000-abcdefabcdef",
            "v1.2.4-pre",
            "v1.2.4-pre.0.20200101000000-abcdef",
            "v1.2.4",
            "1.2.5",
            "v2.0.0-rc.1+incompatible",
            "v2.0.0+incompatible",
            "v2.0.1",
        ],
    ),
    # NuGet: SemVer 2 with a revision part, labels without regard to case.
    (
        "NuGet",
        [
            "1.0.0-alpha",
            "1.0.0-alpha.2",
            "1.0.0-alpha.10",
            "1.0.0-Beta",
            "1.0.0-rc.1",
            "1.0.0",
            "1.0.0.1",
            "1.0.1-preview1",
            "1.0.1",
            "1.1",
            "2.0.0.0",
        ],
    ),
    # Maven, ComparableVersionTest (maven-artifact).
    (
        "Maven",
        [
            "1-alpha2snapshot",
            "1-alpha2",
            "1-alpha-123",
            "1-beta-2",
            "1-beta123",
            "1-m2",
            "1-m11",
            "1-rc",
            "1-cr2",
            "1-rc123",
            "1-SNAPSHOT",
            "1",
            "1-sp",
            "1-sp2",
            "1-sp123",
            "1-abc",
            "1-def",
            "1-pom-1",
            "1-1-snapshot",
            "1-1",
            "1-2",
            "1-123",
        ],
    ),
    (
        "Maven",
        [
            "2.0",
            "2.0.a",
            "2-1",
            "2.0.2",
            "2.0.123",
            "2.1.0",
            "2.1-a",
            "2.1b",
            "2.1-c",
            "2.1-1",
            "2.1.0.1",
            "2.2",
            "2.123",
            "11.a2",
            "11.a11",
            "11.b2",
            "11.b11",
            "11.m2",
            "11.m11",
            "11",
            "11.a",
            "11b",
            "11c",
            "11m",
        ],
    ),
    (
        "Maven",
        [
            "1.0-alpha-1",
            "1.0-alpha-2",
            "1.0-beta-1",
            "1.0-SNAPSHOT",
            "1.0",
            "1.0-1",
            "1.0-2",
            "2.0-1",
            "2.0.1",
            "2.0.1-klm",
            "2.0.1-lmn",
            "2.0.1-xyz",
            "2.0.1-123",
        ],
    ),
    (
        "Maven",
        [
            "1.0.0.RC1",
            "1.0.0-RC2",
            "5.3.0.M1",
            "5.3.0.RC1",
            "5.3.0.RELEASE",
            "5.3.1",
            "6.1.0rc3",
            "6.1.0",
            "6.1H.5-beta",
        ],
    ),
    (
        "Maven",
        [
            "20190126.230843",
            "1234567890.12345",
            "123456789012345.1H.5-beta",
            "12345678901234567890.1H.5-beta",
        ],
    ),
    ("Maven", ["1-0.alpha", "1-0.beta", "1", "1.0.final-redhat", "1.0-sp1-redhat"]),
    # RubyGems, Gem::Version's tests.
    (
        "RubyGems",
        [
            "0.0.beta",
            "0.beta.1",
            "1.0.a",
            "1.0.b1",
            "1.0.rc1",
            "1.0",
            "1.0.1",
            "1.8.2.a",
            "1.8.2.a9",
            "1.8.2.a10",
            "1.8.2.b",
            "1.8.2",
            "5.a",
            "5.0.0.rc2",
            "5.x",
            "5.0.0",
            "10.0",
        ],
    ),
    ("RubyGems", ["2.0.0-rc1", "2.0.0-rc2", "2.0.0", "2.0.0.1", "2.0.1"]),
    # Packagist: Composer normalisation then PHP version_compare (php-src tests).
    (
        "Packagist",
        ["1.0-dev", "1.0a1", "1.0b1", "1.0RC1", "1.0", "1.0pl1", "1.0.1", "1.1", "1.2", "2", "10"],
    ),
    (
        "Packagist",
        [
            "v1.0.0-alpha",
            "v1.0.0-alpha2",
            "1.0.0-beta.1",
            "1.0.0-beta2",
            "1.0.0-RC1",
            "1.0.0",
            "1.0.0-p1",
            "1.0.0.1",
            "1.0.1-dev",
            "1.0.1",
            "2.1.0",
            "2.1.x-dev",
            "2010-01-02",
            "20100102-203040",
        ],
    ),
    # Debian: deb-version(7) and dpkg.
    (
        "Debian",
        [
            "0.9",
            "1.0~~",
            "1.0~~a",
            "1.0~",
            "1.0~rc1",
            "1.0",
            "1.0-0.1",
            "1.0-1",
            "1.0-1ubuntu1",
            "1.0-1+b1",
            "1.0a",
            "1.0+dfsg-1",
            "1.0.1",
            "1.01.1",
            "2.0",
            "1:0.9",
            "2:0.1",
        ],
    ),
    (
        "Debian",
        [
            "2.30-8",
            "2.30-8+deb12u1",
            "2.30-8+deb12u2",
            "2.30-8+deb12u10",
            "2.30-9~bpo11+1",
            "2.30-9",
            "2.31-1~exp1",
            "2.31-1",
        ],
    ),
    (
        "Ubuntu",
        ["2.35-0ubuntu3", "2.35-0ubuntu3.1", "2.35-0ubuntu3.10", "2.35-0ubuntu4", "1:1.0-1"],
    ),
    # Alpine: apk-tools' version tests.
    (
        "Alpine",
        [
            "1.0_alpha",
            "1.0_alpha2",
            "1.0_beta",
            "1.0_pre1",
            "1.0_rc1",
            "1.0",
            "1.0-r1",
            "1.0_cvs",
            "1.0_svn",
            "1.0_git",
            "1.0_hg",
            "1.0_p1",
            "1.0_p1-r1",
            "1.0a",
            "1.0b",
            "1.0.1",
            "1.1",
            "2.0",
        ],
    ),
    (
        "Alpine",
        [
            "0.7-r1",
            "1.0.0",
            "1.0.1",
            "1.0.4-r3",
            "1.0.4-r4",
            "1.1_alpha1",
            "1.1",
            "1.2",
            "1.2.1",
            "2.2.39-r1",
            "2.3.0b-r1",
            "2.3.0b-r2",
            "3.10.18-r1",
        ],
    ),
    ("Alpine", ["1.0", "1.0~1234-r0", "1.0~1234-r1", "1.0~2345-r0", "1.05", "1.1", "1.10"]),
    ("Alpine", ["1.0.0_pre20191002222144-r0", "1.0.0_pre20210530193627-r0", "1.0.0-r0"]),
    ("Wolfi", ["3.0.13-r0", "3.0.13-r1", "3.0.13-r10", "3.0.14-r0", "3.1.0_rc1-r0"]),
    ("Chainguard", ["1.2.3-r0", "1.2.3-r1", "1.2.4_p1-r0", "1.3-r0"]),
    # RPM: rpm's rpmvercmp tests, then epoch and release.
    (
        "Red Hat",
        [
            "1.0~rc1~git123",
            "1.0~rc1",
            "1.0~rc1^git1",
            "1.0~rc2",
            "1.0",
            "1.0^",
            "1.0^git1~pre",
            "1.0^git1",
            "1.0^git2",
            "1.0^20160101",
            "1.0^20160101^git1",
            "1.0^20160102",
            "1.0.1",
            "1.01a",
            "2.0",
            "5.5p1",
            "5.5p2",
            "5.5p10",
            "5.6p1",
            "6.5p1",
        ],
    ),
    (
        "Rocky Linux",
        [
            "xyz10",
            "xyz10.1",
            "2.0.1",
            "2.0.1a",
            "10a1",
            "10a2",
            "10b2",
            "10xyz",
            "10.1xyz",
            "10.0039",
            "20101121",
            "20101122",
        ],
    ),
    (
        "AlmaLinux",
        [
            "1.0",
            "1.0-1.el9",
            "1.0-1.el9_1",
            "1.0-2.el9",
            "1.0-10.el9",
            "1.1-1.el9",
            "1:0.1-1.el9",
            "2:0.0.1-1",
        ],
    ),
    (
        "SUSE",
        [
            "5.14.21-150500.55.19.1",
            "5.14.21-150500.55.28.1",
            "5.14.21-150500.55.100.1",
            "6.4.0-150600.23.7.3",
        ],
    ),
    ("openSUSE", ["1.0.0-lp154.1.1", "1.0.0-lp154.2.1", "1.0.0-lp155.1.1"]),
    ("Mageia", ["1.0-1.mga8", "1.0-1.mga9", "1.0-2.mga9", "1.1-1.mga9"]),
    ("Photon OS", ["1.0-1.ph4", "1.0-1.ph5", "1.0-2.ph5", "1.0.1-1.ph5"]),
]

EQUAL: list[tuple[str, str, str]] = [
    ("PyPI", "1.0.0", "1.0"),
    ("PyPI", "1.0", "1"),
    ("PyPI", "1.0a1", "1.0.alpha1"),
    ("PyPI", "1.0-a1", "1.0a1"),
    ("PyPI", "1.0c1", "1.0rc1"),
    ("PyPI", "1.0-1", "1.0.post1"),
    ("PyPI", "1.0.DEV1", "1.0.dev1"),
    ("PyPI", "v1.0", "1.0"),
    ("PyPI", "0!1.0", "1.0"),
    ("PyPI", "1.0+ubuntu-1", "1.0+ubuntu.1"),
    ("PyPI", "1.0+Ubuntu.1", "1.0+ubuntu.1"),
    ("PyPI", " 1.0 ", "1.0"),
    ("SEMVER", "1.0.0+20130313144700", "1.0.0"),
    ("SEMVER", "1.0.0-beta+exp.sha.5114f85", "1.0.0-beta"),
    ("SEMVER", "v1.2.3", "1.2.3"),
    ("SEMVER", "1.2", "1.2.0"),
    ("SEMVER", "1", "1.0.0"),
    ("npm", "V1.2.3", "1.2.3"),
    ("Go", "v2.0.0+incompatible", "2.0.0"),
    ("Go", "v1.2.3", "1.2.3"),
    ("NuGet", "1.0.0-Beta", "1.0.0-beta"),
    ("NuGet", "1.01", "1.1.0"),
    ("NuGet", "1.0.0.0", "1.0.0"),
    ("NuGet", "1", "1.0.0"),
    ("NuGet", "1.0.0-rc.01", "1.0.0-rc.1"),
    ("NuGet", "1.0.0+metadata", "1.0.0"),
    ("Maven", "1", "1.0.0"),
    ("Maven", "1", "1-0"),
    ("Maven", "1.0", "1.0-0"),
    ("Maven", "1a", "1-a"),
    ("Maven", "1a", "1.0.0-a"),
    ("Maven", "1cr", "1rc"),
    ("Maven", "1a1", "1-alpha-1"),
    ("Maven", "1b2", "1-beta-2"),
    ("Maven", "1m3", "1-milestone-3"),
    ("Maven", "1X", "1x"),
    ("Maven", "1m3", "1MILESTONE3"),
    ("Maven", "1ga", "1"),
    ("Maven", "1release", "1"),
    ("Maven", "1Final", "1"),
    ("Maven", "5.3.0.RELEASE", "5.3.0"),
    ("Maven", "2-alpha", "2.0.0.alpha"),
    ("Maven", "1.0.0-alpha1", "1.0.0-ALPHA1"),
    ("Maven", "01", "1"),
    ("RubyGems", "1.0", "1.0.0"),
    ("RubyGems", "0.beta.1", "0.0.beta.1"),
    ("RubyGems", "1.0.0-rc1", "1.0.0.pre.rc1"),
    ("RubyGems", "1.0.a", "1.a"),
    ("RubyGems", " 1.2 ", "1.2"),
    ("Packagist", "1.0.0", "v1.0"),
    ("Packagist", "1.0RC1", "1.0rc1"),
    ("Packagist", "1.0.0-beta.2", "1.0.0beta2"),
    ("Packagist", "1.0.0-b2", "1.0.0-beta2"),
    ("Packagist", "1.0.0+foo", "1.0.0.0"),
    ("Packagist", "1.0.0-pl3", "1.0.0-patch3"),
    ("Packagist", "2010-01-02", "2010:01:02"),
    ("Debian", "1.0", "1.0-0"),
    ("Debian", "0:1.0", "1.0"),
    ("Debian", "1.01", "1.1"),
    ("Debian", "1.0-00", "1.0-0"),
    ("Debian", " 1.0-1\t", "1.0-1"),
    ("Debian", "0:0:0-0", "0:0:0-0"),
    ("Alpine", "01.2", "1.2"),
    ("Red Hat", "0:1.0-1", "1.0-1"),
    ("Red Hat", "10.0001", "10.1"),
    ("Red Hat", "2_0", "2.0"),
    ("Red Hat", "1.0a", "1.0.a"),
    ("Red Hat", "1..0", "1.0"),
]

INVALID: list[tuple[str, str]] = [
    ("PyPI", "french toast"),
    ("PyPI", "1.0-beta-foo"),
    ("PyPI", "2.0.0.final"),
    ("PyPI", "1.0.0-SNAPSHOT"),
    ("PyPI", "1.0+"),
    ("SEMVER", "1.2.3.4"),
    ("SEMVER", "01.2.3"),
    ("SEMVER", "1.2.3-01"),
    ("SEMVER", "1.2.3-"),
    ("SEMVER", "1.2.3+"),
    ("SEMVER", "1.2.3-alpha..1"),
    ("SEMVER", "a.b.c"),
    ("SEMVER", "1.2.3 "),
    ("npm", "=1.2.3 || 2"),
    ("Go", "v1.2.3-00"),
    ("NuGet", "v1.0.0"),
    ("NuGet", "1.0.0-"),
    ("NuGet", "1.0.0.0.0"),
    ("NuGet", "1.0.0-beta_1"),
    ("Maven", "1.0\t"),
    ("Maven", "1.0 final"),
    ("Maven", "1.0-ü"),
    ("RubyGems", "1.0-"),
    ("RubyGems", "1..0"),
    ("RubyGems", "junk"),
    ("RubyGems", "1.0\n1"),
    ("Packagist", "dev-master"),
    ("Packagist", "dev-feature/foo"),
    ("Packagist", "master"),
    ("Packagist", "1.0.0-gamma"),
    ("Packagist", "feature-dev"),
    ("Packagist", "123456.1.2.3"),
    ("Debian", "1:"),
    ("Debian", "a:1.0"),
    ("Debian", "-1:1.0"),
    ("Debian", "99999999999:1.0"),
    ("Debian", "1.0 1"),
    ("Debian", "-1"),
    ("Debian", "1.0-"),
    ("Debian", "abc3-0"),
    ("Debian", "1.0_1"),
    ("Debian", "1.0-1:2"),
    ("Debian", "1.0-1_2"),
    ("Alpine", "1.0-1"),
    ("Alpine", "1.0_foo"),
    ("Alpine", "1.0bc"),
    ("Alpine", "1.0A"),
    ("Alpine", "1.0-r1-r2"),
    ("Alpine", "1.0~"),
    ("Alpine", "1.0~xyz"),
    ("Alpine", "1.0a1"),
    ("Alpine", ".1"),
    ("Alpine", "1..1"),
    ("Red Hat", "1.0-"),
    ("Red Hat", "1:"),
    ("Red Hat", "a:1.0-1"),
    ("Red Hat", "1.0 -1"),
]


@pytest.mark.parametrize(("ecosystem", "versions"), ORDERED)
def test_ordered_lists_are_strictly_ascending(ecosystem: str, versions: list[str]) -> None:
    comparator = _comparator(ecosystem)
    keys = [comparator.key(v) for v in versions]
    for i, low in enumerate(keys):
        for j in range(i + 1, len(keys)):
            high = keys[j]
            assert low < high, f"{versions[i]} < {versions[j]}"
            assert low <= high
            assert not high < low
            assert low != high


@pytest.mark.parametrize(("ecosystem", "versions"), ORDERED)
def test_sorting_shuffled_lists_by_key_restores_them(ecosystem: str, versions: list[str]) -> None:
    comparator = _comparator(ecosystem)
    rng = random.Random(len(versions))
    for _ in range(5):
        shuffled = versions[:]
        rng.shuffle(shuffled)
        assert sorted(shuffled, key=comparator.key) == versions


def test_every_ecosystem_has_at_least_ten_hand_checked_pairs() -> None:
    pairs: dict[str, int] = {}
    for ecosystem, versions in ORDERED:
        base = ecosystem
        pairs[base] = pairs.get(base, 0) + len(versions) - 1
    for ecosystem, _, _ in EQUAL:
        pairs[ecosystem] = pairs.get(ecosystem, 0) + 1
    families = {
        "PyPI": ["PyPI"],
        "SemVer": ["SEMVER", "npm", "crates.io", "Hex"],
        "Go": ["Go"],
        "NuGet": ["NuGet"],
        "Maven": ["Maven"],
        "RubyGems": ["RubyGems"],
        "Packagist": ["Packagist"],
        "dpkg": ["Debian", "Ubuntu"],
        "apk": ["Alpine", "Wolfi", "Chainguard"],
        "rpm": ["Red Hat", "Rocky Linux", "AlmaLinux", "SUSE", "openSUSE", "Mageia", "Photon OS"],
    }
    for family, members in families.items():
        assert sum(pairs.get(m, 0) for m in members) >= 10, family


@pytest.mark.parametrize(("ecosystem", "left", "right"), EQUAL)
def test_equal_spellings_give_equal_keys(ecosystem: str, left: str, right: str) -> None:
    comparator = _comparator(ecosystem)
    a, b = comparator.key(left), comparator.key(right)
    assert a == b
    assert hash(a) == hash(b)
    assert a <= b
    assert not a < b


@pytest.mark.parametrize(("ecosystem", "text"), INVALID)
def test_invalid_versions_are_refused_with_the_ecosystem_named(ecosystem: str, text: str) -> None:
    comparator = _comparator(ecosystem)
    with pytest.raises(InvalidInput) as info:
        comparator.key(text)
    assert comparator.name in info.value.message
    assert info.value.location.field == "version"


@pytest.mark.parametrize(
    ("ecosystem", "low", "high"),
    [
        ("Debian", "1.0~rc1", "1.0"),
        ("Debian", "2.0", "1:0.9"),
        ("Debian", "1.0-1", "1.0-1ubuntu1"),
        ("Debian", "2.30-8", "2.30-8+deb12u1"),
        ("Maven", "1-1", "1.1"),
        ("Maven", "1.0-alpha1", "1.0"),
        ("Maven", "1.0.0.RC1", "1.0.0-RC2"),
        ("Maven", "1-foo2", "1-foo10"),
        ("Maven", "1-sp", "1-foo"),
        ("RubyGems", "1.0.a", "1.0"),
        ("Alpine", "1.2.3-r4", "1.2.3-r5"),
        ("Alpine", "1.2a", "1.2.1"),
        ("Alpine", "1.2", "1.2a"),
        ("Red Hat", "1.0", "1.0-1"),
        ("Red Hat", "9.9-9", "1:0.1-1"),
        ("PyPI", "1.0", "1.0+local"),
        ("PyPI", "2.0", "1!1.0"),
        ("Packagist", "2010-01-02", "2010.01.02"),  # date 2010.01.02 < classical 2010.01.02.0
    ],
)
def test_pairs_named_in_the_design(ecosystem: str, low: str, high: str) -> None:
    comparator = _comparator(ecosystem)
    assert comparator.key(low) < comparator.key(high)


def test_maven_canonical_forms_of_mng_7644() -> None:
    maven = _comparator("Maven")
    for x in ["abc", "alpha", "a", "beta", "b", "def", "milestone", "m", "RC"]:
        assert maven.key(f"1.0.0.{x}1") < maven.key(f"1.0.0-{x}2")
        assert maven.key(f"2-{x}") == maven.key(f"2.0.{x}") == maven.key(f"2.0.0.{x}")


def test_maven_mng_7714_final_below_service_packs() -> None:
    maven = _comparator("Maven")
    final = maven.key("1.0.final-redhat")
    for sp in ["1.0-sp1-redhat", "1.0-sp-1-redhat", "1.0-sp.1-redhat"]:
        assert final < maven.key(sp)


def test_maven_leading_zeroes_are_ignored() -> None:
    maven = _comparator("Maven")
    ones = {maven.key("0" * n + "1") for n in range(19)}
    zeros = {maven.key("0" * n + "0") for n in range(1, 19)}
    assert len(ones) == 1
    assert len(zeros) == 1
    assert maven.key("0.7") < maven.key("2")
    assert maven.key("0.2") < maven.key("1.0.7")


def test_apk_leading_zero_numbers_compare_as_text() -> None:
    apk = _comparator("Alpine")
    assert apk.key("1.05") < apk.key("1.1") < apk.key("1.10")
    assert apk.key("1.0") < apk.key("1.00")
    assert apk.key("1.001") < apk.key("1.01") < apk.key("1.1")

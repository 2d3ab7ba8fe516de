"""Version comparators: the registry, the ZERO sentinel, errors and the shape of keys."""

from __future__ import annotations

import pytest

from maat.errors import InvalidInput, MaatError
from maat.vulns.versions import (
    MAX_VERSION_LENGTH,
    MINIMUM,
    SEMVER,
    ZERO,
    Comparator,
    comparator_for,
    ecosystems,
)

# One plain version per comparator, and one that only its ecosystem would refuse.
SAMPLES: dict[str, tuple[str, str]] = {
    "PyPI": ("1.2.3", "1.2.3-SNAPSHOT"),
    "npm": ("1.2.3-beta.1", "1.2.3.4"),
    "crates.io": ("0.4.20", "0.4.x"),
    "Hex": ("1.15.0-rc.0", "1..2"),
    "Go": ("v0.0.0-20191109021931-daa7c04131f5", "v1.02.3"),
    "NuGet": ("1.0.0.1-Beta", "1.0.0.0.0"),
    "Maven": ("1.0.0.RELEASE", "1.0 beta"),
    "RubyGems": ("1.0.0.pre.rc1", "a1.0"),
    "Packagist": ("v1.0.0-beta2", "dev-master"),
    "Debian": ("1:2.30-8+deb12u1", "a1.0"),
    "Ubuntu": ("2.35-0ubuntu3.1", "1.0-"),
    "Alpine": ("1.2.3_rc1-r4", "1.2.3-r"),
    "Wolfi": ("3.0.13-r0", "3.0.13-1"),
    "Chainguard": ("1.2.3-r1", "1.2.3_foo"),
    "Red Hat": ("1:1.2.3-4.el9_2", "1.0-"),
    "Rocky Linux": ("2.28-225.el9", "x:1.0-1"),
    "AlmaLinux": ("0:4.18.0-513.el8", "1.0 -1"),
    "openSUSE": ("1.2.3-150400.3.1", "-1"),
    "SUSE": ("5.14.21-150500.55.19.1", "1:"),
    "Mageia": ("1.0-1.mga9", ":1.0-1-"),
    "Photon OS": ("1.0^git1-2.ph5", "é"),
    "openEuler": ("2.34-1.oe2203", " 1.0"),
    "Azure Linux": ("1.0-1.azl3", "1.0-1\n"),
}


def test_every_listed_ecosystem_has_a_sample() -> None:
    assert set(ecosystems()) == set(SAMPLES)


@pytest.mark.parametrize(
    ("ecosystem", "name"),
    [
        ("PyPI", "PyPI"),
        ("npm", "npm"),
        ("Go", "Go"),
        ("Maven", "Maven"),
        ("crates.io", "crates.io"),
        ("RubyGems", "RubyGems"),
        ("NuGet", "NuGet"),
        ("Packagist", "Packagist"),
        ("Hex", "Hex"),
        ("Debian", "Debian"),
        ("Debian:12", "Debian"),
        ("Ubuntu", "Ubuntu"),
        ("Ubuntu:22.04:LTS", "Ubuntu"),
        ("Ubuntu:Pro:18.04:LTS", "Ubuntu"),
        ("Alpine", "Alpine"),
        ("Alpine:v3.18", "Alpine"),
        ("Wolfi", "Wolfi"),
        ("Chainguard", "Chainguard"),
        ("Red Hat", "Red Hat"),
        ("Red Hat:enterprise_linux:9::appstream", "Red Hat"),
        ("Rocky Linux", "Rocky Linux"),
        ("Rocky Linux:9", "Rocky Linux"),
        ("AlmaLinux", "AlmaLinux"),
        ("AlmaLinux:8", "AlmaLinux"),
        ("openSUSE", "openSUSE"),
        ("openSUSE:Leap 15.5", "openSUSE"),
        ("SUSE", "SUSE"),
        ("SUSE:Linux Enterprise Server 15 SP5", "SUSE"),
        ("Mageia", "Mageia"),
        ("Mageia:9", "Mageia"),
        ("Photon OS", "Photon OS"),
        ("Photon OS:5.0", "Photon OS"),
    ],
)
def test_comparator_for_osv_names_with_and_without_release(ecosystem: str, name: str) -> None:
    comparator = comparator_for(ecosystem)
    assert comparator is not None
    assert comparator.name == name


@pytest.mark.parametrize(
    "ecosystem",
    [
        "GitHub Actions",
        "OSS-Fuzz",
        "Linux",
        "Android",
        "Unknown",
        "",
        "pypi",
        "debian:12",
        "ConanCenter",
        "Pub",
        "Hackage",
        "CRAN",
        "SwiftURL",
        "Bitnami",
    ],
)
def test_ecosystems_without_comparator_answer_none(ecosystem: str) -> None:
    assert comparator_for(ecosystem) is None


def test_semver_comparator_is_separate_from_ecosystem_ones() -> None:
    assert SEMVER.name == "semver"
    assert SEMVER.key("1.2") == SEMVER.key("1.2.0")
    assert SEMVER.key("1.0.0-alpha") < SEMVER.key("1.0.0")
    names = {comparator_for(e).name for e in ecosystems()}  # type: ignore[union-attr]
    assert SEMVER.name not in names


def test_comparators_satisfy_the_protocol() -> None:
    comparators: list[Comparator] = [SEMVER]
    comparators += [c for e in ecosystems() if (c := comparator_for(e)) is not None]
    for comparator in comparators:
        assert isinstance(comparator.name, str)
        assert comparator.name in repr(comparator)


@pytest.mark.parametrize("ecosystem", sorted(SAMPLES))
def test_zero_is_below_every_version_and_equal_only_to_itself(ecosystem: str) -> None:
    comparator = comparator_for(ecosystem)
    assert comparator is not None
    zero = comparator.key(ZERO)
    assert zero == MINIMUM
    assert zero == comparator.key("0")
    good, _ = SAMPLES[ecosystem]
    key = comparator.key(good)
    assert zero < key
    assert zero <= key
    assert not key < zero
    assert zero != key
    assert zero <= zero
    assert hash(zero) == hash(comparator.key(ZERO))


@pytest.mark.parametrize(
    ("ecosystem", "lowest"),
    [
        ("PyPI", "0.dev0"),  # PEP 440 puts this below "0" itself
        ("PyPI", "0a0"),
        ("npm", "0.0.0-0"),
        ("Go", "v0.0.0-20000101000000-000000000000"),
        ("NuGet", "0.0.0-0"),
        ("Maven", "0-alpha-1"),
        ("RubyGems", "0.a"),
        ("Packagist", "0.0.0-dev"),
        ("Debian", "0~~"),
        ("Alpine", "0_alpha"),
        ("Red Hat", "0~0-0"),
    ],
)
def test_zero_is_below_even_versions_the_ecosystem_puts_below_0(
    ecosystem: str, lowest: str
) -> None:
    comparator = comparator_for(ecosystem)
    assert comparator is not None
    assert comparator.key(ZERO) < comparator.key(lowest)
    assert SEMVER.key(ZERO) < SEMVER.key("0.0.0-0")


@pytest.mark.parametrize("ecosystem", sorted(SAMPLES))
def test_unparsable_version_raises_invalid_input_naming_ecosystem_and_reason(
    ecosystem: str,
) -> None:
    comparator = comparator_for(ecosystem)
    assert comparator is not None
    _, bad = SAMPLES[ecosystem]
    with pytest.raises(InvalidInput) as info:
        comparator.key(bad)
    error = info.value
    assert isinstance(error, MaatError)
    assert error.location.field == "version"
    assert ecosystem in error.message
    assert repr(bad) in error.message
    reason = error.message.split(": ", 1)[1]
    assert len(reason) > 5
    assert "version" in error.diagnostics()


@pytest.mark.parametrize("ecosystem", sorted(SAMPLES))
def test_empty_and_overlong_versions_are_refused(ecosystem: str) -> None:
    comparator = comparator_for(ecosystem)
    assert comparator is not None
    with pytest.raises(InvalidInput):
        comparator.key("")
    overlong = "1." * MAX_VERSION_LENGTH + "1"
    with pytest.raises(InvalidInput, match="longer than") as info:
        comparator.key(overlong)
    assert len(info.value.message) < 200


@pytest.mark.parametrize("ecosystem", sorted(SAMPLES))
def test_keys_are_hashable_tuples_equal_for_equal_text(ecosystem: str) -> None:
    comparator = comparator_for(ecosystem)
    assert comparator is not None
    good, _ = SAMPLES[ecosystem]
    first, second = comparator.key(good), comparator.key(good)
    assert isinstance(first, tuple)
    assert first == second
    assert hash(first) == hash(second)
    assert {first, second, comparator.key(ZERO)} == {first, MINIMUM}
    assert all(isinstance(part, int | str) for part in first)


def test_invalid_input_is_raised_not_returned_for_every_comparator_on_junk() -> None:
    junk = ["\x00", "\u202e1.0", "1.0\ud800", "🙂", "1" * 300, "--", "..", "::", "~", "^", "+"]
    for ecosystem in ecosystems():
        comparator = comparator_for(ecosystem)
        assert comparator is not None
        for text in junk:
            try:
                key = comparator.key(text)
            except InvalidInput:
                continue
            assert isinstance(key, tuple)

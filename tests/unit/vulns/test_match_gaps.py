"""Ranges the matcher cannot evaluate must not turn into a silent "not affected".

OSV says a version is affected when it lies in *any* range or is listed in ``versions``. When
one range of an entry cannot be evaluated (an event its comparator cannot read, a subject
version a SEMVER range cannot read), the version may lie in exactly that range: the pair is
reported as skipped with the reason, never cleared. GIT ranges beside version ranges are
commit detail of the same fix and stay no gap.
"""

from __future__ import annotations

from maat.vulns.match import Matcher
from vulns_kit import advisory, eco_range, index_of, subject


def test_unreadable_second_range_is_reported_not_cleared() -> None:
    index = index_of(
        advisory(
            "OSV-G1",
            "PyPI",
            "demo",
            ranges=[
                eco_range(("introduced", "0"), ("fixed", "1.0")),
                eco_range(("introduced", "2.0"), ("fixed", "2.5-not-pep-440")),
            ],
        )
    )
    result = Matcher(index).match([subject("PyPI", "demo", "2.1")])
    assert result.matches == []
    assert [s.advisory_id for s in result.skipped] == ["OSV-G1"]
    assert "cannot be parsed" in result.skipped[0].reason


def test_unreadable_range_beside_a_versions_list_is_reported_not_cleared() -> None:
    index = index_of(
        advisory(
            "OSV-G2",
            "PyPI",
            "demo",
            ranges=[eco_range(("introduced", "2.0"), ("fixed", "2.5-not-pep-440"))],
            versions=["2.0"],
        )
    )
    result = Matcher(index).match([subject("PyPI", "demo", "2.1")])
    assert result.matches == []
    assert [s.advisory_id for s in result.skipped] == ["OSV-G2"]


def test_version_a_semver_range_cannot_read_is_reported_not_cleared() -> None:
    index = index_of(
        advisory(
            "OSV-G3",
            "PyPI",
            "demo",
            ranges=[
                eco_range(("introduced", "0"), ("fixed", "0.5")),
                eco_range(("introduced", "0"), ("fixed", "1.0.0"), type_="SEMVER"),
            ],
        )
    )
    result = Matcher(index).match([subject("PyPI", "demo", "0.9.post1")])
    assert result.matches == []
    assert [s.advisory_id for s in result.skipped] == ["OSV-G3"]
    assert "semver" in result.skipped[0].reason


def test_listed_or_in_range_still_matches_despite_an_unreadable_range() -> None:
    index = index_of(
        advisory(
            "OSV-G4",
            "PyPI",
            "demo",
            ranges=[
                eco_range(("introduced", "0"), ("fixed", "1.0")),
                eco_range(("introduced", "2.0"), ("fixed", "2.5-not-pep-440")),
            ],
        )
    )
    result = Matcher(index).match([subject("PyPI", "demo", "0.5")])
    assert [m.advisory.id for m in result.matches] == ["OSV-G4"]
    assert result.skipped == []

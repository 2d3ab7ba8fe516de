"""Exact OSV range semantics: the cases that let a vulnerable version slip through or raise a
false alarm in naive matchers."""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest

from maat.errors import InvalidInput
from maat.vulns.index import AdvisoryIndex
from maat.vulns.match import Matcher
from vulns_kit import advisory, eco_range, index_of, subject


def affected(index: AdvisoryIndex, ecosystem: str, package: str, version: str) -> list[str]:
    result = Matcher(index).match([subject(ecosystem, package, version)])
    return sorted(m.advisory.id for m in result.matches)


RANGE = eco_range(
    ("introduced", "1.0"), ("fixed", "1.5"), ("introduced", "2.0"), ("last_affected", "2.3")
)


@pytest.mark.parametrize(
    ("version", "hit"),
    [
        ("0.9", False),
        ("1.0", True),
        ("1.4.9", True),
        ("1.5", False),
        ("1.9", False),
        ("2.0", True),
        ("2.3", True),
        ("2.3.1", False),
        ("3.0", False),
    ],
)
def test_introduced_fixed_and_last_affected_bounds(version: str, hit: bool) -> None:
    index = index_of(advisory("PYSEC-1", "PyPI", "demo", ranges=[RANGE]))
    assert (affected(index, "PyPI", "demo", version) == ["PYSEC-1"]) is hit


def test_introduced_zero_covers_everything_before_the_fix() -> None:
    index = index_of(
        advisory(
            "GHSA-1",
            "npm",
            "left-pad",
            ranges=[eco_range(("introduced", "0"), ("fixed", "1.3.0"), type_="SEMVER")],
        )
    )
    assert affected(index, "npm", "left-pad", "0.0.1") == ["GHSA-1"]
    assert affected(index, "npm", "left-pad", "1.3.0-rc.1") == [
        "GHSA-1"
    ]  # pre-release sorts before
    assert affected(index, "npm", "left-pad", "1.3.0") == []


def test_pep440_prerelease_and_normalised_spelling() -> None:
    index = index_of(
        advisory(
            "PYSEC-2",
            "PyPI",
            "Django_Rest",
            ranges=[eco_range(("introduced", "2.0"), ("fixed", "2.1.0"))],
        )
    )
    assert affected(index, "PyPI", "django-rest", "2.1rc1") == ["PYSEC-2"]  # rc before 2.1.0
    assert affected(index, "PyPI", "DJANGO.REST", "2.1") == []  # 2.1 == 2.1.0, PEP 503 name
    assert affected(index, "PyPI", "django-rest", "2.0.post1") == ["PYSEC-2"]


def test_epoch_puts_a_version_beyond_every_range() -> None:
    index = index_of(
        advisory("PYSEC-3", "PyPI", "ep", ranges=[eco_range(("introduced", "0"), ("fixed", "5.0"))])
    )
    assert affected(index, "PyPI", "ep", "1!1.0") == []
    assert affected(index, "PyPI", "ep", "4.9") == ["PYSEC-3"]


def test_debian_tilde_sorts_before_release() -> None:
    index = index_of(
        advisory(
            "DSA-1",
            "Debian:12",
            "openssl",
            ranges=[eco_range(("introduced", "0"), ("fixed", "3.0.11-1~deb12u2"))],
        )
    )
    assert affected(index, "Debian:12", "openssl", "3.0.11-1~deb12u1") == ["DSA-1"]
    assert affected(index, "Debian:12", "openssl", "3.0.11-1~deb12u2") == []
    assert affected(index, "Debian:12", "openssl", "3.0.11-1") == []  # ~ sorts before nothing
    # Another release of the distribution is not affected by this entry.
    assert affected(index, "Debian:11", "openssl", "1.1.1n-0+deb11u1") == []


def test_versions_list_matches_even_without_ranges_and_under_equal_spelling() -> None:
    index = index_of(advisory("PYSEC-4", "PyPI", "listed", versions=["1.0", "1.1"]))
    assert affected(index, "PyPI", "listed", "1.1") == ["PYSEC-4"]
    assert affected(index, "PyPI", "listed", "1.0.0") == ["PYSEC-4"]  # == 1.0 under PEP 440
    assert affected(index, "PyPI", "listed", "1.2") == []


def test_limit_caps_a_range() -> None:
    index = index_of(
        advisory(
            "X-1",
            "Go",
            "example.com/m",
            ranges=[eco_range(("introduced", "0"), ("limit", "v1.2.0"), type_="SEMVER")],
        )
    )
    assert affected(index, "Go", "example.com/m", "v1.1.9") == ["X-1"]
    assert affected(index, "Go", "example.com/m", "v1.2.0") == []


def test_multiple_ranges_any_one_suffices() -> None:
    index = index_of(
        advisory(
            "PYSEC-5",
            "PyPI",
            "multi",
            ranges=[
                eco_range(("introduced", "1.0"), ("fixed", "1.1")),
                eco_range(("introduced", "3.0"), ("fixed", "3.2")),
            ],
        )
    )
    assert affected(index, "PyPI", "multi", "3.1") == ["PYSEC-5"]
    assert affected(index, "PyPI", "multi", "2.0") == []


def test_withdrawn_advisory_raises_no_finding_but_is_counted() -> None:
    index = index_of(
        advisory(
            "PYSEC-6",
            "PyPI",
            "gone",
            ranges=[eco_range(("introduced", "0"))],
            withdrawn="2024-02-01T00:00:00Z",
        )
    )
    result = Matcher(index).match([subject("PyPI", "gone", "1.0")])
    assert result.matches == []
    assert result.withdrawn_ignored == 1


def test_git_only_range_is_reported_as_skipped_not_dropped() -> None:
    index = index_of(
        advisory(
            "OSV-1",
            "PyPI",
            "gitonly",
            ranges=[
                {
                    "type": "GIT",
                    "repo": "https://example.org/r.git",
                    "events": [{"introduced": "abc123"}],
                }
            ],
        )
    )
    result = Matcher(index).match([subject("PyPI", "gitonly", "1.0")])
    assert result.matches == []
    assert [s.advisory_id for s in result.skipped] == ["OSV-1"]
    assert "GIT" in result.skipped[0].reason


def test_git_range_beside_ecosystem_range_is_not_a_skip() -> None:
    index = index_of(
        advisory(
            "OSV-2",
            "PyPI",
            "both",
            ranges=[
                {
                    "type": "GIT",
                    "repo": "https://example.org/r.git",
                    "events": [{"introduced": "abc"}],
                },
                eco_range(("introduced", "0"), ("fixed", "2.0")),
            ],
        )
    )
    result = Matcher(index).match([subject("PyPI", "both", "2.5")])
    assert result.matches == []
    assert result.skipped == []


def test_unparsable_component_version_is_skipped_with_reason() -> None:
    index = index_of(advisory("PYSEC-7", "PyPI", "weird", ranges=[eco_range(("introduced", "0"))]))
    result = Matcher(index).match([subject("PyPI", "weird", "not a version!")])
    assert result.matches == []
    assert "cannot be compared" in result.skipped[0].reason


def test_ecosystem_without_comparator_is_skipped_with_reason() -> None:
    index = index_of(
        advisory(
            "GHA-1",
            "GitHub Actions",
            "actions/checkout",
            ranges=[eco_range(("introduced", "0"), ("fixed", "4.0.0"))],
        )
    )
    result = Matcher(index).match([subject("GitHub Actions", "actions/checkout", "3.0.0")])
    assert "no version comparator" in result.skipped[0].reason


def test_aliases_merge_into_one_finding() -> None:
    index = index_of(
        advisory(
            "PYSEC-8",
            "PyPI",
            "dup",
            ranges=[eco_range(("introduced", "0"), ("fixed", "2"))],
            aliases_=["CVE-2024-0001"],
        ),
        advisory(
            "GHSA-xxxx-yyyy-zzzz",
            "PyPI",
            "dup",
            ranges=[eco_range(("introduced", "0"), ("fixed", "2"))],
            aliases_=["CVE-2024-0001"],
        ),
    )
    result = Matcher(index).match([subject("PyPI", "dup", "1.0")])
    assert len(result.matches) == 1
    assert set(result.matches[0].advisory.ids) == {
        "CVE-2024-0001",
        "PYSEC-8",
        "GHSA-xxxx-yyyy-zzzz",
    }


def test_index_round_trips_through_bytes() -> None:
    index = index_of(
        advisory(
            "PYSEC-9",
            "PyPI",
            "rt",
            ranges=[RANGE],
            versions=["9.9"],
            severity="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        )
    )
    loaded = AdvisoryIndex.from_bytes(index.to_bytes())
    assert loaded.advisories == index.advisories
    assert affected(loaded, "PyPI", "rt", "1.2") == ["PYSEC-9"]
    assert affected(loaded, "PyPI", "rt", "9.9") == ["PYSEC-9"]
    assert loaded.advisories[0].score == 9.8


def test_fixed_versions_of_every_applying_entry_of_an_advisory_are_united() -> None:
    doc = advisory(
        "GHSA-m", "PyPI", "split", ranges=[eco_range(("introduced", "0"), ("fixed", "1.5"))]
    )
    doc["affected"].append(
        {
            "package": {"ecosystem": "PyPI", "name": "split"},
            "ranges": [eco_range(("introduced", "1.0"), ("fixed", "1.4.2"))],
        }
    )
    doc["affected"].append(
        {
            "package": {"ecosystem": "PyPI", "name": "split"},
            "ranges": [eco_range(("introduced", "2.0"), ("fixed", "2.1"))],  # does not apply
        }
    )
    result = Matcher(index_of(doc)).match([subject("PyPI", "split", "1.2")])
    (match,) = result.matches
    assert match.fixed_versions == ("1.5", "1.4.2")
    assert result.skipped == []


def test_entry_without_ranges_or_versions_is_skipped_not_clean() -> None:
    index = index_of(advisory("OSV-E", "PyPI", "empty"))
    result = Matcher(index).match([subject("PyPI", "empty", "1.0")])
    assert result.matches == []
    (skip,) = result.skipped
    assert skip.advisory_id == "OSV-E"
    assert "neither ranges nor versions" in skip.reason
    # and beside an entry that matches, the advisory is simply a match
    doc = advisory("OSV-F", "PyPI", "empty", ranges=[eco_range(("introduced", "0"))])
    doc["affected"].append({"package": {"ecosystem": "PyPI", "name": "empty"}})
    result = Matcher(index_of(doc)).match([subject("PyPI", "empty", "1.0")])
    assert [m.advisory.id for m in result.matches] == ["OSV-F"] and result.skipped == []


def test_shared_compiled_cache_gives_the_same_answer_from_every_thread() -> None:
    from concurrent.futures import ThreadPoolExecutor

    index = index_of(
        advisory("PYSEC-T", "PyPI", "threads", ranges=[RANGE], versions=["1.7", "01.8"])
    )
    versions = [f"{major}.{minor}" for major in range(4) for minor in range(10)]

    def run(_: int) -> list[str]:
        matcher = Matcher(index)  # one matcher per thread, one index for all
        return [
            m.subject.version or ""
            for m in matcher.match(subject("PyPI", "threads", v) for v in versions).matches
        ]

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(run, range(32)))
    assert all(a == answers[0] for a in answers)
    assert "1.8" in answers[0] and "1.7" in answers[0] and "2.3" in answers[0]
    (entry,) = index.lookup("PyPI", "threads")
    with pytest.raises(AttributeError):
        entry.compiled.version_keys = frozenset()  # frozen once built and shared


def test_red_hat_stream_advisory_matches_a_host_of_unknown_release_and_says_so() -> None:
    index = index_of(
        advisory(
            "RHSA-2024:1",
            "Red Hat:enterprise_linux:9::appstream",
            "openssl-libs",
            ranges=[eco_range(("introduced", "0"), ("fixed", "1:3.0.7-27.el9"))],
        )
    )
    (match,) = Matcher(index).match([subject("Red Hat", "openssl-libs", "1:3.0.7-25.el9")]).matches
    assert match.fixed_versions == ("1:3.0.7-27.el9",)
    assert "release not checked" in match.how


def test_debian_advisory_for_a_release_the_subject_lacks_stays_skipped() -> None:
    index = index_of(
        advisory(
            "DSA-1",
            "Debian:12",
            "openssl",
            ranges=[eco_range(("introduced", "0"), ("fixed", "3.0.11-1~deb12u1"))],
        )
    )
    result = Matcher(index).match([subject("Debian", "openssl", "3.0.9-1")])
    assert result.matches == []
    assert "release is unknown" in result.skipped[0].reason
    result = Matcher(index).match([subject("Debian:11", "openssl", "3.0.9-1")])
    assert result.matches == [] and result.skipped == []


def test_npm_names_match_without_regard_to_case() -> None:
    from maat.core.purl import Purl
    from maat.vulns.subjects import subject_from_purl

    index = index_of(
        advisory(
            "GHSA-n",
            "npm",
            "JSONStream",
            ranges=[eco_range(("introduced", "0"), ("fixed", "1.3.1"))],
        )
    )
    purl = Purl.parse("pkg:npm/JSONStream@1.3.0")  # purls lower-case npm names
    found = Matcher(index).match([subject_from_purl(purl, ref="c1")])
    assert [m.advisory.id for m in found.matches] == ["GHSA-n"]


def test_score_is_the_highest_cvss_v3_or_v4_not_a_higher_v2() -> None:
    doc = advisory("CVE-2014-1", "PyPI", "old", ranges=[eco_range(("introduced", "0"))])
    doc["severity"] = [
        {"type": "CVSS_V2", "score": "AV:N/AC:L/Au:N/C:C/I:C/A:C"},  # 10.0
        {"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:L/I:L/A:N"},  # 4.8
    ]
    assert index_of(doc).advisories[0].score == 4.8
    doc["severity"] = doc["severity"][:1]
    assert index_of(doc).advisories[0].score == 10.0  # v2 only as the fallback


def _damaged(change: Any) -> bytes:
    index = index_of(advisory("PYSEC-D", "PyPI", "d", ranges=[RANGE], versions=["9.9"]))
    doc = orjson.loads(index.to_bytes())
    change(doc)
    return orjson.dumps(doc)


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda d: d["affected"][0].__setitem__(0, 5), "affected[0]"),
        (lambda d: d["affected"][0].__setitem__(0, -1), "affected[0]"),
        (lambda d: d["affected"][0].__setitem__(0, True), "affected[0]"),
        (lambda d: d["affected"][0].__setitem__(1, 7), "affected[0]"),
        (lambda d: d["affected"][0].__setitem__(3, [["ECOSYSTEM", [["fixed", 1]]]]), "affected[0]"),
        (lambda d: d["affected"][0].__setitem__(3, [["ECOSYSTEM", {"a": 1}]]), "affected[0]"),
        (lambda d: d["affected"][0].__setitem__(4, "9.9"), "affected[0]"),
        (lambda d: d["affected"][0].pop(), "affected[0]"),
        (lambda d: d["affected"].append("x"), "affected[1]"),
        (lambda d: d["advisories"][0].__setitem__(0, None), "advisories[0]"),
        (lambda d: d["advisories"][0].__setitem__(1, "CVE-1"), "advisories[0]"),
        (lambda d: d["advisories"][0].__setitem__(4, "9.8"), "advisories[0]"),
        (lambda d: d["advisories"][0].__setitem__(8, "no"), "advisories[0]"),
        (lambda d: d["advisories"].__setitem__(0, {}), "advisories[0]"),
        (lambda d: d.__setitem__("advisories", {}), "advisories"),
        (lambda d: d.pop("affected"), "affected"),
        (lambda d: d.__setitem__("problems", [["m", 1, None]]), "problems[0]"),
    ],
)
def test_damaged_index_is_invalid_input_not_a_later_crash(change: Any, where: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(f"damaged advisory index at {where}")):
        AdvisoryIndex.from_bytes(_damaged(change), source="idx.json")

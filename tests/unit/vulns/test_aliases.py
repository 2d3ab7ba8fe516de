"""Tests for maat.vulns.aliases: advisories of one vulnerability merged by id and alias."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maat.vulns.aliases import canonical_id, merge_aliases
from maat.vulns.osv import OsvAdvisory, parse_osv

V3 = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"


def adv(
    id: str,
    *aliases: str,
    package: str = "demo",
    related: tuple[str, ...] = (),
    withdrawn: bool = False,
    summary: str = "",
    details: str = "",
    severity: str | None = None,
    modified: str = "2024-01-01T00:00:00Z",
    **extra: Any,
) -> OsvAdvisory:
    doc: dict[str, Any] = {
        "id": id,
        "modified": modified,
        "aliases": list(aliases),
        "related": list(related),
        "summary": summary,
        "details": details,
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": package},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.0"}]}
                ],
            }
        ],
        **extra,
    }
    if withdrawn:
        doc["withdrawn"] = "2024-02-01T00:00:00Z"
    if severity:
        doc["severity"] = [{"type": "CVSS_V3", "score": severity}]
    return parse_osv(doc, source=f"{id}.json")


def test_cve_ghsa_pysec_chain_becomes_one_group_named_by_the_cve() -> None:
    ghsa = adv("GHSA-xxxx-yyyy-zzzz", "CVE-2024-1", summary="Bad thing", severity=V3)
    pysec = adv("PYSEC-2024-7", "GHSA-xxxx-yyyy-zzzz", details="First line.\nSecond.")
    other = adv("PYSEC-2024-8", "CVE-2024-2", package="other")
    merged = merge_aliases([pysec, other, ghsa])
    assert [m.id for m in merged] == ["CVE-2024-1", "CVE-2024-2"]
    first = merged[0]
    assert first.ids == ("CVE-2024-1", "GHSA-xxxx-yyyy-zzzz", "PYSEC-2024-7")
    assert first.aliases == ("GHSA-xxxx-yyyy-zzzz", "PYSEC-2024-7")
    assert [a.id for a in first.advisories] == ["GHSA-xxxx-yyyy-zzzz", "PYSEC-2024-7"]
    assert first.summary == "Bad thing"
    assert len(first.affected) == 1  # identical affected entries are kept once
    assert [s.score for s in first.severity] == [9.8]
    assert first.highest_severity is not None and first.highest_severity.rating == "critical"
    assert not first.withdrawn
    assert first.cve_ids == ("CVE-2024-1",)


def test_related_is_not_followed() -> None:
    a = adv("GHSA-a", "CVE-2024-1", related=("CVE-2024-2",))
    b = adv("GHSA-b", "CVE-2024-2")
    assert [m.ids for m in merge_aliases([a, b])] == [
        ("CVE-2024-1", "GHSA-a"),
        ("CVE-2024-2", "GHSA-b"),
    ]


def test_canonical_id_rules() -> None:
    assert canonical_id(["PYSEC-1", "GHSA-z", "CVE-2020-9"]) == "CVE-2020-9"
    # two CVEs (a group joined through a shared GHSA id): the smallest id
    assert canonical_id(["GHSA-a", "CVE-2021-2", "CVE-2021-1"]) == "CVE-2021-1"
    assert canonical_id(["RUSTSEC-2021-1", "GHSA-b", "GO-2021-1"]) == "GHSA-b"
    assert canonical_id(["DSA-5000-1"]) == "DSA-5000-1"
    with pytest.raises(ValueError, match="at least one id"):
        canonical_id([])


def test_affected_and_severity_are_unions_in_member_order() -> None:
    a = adv("GHSA-a", "CVE-1", package="one", severity=V3, database_specific={"severity": "HIGH"})
    b = adv(
        "PYSEC-b", "CVE-1", package="two", severity="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:H/A:N"
    )
    (m,) = merge_aliases([b, a])
    assert [x.name for x in m.affected] == ["one", "two"]
    assert [(s.type, s.rating) for s in m.severity] == [
        ("CVSS_V3", "critical"),
        ("DATABASE_SPECIFIC", "high"),
        ("CVSS_V3", "high"),
    ]


def test_withdrawn_only_when_every_member_is() -> None:
    a = adv("GHSA-a", "CVE-1", withdrawn=True)
    b = adv("PYSEC-b", "CVE-1")
    assert not merge_aliases([a, b])[0].withdrawn
    c = adv("PYSEC-c", "CVE-1", withdrawn=True)
    assert merge_aliases([a, c])[0].withdrawn


def test_summary_falls_back_to_the_first_line_of_details() -> None:
    (m,) = merge_aliases([adv("PYSEC-1", "CVE-1", details="\n  " + "x" * 300 + "\nmore")])
    assert m.summary == "x" * 199 + "…"
    (m,) = merge_aliases([adv("PYSEC-1", "CVE-1")])
    assert m.summary == ""


def test_times_of_a_group() -> None:
    a = adv("GHSA-a", "CVE-1", modified="2024-05-01T00:00:00Z", published="2024-01-01T00:00:00Z")
    b = adv("PYSEC-b", "CVE-1", modified="2024-03-01T00:00:00Z", published="2023-12-01T00:00:00Z")
    (m,) = merge_aliases([a, b])
    assert m.modified.month == 5
    assert m.published is not None and m.published.year == 2023


def test_long_chains_and_cycles_merge() -> None:
    chain = [adv(f"X-{i}", f"X-{i + 1}") for i in range(500)]
    chain.append(adv("X-500", "X-0"))  # a cycle back to the start
    (m,) = merge_aliases(chain)
    assert len(m.ids) == 501 and m.id == "X-0"


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 12), st.lists(st.integers(0, 12), max_size=3)),
        min_size=1,
        max_size=12,
        unique_by=lambda t: t[0],
    ),
    st.randoms(use_true_random=False),
)
def test_merging_is_a_partition_and_does_not_depend_on_order(
    spec: list[tuple[int, list[int]]], rnd: random.Random
) -> None:
    advisories = [adv(f"ID-{i:02}", *(f"ID-{j:02}" for j in aliases)) for i, aliases in spec]
    merged = merge_aliases(advisories)
    members = [a.id for m in merged for a in m.advisories]
    assert sorted(members) == sorted(a.id for a in advisories)
    for m in merged:
        for a in m.advisories:
            assert set(a.ids) <= set(m.ids)
    # any two groups share no id
    seen: set[str] = set()
    for m in merged:
        assert not seen & set(m.ids)
        seen |= set(m.ids)
    shuffled = list(advisories)
    rnd.shuffle(shuffled)
    assert merge_aliases(shuffled) == merged


def test_withdrawn_member_does_not_widen_a_live_group() -> None:
    from maat.vulns.match import Matcher
    from vulns_kit import advisory, eco_range, index_of, subject

    index = index_of(
        advisory(
            "GHSA-w",
            "PyPI",
            "demo",
            ranges=[eco_range(("introduced", "0"))],  # everything, no fix: why it was withdrawn
            aliases_=["CVE-1"],
            severity="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            withdrawn="2024-02-01T00:00:00Z",
        ),
        advisory(
            "PYSEC-1",
            "PyPI",
            "demo",
            ranges=[eco_range(("introduced", "0"), ("fixed", "1.0"))],
            aliases_=["CVE-1"],
        ),
    )
    (merged,) = index.advisories
    assert merged.ids == ("CVE-1", "GHSA-w", "PYSEC-1") and not merged.withdrawn
    assert merged.score is None  # the withdrawn member's 9.8 is not the group's
    matcher = Matcher(index)
    assert matcher.match([subject("PyPI", "demo", "2.0")]).matches == []
    (hit,) = matcher.match([subject("PyPI", "demo", "0.9")]).matches
    assert hit.fixed_versions == ("1.0",)


def test_all_withdrawn_group_keeps_its_members_affected_entries() -> None:
    a = adv("GHSA-a", "CVE-1", withdrawn=True, severity=V3)
    c = adv("PYSEC-c", "CVE-1", withdrawn=True)
    (m,) = merge_aliases([a, c])
    assert m.withdrawn and len(m.affected) == 1 and [s.score for s in m.severity] == [9.8]

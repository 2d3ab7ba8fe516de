"""Tests for maat.vulns.severity: CVSS vectors scored, text ratings mapped, bad input located."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maat.errors import InvalidInput
from maat.vulns.severity import (
    Severity,
    highest,
    rating_for_score,
    rating_from_text,
    score_cvss,
    severity_from_database_specific,
    severity_from_osv,
)


@pytest.mark.parametrize(
    ("vector", "kind", "score", "rating"),
    [
        # the NVD example of a worst-case network vulnerability
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "CVSS_V3", 9.8, "critical"),
        ("CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", "CVSS_V3", 6.1, "medium"),  # XSS
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:H/A:N", "CVSS_V3", 7.5, "high"),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", "CVSS_V3", 0.0, "none"),
        # CVSS 4.0: FIRST's calculator / specification examples
        (
            "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
            "CVSS_V4",
            9.3,
            "critical",
        ),
        (
            "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:L/VI:L/VA:L/SC:N/SI:N/SA:N",
            "CVSS_V4",
            6.9,
            "medium",
        ),
        # FIRST's v4.0 example for CVE-2022-41741 (nginx mp4 module)
        ("CVSS:4.0/AV:L/AC:L/AT:N/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", "CVSS_V4", 8.5, "high"),
        ("AV:N/AC:L/Au:N/C:C/I:C/A:C", "CVSS_V2", 10.0, "high"),
        ("AV:N/AC:L/Au:N/C:P/I:P/A:P", "CVSS_V2", 7.5, "high"),
    ],
)
def test_known_vectors_score_as_published(
    vector: str, kind: str, score: float, rating: str
) -> None:
    assert score_cvss(vector) == Severity(kind, vector, score, rating)  # type: ignore[arg-type]


def test_base_score_is_used_when_environmental_metrics_are_present() -> None:
    vector = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:H/A:N/CR:X/IR:X/AR:X/MAV:X/MAC:X/MPR:X/MUI:X/MS:X/MC:N/MI:N/MA:N"
    assert score_cvss(vector).score == 7.5


@pytest.mark.parametrize(
    "vector",
    [
        "",
        "   ",
        "garbage",
        "CVSS:3.1/",
        "CVSS:3.1/AV:N",  # mandatory metrics missing
        "CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",  # bad value
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/AV:L",  # repeated metric
        "CVSS:4.0/AV:N",
        "CVSS:9.9/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        "CVSS:3.1/" + "AV:N/" * 200,
    ],
)
def test_bad_vectors_raise_invalid_input_at_the_field(vector: str) -> None:
    with pytest.raises(InvalidInput) as err:
        score_cvss(vector, field="severity[2].score", file="x.json")
    assert err.value.location.field == "severity[2].score"
    assert err.value.location.file == "x.json"


def test_non_string_vector_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="expected a CVSS vector string, got int"):
        score_cvss(7)


@pytest.mark.parametrize(
    ("score", "version", "rating"),
    [
        (0.0, 3, "none"),
        (0.1, 3, "low"),
        (3.9, 3, "low"),
        (4.0, 3, "medium"),
        (6.9, 3, "medium"),
        (7.0, 3, "high"),
        (8.9, 3, "high"),
        (9.0, 3, "critical"),
        (10.0, 4, "critical"),
        (0.0, 2, "low"),
        (6.9, 2, "medium"),
        (10.0, 2, "high"),
    ],
)
def test_rating_boundaries(score: float, version: int, rating: str) -> None:
    assert rating_for_score(score, version=version) == rating


def test_osv_severity_entries() -> None:
    v3 = severity_from_osv(
        {"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}
    )
    assert (v3.type, v3.score, v3.rating) == ("CVSS_V3", 9.8, "critical")
    v4 = severity_from_osv(
        {
            "type": "CVSS_V4",
            "score": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
        }
    )
    assert (v4.score, v4.rating) == (9.3, "critical")
    ubuntu = severity_from_osv({"type": "Ubuntu", "score": "negligible"})
    assert ubuntu == Severity("Ubuntu", "negligible", None, "low")
    other = severity_from_osv({"type": "SOMETHING_NEW", "score": "42"})
    assert other == Severity("SOMETHING_NEW", "42", None, None)


@pytest.mark.parametrize(
    ("entry", "field", "message"),
    [
        (
            {
                "type": "CVSS_V3",
                "score": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
            },
            "severity[1].score",
            "does not match its type",
        ),
        (
            {"type": "CVSS_V2", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"},
            "severity[1].score",
            "does not match its type",
        ),
        ({"type": "CVSS_V3", "score": "CVSS:3.1/AV:N"}, "severity[1].score", "invalid CVSS vector"),
        ({"type": "CVSS_V3"}, "severity[1].score", "must be a string"),
        ({"score": "x"}, "severity[1].type", "non-empty string"),
        ("CVSS:3.1/AV:N", "severity[1]", "expected an object"),
    ],
)
def test_bad_osv_entries_are_located(entry: object, field: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as err:
        severity_from_osv(entry, field="severity[1]", file="a.yaml")
    assert err.value.location.field == field


@pytest.mark.parametrize(
    ("text", "rating"),
    [
        ("HIGH", "high"),
        ("MODERATE", "medium"),
        ("Moderate", "medium"),
        ("LOW", "low"),
        ("CRITICAL", "critical"),
        ("Important", "high"),
        ("negligible", "low"),
        ("untriaged", None),
        ("bogus", None),
        (3, None),
        (None, None),
    ],
)
def test_text_ratings(text: object, rating: str | None) -> None:
    assert rating_from_text(text) == rating


def test_database_specific_severity() -> None:
    assert severity_from_database_specific({"severity": "MODERATE", "cwe_ids": []}) == Severity(
        "DATABASE_SPECIFIC", "MODERATE", None, "medium"
    )
    assert severity_from_database_specific({"severity": "whatever"}) is None
    assert severity_from_database_specific({}) is None
    assert severity_from_database_specific(None) is None


def test_highest_prefers_rating_then_score() -> None:
    low = score_cvss("CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N")
    high = score_cvss("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:H/A:N")
    text_high = Severity("DATABASE_SPECIFIC", "HIGH", None, "high")
    crit = score_cvss("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")
    assert highest([low, text_high, high]) == high
    assert highest([low, crit, high]) == crit
    assert highest([Severity("X", "?", None, None)]) is None
    assert highest([]) is None


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120))
def test_arbitrary_text_raises_only_invalid_input(text: str) -> None:
    for candidate in (text, "CVSS:3.1/" + text, "CVSS:4.0/" + text):
        try:
            result = score_cvss(candidate)
        except InvalidInput:
            continue
        assert result.score is not None and 0.0 <= result.score <= 10.0


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["AV", "AC", "PR", "UI", "S", "C", "I", "A", "AT", "VC", "E", "XX"]),
            st.sampled_from(["N", "L", "H", "P", "R", "U", "C", "A", "X", ""]),
        ),
        max_size=14,
    ),
    st.sampled_from(["CVSS:3.0/", "CVSS:3.1/", "CVSS:4.0/", ""]),
)
def test_near_valid_vectors_raise_only_invalid_input(
    metrics: list[tuple[str, str]], prefix: str
) -> None:
    vector = prefix + "/".join(f"{k}:{v}" for k, v in metrics)
    with contextlib.suppress(InvalidInput):
        severity_from_osv({"type": "CVSS_V3", "score": vector})

"""A malformed severity entry must not cost an advisory its ranges.

Raising on a bad CVSS vector dropped the whole advisory, so every package it names silently
stopped matching: a false negative caused by metadata that says nothing about which versions
are affected. The advisory is kept, the entry is left out of ``severity`` and reported as a
located problem, and a severity nothing else gives is unknown: it ranks as medium (flagged
``severity_unknown``), or as ``database_specific.severity`` when the advisory has one.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from maat.vulns import aliases, osv
from maat.vulns.index import build_index
from maat.vulns.scan import scan
from vulns_kit import advisory, eco_range, subject

BAD_VECTOR = {"type": "CVSS_V3", "score": "CVSS:3.1/AV:N"}
WRONG_TYPE = {"type": "CVSS_V4", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}


def _doc(severity: list[Any] | None = None, **extra: Any) -> dict[str, Any]:
    doc = advisory(
        "GHSA-aaaa-bbbb-cccc",
        "PyPI",
        "demo",
        ranges=[eco_range(("introduced", "0"), ("fixed", "1.2.0"))],
        **extra,
    )
    if severity is not None:  # the kit's own ``severity`` takes one vector text
        doc["severity"] = severity
    return doc


def _with_affected_severity(entry: dict[str, Any]) -> dict[str, Any]:
    doc = _doc()
    doc["affected"][0]["severity"] = [entry]
    return doc


@pytest.mark.parametrize(
    ("document", "field", "message"),
    [
        (_doc(severity=[BAD_VECTOR]), "severity[0].score", "invalid CVSS vector"),
        (
            _with_affected_severity(WRONG_TYPE),
            "affected[0].severity[0].score",
            "does not match its type",
        ),
        (_doc(severity=["CVSS:3.1/AV:N"]), "severity[0]", "expected an object"),
    ],
)
def test_malformed_severity_keeps_the_advisory_and_reports_where(
    document: dict[str, Any], field: str, message: str
) -> None:
    parsed = osv.parse_osv(document, source="vulns/a.json")
    assert parsed.affected[0].ranges[0].values("fixed") == ("1.2.0",)
    assert parsed.severity == () and parsed.affected[0].severity == ()
    assert parsed.to_dict() == document  # the entry as written is still in the document
    [problem] = parsed.problems
    assert (problem.location.file, problem.location.field) == ("vulns/a.json", field)
    assert message in problem.message


def test_malformed_severity_leaves_the_readable_entries() -> None:
    good = {"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}
    parsed = osv.parse_osv(_doc(severity=[BAD_VECTOR, good]), source="a.json")
    assert [(s.vector, s.rating) for s in parsed.severity] == [(good["score"], "critical")]
    assert [p.location.field for p in parsed.problems] == ["severity[0].score"]


def test_load_osv_keeps_an_advisory_with_a_malformed_cvss_vector() -> None:
    data = orjson.dumps(_doc(severity=[BAD_VECTOR]))
    advisories, problems = osv.load_osv([("vulns/a.json", data)])
    assert [a.id for a in advisories] == ["GHSA-aaaa-bbbb-cccc"]
    assert [(p.location.file, p.location.field) for p in problems] == [
        ("vulns/a.json", "severity[0].score")
    ]


@pytest.mark.parametrize(
    ("database_specific", "severity", "unknown", "priority"),
    [
        (None, "medium", True, 50.0),  # nothing else: unknown ranks as medium, and says so
        ({"severity": "HIGH"}, "high", False, 75.0),  # the database's own rating
    ],
)
def test_advisory_with_malformed_cvss_vector_still_matches_and_ranks_fail_safe(
    database_specific: dict[str, Any] | None, severity: str, unknown: bool, priority: float
) -> None:
    extra = {"database_specific": database_specific} if database_specific else {}
    parsed = osv.parse_osv(_doc(severity=[BAD_VECTOR], **extra), source="a.json")
    index = build_index(aliases.merge_aliases([parsed]))
    report = scan([subject("PyPI", "demo", "1.0.0")], index)
    [finding] = report.findings
    assert (finding.severity, finding.severity_unknown) == (severity, unknown)
    assert finding.priority.score == priority


LOW_VECTOR = {"type": "CVSS_V3", "score": "CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N"}
HIGH_VECTOR = {"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}


@pytest.mark.parametrize(
    ("severity", "database_specific", "expected", "unknown", "priority"),
    [
        # The unreadable vector may be critical: a low rating beside it is no lower bound.
        ([BAD_VECTOR], {"severity": "LOW"}, "medium", True, 50.0),
        ([BAD_VECTOR, LOW_VECTOR], None, "medium", True, 50.0),
        # A readable rating of medium or more is a lower bound: kept, not unknown.
        ([BAD_VECTOR, HIGH_VECTOR], None, "high", False, 75.0),
    ],
)
def test_unreadable_severity_beside_a_low_one_never_ranks_below_medium(
    severity: list[Any],
    database_specific: dict[str, Any] | None,
    expected: str,
    unknown: bool,
    priority: float,
) -> None:
    extra = {"database_specific": database_specific} if database_specific else {}
    parsed = osv.parse_osv(_doc(severity=severity, **extra), source="a.json")
    index = build_index(aliases.merge_aliases([parsed]))
    report = scan([subject("PyPI", "demo", "1.0.0")], index)
    [finding] = report.findings
    assert (finding.severity, finding.severity_unknown) == (expected, unknown)
    assert finding.priority.score == priority

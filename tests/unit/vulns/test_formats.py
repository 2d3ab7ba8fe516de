"""Tests for maat.vulns.formats: SARIF and CycloneDX VEX output of a scan."""

from __future__ import annotations

from datetime import UTC, datetime

from maat.vulns.formats import to_cyclonedx_vex
from maat.vulns.scan import scan
from maat.vulns.vex import VexStatement, vex_decision
from vulns_kit import advisory, eco_range, index_of, subject


def test_affected_and_suppressed_components_of_one_advisory_do_not_share_an_analysis() -> None:
    index = index_of(
        advisory(
            "GHSA-f",
            "PyPI",
            "lib",
            ranges=[eco_range(("introduced", "0"), ("fixed", "2.0"))],
            aliases_=["CVE-2024-7"],
        )
    )
    statement = VexStatement(
        vulnerability="CVE-2024-7",
        aliases=(),
        products=("pkg:pypi/lib@1.0",),
        status="not_affected",
        justification="vulnerable_code_not_in_execute_path",
        impact=None,
        action=None,
        timestamp=None,
        source="vendor.vex.json",
    )
    subjects = [
        subject("PyPI", "lib", "1.1", purl="pkg:pypi/lib@1.1"),  # affected
        subject("PyPI", "lib", "1.0", purl="pkg:pypi/lib@1.0"),  # suppressed
        subject("PyPI", "lib", "1.2", purl="pkg:pypi/lib@1.2"),  # affected
    ]
    report = scan(subjects, index, vex=[statement], vex_decider=vex_decision)
    assert len(report.findings) == 2 and len(report.suppressed) == 1
    doc = to_cyclonedx_vex(
        report, now=datetime(2024, 6, 1, tzinfo=UTC), tool_version="0", serial="urn:uuid:x"
    )
    by_state = {v["analysis"]["state"]: v for v in doc["vulnerabilities"]}
    assert len(doc["vulnerabilities"]) == 2
    assert {v["id"] for v in doc["vulnerabilities"]} == {"CVE-2024-7"}
    assert sorted(a["ref"] for a in by_state["in_triage"]["affects"]) == ["lib@1.1", "lib@1.2"]
    suppressed = by_state["not_affected"]
    assert [a["ref"] for a in suppressed["affects"]] == ["lib@1.0"]
    assert suppressed["analysis"]["justification"] == "code_not_reachable"
    assert "vendor.vex.json" in suppressed["analysis"]["detail"]

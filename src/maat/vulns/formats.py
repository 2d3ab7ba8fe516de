"""Scan reports in SARIF 2.1.0 and CycloneDX 1.5 VEX."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from maat.vulns.scan import ScanReport

_SARIF_LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note"}
_CDX_SEVERITY = {"critical": "critical", "high": "high", "medium": "medium", "low": "low"}
# VEX justification words in Maat's model -> CycloneDX analysis justifications.
_CDX_JUSTIFICATION = {
    "component_not_present": "code_not_present",
    "vulnerable_code_not_present": "code_not_present",
    "vulnerable_code_not_in_execute_path": "code_not_reachable",
    "vulnerable_code_cannot_be_controlled_by_adversary": "protected_by_mitigating_control",
    "inline_mitigations_already_exist": "protected_by_mitigating_control",
}


def to_sarif(report: ScanReport, *, source: str, tool_version: str) -> dict[str, Any]:
    """One SARIF run: a rule per advisory, a result per finding located at the SBOM."""
    rules: dict[str, dict[str, Any]] = {}
    results = []
    for f in report.findings:
        adv = f.match.advisory
        if adv.id not in rules:
            rules[adv.id] = {
                "id": adv.id,
                "shortDescription": {"text": adv.summary or adv.id},
                "help": {"text": f"Aliases: {', '.join(adv.aliases) or 'none'}"},
                "properties": {
                    "security-severity": f"{adv.score:.1f}" if adv.score is not None else "5.0",
                    "tags": ["security", "vulnerability"],
                },
            }
        subject = f.subject
        fixed = ", ".join(f.match.fixed_versions) or "no fixed version"
        results.append(
            {
                "ruleId": adv.id,
                "level": _SARIF_LEVEL.get(f.severity, "warning"),
                "message": {
                    "text": f"{subject.name} {subject.version} is affected by {adv.id} "
                    f"({f.severity}, priority {f.priority.label}); fixed in: {fixed}"
                },
                "locations": [
                    {
                        "physicalLocation": {"artifactLocation": {"uri": source}},
                        "logicalLocations": [
                            {"name": subject.purl or subject.name, "kind": "package"}
                        ],
                    }
                ],
                "properties": {"priority": f.priority.score, "kev": f.kev},
            }
        )
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "Maat",
                        "version": tool_version,
                        "rules": list(rules.values()),
                    }
                },
                "results": results,
            }
        ],
    }


def to_cyclonedx_vex(
    report: ScanReport, *, now: datetime, tool_version: str, serial: str | None = None
) -> dict[str, Any]:
    """A CycloneDX 1.5 VEX document: findings as ``in_triage``, suppressed matches with the
    state and justification of the statement that suppressed them.

    An ``analysis`` speaks for every component in its entry's ``affects``, so there is one
    vulnerability entry per advisory and analysis: the components still affected by an
    advisory and those a statement suppressed get separate entries (and so do components
    suppressed by statements with different justifications or sources).
    """
    entries: dict[tuple[str, tuple[tuple[str, str], ...]], dict[str, Any]] = {}

    def entry(adv: Any, analysis: dict[str, str]) -> dict[str, Any]:
        key = (adv.id, tuple(sorted(analysis.items())))
        if key not in entries:
            ratings = []
            if adv.score is not None or adv.severity:
                rating: dict[str, Any] = {
                    "severity": _CDX_SEVERITY.get(adv.severity or "", "unknown")
                }
                if adv.score is not None:
                    rating["score"] = adv.score
                for vector in adv.vectors:
                    if vector.startswith("CVSS:3"):
                        rating.update(
                            method="CVSSv31" if vector.startswith("CVSS:3.1") else "CVSSv3",
                            vector=vector,
                        )
                        break
                    if vector.startswith("CVSS:4"):
                        rating.update(method="CVSSv4", vector=vector)
                        break
                ratings.append(rating)
            entries[key] = {
                "id": adv.id,
                "references": [{"id": a, "source": {"name": a.split("-")[0]}} for a in adv.aliases],
                "ratings": ratings,
                "description": adv.summary,
                "affects": [],
                "analysis": dict(analysis),
            }
        return entries[key]

    for f in report.findings:
        e = entry(f.match.advisory, {"state": "in_triage"})
        e["affects"].append({"ref": f.subject.ref})
    for s in report.suppressed:
        analysis = {"state": "not_affected" if s.statement.status == "not_affected" else "resolved"}
        justification = _CDX_JUSTIFICATION.get(s.statement.justification or "")
        if justification:
            analysis["justification"] = justification
        analysis["detail"] = f"VEX statement from {s.statement.source}"
        e = entry(s.match.advisory, analysis)
        e["affects"].append({"ref": s.match.subject.ref})
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": serial or f"urn:uuid:{uuid.uuid4()}",
        "version": 1,
        "metadata": {
            "timestamp": now.isoformat().replace("+00:00", "Z"),
            "tools": {
                "components": [{"type": "application", "name": "Maat", "version": tool_version}]
            },
        },
        "vulnerabilities": list(entries.values()),
    }

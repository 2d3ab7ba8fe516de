"""A scan: subjects matched against the index, enriched with KEV, EPSS and VEX, prioritised.

Pure: everything arrives as values (the index, the catalogues, the VEX statements) and the
report is a value. The CLI and services render and store it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from maat.core.enums import Criticality
from maat.core.purl import Purl
from maat.errors import InvalidInput
from maat.vulns.findings import Priority, PriorityFactors, prioritise, severity_of
from maat.vulns.index import AdvisoryIndex
from maat.vulns.match import Match, Matcher, Skip, Subject
from maat.vulns.subjects import purl_version


class KevLookup(Protocol):
    """The part of the KEV catalogue a scan needs."""

    def get(self, cve: str) -> Any: ...


class EpssLookup(Protocol):
    """The part of the EPSS scores a scan needs: cve -> (probability, percentile)."""

    def get(self, cve: str) -> Any: ...


# (statements, vulnerability ids, purl, version) -> the statement that applies, or None
VexDecider = Callable[[Sequence[Any], set[str], str, "str | None"], Any]


@dataclass(frozen=True)
class Finding:
    """A subject affected by an advisory, with everything needed to act on it."""

    match: Match
    severity: str
    severity_unknown: bool
    kev: bool
    epss: float | None
    epss_percentile: float | None
    priority: Priority

    @property
    def subject(self) -> Subject:
        """The affected component or package."""
        return self.match.subject


@dataclass(frozen=True)
class Suppressed:
    """A match a VEX statement declares not affecting (or already fixed)."""

    finding: Finding
    statement: Any

    @property
    def match(self) -> Match:
        """The suppressed match."""
        return self.finding.match


@dataclass
class ScanReport:
    """The outcome of one scan."""

    findings: list[Finding] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)
    suppressed: list[Suppressed] = field(default_factory=list)
    subjects: int = 0
    withdrawn_ignored: int = 0


def scan(
    subjects: Iterable[Subject],
    index: AdvisoryIndex,
    *,
    matcher: Matcher | None = None,
    kev: KevLookup | None = None,
    epss: EpssLookup | None = None,
    vex: Sequence[Any] = (),
    vex_decider: VexDecider | None = None,
    criticality: Criticality = Criticality.MEDIUM,
    exposure: str = "internal",
) -> ScanReport:
    """Match, then for each match:

    1. a VEX statement saying ``not_affected`` (or ``fixed``) suppresses it, with the
       statement kept for the report;
    2. otherwise it becomes a finding with its severity, KEV flag, EPSS and priority.
    """
    items = list(subjects)
    result = (matcher or Matcher(index)).match(items)
    report = ScanReport(
        skipped=result.skipped, subjects=len(items), withdrawn_ignored=result.withdrawn_ignored
    )
    for m in result.matches:
        ids = set(m.advisory.ids)
        finding = enrich(m, kev=kev, epss=epss, criticality=criticality, exposure=exposure)
        if vex and vex_decider is not None and m.subject.purl:
            statement = vex_decider(vex, ids, m.subject.purl, _vex_version(m.subject))
            if statement is not None and statement.status in ("not_affected", "fixed"):
                report.suppressed.append(Suppressed(finding, statement))
                continue
        report.findings.append(finding)
    report.findings.sort(key=lambda f: (-f.priority.score, f.subject.name, f.match.advisory.id))
    return report


def _vex_version(subject: Subject) -> str | None:
    """The version VEX names the subject by: its purl's own, as a VEX product purl writes it.

    A distro binary is matched by its source version (``upstream=lvm2@2.03.16-2``), but VEX
    names the binary purl with the binary's version (``2.03.16-2+b1``).
    """
    try:
        parsed = Purl.parse(subject.purl) if subject.purl else None
    except InvalidInput:
        parsed = None
    if parsed is None or parsed.version is None:
        return subject.version
    return purl_version(parsed)


def enrich(
    m: Match,
    *,
    kev: KevLookup | None,
    epss: EpssLookup | None,
    criticality: Criticality = Criticality.MEDIUM,
    exposure: str = "internal",
) -> Finding:
    """Severity, KEV, EPSS and priority for one match."""
    cves = [i for i in m.advisory.ids if i.startswith("CVE-")]
    in_kev = kev is not None and any(kev.get(c) is not None for c in cves)
    best: tuple[float, float | None] | None = None
    if epss is not None:
        for cve in cves:
            value = epss.get(cve)
            if value is not None and (best is None or value[0] > best[0]):
                best = (float(value[0]), float(value[1]) if value[1] is not None else None)
    severity, unknown = severity_of(m.advisory.severity)
    priority = prioritise(
        PriorityFactors(
            severity=severity,
            cvss=m.advisory.score,
            kev=in_kev,
            epss=best[0] if best else None,
            epss_percentile=best[1] if best else None,
            criticality=criticality,
            exposure=exposure,
        )
    )
    return Finding(
        m,
        severity.value,
        unknown,
        in_kev,
        best[0] if best else None,
        best[1] if best else None,
        priority,
    )


def component_dict(subject: Subject) -> dict[str, Any]:
    """The component as the JSON report shows it."""
    return {
        "ref": subject.ref,
        "purl": subject.purl,
        "name": subject.name,
        "version": subject.version,
        "ecosystem": subject.ecosystem,
    }


def report_dict(report: ScanReport) -> dict[str, Any]:
    """The JSON report (stable interface, documented in the README)."""
    return {
        "findings": [
            {
                "component": component_dict(f.subject),
                "advisory": {
                    "id": f.match.advisory.id,
                    "aliases": list(f.match.advisory.aliases),
                    "summary": f.match.advisory.summary,
                },
                "severity": f.severity,
                "severity_unknown": f.severity_unknown,
                "cvss": f.match.advisory.score,
                "fixed_versions": list(f.match.fixed_versions),
                "kev": f.kev,
                "epss": f.epss,
                "priority": {
                    "score": f.priority.score,
                    "label": f.priority.label,
                    "why": [text for _, text in f.priority.contributions],
                },
                "matched_by": f.match.how,
            }
            for f in report.findings
        ],
        "suppressed": [
            {
                "component": component_dict(s.match.subject),
                "advisory": {"id": s.match.advisory.id},
                "vex": {
                    "status": s.statement.status,
                    "justification": s.statement.justification,
                    "source": s.statement.source,
                },
            }
            for s in report.suppressed
        ],
        "skipped": [
            {
                "component": component_dict(s.subject),
                "reason": s.reason,
                **({"advisory": s.advisory_id} if s.advisory_id else {}),
            }
            for s in report.skipped
        ],
        "summary": {
            "components": report.subjects,
            "findings": len(report.findings),
            "suppressed": len(report.suppressed),
            "skipped": len(report.skipped),
            "withdrawn_ignored": report.withdrawn_ignored,
            "by_severity": _count(f.severity for f in report.findings),
        },
    }


def _count(values: Iterable[str]) -> Mapping[str, int]:
    counts: dict[str, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return dict(sorted(counts.items()))

"""Findings: priority from CVSS, KEV, EPSS, asset criticality and exposure; SLA clocks;
status rules; overdue; time-to-fix statistics. Pure: the clock is an argument."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from maat.core.enums import Criticality, FindingStatus, Severity
from maat.errors import InvalidInput

# Used when an advisory carries no usable severity: treat as medium, and say so.
UNKNOWN_SEVERITY = Severity.MEDIUM


@dataclass(frozen=True)
class SlaPolicy:
    """Time allowed to fix, by severity (defaults: critical 72 h, high 7 d, medium 30 d,
    low 90 d). A known-exploited (KEV) vulnerability gets the critical clock."""

    critical: timedelta = timedelta(hours=72)
    high: timedelta = timedelta(days=7)
    medium: timedelta = timedelta(days=30)
    low: timedelta = timedelta(days=90)

    def allowance(self, severity: Severity, *, kev: bool = False) -> timedelta:
        """How long a finding of this severity may stay open."""
        if kev:
            return self.critical
        return {
            Severity.CRITICAL: self.critical,
            Severity.HIGH: self.high,
            Severity.MEDIUM: self.medium,
            Severity.LOW: self.low,
        }[severity]

    def due(self, severity: Severity, opened_at: datetime, *, kev: bool = False) -> datetime:
        """When a finding opened at ``opened_at`` must be fixed."""
        return opened_at + self.allowance(severity, kev=kev)


def severity_of(rating: str | None) -> tuple[Severity, bool]:
    """The SLA severity for an advisory rating, and whether it was unknown (then medium)."""
    mapping = {
        "critical": Severity.CRITICAL,
        "high": Severity.HIGH,
        "medium": Severity.MEDIUM,
        "moderate": Severity.MEDIUM,
        "low": Severity.LOW,
    }
    if rating is None or rating.lower() not in mapping:
        return UNKNOWN_SEVERITY, True
    return mapping[rating.lower()], False


@dataclass(frozen=True)
class PriorityFactors:
    """What the priority of one finding depends on."""

    severity: Severity
    cvss: float | None = None
    kev: bool = False
    epss: float | None = None  # probability 0..1
    epss_percentile: float | None = None
    criticality: Criticality = Criticality.MEDIUM
    exposure: str = "internal"  # internet | internal | isolated


@dataclass(frozen=True)
class Priority:
    """A 0-100 priority with a P1-P4 label and every contribution explained."""

    score: float
    label: str
    contributions: tuple[tuple[str, str], ...] = field(default=())


_SEVERITY_BASE = {
    Severity.CRITICAL: 95.0,
    Severity.HIGH: 75.0,
    Severity.MEDIUM: 50.0,
    Severity.LOW: 25.0,
}
_CRITICALITY = {
    Criticality.LOW: 0.8,
    Criticality.MEDIUM: 1.0,
    Criticality.HIGH: 1.15,
    Criticality.CRITICAL: 1.3,
}
_EXPOSURE = {"internet": 1.2, "internal": 1.0, "isolated": 0.7}


def prioritise(f: PriorityFactors) -> Priority:
    """Combine the factors.

    1. Base: CVSS base score × 10, or 95/75/50/25 by severity when no score is known.
    2. Known exploited (CISA KEV): +25, and never below 90.
    3. EPSS: + 20 × the probability of exploitation in the next 30 days.
    4. Asset criticality: × 0.8 (low) to × 1.3 (critical).
    5. Exposure: × 1.2 internet-facing, × 0.7 isolated.
    6. Clamped to 0-100; P1 ≥ 90, P2 ≥ 70, P3 ≥ 40, else P4.
    """
    if f.exposure not in _EXPOSURE:
        raise InvalidInput(
            f"unknown exposure {f.exposure!r}",
            field="exposure",
            hint="internet, internal or isolated",
        )
    notes: list[tuple[str, str]] = []
    if f.cvss is not None:
        score = f.cvss * 10
        notes.append(("cvss", f"CVSS {f.cvss:.1f} → {score:.0f}"))
    else:
        score = _SEVERITY_BASE[f.severity]
        notes.append(("severity", f"{f.severity.value} (no CVSS score) → {score:.0f}"))
    if f.kev:
        score = max(score + 25, 90.0)
        notes.append(("kev", "known exploited (CISA KEV): +25, at least 90"))
    if f.epss is not None:
        bonus = 20 * f.epss
        score += bonus
        pct = f" (percentile {f.epss_percentile:.2f})" if f.epss_percentile is not None else ""
        notes.append(("epss", f"EPSS {f.epss:.3f}{pct}: +{bonus:.1f}"))
    factor = _CRITICALITY[f.criticality]
    if factor != 1.0:
        score *= factor
        notes.append(("criticality", f"{f.criticality.value} asset: ×{factor}"))
    exposure = _EXPOSURE[f.exposure]
    if exposure != 1.0:
        score *= exposure
        notes.append(("exposure", f"{f.exposure}: ×{exposure}"))
    score = round(max(0.0, min(100.0, score)), 1)
    label = "P1" if score >= 90 else "P2" if score >= 70 else "P3" if score >= 40 else "P4"
    return Priority(score, label, tuple(notes))


@dataclass(frozen=True)
class RiskAcceptance:
    """An approved exception: who approved it, why, and until when."""

    approver: str
    reason: str
    expires_at: datetime

    @classmethod
    def create(
        cls, approver: str, reason: str, expires_at: datetime, now: datetime
    ) -> RiskAcceptance:
        """Validate: an approver and a reason are required, and the expiry lies ahead."""
        if not approver.strip():
            raise InvalidInput("a risk acceptance needs an approver", field="approver")
        if not reason.strip():
            raise InvalidInput("a risk acceptance needs a reason", field="reason")
        if expires_at <= now:
            raise InvalidInput("a risk acceptance must expire in the future", field="expires_at")
        return cls(approver, reason, expires_at)


def effective_status(
    status: FindingStatus, acceptance: RiskAcceptance | None, now: datetime
) -> FindingStatus:
    """A risk acceptance past its expiry makes the finding open again."""
    if status is FindingStatus.RISK_ACCEPTED and (
        acceptance is None or acceptance.expires_at <= now
    ):
        return FindingStatus.OPEN
    return status


def is_overdue(
    status: FindingStatus,
    due_at: datetime | None,
    now: datetime,
    acceptance: RiskAcceptance | None = None,
) -> bool:
    """Open (or with an expired acceptance) and the deadline reached: ``now >= due_at``."""
    if due_at is None:
        return False
    return effective_status(status, acceptance, now) is FindingStatus.OPEN and now >= due_at


@dataclass(frozen=True)
class TimeToFix:
    """Time-to-fix statistics for one vendor (or any group)."""

    group: str
    fixed: int
    still_open: int
    median_hours: float | None
    mean_hours: float | None
    p90_hours: float | None
    max_hours: float | None
    sla_breaches: int


def time_to_fix(
    rows: Iterable[tuple[str, datetime, datetime | None, datetime | None]],
) -> list[TimeToFix]:
    """Statistics per group from ``(group, opened_at, fixed_at, due_at)`` rows."""
    durations: dict[str, list[float]] = {}
    open_counts: dict[str, int] = {}
    breaches: dict[str, int] = {}
    for group, opened, fixed, due in rows:
        durations.setdefault(group, [])
        if fixed is None:
            open_counts[group] = open_counts.get(group, 0) + 1
            continue
        durations[group].append((fixed - opened).total_seconds() / 3600)
        if due is not None and fixed > due:
            breaches[group] = breaches.get(group, 0) + 1
    out = []
    for group in sorted(durations):
        values = sorted(durations[group])
        out.append(
            TimeToFix(
                group=group,
                fixed=len(values),
                still_open=open_counts.get(group, 0),
                median_hours=statistics.median(values) if values else None,
                mean_hours=statistics.fmean(values) if values else None,
                p90_hours=values[min(len(values) - 1, int(0.9 * len(values)))] if values else None,
                max_hours=values[-1] if values else None,
                sla_breaches=breaches.get(group, 0),
            )
        )
    return out


def isolation_reasons(*, end_of_life: str | None, unfixable: Mapping[str, str]) -> list[str]:
    """Why a host should be isolated: an end-of-life OS, or findings that have no fix."""
    reasons = []
    if end_of_life:
        reasons.append(f"operating system past end of life: {end_of_life}")
    reasons.extend(
        f"no fix available for {advisory} in {component}"
        for advisory, component in sorted(unfixable.items())
    )
    return reasons

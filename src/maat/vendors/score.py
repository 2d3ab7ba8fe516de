"""Vendor scores from evidence, each point explained.

A score starts at 100 and every piece of evidence against the vendor takes points off as a
named :class:`Contribution` (with the evidence it rests on), capped per kind so one noisy
source cannot hide the others. The score is recomputed from the evidence whenever asked, so
it moves as soon as the evidence does: a critical vulnerability in one of the vendor's
products, a revoked or expiring signing certificate, an assessment that lapsed, a breach,
an SLA breach, alerts on the vendor's identities or binaries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from maat.vendors.records import VendorRecord

__all__ = [
    "AlertFact",
    "CertificateFact",
    "Contribution",
    "Evidence",
    "FindingFact",
    "VendorScore",
    "score",
]


@dataclass(frozen=True)
class FindingFact:
    """An open vulnerability finding on one of the vendor's products."""

    id: str
    product: str
    severity: str
    overdue: bool


@dataclass(frozen=True)
class CertificateFact:
    """A signing certificate the vendor holds."""

    fingerprint: str
    not_after: datetime
    revoked_at: datetime | None = None
    revocation_reason: str | None = None
    not_before: datetime | None = None
    signing: bool = True
    """A code-signing certificate itself (not a CA of the vendor's on record)."""


@dataclass(frozen=True)
class AlertFact:
    """An alert naming the vendor (its binaries, products or identities)."""

    id: str
    level: str
    created_at: datetime
    title: str = ""


@dataclass(frozen=True)
class Evidence:
    """Everything Maat knows that bears on a vendor, at ``now``."""

    vendor: VendorRecord
    now: datetime
    findings: tuple[FindingFact, ...] = ()
    certificates: tuple[CertificateFact, ...] = ()
    alerts: tuple[AlertFact, ...] = ()
    assessment_expires: datetime | None = None
    assessment_score: float | None = None
    sla_breaches: tuple[str, ...] = ()


@dataclass(frozen=True)
class Contribution:
    """Points a piece of evidence took off, and what it was."""

    name: str
    points: int
    detail: str
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True)
class VendorScore:
    """A vendor's score (0-100), its grade, and every contribution to it."""

    vendor: str
    score: int
    grade: str
    contributions: tuple[Contribution, ...] = field(default_factory=tuple)

    def contribution(self, name: str) -> Contribution | None:
        """The contribution with this name, or None."""
        return next((c for c in self.contributions if c.name == name), None)

    def as_dict(self) -> dict[str, object]:
        """JSON form."""
        return {
            "vendor": self.vendor,
            "score": self.score,
            "grade": self.grade,
            "contributions": [
                {
                    "name": c.name,
                    "points": c.points,
                    "detail": c.detail,
                    "evidence": list(c.evidence),
                }
                for c in self.contributions
            ],
        }


def _grade(total: int) -> str:
    for floor, grade in ((90, "A"), (75, "B"), (60, "C"), (40, "D")):
        if total >= floor:
            return grade
    return "F"


def _capped(name: str, each: int, cap: int, items: list[str], what: str) -> Contribution | None:
    if not items:
        return None
    points = -min(cap, each * len(items))
    return Contribution(
        name, points, f"{len(items)} {what} ({each} each, at most {cap})", tuple(items)
    )


def score(evidence: Evidence) -> VendorScore:
    """The vendor's score from ``evidence``, as numbered rules; each gives a contribution."""
    now, vendor = evidence.now, evidence.vendor
    out: list[Contribution | None] = []
    # 1. A breach reported at the vendor in the last year.
    if vendor.breached_at is not None and now - vendor.breached_at <= timedelta(days=365):
        note = f": {vendor.breach_note}" if vendor.breach_note else ""
        out.append(
            Contribution("breach", -40, f"breach reported {vendor.breached_at:%Y-%m-%d}{note}")
        )
    # 2. Open critical and high findings in its products, and findings past their SLA.
    critical = [f.id for f in evidence.findings if f.severity == "critical"]
    high = [f.id for f in evidence.findings if f.severity == "high"]
    out.append(_capped("critical_findings", 10, 30, critical, "open critical findings"))
    out.append(_capped("high_findings", 3, 12, high, "open high findings"))
    out.append(
        _capped(
            "overdue_findings",
            5,
            20,
            [f.id for f in evidence.findings if f.overdue],
            "findings past their SLA",
        )
    )
    # 3. Signing certificates revoked in the last year, or expiring within 30 days.
    revoked = [
        c.fingerprint
        for c in evidence.certificates
        if c.revoked_at is not None and now - c.revoked_at <= timedelta(days=365)
    ]
    if revoked:
        compromised = any(
            c.revocation_reason == "key_compromise"
            for c in evidence.certificates
            if c.fingerprint in revoked
        )
        out.append(
            Contribution(
                "certificate_revoked",
                -30 if compromised else -15,
                f"{len(revoked)} signing certificate(s) revoked"
                + (" for key compromise" if compromised else ""),
                tuple(revoked),
            )
        )
    expiring = [
        c.fingerprint
        for c in evidence.certificates
        if c.revoked_at is None and now <= c.not_after <= now + timedelta(days=30)
    ]
    out.append(
        _capped(
            "certificate_expiring", 5, 5, expiring, "signing certificate(s) expiring in 30 days"
        )
    )
    # 3b. Signing lapsed: the vendor's code-signing certificates have all expired (or were
    # revoked). A rotation (an old one expired beside a valid one) costs nothing; a CA of the
    # vendor's on record is no signing certificate; however long ago the last expired, a
    # vendor with none valid ships deliveries nobody can verify by signature.
    signing = [c for c in evidence.certificates if c.signing and c.revoked_at is None]
    valid = [c for c in signing if (c.not_before or now) <= now <= c.not_after]
    lapsed = sorted((c for c in signing if c.not_after < now), key=lambda c: c.not_after)
    if lapsed and not valid:
        last = lapsed[-1]
        out.append(
            Contribution(
                "certificate_lapsed",
                -10,
                f"no valid signing certificate: the last expired {last.not_after:%Y-%m-%d}",
                tuple(c.fingerprint for c in lapsed),
            )
        )
    # 4. The assessment: missing, expired, or expiring soon; a poor result.
    expires = evidence.assessment_expires
    if expires is None:
        out.append(Contribution("assessment_missing", -15, "no security assessment on record"))
    elif expires < now:
        out.append(
            Contribution("assessment_expired", -20, f"assessment expired {expires:%Y-%m-%d}")
        )
    elif expires <= now + timedelta(days=30):
        out.append(
            Contribution("assessment_expiring", -5, f"assessment expires {expires:%Y-%m-%d}")
        )
    if evidence.assessment_score is not None and evidence.assessment_score < 70:
        points = -round((70 - evidence.assessment_score) / 2)
        out.append(
            Contribution(
                "assessment_result",
                points,
                f"assessment scored {evidence.assessment_score:.0f}/100",
            )
        )
    # 5. Contract SLA breaches measured by Maat.
    out.append(
        _capped("sla_breaches", 10, 30, list(evidence.sla_breaches), "contract SLA breaches")
    )
    # 6. Alerts on the vendor's binaries, products or identities in the last 90 days.
    recent = [a for a in evidence.alerts if now - a.created_at <= timedelta(days=90)]
    out.append(
        _capped(
            "serious_alerts",
            10,
            30,
            [a.id for a in recent if a.level in ("high", "critical")],
            "high or critical alerts in 90 days",
        )
    )
    out.append(
        _capped(
            "other_alerts",
            2,
            10,
            [a.id for a in recent if a.level in ("low", "medium")],
            "low or medium alerts in 90 days",
        )
    )
    contributions = tuple(c for c in out if c is not None)
    total = max(0, 100 + sum(c.points for c in contributions))
    return VendorScore(vendor.name, total, _grade(total), contributions)

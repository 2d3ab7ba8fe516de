"""SLA clocks, priority and finding status rules: a critical left open past 72 hours must be
overdue at that instant, not a scan later."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from maat.core.enums import Criticality, FindingStatus, Severity
from maat.errors import InvalidInput
from maat.vulns.findings import (
    PriorityFactors,
    RiskAcceptance,
    SlaPolicy,
    effective_status,
    is_overdue,
    prioritise,
    severity_of,
    time_to_fix,
)

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
EPSILON = timedelta(microseconds=1)


@pytest.mark.parametrize(
    ("severity", "allowed"),
    [
        (Severity.CRITICAL, timedelta(hours=72)),
        (Severity.HIGH, timedelta(days=7)),
        (Severity.MEDIUM, timedelta(days=30)),
        (Severity.LOW, timedelta(days=90)),
    ],
)
def test_default_sla_clocks(severity: Severity, allowed: timedelta) -> None:
    assert SlaPolicy().due(severity, T0) == T0 + allowed


def test_critical_becomes_overdue_exactly_at_72_hours() -> None:
    due = SlaPolicy().due(Severity.CRITICAL, T0)
    assert not is_overdue(FindingStatus.OPEN, due, due - EPSILON)
    assert is_overdue(FindingStatus.OPEN, due, due)
    assert is_overdue(FindingStatus.OPEN, due, due + timedelta(days=1))


def test_known_exploited_gets_the_critical_clock_whatever_its_score() -> None:
    assert SlaPolicy().due(Severity.LOW, T0, kev=True) == T0 + timedelta(hours=72)


def test_fixed_or_not_affected_is_never_overdue() -> None:
    due = T0
    later = T0 + timedelta(days=400)
    for status in (
        FindingStatus.FIXED,
        FindingStatus.NOT_AFFECTED,
        FindingStatus.MITIGATED_BY_ISOLATION,
    ):
        assert not is_overdue(status, due, later)


def test_risk_acceptance_holds_until_it_expires_then_the_finding_is_overdue_again() -> None:
    due = T0 + timedelta(hours=72)
    acceptance = RiskAcceptance.create("ciso", "compensating control", T0 + timedelta(days=10), T0)
    assert not is_overdue(FindingStatus.RISK_ACCEPTED, due, T0 + timedelta(days=9), acceptance)
    expired = T0 + timedelta(days=10)
    assert effective_status(FindingStatus.RISK_ACCEPTED, acceptance, expired) is FindingStatus.OPEN
    assert is_overdue(FindingStatus.RISK_ACCEPTED, due, expired, acceptance)


def test_risk_acceptance_needs_approver_reason_and_future_expiry() -> None:
    with pytest.raises(InvalidInput, match="approver"):
        RiskAcceptance.create(" ", "r", T0 + timedelta(days=1), T0)
    with pytest.raises(InvalidInput, match="reason"):
        RiskAcceptance.create("a", "", T0 + timedelta(days=1), T0)
    with pytest.raises(InvalidInput, match="future"):
        RiskAcceptance.create("a", "r", T0, T0)


def test_unknown_severity_is_treated_as_medium_and_flagged() -> None:
    assert severity_of(None) == (Severity.MEDIUM, True)
    assert severity_of("MODERATE") == (Severity.MEDIUM, False)
    assert severity_of("critical") == (Severity.CRITICAL, False)


def test_priority_is_explained_and_kev_dominates() -> None:
    plain = prioritise(PriorityFactors(severity=Severity.MEDIUM, cvss=5.0))
    exploited = prioritise(PriorityFactors(severity=Severity.MEDIUM, cvss=5.0, kev=True))
    assert plain.label == "P3"
    assert exploited.score >= 90
    assert exploited.label == "P1"
    assert any("KEV" in text for _, text in exploited.contributions)


def test_priority_rises_with_epss_criticality_and_exposure() -> None:
    base = prioritise(PriorityFactors(severity=Severity.HIGH, cvss=7.0)).score
    epss = prioritise(PriorityFactors(severity=Severity.HIGH, cvss=7.0, epss=0.9)).score
    crit = prioritise(
        PriorityFactors(severity=Severity.HIGH, cvss=7.0, criticality=Criticality.CRITICAL)
    ).score
    internet = prioritise(
        PriorityFactors(severity=Severity.HIGH, cvss=7.0, exposure="internet")
    ).score
    isolated = prioritise(
        PriorityFactors(severity=Severity.HIGH, cvss=7.0, exposure="isolated")
    ).score
    assert isolated < base < epss
    assert base < crit
    assert base < internet
    assert (
        prioritise(
            PriorityFactors(
                severity=Severity.CRITICAL,
                cvss=10.0,
                kev=True,
                epss=1.0,
                criticality=Criticality.CRITICAL,
                exposure="internet",
            )
        ).score
        == 100
    )


def test_time_to_fix_per_vendor() -> None:
    rows = [
        ("Acme ERP", T0, T0 + timedelta(hours=10), T0 + timedelta(hours=72)),
        ("Acme ERP", T0, T0 + timedelta(hours=100), T0 + timedelta(hours=72)),
        ("Acme ERP", T0, None, T0 + timedelta(hours=72)),
        ("Other", T0, T0 + timedelta(hours=1), None),
    ]
    stats = {s.group: s for s in time_to_fix(rows)}
    acme = stats["Acme ERP"]
    assert (acme.fixed, acme.still_open, acme.sla_breaches) == (2, 1, 1)
    assert acme.median_hours == 55.0
    assert acme.max_hours == 100.0
    assert stats["Other"].fixed == 1


def test_vex_version_ranges_compare_with_the_ecosystem_order() -> None:
    from maat.services.vulns import vers_compare

    assert vers_compare("pypi", "2.0rc1", "2.0") < 0
    assert vers_compare("deb", "1.0~rc1", "1.0") < 0
    assert vers_compare("npm", "1.0.0", "1.0.0+build") == 0
    with pytest.raises(InvalidInput):
        vers_compare("unknown-scheme", "1", "2")

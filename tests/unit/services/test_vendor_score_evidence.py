"""The vendor score reads every finding still open in effect: a risk acceptance that has
lapsed must not keep a supplier's critical vulnerability out of its score. Runs on SQLite and
PostgreSQL."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from maat.core.enums import FindingStatus
from maat.core.ids import new_id
from maat.services.platform import Platform
from maat.services.vendors import add_vendor, vendor_score
from maat.vulns.records import FindingRecord, ProductRecord
from maat_testkit import FakeClock


def _critical(platform: Platform, **changes: object) -> None:
    now = platform.now()
    with platform.transaction() as uow:
        product = ProductRecord(new_id("prd"), "Contoso ERP Client", now, vendor="Contoso ERP")
        uow.products.add(product)
        record = FindingRecord(
            id=new_id("fnd"), subject_kind="product", subject_id=product.id,
            component_key="pkg:x", component_name="x", component_version="1",
            component_purl=None, advisory_id="GHSA-x", aliases=(), summary="s",
            severity="critical", cvss=9.8, kev=True, epss=None, priority=1.0,
            priority_label="P1", fixed_versions=(), status=FindingStatus.OPEN,
            opened_at=now, due_at=now + timedelta(hours=72), last_seen_at=now,
        )  # fmt: skip
        uow.findings.add(dataclasses.replace(record, **changes))  # type: ignore[arg-type]


def test_critical_whose_risk_acceptance_lapsed_counts_against_the_vendor_again(
    platform: Platform, clock: FakeClock
) -> None:
    add_vendor(platform, "test", "Contoso ERP")
    now = platform.now()
    _critical(platform, status=FindingStatus.RISK_ACCEPTED, risk_approver="ciso",
              risk_reason="until the vendor ships 4.2", risk_expires_at=now + timedelta(days=7))  # fmt: skip
    assert vendor_score(platform, "Contoso ERP").contribution("critical_findings") is None
    clock.advance(days=8)  # the acceptance lapsed, the vendor never shipped the fix
    result = vendor_score(platform, "Contoso ERP")
    critical = result.contribution("critical_findings")
    overdue = result.contribution("overdue_findings")
    assert critical is not None and critical.points == -10
    assert overdue is not None and overdue.points == -5


def test_risk_accepted_without_an_expiry_counts_as_open(platform: Platform) -> None:
    add_vendor(platform, "test", "Contoso ERP")
    _critical(platform, status=FindingStatus.RISK_ACCEPTED)
    critical = vendor_score(platform, "Contoso ERP").contribution("critical_findings")
    assert critical is not None and critical.points == -10

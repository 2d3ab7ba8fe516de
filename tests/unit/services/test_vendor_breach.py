"""Third-party risk over the trust graph: a VENOM-style supplier breach reaches exactly the
hosts running the supplier's product and the identities it holds; scores move with their
evidence. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from maat.core.enums import Criticality, FindingStatus
from maat.core.graph import Node
from maat.core.ids import new_id
from maat.services import tokens, users
from maat.services.alerts import list_alerts
from maat.services.platform import Platform
from maat.services.vendors import (
    add_vendor,
    blast_radius,
    link_account,
    record_breach,
    vendor_score,
)
from maat.signing.records import ArtifactRecord, CertificateRecord, SightingRecord
from maat.vulns.records import ProductRecord
from maat_testkit import PASSWORD, FakeClock

ERP = "a" * 64
ERP_DLL = "b" * 64
VNC = "c" * 64
SIGNED_OUTSIDE = "d" * 64
CONTOSO_CERT = "e" * 64


def world(platform: Platform) -> str:
    """Two suppliers, their products on hosts, their accounts; returns the support token id."""
    now = platform.now()
    add_vendor(platform, "test", "Contoso ERP", criticality=Criticality.CRITICAL,
               tiers=["production_software", "remote_access"])  # fmt: skip
    add_vendor(platform, "test", "Fabrikam", tiers=["remote_access"])
    with platform.transaction() as uow:
        for name, vendor in (("Contoso ERP Client", "Contoso ERP"), ("Fabrikam VNC", "Fabrikam")):
            uow.products.add(ProductRecord(new_id("prd"), name, now, vendor=vendor))
        for digest, product in ((ERP, "Contoso ERP Client"), (ERP_DLL, "Contoso ERP Client"),
                                (VNC, "Fabrikam VNC")):  # fmt: skip
            uow.artifacts.add(
                ArtifactRecord(new_id("art"), digest, f"{digest[:4]}.exe", now, product)
            )
        uow.certificates.add(CertificateRecord(
            id=new_id("crt"), fingerprint=CONTOSO_CERT, serial="01", role="external",
            subject="CN=Contoso ERP Code Signing", issuer="CN=Some CA", not_before=now,
            not_after=now + timedelta(days=365), pem="-", created_at=now, vendor="Contoso ERP",
        ))  # fmt: skip
        for host, digest, signer in (("ENG-WS1", ERP, None), ("ENG-WS2", ERP_DLL, None),
                                     ("OFFICE-1", VNC, None), ("ENG-WS3", SIGNED_OUTSIDE, CONTOSO_CERT)):  # fmt: skip
            uow.sightings.add(
                SightingRecord(new_id("sig"), host, digest, "C:\\x", "run", now, signer)
            )
    for name in ("contoso-support", "fabrikam-vnc", "alice"):
        users.add_user(platform, "test", name, ["auditor"], PASSWORD)
    link_account(platform, "test", "contoso-support", "Contoso ERP")
    link_account(platform, "test", "fabrikam-vnc", "Fabrikam")
    token = tokens.create_token(
        platform, "test", "contoso-support", "erp-sync", ttl=timedelta(days=30)
    )
    tokens.create_token(platform, "test", "alice", "alice-cli", ttl=timedelta(days=30))
    return token.record.id


def test_venom_supplier_breach_reaches_exactly_its_hosts_and_identities(platform: Platform) -> None:
    support_token = world(platform)
    report = record_breach(platform, "soc", "contoso erp", note="web shell on the update server")
    reach = report.reach.nodes
    assert reach["host"] == ("ENG-WS1", "ENG-WS2", "ENG-WS3")
    assert reach["identity"] == ("contoso-support",)
    assert reach["token"] == (support_token,)
    assert reach["product"] == ("Contoso ERP Client",)
    assert set(reach["artifact"]) == {ERP, ERP_DLL, SIGNED_OUTSIDE}
    assert "ENG-WS3" in report.reach.explain(Node("host", "ENG-WS3"))
    assert "-signed->" in report.reach.explain(Node("host", "ENG-WS3"))
    assert any(a.startswith("require fresh MFA") and "contoso-support" in a for a in report.actions)
    assert any(a.startswith("revoke or rotate API tokens") for a in report.actions)
    [alert] = list_alerts(platform, rule_id="maat.vendors.breach")
    assert alert.level == "critical" and alert.entities["reach_hosts"] == [
        "ENG-WS1",
        "ENG-WS2",
        "ENG-WS3",
    ]
    # The other supplier's reach is its own.
    other = blast_radius(platform, "vendor", "Fabrikam").nodes
    assert other["host"] == ("OFFICE-1",) and other["identity"] == ("fabrikam-vnc",)


def test_score_and_its_named_contribution_move_with_one_piece_of_evidence(
    platform: Platform, clock: FakeClock
) -> None:
    world(platform)
    before = vendor_score(platform, "Contoso ERP")
    assert before.contribution("certificate_revoked") is None
    with platform.transaction() as uow:
        cert = uow.certificates.by_fingerprint(CONTOSO_CERT)
        assert cert is not None
        uow.certificates.update(dataclasses.replace(
            cert, revoked_at=platform.now(), revocation_reason="key_compromise"))  # fmt: skip
    after = vendor_score(platform, "Contoso ERP")
    moved = after.contribution("certificate_revoked")
    assert moved is not None and moved.points == -30 and CONTOSO_CERT in moved.evidence
    assert after.score == before.score - 30
    # Everything else stayed as it was.
    assert [c for c in after.contributions if c.name != "certificate_revoked"] == list(
        before.contributions
    )
    # A year and a day later the revocation no longer weighs.
    clock.advance(days=366)
    assert vendor_score(platform, "Contoso ERP").contribution("certificate_revoked") is None


def test_unknown_vendor_and_duplicate_are_clear_errors(platform: Platform) -> None:
    from maat.errors import Conflict, NotFound

    add_vendor(platform, "test", "Contoso ERP")
    with pytest.raises(Conflict):
        add_vendor(platform, "test", "contoso erp")
    with pytest.raises(NotFound, match="no vendor named"):
        record_breach(platform, "test", "Nobody Inc")


CONTRACT = """vendor: Contoso ERP
signed: 2025-01-01
terms:
  critical_fix_days: 14
  signed_releases: true
  sbom_with_every_delivery: true
  incident_notification_hours: 24
"""


def test_contract_breaches_are_measured_from_maats_data_and_weigh_in_the_score(
    platform: Platform, clock: FakeClock
) -> None:
    from maat.services.contracts import compliance, set_contract
    from maat.vulns.records import FindingRecord

    world(platform)
    before = vendor_score(platform, "Contoso ERP").score
    set_contract(platform, "test", CONTRACT, source="contoso.yml")
    result = compliance(platform, "Contoso ERP")
    # The two delivered files were never signed, and no SBOM was ever received.
    terms = sorted(b.term for b in result.breaches)
    assert terms == ["sbom_with_every_delivery", "signed_releases", "signed_releases"]
    assert not any("incident_notification_hours" in n for n in result.notes)  # no incident yet
    after = vendor_score(platform, "Contoso ERP")
    sla = after.contribution("sla_breaches")
    assert sla is not None and sla.points == -30 and after.score == before - 30
    # A critical in the ERP product, still open after 20 days: one more breach.
    with platform.transaction() as uow:
        product = uow.products.by_name("Contoso ERP Client")
        assert product is not None
        record = FindingRecord(
            id=new_id("fnd"), subject_kind="product", subject_id=product.id,
            component_key="pkg:x", component_name="x", component_version="1",
            component_purl=None, advisory_id="GHSA-x", aliases=(), summary="s",
            severity="critical", cvss=9.8, kev=True, epss=None, priority=1.0,
            priority_label="P1", fixed_versions=(), status=FindingStatus.OPEN,
            opened_at=platform.now(), due_at=platform.now() + timedelta(hours=72),
            last_seen_at=platform.now(),
        )  # fmt: skip
        uow.findings.add(record)
    clock.advance(days=20)
    late = [
        b for b in compliance(platform, "Contoso ERP").breaches if b.term == "critical_fix_days"
    ]
    assert len(late) == 1 and "still open after 20 days (contract: 14)" in late[0].detail

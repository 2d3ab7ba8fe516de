"""Contract terms measured from Maat's data become findings against the vendor: a VENOM
breach the supplier stays silent about, files delivered outside their SBOM. Runs on SQLite
and PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta

from maat.core.ids import new_id
from maat.services.contracts import compliance, record_notice, review_compliance, set_contract
from maat.services.platform import Platform
from maat.services.vendors import add_vendor, record_breach
from maat.signing.records import ArtifactRecord
from maat.vulns.records import ProductRecord, SbomRecord
from maat_testkit import FakeClock

LISTED, UNLISTED = "1" * 64, "2" * 64
CONTRACT = """vendor: Contoso ERP
signed: 2025-01-01
terms:
  sbom_with_every_delivery: true
  incident_notification_hours: 24
"""


def _cyclonedx(*digests: str) -> bytes:
    components = [{"type": "file", "name": f"f{i}.dll", "version": "1", "bom-ref": f"f{i}",
                   "hashes": [{"alg": "SHA-256", "content": d}]}
                  for i, d in enumerate(digests)]  # fmt: skip
    return json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
                       "components": components}).encode()  # fmt: skip


def _supplier(platform: Platform, sbom: bytes) -> None:
    add_vendor(platform, "test", "Contoso ERP")
    set_contract(platform, "test", CONTRACT, source="contract.yml")
    now = platform.now()
    with platform.transaction() as uow:
        product = ProductRecord(new_id("prd"), "Contoso ERP Client", now, vendor="Contoso ERP")
        uow.products.add(product)
        uow.sboms.add(SbomRecord(new_id("sbm"), product.id, "erp.cdx.json", "cyclonedx", "1.5",
                                 "0" * 64, 1, now, sbom))  # fmt: skip
        for digest in (LISTED, UNLISTED):
            uow.artifacts.add(ArtifactRecord(new_id("art"), digest, f"{digest[:2]}.dll", now,
                                             "Contoso ERP Client"))  # fmt: skip


def test_a_delivered_file_missing_from_the_sbom_is_a_breach(platform: Platform) -> None:
    _supplier(platform, _cyclonedx(LISTED))
    breaches = [b for b in compliance(platform, "Contoso ERP").breaches
                if b.term == "sbom_with_every_delivery"]  # fmt: skip
    assert [b.evidence for b in breaches] == [UNLISTED]
    assert "22.dll of Contoso ERP Client is not in its SBOM" in breaches[0].detail


def test_an_sbom_without_digests_is_said_to_be_uncheckable(platform: Platform) -> None:
    sbom = json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
                       "components": [{"type": "library", "name": "x", "version": "1"}]})  # fmt: skip
    _supplier(platform, sbom.encode())
    result = compliance(platform, "Contoso ERP")
    assert not any(b.term == "sbom_with_every_delivery" for b in result.breaches)
    assert any("list no file digests" in n for n in result.notes)


def test_venom_breach_the_supplier_stays_silent_about_becomes_a_finding_until_it_tells(
    platform: Platform, clock: FakeClock
) -> None:
    _supplier(platform, _cyclonedx(LISTED, UNLISTED))
    record_breach(platform, "soc", "Contoso ERP", note="web shell on the update server")
    breached_at = platform.now()
    first = review_compliance(platform, "soc", "Contoso ERP")
    assert first.opened == () and first.open == ()  # within the 24 h the contract allows
    clock.advance(hours=25)
    late = review_compliance(platform, "soc", "Contoso ERP")
    assert [f.term for f in late.opened] == ["incident_notification_hours"]
    assert "no notice from the vendor 24 h after the breach recorded" in late.opened[0].detail
    # The supplier finally tells us, 30 h after: the silence finding closes, the lateness
    # is a finding of its own.
    clock.advance(hours=5)
    record_notice(platform, "vm", "Contoso ERP", occurred_at=breached_at - timedelta(hours=2),
                  notified_at=platform.now(), note="we were breached")  # fmt: skip
    after = review_compliance(platform, "soc", "Contoso ERP")
    assert [f.term for f in after.closed] == ["incident_notification_hours"]
    assert [f.detail for f in after.opened] == [
        f"incident of {breached_at - timedelta(hours=2):%Y-%m-%d %H:%M} notified after 32 h "
        "(contract: 24)"]  # fmt: skip
    again = review_compliance(platform, "soc", "Contoso ERP")
    assert again.opened == () and again.closed == () and len(again.open) == 1
    with platform.transaction(write=False) as uow:
        actions = [r.entry.action for r in uow.audit.records()]
    assert actions.count("vendor.finding.open") == 2 and "vendor.finding.close" in actions


def test_a_notice_in_time_is_no_breach(platform: Platform) -> None:
    _supplier(platform, _cyclonedx(LISTED, UNLISTED))
    now = platform.now()
    record_notice(platform, "vm", "Contoso ERP", occurred_at=now - timedelta(hours=30),
                  notified_at=now - timedelta(hours=10))  # fmt: skip
    assert compliance(platform, "Contoso ERP").breaches == ()


def test_an_old_notice_about_another_incident_does_not_hide_silence_after_a_breach(
    platform: Platform, clock: FakeClock
) -> None:
    _supplier(platform, _cyclonedx(LISTED, UNLISTED))
    now = platform.now()
    record_notice(platform, "vm", "Contoso ERP", occurred_at=now - timedelta(days=20, hours=2),
                  notified_at=now - timedelta(days=20), note="phishing, contained")  # fmt: skip
    record_breach(platform, "soc", "Contoso ERP", note="VENOM")
    clock.advance(hours=72)
    terms = [b.detail for b in compliance(platform, "Contoso ERP").breaches
             if b.term == "incident_notification_hours"]  # fmt: skip
    assert len(terms) == 1 and "no notice from the vendor" in terms[0]


def test_notices_from_the_future_are_refused(platform: Platform) -> None:
    import pytest

    from maat.errors import InvalidInput

    _supplier(platform, _cyclonedx(LISTED))
    with pytest.raises(InvalidInput, match="future"):
        record_notice(platform, "vm", "Contoso ERP", occurred_at=platform.now(),
                      notified_at=platform.now() + timedelta(days=1))  # fmt: skip


def test_the_products_own_file_listed_as_sbom_metadata_is_listed(platform: Platform) -> None:
    doc = json.loads(_cyclonedx(LISTED))
    doc["metadata"] = {"component": {"type": "application", "name": "erp-setup", "version": "7",
                                     "bom-ref": "root",
                                     "hashes": [{"alg": "SHA-256", "content": UNLISTED}]}}  # fmt: skip
    _supplier(platform, json.dumps(doc).encode())
    assert not [b for b in compliance(platform, "Contoso ERP").breaches
                if b.term == "sbom_with_every_delivery"]  # fmt: skip


def test_a_late_notice_cannot_date_the_breach_after_maat_recorded_it(
    platform: Platform, clock: FakeClock
) -> None:
    # VENOM: Maat records the breach; the supplier says nothing for 30 days, then files a
    # notice claiming the incident began an hour before it told us. The notice answers the
    # breach, so the incident began no later than Maat's record: 30 days late, not 1 hour.
    _supplier(platform, _cyclonedx(LISTED, UNLISTED))
    record_breach(platform, "soc", "Contoso ERP", note="web shell on the update server")
    clock.advance(days=30)
    record_notice(platform, "vm", "Contoso ERP", occurred_at=platform.now() - timedelta(hours=1),
                  notified_at=platform.now(), note="minor incident")  # fmt: skip
    late = [b.detail for b in compliance(platform, "Contoso ERP").breaches
            if b.term == "incident_notification_hours"]  # fmt: skip
    assert len(late) == 1 and "notified after 720 h" in late[0]


def test_a_later_incident_after_the_answered_breach_is_measured_on_its_own(
    platform: Platform, clock: FakeClock
) -> None:
    _supplier(platform, _cyclonedx(LISTED, UNLISTED))
    record_breach(platform, "soc", "Contoso ERP", note="VENOM")
    breached_at = platform.now()
    clock.advance(hours=2)
    record_notice(platform, "vm", "Contoso ERP", occurred_at=breached_at - timedelta(hours=1),
                  notified_at=platform.now())  # fmt: skip
    clock.advance(days=60)
    record_notice(platform, "vm", "Contoso ERP", occurred_at=platform.now() - timedelta(hours=3),
                  notified_at=platform.now(), note="another incident")  # fmt: skip
    assert compliance(platform, "Contoso ERP").breaches == ()

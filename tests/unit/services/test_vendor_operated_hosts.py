"""A signal in one control acts in the others: a serious alert on a host the vendor runs
records the vendor's breach (VENOM at the ERP supplier), which moves its identities to
step-up; a vendor-signed file the execution policy refuses raises an alert naming the
vendor (TIDRONE's trojanised delivery). Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from maat.core.graph import Node
from maat.scenario.supply import osv_advisory
from maat.services import execution, signing
from maat.services.alerts import AlertSink, list_alerts
from maat.services.devices import enrol_device
from maat.services.findings import import_sbom
from maat.services.platform import Platform
from maat.services.vendors import add_vendor, blast_radius
from maat.services.vulns import import_advisories
from maat_testkit import FakeClock, open_platform

pytestmark = pytest.mark.filterwarnings("ignore::maat.errors.UnsafeOptionWarning")


def _hit(
    host: str, level: str, rule: str = "web-shell", sender: str | None = "own"
) -> dict[str, Any]:
    line = {"rule.id": rule, "rule.title": f"{rule} on {host}", "rule.level": level,
            "rule.techniques": ["T1505.003"], "rule.route": "process_creation",
            "event.id": f"{rule}-{host}-{level}", "@timestamp": "2024-05-08T02:00:00Z",
            "host.name": host}  # fmt: skip
    if sender is not None:  # the enrolled device whose own agent sent the event
        line["maat.sender.device"] = host if sender == "own" else sender
    return line


def _supplier(platform: Platform) -> None:
    add_vendor(platform, "soc", "Contoso ERP")
    enrol_device(platform, "soc", "CONTOSO-WEB01", tags=("vendor:Contoso ERP", "dmz"))


def test_venom_web_shell_on_the_suppliers_server_records_its_breach_once(
    platform: Platform,
) -> None:
    _supplier(platform)
    outcome = AlertSink(platform).record([_hit("CONTOSO-WEB01", "high")])
    assert outcome.breaches == ["Contoso ERP"]
    [breach] = list_alerts(platform, rule_id="maat.vendors.breach")
    assert "Contoso ERP" in breach.title
    assert breach in outcome.new  # so it is forwarded like any new alert
    # The vendor now operates the host in the trust graph, and is named on the alert.
    assert "CONTOSO-WEB01" in blast_radius(platform, "vendor", "Contoso ERP").nodes["host"]
    assert "-operates->" in blast_radius(platform, "vendor", "Contoso ERP").explain(
        Node("host", "CONTOSO-WEB01")
    )
    [hit] = list_alerts(platform, rule_id="web-shell")
    assert hit.entities["vendors"] == ["Contoso ERP"]
    # A second alert keeps the first breach record.
    again = AlertSink(platform).record([_hit("CONTOSO-WEB01", "critical", "frp")])
    assert again.breaches == []
    assert len(list_alerts(platform, rule_id="maat.vendors.breach")) == 1


def test_an_agent_naming_the_suppliers_host_in_its_events_cannot_record_a_breach(
    platform: Platform,
) -> None:
    """A desk's agent (or a collector) sends a web-shell event claiming host.name
    CONTOSO-WEB01: it names the vendor, but it is no evidence about the vendor's host."""
    _supplier(platform)
    sink = AlertSink(platform)
    assert sink.record([_hit("CONTOSO-WEB01", "critical", sender="OFF-WS01")]).breaches == []
    assert sink.record([_hit("CONTOSO-WEB01", "critical", "frp", sender=None)]).breaches == []
    assert list_alerts(platform, rule_id="maat.vendors.breach") == []
    [hit] = list_alerts(platform, rule_id="web-shell")
    assert hit.entities["vendors"] == ["Contoso ERP"]  # still named, for the analyst


def test_a_medium_alert_or_a_host_the_vendor_does_not_run_records_no_breach(
    platform: Platform,
) -> None:
    _supplier(platform)
    enrol_device(platform, "soc", "OFF-WS01", tags=("office",))
    sink = AlertSink(platform)
    assert sink.record([_hit("CONTOSO-WEB01", "medium")]).breaches == []
    assert sink.record([_hit("OFF-WS01", "critical")]).breaches == []
    assert list_alerts(platform, rule_id="maat.vendors.breach") == []


@pytest.fixture
def never(tmp_path: Path, clock: FakeClock) -> Iterator[Platform]:
    yield from open_platform("sqlite", tmp_path / "data", clock,
                             detect={"vendor_breach_level": ""})  # fmt: skip


def test_vendor_breach_level_empty_turns_the_automatic_breach_off(never: Platform) -> None:
    _supplier(never)
    assert AlertSink(never).record([_hit("CONTOSO-WEB01", "critical")]).breaches == []


@pytest.fixture
def signer(tmp_path: Path, clock: FakeClock) -> Iterator[Platform]:
    yield from open_platform("sqlite", tmp_path / "data", clock,
                             signing={"unsafe_file_keystore": True})  # fmt: skip


SBOM = b"""{"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1, "components": [
  {"type": "file", "name": "ErpClient.exe", "version": "4.2.1",
   "hashes": [{"alg": "SHA-256", "content": "%s"}]}]}"""
POLICY = """name: erp-desks
version: 1
mode: enforce
host_groups: [office]
rules:
  - allow_publisher: {subject: "Contoso ERP Code Signing", product: Contoso ERP Client,
                      in_sbom: true}
"""


def test_trojanised_delivery_signed_by_the_supplier_is_blocked_and_raises_an_alert(
    signer: Platform, tmp_path: Path
) -> None:
    import hashlib

    (tmp_path / "osv").mkdir()
    (tmp_path / "osv" / "a.json").write_bytes(osv_advisory(at=datetime(2024, 5, 1, tzinfo=UTC)))
    import_advisories(signer, "soc", tmp_path / "osv")
    signing.ca_init(signer, "soc", organisation="Skyward")
    add_vendor(signer, "soc", "Contoso ERP")
    cert = signing.ca_issue(signer, "soc", subject="Contoso ERP Code Signing",
                            organisation="Contoso ERP", vendor="Contoso ERP")  # fmt: skip
    client, trojan = b"MZ genuine client", b"MZ trojanised updater"
    for data, name in ((client, "ErpClient.exe"), (trojan, "ErpUpdater.exe")):
        signing.sign_file(signer, "contoso-build", data, name, signer=cert.fingerprint,
                          product="Contoso ERP Client", version="4.2.1")  # fmt: skip
    digest = hashlib.sha256(client).hexdigest()
    import_sbom(signer, "soc", "Contoso ERP Client", SBOM % digest.encode(), source="erp.cdx.json",
                vendor="Contoso ERP")  # fmt: skip
    execution.load_policy_text(signer, "soc", POLICY, source="erp.yml")

    def ask(data: bytes, name: str, group: str = "office", host: str = "OFF-WS01") -> Any:
        sighted = execution.Sighted(host, hashlib.sha256(data).hexdigest(),
                                    f"C:/Program Files/Contoso/ERP/{name}", group)  # fmt: skip
        return execution.decide(signer, sighted)

    # A declared file refused for another reason (no policy for the group) is no supply-chain
    # signal: blocked, but no alert naming the vendor.
    assert ask(client, "ErpClient.exe", group="lab").action == "block"
    assert list_alerts(signer, rule_id=execution.VENDOR_FILE_RULE) == []

    assert ask(client, "ErpClient.exe").action == "run"
    assert list_alerts(signer, rule_id=execution.VENDOR_FILE_RULE) == []
    blocked = ask(trojan, "ErpUpdater.exe")
    assert blocked.action == "block"
    assert any("not listed in any SBOM" in r for r in blocked.reasons)
    [alert] = list_alerts(signer, rule_id=execution.VENDOR_FILE_RULE)
    assert alert.level == "high" and alert.entities["vendors"] == ["Contoso ERP"]
    assert alert.entities["hosts"] == ["OFF-WS01"]
    assert alert.entities["artifacts"] == [hashlib.sha256(trojan).hexdigest()]
    # In audit mode the same file runs, and the alert says it would have been blocked.
    execution.load_policy_text(signer, "soc", POLICY.replace("enforce", "audit").replace(
        "version: 1", "version: 2"), source="erp.yml")  # fmt: skip
    assert ask(trojan, "ErpUpdater.exe", host="OFF-WS02").action == "run"
    audit = [a for a in list_alerts(signer, rule_id=execution.VENDOR_FILE_RULE) if a.id != alert.id]
    assert [a.level for a in audit] == ["medium"] and "would be blocked" in audit[0].title

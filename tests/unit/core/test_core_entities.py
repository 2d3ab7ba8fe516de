"""Tests for maat.core.entities: validation and round trips."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from maat.core import (
    Advisory,
    Alert,
    AlertLevel,
    Artifact,
    Case,
    CaseStatus,
    Certificate,
    Criticality,
    Digest,
    Finding,
    FindingStatus,
    Host,
    Identity,
    IdentityKind,
    Product,
    Purl,
    RevocationReason,
    Segment,
    Session,
    Severity,
    Vendor,
    new_id,
)
from maat.errors import InvalidInput

SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

VALID: dict[type[Any], dict[str, Any]] = {
    Vendor: {"id": "vnd_1", "name": "Acme ERP Ltd", "criticality": "critical", "tags": ["erp"]},
    Product: {
        "id": "prd_1",
        "vendor_id": "vnd_1",
        "name": "Acme ERP",
        "purl": "pkg:generic/acme-erp@9.1",
    },
    Artifact: {
        "id": "art_1",
        "sha256": f"sha256:{SHA}",
        "name": "update.exe",
        "product_id": "prd_1",
        "size": 1024,
    },
    Certificate: {
        "id": "crt_1",
        "fingerprint_sha256": SHA,
        "subject": "CN=Acme Code Signing,O=Acme",
        "issuer": "CN=Acme CA",
        "serial": "0A:1B",
        "not_before": "2024-01-01T00:00:00Z",
        "not_after": "2026-01-01T00:00:00Z",
        "revoked_at": "2025-03-01T12:00:00+01:00",
        "revocation_reason": "keyCompromise",
        "vendor_id": "vnd_1",
    },
    Host: {
        "id": "hst_1",
        "hostname": "WS-0042.corp.example",
        "os": "Windows 11 23H2",
        "segment_id": "seg_1",
        "tags": ["finance", "laptop"],
        "criticality": "high",
    },
    Segment: {"id": "seg_1", "name": "office", "tags": ["user"]},
    Identity: {
        "id": "idn_1",
        "name": "acme-support",
        "kind": "service",
        "vendor_id": "vnd_1",
        "roles": ["remote-access"],
    },
    Session: {
        "id": "ses_1",
        "identity_id": "idn_1",
        "host_id": "hst_1",
        "started_at": "2025-01-01T08:00:00Z",
        "mfa_at": "2025-01-01T08:00:05Z",
    },
    Advisory: {
        "id": "GHSA-xxxx-yyyy-zzzz",
        "aliases": ["CVE-2024-0001"],
        "summary": "Remote code execution",
        "severity": "critical",
        "published": "2024-02-01T00:00:00Z",
        "modified": "2024-02-02T00:00:00Z",
        "affected": [{"package": {"ecosystem": "PyPI", "name": "x"}, "versions": ["1.0"]}],
        "schema_version": "1.6.0",
    },
    Finding: {
        "id": "fnd_1",
        "advisory_id": "GHSA-xxxx-yyyy-zzzz",
        "component": "pkg:pypi/Django@4.2",
        "host_id": "hst_1",
        "severity": "critical",
        "status": "open",
        "opened_at": "2025-01-01T00:00:00Z",
        "due_at": "2025-01-04T00:00:00Z",
    },
    Alert: {
        "id": "alr_1",
        "rule_id": "5f3c1b1e-1c7e-4a6a-9d0c-2f8a4e4b7c11",
        "title": "winword.exe side-loading from unusual path",
        "level": "high",
        "techniques": ["T1574.002", "t1548.002"],
        "event_ids": ["evt_2", "evt_1"],
        "entities": {"host": "hst_1", "artifact": ["art_1", "art_2"]},
        "created_at": "2025-01-01T10:00:00Z",
    },
    Case: {
        "id": "cas_1",
        "title": "Acme certificate revoked",
        "status": "investigating",
        "opened_at": "2025-01-01T10:05:00Z",
        "alert_ids": ["alr_1"],
    },
}

ENTITIES = list(VALID)


@pytest.mark.parametrize("cls", ENTITIES, ids=lambda c: c.__name__)
def test_round_trip(cls: type[Any]) -> None:
    value = cls.from_dict(VALID[cls])
    data = value.to_dict()
    again = cls.from_dict(data)
    assert again == value
    assert again.to_dict() == data
    hash(value)


@pytest.mark.parametrize("cls", ENTITIES, ids=lambda c: c.__name__)
def test_entities_are_frozen_and_slotted(cls: type[Any]) -> None:
    value = cls.from_dict(VALID[cls])
    assert not hasattr(value, "__dict__")
    with pytest.raises(AttributeError):
        value.id = "other"


@pytest.mark.parametrize("cls", ENTITIES, ids=lambda c: c.__name__)
def test_missing_id_is_named(cls: type[Any]) -> None:
    data = {k: v for k, v in VALID[cls].items() if k != "id"}
    with pytest.raises(InvalidInput) as info:
        cls.from_dict(data, file="import.json")
    assert info.value.location.field == "id"
    assert info.value.location.file == "import.json"


@pytest.mark.parametrize(
    "cls", [c for c in ENTITIES if c is not Advisory], ids=lambda c: c.__name__
)
def test_unknown_key_is_rejected(cls: type[Any]) -> None:
    with pytest.raises(InvalidInput) as info:
        cls.from_dict({**VALID[cls], "colour": "red"})
    assert info.value.location.field == "colour"


@pytest.mark.parametrize("cls", ENTITIES, ids=lambda c: c.__name__)
def test_not_a_mapping_is_rejected(cls: type[Any]) -> None:
    with pytest.raises(InvalidInput):
        cls.from_dict(["not", "an", "object"])


def test_values_are_typed_and_normalised() -> None:
    vendor = Vendor.from_dict(VALID[Vendor])
    assert vendor.criticality is Criticality.CRITICAL
    artifact = Artifact.from_dict(VALID[Artifact])
    assert artifact.sha256 == Digest.from_hex("sha256", SHA)
    cert = Certificate.from_dict(VALID[Certificate])
    assert cert.serial == "a1b"
    assert cert.revocation_reason is RevocationReason.KEY_COMPROMISE
    assert cert.revoked_at == datetime(2025, 3, 1, 11, 0, tzinfo=UTC)
    assert cert.fingerprint_sha256.algorithm == "sha256"
    host = Host.from_dict(VALID[Host])
    assert host.hostname == "ws-0042.corp.example"
    assert Identity.from_dict(VALID[Identity]).kind is IdentityKind.SERVICE
    finding = Finding.from_dict(VALID[Finding])
    assert finding.component == Purl.parse("pkg:pypi/django@4.2")
    assert finding.status is FindingStatus.OPEN
    alert = Alert.from_dict(VALID[Alert])
    assert alert.level is AlertLevel.HIGH
    assert alert.techniques == ("T1548.002", "T1574.002")
    assert alert.event_ids == ("evt_2", "evt_1")
    assert alert.entities == {"host": ("hst_1",), "artifact": ("art_1", "art_2")}
    assert Case.from_dict(VALID[Case]).status is CaseStatus.INVESTIGATING


def test_defaults_apply_when_absent_or_null() -> None:
    host = Host.from_dict({"id": "h", "hostname": "h1", "criticality": None})
    assert host.criticality is Criticality.MEDIUM
    assert host.tags == ()
    assert host.os == ""
    finding = Finding.from_dict(
        {
            "id": "f",
            "advisory_id": "a",
            "component": "pkg:npm/x@1",
            "severity": "low",
            "opened_at": "2025-01-01T00:00:00Z",
        }
    )
    assert finding.status is FindingStatus.OPEN
    assert finding.due_at is None


def test_advisory_keeps_unknown_keys_in_raw() -> None:
    advisory = Advisory.from_dict(VALID[Advisory])
    assert advisory.severity is Severity.CRITICAL
    assert advisory.raw["schema_version"] == "1.6.0"
    assert advisory.raw["affected"][0]["package"]["name"] == "x"
    assert "id" not in advisory.raw
    data = advisory.to_dict()
    assert data["raw"]["affected"] == VALID[Advisory]["affected"]
    with pytest.raises(TypeError):
        advisory.raw["x"] = 1  # type: ignore[index]


def test_advisory_raw_conflict_is_named() -> None:
    with pytest.raises(InvalidInput) as info:
        Advisory.from_dict({"id": "A-1", "details": "x", "raw": {"details": "y"}})
    assert info.value.location.field == "raw.details"


def test_advisory_raw_must_be_json() -> None:
    with pytest.raises(InvalidInput) as info:
        Advisory.from_dict({"id": "A-1", "extra": {"n": float("nan")}})
    assert info.value.location.field == "extra.n"


def test_direct_construction_and_new_id() -> None:
    vendor = Vendor(id=new_id(Vendor.ID_PREFIX), name="Acme", criticality=Criticality.LOW)
    assert vendor.id.startswith("vnd_")
    assert Vendor.from_dict(vendor.to_dict()) == vendor


T0 = "2025-01-01T00:00:00Z"

INVALID: list[tuple[type[Any], dict[str, Any], str]] = [
    (Vendor, {"name": ""}, "name"),
    (Vendor, {"name": "   "}, "name"),
    (Vendor, {"name": "x" * 201}, "name"),
    (Vendor, {"name": "a\nb"}, "name"),
    (Vendor, {"name": 5}, "name"),
    (Vendor, {"criticality": "extreme"}, "criticality"),
    (Vendor, {"criticality": None}, "criticality"),
    (Vendor, {"tags": "erp"}, "tags"),
    (Vendor, {"tags": ["ok", ""]}, "tags[1]"),
    (Vendor, {"id": ""}, "id"),
    (Vendor, {"id": "has space"}, "id"),
    (Vendor, {"id": "x" * 201}, "id"),
    (Vendor, {"id": 7}, "id"),
    (Product, {"vendor_id": None}, "vendor_id"),
    (Product, {"purl": "notapurl"}, "purl"),
    (Artifact, {"sha256": "sha256:abc"}, "sha256"),
    (Artifact, {"sha256": "md5:" + "0" * 32}, "sha256"),
    (Artifact, {"sha256": "z" * 64}, "sha256"),
    (Artifact, {"size": -1}, "size"),
    (Artifact, {"size": True}, "size"),
    (Artifact, {"size": "10"}, "size"),
    (Artifact, {"product_id": ""}, "product_id"),
    (Certificate, {"not_after": "2023-01-01T00:00:00Z"}, "not_after"),
    (Certificate, {"not_before": "2024-01-01T00:00:00"}, "not_before"),
    (Certificate, {"not_before": "yesterday"}, "not_before"),
    (Certificate, {"not_before": 1700000000}, "not_before"),
    (Certificate, {"serial": "xyz"}, "serial"),
    (Certificate, {"serial": -5}, "serial"),
    (Certificate, {"serial": True}, "serial"),
    (Certificate, {"revocation_reason": "bored"}, "revocation_reason"),
    (Certificate, {"revoked_at": None}, "revoked_at"),
    (Certificate, {"subject": ""}, "subject"),
    (Certificate, {"fingerprint_sha256": "sha1:" + "0" * 40}, "fingerprint_sha256"),
    (Host, {"hostname": "two words"}, "hostname"),
    (Host, {"hostname": ""}, "hostname"),
    (Host, {"os": ["linux"]}, "os"),
    (Host, {"criticality": "tier-0"}, "criticality"),
    (Segment, {"name": None}, "name"),
    (Identity, {"kind": "robot"}, "kind"),
    (Identity, {"roles": [1]}, "roles[0]"),
    (Session, {"started_at": "2025-13-01T00:00:00Z"}, "started_at"),
    (Session, {"mfa_at": "2025-01-01"}, "mfa_at"),
    (Session, {"identity_id": None}, "identity_id"),
    (Advisory, {"severity": "severe"}, "severity"),
    (Advisory, {"aliases": ["CVE 1"]}, "aliases[0]"),
    (Advisory, {"published": "soon"}, "published"),
    (Advisory, {"summary": 3}, "summary"),
    (Advisory, {"raw": []}, "raw"),
    (Finding, {"component": "pkg:maven/nogroup@1"}, "component"),
    (Finding, {"status": "ignored"}, "status"),
    (Finding, {"due_at": "2024-12-31T00:00:00Z"}, "due_at"),
    (Finding, {"severity": None}, "severity"),
    (Alert, {"techniques": ["T99"]}, "techniques[0]"),
    (Alert, {"level": "urgent"}, "level"),
    (Alert, {"entities": {"host": 5}}, "entities.host"),
    (Alert, {"entities": {"host": ["ok", ""]}}, "entities.host[1]"),
    (Alert, {"entities": ["host"]}, "entities"),
    (Alert, {"event_ids": [None]}, "event_ids[0]"),
    (Alert, {"created_at": None}, "created_at"),
    (Case, {"status": "archived"}, "status"),
    (Case, {"title": ""}, "title"),
    (Case, {"alert_ids": "alr_1"}, "alert_ids"),
]


@pytest.mark.parametrize(
    ("cls", "change", "field"),
    INVALID,
    ids=[f"{c.__name__}-{f}-{i}" for i, (c, _, f) in enumerate(INVALID)],
)
def test_invalid_field_is_named(cls: type[Any], change: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as info:
        cls.from_dict({**VALID[cls], **change}, file="in.json")
    assert info.value.location.field == field
    assert info.value.location.file == "in.json"
    assert field in info.value.diagnostics()


def test_certificate_validity_helpers() -> None:
    cert = Certificate.from_dict(VALID[Certificate])
    assert cert.is_valid_at(datetime(2024, 6, 1, tzinfo=UTC))
    assert not cert.is_valid_at(datetime(2025, 6, 1, tzinfo=UTC))
    assert cert.is_revoked_at(datetime(2025, 3, 1, 11, 0, tzinfo=UTC))
    assert not cert.is_revoked_at(datetime(2025, 3, 1, 10, 59, tzinfo=UTC))
    assert not cert.is_valid_at(datetime(2023, 6, 1, tzinfo=UTC))


def test_revocation_reason_lookup_is_lenient() -> None:
    assert RevocationReason("key_compromise") is RevocationReason.KEY_COMPROMISE
    assert RevocationReason("CACOMPROMISE") is RevocationReason.CA_COMPROMISE
    with pytest.raises(ValueError, match="nope"):
        RevocationReason("nope")


def test_enum_ranks_order() -> None:
    assert Severity.CRITICAL.rank > Severity.HIGH.rank > Severity.MEDIUM.rank > Severity.LOW.rank
    assert AlertLevel.INFORMATIONAL.rank == 0
    assert Criticality.CRITICAL.rank == 3
    assert FindingStatus.OPEN.is_open
    assert not FindingStatus.MITIGATED_BY_ISOLATION.is_open

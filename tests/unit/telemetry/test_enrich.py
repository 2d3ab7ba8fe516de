"""Enrichment: an event leaves ingest knowing its host, its binaries' vendor and its user."""

from __future__ import annotations

from maat.telemetry.enrich import ArtifactFacts, HostFacts, IdentityFacts, enrich

ERP = "a" * 64
WWLIB = "b" * 64


class FakeFacts:
    def __init__(self) -> None:
        self.asked: list[str] = []

    def host(self, name: str) -> HostFacts | None:
        self.asked.append(name)
        if name.lower() == "eng-ws1":
            return HostFacts("h-1", "engineering", "high", "internal")
        return None

    def artifact(self, sha256: str) -> ArtifactFacts | None:
        if sha256 == ERP:
            return ArtifactFacts("erp.exe", "Acme ERP", "7.2.1", "Acme Software", "CN=Acme Signing")
        return None

    def identity(self, name: str) -> IdentityFacts | None:
        return IdentityFacts("alice", ("analyst",)) if name == "alice" else None


def test_trojanised_vendor_binary_carries_its_vendor_and_signer() -> None:
    event = {"host.name": "ENG-WS1", "process.hash.sha256": ERP.upper(), "user.name": "alice"}
    enrich([event], FakeFacts())
    assert event["host.id"] == "h-1"
    assert event["maat.segment"] == "engineering"
    assert event["maat.process.known"] is True
    assert event["maat.process.vendor"] == "Acme Software"
    assert event["maat.process.signer"] == "CN=Acme Signing"
    assert event["maat.user.roles"] == ["analyst"]


def test_side_loaded_dll_unknown_to_maat_is_marked_unknown() -> None:
    event = {"host.name": "ENG-WS1", "dll.hash.sha256": WWLIB, "process.hash.sha256": ERP}
    enrich([event], FakeFacts())
    assert event["maat.dll.known"] is False
    assert "maat.dll.vendor" not in event
    assert event["maat.process.known"] is True


def test_unknown_host_and_user_add_nothing_misleading() -> None:
    event = {"host.name": "ghost", "user.name": "mallory", "process.hash.sha256": "short"}
    enrich([event], FakeFacts())
    assert "host.id" not in event
    assert event["maat.user.known"] is False
    assert "maat.process.known" not in event  # not a SHA-256: nothing to look up

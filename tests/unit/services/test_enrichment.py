"""StoreFacts answers from the state store and caches, including "unknown"."""

from __future__ import annotations

from maat.core.ids import new_id
from maat.services import users
from maat.services.enrichment import StoreFacts
from maat.services.platform import Platform
from maat.signing.records import ArtifactRecord
from maat.vulns.records import HostRecord, ProductRecord
from maat_testkit import PASSWORD


def test_facts_come_from_the_state_store_and_are_cached(platform: Platform) -> None:
    now = platform.now()
    with platform.transaction() as uow:
        uow.hosts.add(HostRecord(new_id("t"), "eng-ws1", now, group="engineering"))
        uow.products.add(ProductRecord(new_id("t"), "Acme ERP", now, vendor="Acme Software"))
        uow.artifacts.add(ArtifactRecord(new_id("t"), "a" * 64, "erp.exe", now, product="Acme ERP",
                                         version="7.2.1"))  # fmt: skip
    users.add_user(platform, "test", "alice", ["analyst"], PASSWORD)
    facts = StoreFacts(platform)
    host = facts.host("ENG-WS1")
    assert host is not None and host.group == "engineering"
    artifact = facts.artifact("a" * 64)
    assert artifact is not None and artifact.vendor == "Acme Software"
    assert facts.artifact("b" * 64) is None
    identity = facts.identity("CORP\\alice")
    assert identity is not None and identity.roles == ("analyst",)
    with platform.transaction() as uow:  # a host never asked about is looked up when first seen
        uow.hosts.add(HostRecord(new_id("t"), "eng-ws2", now))
    assert facts.host("eng-ws2") is not None
    assert StoreFacts(platform, ttl=0).host("nope") is None

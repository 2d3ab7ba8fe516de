"""Enrichment facts from the state store, cached: hosts, signed artifacts, identities.

Telemetry repeats the same hosts, binaries and users millions of times; each distinct key
is looked up once per ``ttl`` seconds (answers "unknown" included, so a flood of unknown
hashes costs one query each, not one per event). Bounded: the cache is cleared when full.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

from maat.ports import UnitOfWork
from maat.services.platform import Platform
from maat.telemetry.enrich import ArtifactFacts, HostFacts, IdentityFacts

__all__ = ["StoreFacts"]

_T = TypeVar("_T")
MAX_ENTRIES = 200_000


class StoreFacts:
    """:class:`maat.telemetry.enrich.Facts` read from the platform's state store."""

    def __init__(self, platform: Platform, *, ttl: float = 60.0) -> None:
        self._platform = platform
        self._ttl = ttl
        self._cache: dict[tuple[str, str], tuple[float, object]] = {}
        self._lock = threading.Lock()

    def _cached(self, kind: str, key: str, load: Callable[[UnitOfWork], _T]) -> _T:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get((kind, key))
        if hit is not None and hit[0] > now:
            return hit[1]  # type: ignore[return-value]
        with self._platform.transaction(write=False) as uow:
            value = load(uow)
        with self._lock:
            if len(self._cache) >= MAX_ENTRIES:
                self._cache.clear()
            self._cache[(kind, key)] = (now + self._ttl, value)
        return value

    def host(self, name: str) -> HostFacts | None:
        """The host by name (Sysmon reports short upper-case names; inventories lower)."""
        key = name.lower()

        def load(uow: UnitOfWork) -> HostFacts | None:
            record = uow.hosts.by_name(name) or uow.hosts.by_name(key)
            if record is None:
                return None
            return HostFacts(
                record.id, record.group, str(record.criticality), record.exposure,
                record.flagged_for_isolation,
            )  # fmt: skip

        return self._cached("host", key, load)

    def artifact(self, sha256: str) -> ArtifactFacts | None:
        """The newest recorded artifact with this digest, its product's vendor and signer."""

        def load(uow: UnitOfWork) -> ArtifactFacts | None:
            found = uow.artifacts.by_sha256(sha256)
            if not found:
                return None
            record = max(found, key=lambda a: a.recorded_at)
            vendor = signer = None
            if record.product:
                product = uow.products.by_name(record.product)
                vendor = product.vendor if product is not None else None
            if record.signer_fingerprint:
                cert = uow.certificates.by_fingerprint(record.signer_fingerprint)
                if cert is not None:
                    signer = cert.subject
                    vendor = vendor or cert.vendor
            return ArtifactFacts(record.name, record.product, record.version, vendor, signer)

        return self._cached("artifact", sha256, load)

    def identity(self, name: str) -> IdentityFacts | None:
        """The Maat user of that name (``DOMAIN\\user`` is matched by ``user``)."""
        key = name.rsplit("\\", 1)[-1].lower()

        def load(uow: UnitOfWork) -> IdentityFacts | None:
            record = uow.users.by_name(key)
            if record is None:
                return None
            return IdentityFacts(record.name, tuple(sorted(str(r) for r in record.roles)))

        return self._cached("identity", key, load)

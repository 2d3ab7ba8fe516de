"""Enrichment: attach what Maat knows about an event's host, binaries and user.

The trust graph's facts travel with each event, so that detection and hunting can ask
"which vendor's product is this DLL?" without a join:

- host (by ``host.name``): ``host.id``, ``maat.host.group``, ``maat.host.criticality``,
  ``maat.host.exposure``, ``maat.segment`` (the host's group until segments exist) and
  ``maat.host.isolation_flagged``;
- each binary with a SHA-256 (``process``, ``process.parent``, ``dll``, ``file``):
  ``maat.<entity>.known`` (Maat has a signed artifact with that digest) and, when known,
  ``maat.<entity>.product``, ``.version``, ``.vendor`` and ``.signer`` (the signing
  certificate's subject);
- user (by ``user.name``): ``maat.user.known`` and ``maat.user.roles``.

Lookups go through a :class:`Facts` object, which the service layer backs with the state
store and a cache; nothing here reads storage.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from maat.telemetry.model import Event

__all__ = ["ArtifactFacts", "Facts", "HostFacts", "IdentityFacts", "enrich"]


@dataclass(frozen=True, slots=True)
class HostFacts:
    """What the state store says about a host."""

    id: str
    group: str
    criticality: str
    exposure: str
    isolation_flagged: bool = False


@dataclass(frozen=True, slots=True)
class ArtifactFacts:
    """A signed artifact Maat recorded: its product, vendor and signer."""

    name: str
    product: str | None = None
    version: str | None = None
    vendor: str | None = None
    signer: str | None = None


@dataclass(frozen=True, slots=True)
class IdentityFacts:
    """A Maat identity (user or service account) and its roles."""

    name: str
    roles: tuple[str, ...]


class Facts(Protocol):
    """Lookups by the keys events carry; ``None`` when Maat knows nothing."""

    def host(self, name: str) -> HostFacts | None:
        """The host named ``name`` (case-insensitive)."""
        ...

    def artifact(self, sha256: str) -> ArtifactFacts | None:
        """The artifact with this lower-case hex SHA-256."""
        ...

    def identity(self, name: str) -> IdentityFacts | None:
        """The identity named ``name`` (case-insensitive, domain stripped by the caller)."""
        ...


BINARIES = (
    ("process", "process.hash.sha256"),
    ("process_parent", "process.parent.hash.sha256"),
    ("dll", "dll.hash.sha256"),
    ("file", "file.hash.sha256"),
)


def enrich(events: Iterable[Event], facts: Facts) -> None:
    """Add the facts of each event's host, binaries and user to the event, in place."""
    for event in events:
        host_name = event.get("host.name")
        if isinstance(host_name, str) and host_name:
            host = facts.host(host_name)
            if host is not None:
                event["host.id"] = host.id
                event["maat.host.group"] = host.group
                event["maat.segment"] = host.group
                event["maat.host.criticality"] = host.criticality
                event["maat.host.exposure"] = host.exposure
                event["maat.host.isolation_flagged"] = host.isolation_flagged
        for entity, key in BINARIES:
            digest = event.get(key)
            if not isinstance(digest, str) or len(digest) != 64:
                continue
            artifact = facts.artifact(digest.lower())
            event[f"maat.{entity}.known"] = artifact is not None
            if artifact is None:
                continue
            for name, value in (
                ("product", artifact.product),
                ("version", artifact.version),
                ("vendor", artifact.vendor),
                ("signer", artifact.signer),
            ):
                if value is not None:
                    event[f"maat.{entity}.{name}"] = value
        user = event.get("user.name")
        if isinstance(user, str) and user:
            identity = facts.identity(user)
            event["maat.user.known"] = identity is not None
            if identity is not None:
                event["maat.user.roles"] = list(identity.roles)

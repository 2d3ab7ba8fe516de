"""The stored shapes of devices and access policy versions (value objects)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = ["DeviceRecord", "PolicyVersion"]


@dataclass(frozen=True)
class DeviceRecord:
    """An enrolled device. ``host`` is its name in telemetry (``host.name``); ``token_id`` is
    its agent's credential, so events and heartbeats sent with it are the device's."""

    id: str
    name: str
    host: str
    created_at: datetime
    address: str | None = None
    tags: tuple[str, ...] = ()
    token_id: str | None = None
    last_heartbeat_at: datetime | None = None
    quarantined_at: datetime | None = None
    quarantine_reason: str | None = None
    cert_sha256: str | None = None
    """The SHA-256 of the device's client certificate (DER), when it proves itself by mTLS."""


@dataclass(frozen=True)
class PolicyVersion:
    """One version of the access policy (``kind`` "access") or of the segmentation
    (``kind`` "segments"), kept verbatim with its SHA-256."""

    id: str
    kind: str
    version: int
    name: str
    text: str
    digest: str
    created_at: datetime
    created_by: str

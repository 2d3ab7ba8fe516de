"""Stored shapes of certificates, CRLs, artifacts, sightings and execution policies."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class CertificateRecord:
    """A certificate Maat issued or knows; ``key_label`` names its key in the key store."""

    id: str
    fingerprint: str
    serial: str
    role: str  # root | intermediate | code-signing | tsa | external
    subject: str
    issuer: str
    not_before: datetime
    not_after: datetime
    pem: str = field(repr=False)
    created_at: datetime
    key_label: str | None = None
    vendor: str | None = None
    revoked_at: datetime | None = None
    revocation_reason: str | None = None


@dataclass(frozen=True)
class CrlRecord:
    """A CRL issued by Maat or imported from a vendor or URL."""

    id: str
    issuer: str
    number: int | None
    this_update: datetime
    next_update: datetime | None
    source: str
    der: bytes = field(repr=False)
    imported_at: datetime


@dataclass(frozen=True)
class ArtifactRecord:
    """A signed file: digest, name, product, signer and trusted signing time."""

    id: str
    sha256: str
    name: str
    recorded_at: datetime
    product: str | None = None
    version: str | None = None
    signer_fingerprint: str | None = None
    signed_at: datetime | None = None


@dataclass(frozen=True)
class SightingRecord:
    """A binary seen on a host and what the execution policy decided."""

    id: str
    host: str
    sha256: str
    path: str
    action: str
    seen_at: datetime
    signer_fingerprint: str | None = None
    policy: str | None = None


@dataclass(frozen=True)
class ExecPolicyRecord:
    """One version of an execution policy."""

    id: str
    name: str
    version: int
    text: str
    digest: str
    active: bool
    created_at: datetime
    created_by: str

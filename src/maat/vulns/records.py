"""Stored shapes of hosts, products, SBOMs and findings (value objects)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from maat.core.enums import Criticality, FindingStatus


@dataclass(frozen=True)
class HostRecord:
    """A host Maat knows, with what its inventory said of it."""

    id: str
    name: str
    created_at: datetime
    group: str = "all"
    criticality: Criticality = Criticality.MEDIUM
    exposure: str = "internal"  # internet | internal | isolated
    os_ecosystem: str | None = None
    os_name: str | None = None
    end_of_life: str | None = None
    isolation_reasons: tuple[str, ...] = ()
    inventory_at: datetime | None = None

    @property
    def flagged_for_isolation(self) -> bool:
        """Legacy host: end-of-life OS or findings without a fix (zero trust isolates it)."""
        return bool(self.isolation_reasons)


@dataclass(frozen=True)
class ProductRecord:
    """A (vendor) product whose SBOMs Maat holds."""

    id: str
    name: str
    created_at: datetime
    vendor: str | None = None
    criticality: Criticality = Criticality.MEDIUM


@dataclass(frozen=True)
class SbomRecord:
    """An imported SBOM document, kept whole for later rescans."""

    id: str
    product_id: str
    name: str
    format: str
    spec_version: str
    sha256: str
    components: int
    imported_at: datetime
    document: bytes = field(repr=False, default=b"")


@dataclass(frozen=True)
class FindingRecord:
    """One (host or product, component, advisory) finding and its lifecycle."""

    id: str
    subject_kind: str  # host | product
    subject_id: str
    component_key: str  # purl without version, or ecosystem/package
    component_name: str
    component_version: str
    component_purl: str | None
    advisory_id: str
    aliases: tuple[str, ...]
    summary: str
    severity: str
    cvss: float | None
    kev: bool
    epss: float | None
    priority: float
    priority_label: str
    fixed_versions: tuple[str, ...]
    status: FindingStatus
    opened_at: datetime
    due_at: datetime
    last_seen_at: datetime
    fixed_at: datetime | None = None
    risk_approver: str | None = None
    risk_reason: str | None = None
    risk_expires_at: datetime | None = None
    vex_justification: str | None = None

"""The vendor register in the state store."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from maat.adapters.storage.models import VendorRow
from maat.core.enums import Criticality
from maat.vendors.records import Contact, VendorRecord

__all__ = ["SqlVendors"]


def _record(row: VendorRow) -> VendorRecord:
    return VendorRecord(
        id=row.id,
        name=row.name,
        created_at=row.created_at,
        criticality=Criticality(row.criticality),
        tiers=tuple(row.tiers),
        contacts=tuple(
            Contact(c["name"], c["email"], c.get("role", "security")) for c in row.contacts
        ),
        website=row.website,
        breached_at=row.breached_at,
        breach_note=row.breach_note,
    )


def _values(vendor: VendorRecord) -> dict[str, object]:
    return {
        "name": vendor.name,
        "criticality": vendor.criticality.value,
        "tiers": list(vendor.tiers),
        "contacts": [{"name": c.name, "email": c.email, "role": c.role} for c in vendor.contacts],
        "website": vendor.website,
        "breached_at": vendor.breached_at,
        "breach_note": vendor.breach_note,
        "created_at": vendor.created_at,
    }


class SqlVendors:
    """Vendors."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, vendor: VendorRecord) -> None:
        """Insert a vendor."""
        self._s.add(VendorRow(id=vendor.id, **_values(vendor)))
        self._s.flush()

    def update(self, vendor: VendorRecord) -> None:
        """Replace the stored vendor with the same id."""
        self._s.execute(
            update(VendorRow).where(VendorRow.id == vendor.id).values(**_values(vendor))
        )

    def by_name(self, name: str) -> VendorRecord | None:
        """The vendor with this name (case-insensitive), or None."""
        query = select(VendorRow).where(func.lower(VendorRow.name) == name.lower())
        row = self._s.scalars(query).first()
        return _record(row) if row is not None else None

    def list(self) -> Sequence[VendorRecord]:
        """Every vendor, by name."""
        return [_record(r) for r in self._s.scalars(select(VendorRow).order_by(VendorRow.name))]

"""The vendor register in the state store."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from maat.adapters.storage.mapping import Repo, to_record
from maat.adapters.storage.models import (
    AssessmentRow,
    ContractRow,
    IncidentNoticeRow,
    VendorFindingRow,
    VendorRow,
)
from maat.core.enums import Criticality
from maat.vendors.records import (
    AssessmentRecord,
    Contact,
    IncidentNoticeRecord,
    VendorFindingRecord,
    VendorRecord,
)

__all__ = [
    "SqlAssessments", "SqlContracts", "SqlVendorFindings", "SqlVendorIncidents", "SqlVendors",
]  # fmt: skip


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

    def by_name(self, name: str, *, for_update: bool = False) -> VendorRecord | None:
        """The vendor with this name (case-insensitive), or None; ``for_update`` locks the
        row until the transaction ends."""
        query = select(VendorRow).where(func.lower(VendorRow.name) == name.lower())
        row = self._s.scalars(query.with_for_update() if for_update else query).first()
        return _record(row) if row is not None else None

    def list(self) -> Sequence[VendorRecord]:
        """Every vendor, by name."""
        return [_record(r) for r in self._s.scalars(select(VendorRow).order_by(VendorRow.name))]


def _assessment(row: AssessmentRow) -> AssessmentRecord:
    return AssessmentRecord(
        id=row.id, vendor_id=row.vendor_id, questionnaire=row.questionnaire, version=row.version,
        score=row.score, answered_at=row.answered_at, assessed_at=row.assessed_at,
        expires_at=row.expires_at, answers=dict(row.answers),
        evidence=tuple(row.evidence), points=tuple(tuple(p) for p in row.points),
        missing=tuple(row.missing),
    )  # fmt: skip


class SqlAssessments:
    """Vendor assessments."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, record: AssessmentRecord) -> None:
        """Insert an assessment."""
        self._s.add(AssessmentRow(
            id=record.id, vendor_id=record.vendor_id, questionnaire=record.questionnaire,
            version=record.version, score=record.score, answered_at=record.answered_at,
            assessed_at=record.assessed_at, expires_at=record.expires_at,
            answers=record.answers, evidence=list(record.evidence),
            points=[list(p) for p in record.points], missing=list(record.missing),
        ))  # fmt: skip
        self._s.flush()

    def latest(self, vendor_id: str) -> AssessmentRecord | None:
        """The vendor's most recent assessment: the one answered last, not imported last (an
        old answers file imported for the record must not replace the current one). Answers
        dated after the day of their import count from that day, as their expiry does: a date
        to come is no answer. On the same day, the later import wins (a correction)."""
        rows = self._s.scalars(
            select(AssessmentRow).where(AssessmentRow.vendor_id == vendor_id)
        ).all()  # a few a year: ordered here, where dates and times compare as Python's

        def answered(row: AssessmentRow) -> tuple[date, datetime, str]:
            day = min(row.answered_at.date(), row.assessed_at.date())
            return day, row.assessed_at, row.id

        return _assessment(max(rows, key=answered)) if rows else None


class SqlContracts:
    """Vendor contracts (one per vendor: the current one)."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def put(self, contract_id: str, vendor_id: str, text: str, signed_at: datetime,
            recorded_at: datetime) -> None:  # fmt: skip
        """Store the vendor's contract, replacing the one before."""
        row = self._s.scalars(select(ContractRow).where(ContractRow.vendor_id == vendor_id)).first()
        if row is None:
            self._s.add(ContractRow(id=contract_id, vendor_id=vendor_id, text=text,
                                    signed_at=signed_at, recorded_at=recorded_at))  # fmt: skip
        else:
            row.text, row.signed_at, row.recorded_at = text, signed_at, recorded_at
        self._s.flush()

    def text_of(self, vendor_id: str) -> str | None:
        """The vendor's contract YAML, or None."""
        row = self._s.scalars(select(ContractRow).where(ContractRow.vendor_id == vendor_id)).first()
        return row.text if row is not None else None


class SqlVendorIncidents(Repo):
    """Vendors' incident notices."""

    row = IncidentNoticeRow
    record = IncidentNoticeRecord

    def of_vendor(self, vendor_id: str) -> list[IncidentNoticeRecord]:
        """A vendor's notices, oldest incident first."""
        query = (
            select(IncidentNoticeRow)
            .where(IncidentNoticeRow.vendor_id == vendor_id)
            .order_by(IncidentNoticeRow.occurred_at)
        )
        return [to_record(IncidentNoticeRecord, r) for r in self._s.scalars(query)]


class SqlVendorFindings(Repo):
    """Findings against vendors."""

    row = VendorFindingRow
    record = VendorFindingRecord

    def of_vendor(self, vendor_id: str, *, open_only: bool = False) -> list[VendorFindingRecord]:
        """A vendor's findings, oldest first."""
        query = select(VendorFindingRow).where(VendorFindingRow.vendor_id == vendor_id)
        if open_only:
            query = query.where(VendorFindingRow.closed_at.is_(None))
        query = query.order_by(VendorFindingRow.opened_at, VendorFindingRow.id)
        return [to_record(VendorFindingRecord, r) for r in self._s.scalars(query)]

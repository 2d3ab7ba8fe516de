"""Repositories for hosts, products, SBOMs and findings."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from maat.adapters.storage.models import Base, FindingRow, HostRow, ProductRow, SbomRow
from maat.core.enums import Criticality, FindingStatus
from maat.vulns.records import FindingRecord, HostRecord, ProductRecord, SbomRecord

R = TypeVar("R")

# Record fields stored in another shape: tuples as JSON lists, enums as their values.
_TO_RECORD = {
    "criticality": Criticality,
    "status": FindingStatus,
    "isolation_reasons": tuple,
    "aliases": tuple,
    "fixed_versions": tuple,
}


def _values(record: Any) -> dict[str, Any]:
    out = {}
    for f in dataclasses.fields(record):
        value = getattr(record, f.name)
        if isinstance(value, tuple):
            value = list(value)
        elif hasattr(value, "value") and f.name in _TO_RECORD:
            value = value.value
        out[f.name] = value
    return out


def _record(cls: type[R], row: Base) -> R:
    kwargs = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        value = getattr(row, f.name)
        convert = _TO_RECORD.get(f.name)
        if convert is not None and value is not None:
            value = convert(value)
        kwargs[f.name] = value
    return cls(**kwargs)


class _Repo:
    row: type[Base]
    record: type[Any]

    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, record: Any) -> None:
        """Insert."""
        self._s.add(self.row(**_values(record)))
        self._s.flush()

    def update(self, record: Any) -> None:
        """Replace the stored record with the same id."""
        values = _values(record)
        values.pop("id")
        self._s.execute(update(self.row).where(self.row.id == record.id).values(**values))  # type: ignore[attr-defined]

    def get(self, record_id: str) -> Any:
        """The record with this id, or None."""
        row = self._s.get(self.row, record_id)
        return _record(self.record, row) if row is not None else None


class SqlHosts(_Repo):
    """Hosts."""

    row = HostRow
    record = HostRecord

    def by_name(self, name: str) -> HostRecord | None:
        """The host with this name."""
        row = self._s.scalars(select(HostRow).where(HostRow.name == name)).first()
        return _record(HostRecord, row) if row else None

    def list(self) -> Sequence[HostRecord]:
        """All hosts by name."""
        return [
            _record(HostRecord, r) for r in self._s.scalars(select(HostRow).order_by(HostRow.name))
        ]


class SqlProducts(_Repo):
    """Products."""

    row = ProductRow
    record = ProductRecord

    def by_name(self, name: str) -> ProductRecord | None:
        """The product with this name."""
        row = self._s.scalars(select(ProductRow).where(ProductRow.name == name)).first()
        return _record(ProductRecord, row) if row else None

    def list(self) -> Sequence[ProductRecord]:
        """All products by name."""
        rows = self._s.scalars(select(ProductRow).order_by(ProductRow.name))
        return [_record(ProductRecord, r) for r in rows]


class SqlSboms(_Repo):
    """Imported SBOMs."""

    row = SbomRow
    record = SbomRecord

    def latest_for(self, product_id: str) -> SbomRecord | None:
        """The newest SBOM of a product."""
        row = self._s.scalars(
            select(SbomRow)
            .where(SbomRow.product_id == product_id)
            .order_by(SbomRow.imported_at.desc(), SbomRow.id.desc())
        ).first()
        return _record(SbomRecord, row) if row else None


class SqlFindings(_Repo):
    """Findings."""

    row = FindingRow
    record = FindingRecord

    def for_subject(self, kind: str, subject_id: str) -> Sequence[FindingRecord]:
        """Every finding of one host or product."""
        rows = self._s.scalars(
            select(FindingRow).where(
                FindingRow.subject_kind == kind, FindingRow.subject_id == subject_id
            )
        )
        return [_record(FindingRecord, r) for r in rows]

    def list(
        self,
        *,
        statuses: Sequence[FindingStatus] | None = None,
        due_before: datetime | None = None,
        subject_kind: str | None = None,
        subject_id: str | None = None,
        limit: int | None = None,
    ) -> Sequence[FindingRecord]:
        """Findings, most urgent first, filtered."""
        query = select(FindingRow).order_by(
            FindingRow.priority.desc(), FindingRow.due_at, FindingRow.id
        )
        if statuses:
            query = query.where(FindingRow.status.in_([s.value for s in statuses]))
        if due_before is not None:
            query = query.where(FindingRow.due_at <= due_before)
        if subject_kind is not None:
            query = query.where(FindingRow.subject_kind == subject_kind)
        if subject_id is not None:
            query = query.where(FindingRow.subject_id == subject_id)
        if limit is not None:
            query = query.limit(limit)
        return [_record(FindingRecord, r) for r in self._s.scalars(query)]

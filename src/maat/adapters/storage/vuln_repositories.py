"""Repositories for hosts, products, SBOMs and findings."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select

from maat.adapters.storage.mapping import Repo, to_record
from maat.adapters.storage.models import FindingRow, HostRow, ProductRow, SbomRow
from maat.core.enums import FindingStatus
from maat.vulns.records import FindingRecord, HostRecord, ProductRecord, SbomRecord


class SqlHosts(Repo):
    """Hosts."""

    row = HostRow
    record = HostRecord

    def by_name(self, name: str) -> HostRecord | None:
        """The host with this name."""
        row = self._s.scalars(select(HostRow).where(HostRow.name == name)).first()
        return to_record(HostRecord, row) if row else None

    def list(self) -> Sequence[HostRecord]:
        """All hosts by name."""
        return [
            to_record(HostRecord, r)
            for r in self._s.scalars(select(HostRow).order_by(HostRow.name))
        ]


class SqlProducts(Repo):
    """Products."""

    row = ProductRow
    record = ProductRecord

    def by_name(self, name: str) -> ProductRecord | None:
        """The product with this name."""
        row = self._s.scalars(select(ProductRow).where(ProductRow.name == name)).first()
        return to_record(ProductRecord, row) if row else None

    def list(self) -> Sequence[ProductRecord]:
        """All products by name."""
        rows = self._s.scalars(select(ProductRow).order_by(ProductRow.name))
        return [to_record(ProductRecord, r) for r in rows]


class SqlSboms(Repo):
    """Imported SBOMs."""

    row = SbomRow
    record = SbomRecord

    def for_product(self, product_id: str) -> list[SbomRecord]:
        """The SBOMs imported for one product."""
        query = select(SbomRow).where(SbomRow.product_id == product_id)
        return [to_record(SbomRecord, r) for r in self._s.scalars(query)]


class SqlFindings(Repo):
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
        return [to_record(FindingRecord, r) for r in rows]

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
        return [to_record(FindingRecord, r) for r in self._s.scalars(query)]

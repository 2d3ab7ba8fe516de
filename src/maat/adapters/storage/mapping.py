"""Rows to value records and back, by field name, for repositories of plain records."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from sqlalchemy import update
from sqlalchemy.orm import Session

from maat.adapters.storage.models import Base
from maat.core.enums import Criticality, FindingStatus

R = TypeVar("R")

# Record fields stored in another shape: tuples as JSON lists, enums as their values.
_TO_RECORD: dict[str, Any] = {
    "criticality": Criticality,
    "status": FindingStatus,
    "isolation_reasons": tuple,
    "aliases": tuple,
    "fixed_versions": tuple,
    "techniques": tuple,
    "event_ids": tuple,
    "forwarded_to": tuple,
    "tags": tuple,
}


def to_values(record: Any) -> dict[str, Any]:
    out = {}
    for f in dataclasses.fields(record):
        value = getattr(record, f.name)
        if isinstance(value, tuple):
            value = list(value)
        elif hasattr(value, "value") and f.name in _TO_RECORD:
            value = value.value
        out[f.name] = value
    return out


def to_record(cls: type[R], row: Base) -> R:
    kwargs = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        value = getattr(row, f.name)
        convert = _TO_RECORD.get(f.name)
        if convert is not None and value is not None:
            value = convert(value)
        kwargs[f.name] = value
    return cls(**kwargs)


class Repo:
    row: type[Base]
    record: type[Any]

    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, record: Any) -> None:
        """Insert."""
        self._s.add(self.row(**to_values(record)))
        self._s.flush()

    def update(self, record: Any) -> None:
        """Replace the stored record with the same id."""
        values = to_values(record)
        values.pop("id")
        self._s.execute(update(self.row).where(self.row.id == record.id).values(**values))  # type: ignore[attr-defined]

    def get(self, record_id: str) -> Any:
        """The record with this id, or None."""
        row = self._s.get(self.row, record_id)
        return to_record(self.record, row) if row is not None else None

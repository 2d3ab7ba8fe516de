"""Devices and access policy versions in the state store."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select

from maat.access.records import DeviceRecord, PolicyVersion
from maat.adapters.storage.mapping import Repo, to_record
from maat.adapters.storage.models import AccessPolicyRow, DeviceRow

__all__ = ["SqlDevices", "SqlPolicyVersions"]


class SqlDevices(Repo):
    """Enrolled devices."""

    row = DeviceRow
    record = DeviceRecord

    def by_name(self, name: str) -> DeviceRecord | None:
        """The device with this name, or None."""
        row = self._s.scalars(select(DeviceRow).where(DeviceRow.name == name)).first()
        return to_record(DeviceRecord, row) if row is not None else None

    def by_token(self, token_id: str) -> DeviceRecord | None:
        """The device whose agent holds this token, or None."""
        row = self._s.scalars(select(DeviceRow).where(DeviceRow.token_id == token_id)).first()
        return to_record(DeviceRecord, row) if row is not None else None

    def list(self) -> Sequence[DeviceRecord]:
        """Every device, by name."""
        rows = self._s.scalars(select(DeviceRow).order_by(DeviceRow.name))
        return [to_record(DeviceRecord, r) for r in rows]


class SqlPolicyVersions(Repo):
    """Versions of the access policy and of the segmentation."""

    row = AccessPolicyRow
    record = PolicyVersion

    def latest(self, kind: str) -> PolicyVersion | None:
        """The newest version of ``kind`` (``access`` or ``segments``), or None."""
        query = (
            select(AccessPolicyRow)
            .where(AccessPolicyRow.kind == kind)
            .order_by(AccessPolicyRow.version.desc())
            .limit(1)
        )
        row = self._s.scalars(query).first()
        return to_record(PolicyVersion, row) if row is not None else None

    def latest_version(self, kind: str) -> int:
        """The highest version number of ``kind`` (0 if none)."""
        query = select(func.max(AccessPolicyRow.version)).where(AccessPolicyRow.kind == kind)
        return int(self._s.scalar(query) or 0)

    def history(self, kind: str) -> list[PolicyVersion]:
        """Every version of ``kind``, newest first."""
        query = (
            select(AccessPolicyRow)
            .where(AccessPolicyRow.kind == kind)
            .order_by(AccessPolicyRow.version.desc())
        )
        return [to_record(PolicyVersion, r) for r in self._s.scalars(query)]

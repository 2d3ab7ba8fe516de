"""Devices and access policy versions in the state store."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from maat.access.records import DeviceRecord, PolicyVersion
from maat.adapters.storage.mapping import Repo, to_record, to_values
from maat.adapters.storage.models import (
    AccessPolicyRow,
    DeviceRow,
    WebAuthnChallengeRow,
    WebAuthnCredentialRow,
)
from maat.auth.records import WebAuthnChallengeRecord, WebAuthnCredentialRecord

__all__ = ["SqlDevices", "SqlPolicyVersions", "SqlWebAuthn"]


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

    def by_cert(self, sha256: str) -> DeviceRecord | None:
        """The device whose client certificate has this SHA-256, or None."""
        row = self._s.scalars(select(DeviceRow).where(DeviceRow.cert_sha256 == sha256)).first()
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


class SqlWebAuthn:
    """WebAuthn authenticators and ceremonies."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def add_credential(self, record: WebAuthnCredentialRecord) -> None:
        """Register an authenticator."""
        self._s.add(WebAuthnCredentialRow(**to_values(record)))
        self._s.flush()

    def update_credential(self, record: WebAuthnCredentialRecord) -> None:
        """Store a credential's new counter and last use."""
        row = self._s.get(WebAuthnCredentialRow, record.id)
        if row is not None:
            row.sign_count, row.last_used_at = record.sign_count, record.last_used_at
            self._s.flush()

    def credentials_of(self, user_id: str) -> list[WebAuthnCredentialRecord]:
        """A user's authenticators, oldest first."""
        query = (
            select(WebAuthnCredentialRow)
            .where(WebAuthnCredentialRow.user_id == user_id)
            .order_by(WebAuthnCredentialRow.created_at)
        )
        return [to_record(WebAuthnCredentialRecord, r) for r in self._s.scalars(query)]

    def delete_all_for_user(self, user_id: str) -> int:
        """Forget every authenticator of a user; how many there were."""
        result = self._s.execute(
            delete(WebAuthnCredentialRow).where(WebAuthnCredentialRow.user_id == user_id)
        )
        self._s.flush()
        return int(getattr(result, "rowcount", 0) or 0)

    def add_challenge(self, record: WebAuthnChallengeRecord) -> None:
        """Start a ceremony."""
        self._s.add(WebAuthnChallengeRow(**to_values(record)))
        self._s.flush()

    def take_challenge(self, challenge_id: str) -> WebAuthnChallengeRecord | None:
        """The ceremony, locked for this transaction (a challenge is answered once)."""
        query = (
            select(WebAuthnChallengeRow)
            .where(WebAuthnChallengeRow.id == challenge_id)
            .with_for_update()
        )
        row = self._s.scalars(query).first()
        return to_record(WebAuthnChallengeRecord, row) if row is not None else None

    def use_challenge(self, challenge_id: str, at: datetime) -> None:
        """Mark a ceremony's challenge used."""
        row = self._s.get(WebAuthnChallengeRow, challenge_id)
        if row is not None:
            row.used_at = at
            self._s.flush()

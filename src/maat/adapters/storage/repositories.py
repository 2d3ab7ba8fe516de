"""Repositories over one SQLAlchemy session: rows in, value objects out."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from maat.adapters.storage.models import (
    ApiTokenRow,
    AuditHeadRow,
    AuditRow,
    EnrolmentRow,
    SessionRow,
    UserRow,
)
from maat.audit.chain import GENESIS, AuditEntry, AuditRecord, head_tag, seal
from maat.auth.permissions import Permission, Role
from maat.auth.records import EnrolmentRecord, SessionRecord, TokenRecord, UserRecord
from maat.errors import StorageError

_AUDIT_HEAD_ID = 1


def _user(row: UserRow) -> UserRecord:
    return UserRecord(
        id=row.id,
        name=row.name,
        roles=frozenset(Role(r) for r in row.roles),
        password_hash=row.password_hash,
        created_at=row.created_at,
        disabled=row.disabled,
        totp_secret_enc=row.totp_secret_enc,
        totp_last_step=row.totp_last_step,
        failed_logins=row.failed_logins,
        locked_until=row.locked_until,
        password_changed_at=row.password_changed_at,
        vendor=row.vendor,
        groups=tuple(row.groups or ()),
    )


def _user_values(user: UserRecord) -> dict[str, object]:
    return {
        "name": user.name,
        "roles": sorted(r.value for r in user.roles),
        "password_hash": user.password_hash,
        "created_at": user.created_at,
        "disabled": user.disabled,
        "totp_secret_enc": user.totp_secret_enc,
        "totp_last_step": user.totp_last_step,
        "failed_logins": user.failed_logins,
        "locked_until": user.locked_until,
        "password_changed_at": user.password_changed_at,
        "vendor": user.vendor,
        "groups": list(user.groups),
    }


class SqlUsers:
    """Users."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, user: UserRecord) -> None:
        """Insert a new user."""
        self._s.add(UserRow(id=user.id, **_user_values(user)))
        self._s.flush()

    def update(self, user: UserRecord) -> None:
        """Replace the stored user with ``user``."""
        self._s.execute(update(UserRow).where(UserRow.id == user.id).values(**_user_values(user)))

    def get(self, user_id: str, *, for_update: bool = False) -> UserRecord | None:
        """The user with this id; ``for_update`` locks the row until the transaction ends."""
        query = select(UserRow).where(UserRow.id == user_id)
        row = self._s.scalars(query.with_for_update() if for_update else query).first()
        return _user(row) if row else None

    def by_name(self, name: str, *, for_update: bool = False) -> UserRecord | None:
        """The user with this name; ``for_update`` locks the row until the transaction ends."""
        query = select(UserRow).where(UserRow.name == name)
        row = self._s.scalars(query.with_for_update() if for_update else query).first()
        return _user(row) if row else None

    def list(self) -> Sequence[UserRecord]:
        """All users by name."""
        return [_user(r) for r in self._s.scalars(select(UserRow).order_by(UserRow.name))]


def _session(row: SessionRow) -> SessionRecord:
    return SessionRecord(
        id=row.id,
        user_id=row.user_id,
        secret_hash=row.secret_hash,
        created_at=row.created_at,
        last_seen_at=row.last_seen_at,
        client=row.client,
        ended_at=row.ended_at,
        end_reason=row.end_reason,
        mfa_at=row.mfa_at,
    )


class SqlSessions:
    """Interactive sessions."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, session: SessionRecord) -> None:
        """Insert a session."""
        self._s.add(SessionRow(**vars(session)))
        self._s.flush()

    def update(self, session: SessionRecord) -> None:
        """Replace the stored session."""
        values = {k: v for k, v in vars(session).items() if k != "id"}
        self._s.execute(update(SessionRow).where(SessionRow.id == session.id).values(**values))

    def get(self, session_id: str) -> SessionRecord | None:
        """The session with this id."""
        row = self._s.get(SessionRow, session_id)
        return _session(row) if row else None

    def end_all_for_user(self, user_id: str, at: datetime, reason: str) -> int:
        """End every open session of the user; returns how many were ended."""
        result = self._s.execute(
            update(SessionRow)
            .where(SessionRow.user_id == user_id, SessionRow.ended_at.is_(None))
            .values(ended_at=at, end_reason=reason)
        )
        return int(getattr(result, "rowcount", 0) or 0)


def _token(row: ApiTokenRow) -> TokenRecord:
    return TokenRecord(
        id=row.id,
        name=row.name,
        user_id=row.user_id,
        secret_hash=row.secret_hash,
        scopes=frozenset(Permission(p) for p in row.scopes),
        created_at=row.created_at,
        expires_at=row.expires_at,
        created_by=row.created_by,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )


def _token_values(token: TokenRecord) -> dict[str, object]:
    values = {k: v for k, v in vars(token).items() if k != "id"}
    values["scopes"] = sorted(p.value for p in token.scopes)
    return values


class SqlTokens:
    """API tokens."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, token: TokenRecord) -> None:
        """Insert a token."""
        self._s.add(ApiTokenRow(id=token.id, **_token_values(token)))
        self._s.flush()

    def update(self, token: TokenRecord) -> None:
        """Replace the stored token."""
        self._s.execute(
            update(ApiTokenRow).where(ApiTokenRow.id == token.id).values(**_token_values(token))
        )

    def get(self, token_id: str) -> TokenRecord | None:
        """The token with this id."""
        row = self._s.get(ApiTokenRow, token_id)
        return _token(row) if row else None

    def list(self, user_id: str | None = None) -> Sequence[TokenRecord]:
        """Tokens, optionally of one user, oldest first."""
        query = select(ApiTokenRow).order_by(ApiTokenRow.created_at, ApiTokenRow.id)
        if user_id is not None:
            query = query.where(ApiTokenRow.user_id == user_id)
        return [_token(r) for r in self._s.scalars(query)]


class SqlEnrolments:
    """Pending TOTP enrolments."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, enrolment: EnrolmentRecord) -> None:
        """Insert an enrolment."""
        self._s.add(EnrolmentRow(**vars(enrolment)))
        self._s.flush()

    def update(self, enrolment: EnrolmentRecord) -> None:
        """Replace the stored enrolment."""
        values = {k: v for k, v in vars(enrolment).items() if k != "id"}
        self._s.execute(
            update(EnrolmentRow).where(EnrolmentRow.id == enrolment.id).values(**values)
        )

    def close_all_for_user(self, user_id: str, at: datetime) -> int:
        """Mark every open enrolment of the user used (password change, MFA reset, ...)."""
        result = self._s.execute(
            update(EnrolmentRow)
            .where(EnrolmentRow.user_id == user_id, EnrolmentRow.used_at.is_(None))
            .values(used_at=at)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def get(self, enrolment_id: str, *, for_update: bool = False) -> EnrolmentRecord | None:
        """The enrolment with this id; ``for_update`` locks the row."""
        query = select(EnrolmentRow).where(EnrolmentRow.id == enrolment_id)
        row = self._s.scalars(query.with_for_update() if for_update else query).first()
        if row is None:
            return None
        return EnrolmentRecord(
            id=row.id,
            user_id=row.user_id,
            secret_hash=row.secret_hash,
            totp_secret_enc=row.totp_secret_enc,
            created_at=row.created_at,
            expires_at=row.expires_at,
            used_at=row.used_at,
        )


def _record(row: AuditRow) -> AuditRecord:
    entry = AuditEntry(
        at=row.at,
        actor=row.actor,
        action=row.action,
        target=row.target,
        outcome=row.outcome,
        details=row.details,
    )
    return AuditRecord(seq=row.seq, entry=entry, prev_mac=row.prev_mac, mac=row.mac)


class SqlAuditLog:
    """The audit chain. Appends lock the head row, so concurrent writers queue up."""

    def __init__(self, session: Session, key: bytes) -> None:
        self._s = session
        self._key = key

    def append(self, entry: AuditEntry) -> AuditRecord:
        """Append ``entry`` after the current head, inside the caller's transaction."""
        head = self._s.scalars(
            select(AuditHeadRow).where(AuditHeadRow.id == _AUDIT_HEAD_ID).with_for_update()
        ).first()
        if head is None:
            raise StorageError("the audit head is missing", hint="run 'maat init'")
        record = seal(self._key, head.seq + 1, entry, head.mac)
        self._s.add(
            AuditRow(
                seq=record.seq,
                at=entry.at,
                actor=entry.actor,
                action=entry.action,
                target=entry.target,
                outcome=entry.outcome,
                details=dict(entry.details),
                prev_mac=record.prev_mac,
                mac=record.mac,
            )
        )
        head.seq, head.mac = record.seq, record.mac
        head.tag = head_tag(self._key, record.seq, record.mac)
        self._s.flush()
        return record

    def records(self, *, after_seq: int = 0, limit: int | None = None) -> Iterator[AuditRecord]:
        """Records after ``after_seq`` in order, streamed in pages."""
        page = 5_000 if limit is None else min(limit, 5_000)
        remaining = limit
        while remaining is None or remaining > 0:
            size = page if remaining is None else min(page, remaining)
            rows = list(
                self._s.scalars(
                    select(AuditRow)
                    .where(AuditRow.seq > after_seq)
                    .order_by(AuditRow.seq)
                    .limit(size)
                )
            )
            if not rows:
                return
            for row in rows:
                yield _record(row)
            after_seq = rows[-1].seq
            if remaining is not None:
                remaining -= len(rows)

    def head(self) -> tuple[int, str]:
        """The head as recorded at the last append."""
        head = self._s.get(AuditHeadRow, _AUDIT_HEAD_ID)
        return (head.seq, head.mac) if head else (0, GENESIS)

    def head_tag(self) -> str | None:
        """The tag stored with the head (None before the first keyed append)."""
        head = self._s.get(AuditHeadRow, _AUDIT_HEAD_ID)
        return head.tag if head else None

"""Request and response bodies. Unknown fields are refused (422 naming the field)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from maat.audit.chain import AuditRecord, ChainReport
from maat.auth.records import TokenRecord, UserRecord


class Strict(BaseModel):
    """Base for request bodies: extra fields are errors, and no text may hold a NUL
    (PostgreSQL cannot store it; it has no business in names and passwords)."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        texts = value if isinstance(value, list) else [value]
        if any(isinstance(t, str) and "\x00" in t for t in texts):
            raise ValueError("text must not contain NUL characters")
        return value


class LoginRequest(Strict):
    """Password and, once enrolled, the current TOTP code."""

    username: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=1024)
    totp: str | None = Field(default=None, max_length=16)


class EnrolRequest(Strict):
    """Confirms a new authenticator with its first code."""

    ticket: str = Field(min_length=1, max_length=512)
    totp: str = Field(min_length=1, max_length=16)


class EnrolmentOut(BaseModel):
    """The authenticator to enrol (shown once)."""

    ticket: str
    secret: str
    otpauth_uri: str
    expires_in: int


class LoginResponse(BaseModel):
    """``session`` when logged in, ``totp_enrolment_required`` with ``enrolment`` otherwise."""

    status: str
    token: str | None = None
    expires_in: int | None = None
    enrolment: EnrolmentOut | None = None


class PasswordChange(Strict):
    """The current password and the new one."""

    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


class UserCreate(Strict):
    """A new user; a password is generated when none is given."""

    name: str = Field(min_length=1, max_length=200)
    roles: list[str] = Field(min_length=1, max_length=10)
    password: str | None = Field(default=None, max_length=1024)


class UserOut(BaseModel):
    """A user as shown to administrators (no secrets)."""

    id: str
    name: str
    roles: list[str]
    disabled: bool
    totp_enrolled: bool
    locked_until: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, user: UserRecord) -> UserOut:
        """From the stored record."""
        return cls(
            id=user.id,
            name=user.name,
            roles=sorted(r.value for r in user.roles),
            disabled=user.disabled,
            totp_enrolled=user.totp_enrolled,
            locked_until=user.locked_until,
            created_at=user.created_at,
        )


class UserCreated(UserOut):
    """A created user and the generated initial password, if any (shown once)."""

    initial_password: str | None = None


class Me(BaseModel):
    """The caller."""

    name: str
    roles: list[str]
    permissions: list[str]
    credential: str


class TokenCreate(Strict):
    """A new API token; ``owner`` defaults to the caller."""

    name: str = Field(min_length=1, max_length=200)
    owner: str | None = Field(default=None, max_length=200)
    scopes: list[str] | None = Field(default=None, max_length=64)
    ttl_seconds: int | None = Field(default=None, gt=0, le=100 * 365 * 86400)


class TokenOut(BaseModel):
    """A token (never its secret)."""

    id: str
    name: str
    owner: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None

    @classmethod
    def of(cls, token: TokenRecord, owner: str) -> TokenOut:
        """From the stored record."""
        return cls(
            id=token.id,
            name=token.name,
            owner=owner,
            scopes=sorted(token.scopes),
            created_at=token.created_at,
            expires_at=token.expires_at,
            revoked_at=token.revoked_at,
            last_used_at=token.last_used_at,
        )


class TokenCreated(TokenOut):
    """A created token with its secret text (shown once)."""

    token: str


class AuditRecordOut(BaseModel):
    """One audit record."""

    seq: int
    at: datetime
    actor: str
    action: str
    target: str
    outcome: str
    details: dict[str, Any]
    mac: str

    @classmethod
    def of(cls, record: AuditRecord) -> AuditRecordOut:
        """From the stored record."""
        e = record.entry
        return cls(
            seq=record.seq,
            at=e.at,
            actor=e.actor,
            action=e.action,
            target=e.target,
            outcome=e.outcome,
            details=dict(e.details),
            mac=record.mac,
        )


class AuditVerification(BaseModel):
    """The result of verifying the audit chain."""

    ok: bool
    checked: int
    head: str
    problems: list[dict[str, Any]]

    @classmethod
    def of(cls, report: ChainReport) -> AuditVerification:
        """From the chain report."""
        return cls(
            ok=report.ok,
            checked=report.checked,
            head=f"{report.head_seq}:{report.head_mac}",
            problems=[
                {"seq": p.seq, "kind": p.kind, "message": p.message} for p in report.problems
            ],
        )


class PipelineInfo(BaseModel):
    """The telemetry pipeline of this server: whether its lake writer and detection run,
    the last error they met (kept until it is replaced), and how many events detection
    passed over because the store refused them one by one."""

    writer_running: bool
    last_error: str | None
    events_passed_over: int


class SystemInfo(BaseModel):
    """Version and deployment facts."""

    version: str
    database: str
    schema_revision: str | None
    pipeline: PipelineInfo | None = None

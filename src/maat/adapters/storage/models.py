"""SQLAlchemy 2 table models, identical on SQLite and PostgreSQL.

Schema changes go through Alembic migrations in ``migrations/versions``; a test checks that
the models and the migrations agree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the state store; use timezone-aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base with stable constraint names (Alembic needs them on SQLite)."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: dict[Any, Any] = {datetime: UtcDateTime()}


class UserRow(Base):
    """A user or service account."""

    __tablename__ = "users"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    roles: Mapped[list[str]] = mapped_column(JSON)
    password_hash: Mapped[str | None] = mapped_column(Text)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    totp_secret_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    password_changed_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    vendor: Mapped[str | None] = mapped_column(String(200), index=True)
    groups: Mapped[list[str]] = mapped_column(JSON, server_default="[]")


class SessionRow(Base):
    """An interactive session."""

    __tablename__ = "sessions"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    client: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(200))
    mfa_at: Mapped[datetime | None]


class ApiTokenRow(Base):
    """An API token."""

    __tablename__ = "api_tokens"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(400))
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class EnrolmentRow(Base):
    """A pending TOTP enrolment."""

    __tablename__ = "totp_enrolments"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    totp_secret_enc: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class AuditRow(Base):
    """One audit record; ``seq`` is its position in the chain."""

    __tablename__ = "audit_log"
    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(400))
    action: Mapped[str] = mapped_column(String(100))
    target: Mapped[str] = mapped_column(String(400))
    outcome: Mapped[str] = mapped_column(String(40))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_mac: Mapped[str] = mapped_column(String(64))
    mac: Mapped[str] = mapped_column(String(64))


Index("ix_audit_log_at", AuditRow.at)


class AuditHeadRow(Base):
    """The single row holding the chain head; locked by every append to serialise them.
    ``tag`` is :func:`maat.audit.chain.head_tag` of ``seq`` and ``mac`` (empty before the
    first append after revision 0015)."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    mac: Mapped[str] = mapped_column(String(64))
    tag: Mapped[str | None] = mapped_column(String(64))


class HostRow(Base):
    """A host and what its last inventory said."""

    __tablename__ = "hosts"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(253), unique=True)
    group: Mapped[str] = mapped_column("host_group", String(200), default="all")
    criticality: Mapped[str] = mapped_column(String(20), default="medium")
    exposure: Mapped[str] = mapped_column(String(20), default="internal")
    os_ecosystem: Mapped[str | None] = mapped_column(String(100))
    os_name: Mapped[str | None] = mapped_column(String(200))
    end_of_life: Mapped[str | None] = mapped_column(String(200))
    isolation_reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    inventory_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class ProductRow(Base):
    """A product whose SBOMs Maat holds."""

    __tablename__ = "products"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    vendor: Mapped[str | None] = mapped_column(String(200))
    criticality: Mapped[str] = mapped_column(String(20), default="medium")
    created_at: Mapped[datetime]


class SbomRow(Base):
    """An imported SBOM, kept whole."""

    __tablename__ = "sboms"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"), index=True)
    name: Mapped[str] = mapped_column(String(400))
    format: Mapped[str] = mapped_column(String(40))
    spec_version: Mapped[str] = mapped_column(String(20))
    sha256: Mapped[str] = mapped_column(String(64))
    components: Mapped[int] = mapped_column(Integer)
    imported_at: Mapped[datetime]
    document: Mapped[bytes] = mapped_column(LargeBinary)


class FindingRow(Base):
    """A finding per (host or product, component, advisory)."""

    __tablename__ = "findings"
    __table_args__ = (
        UniqueConstraint(
            "subject_kind",
            "subject_id",
            "component_key",
            "advisory_id",
            name="uq_findings_identity",
        ),
    )
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    subject_kind: Mapped[str] = mapped_column(String(20))
    subject_id: Mapped[str] = mapped_column(String(40), index=True)
    component_key: Mapped[str] = mapped_column(String(1000))
    component_name: Mapped[str] = mapped_column(String(400))
    component_version: Mapped[str] = mapped_column(String(200))
    component_purl: Mapped[str | None] = mapped_column(Text)
    advisory_id: Mapped[str] = mapped_column(String(200))
    aliases: Mapped[list[str]] = mapped_column(JSON)
    summary: Mapped[str] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(20))
    cvss: Mapped[float | None]
    kev: Mapped[bool] = mapped_column(Boolean)
    epss: Mapped[float | None]
    priority: Mapped[float]
    priority_label: Mapped[str] = mapped_column(String(4))
    fixed_versions: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(40), index=True)
    opened_at: Mapped[datetime]
    due_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    last_seen_at: Mapped[datetime]
    fixed_at: Mapped[datetime | None]
    risk_approver: Mapped[str | None] = mapped_column(String(200))
    risk_reason: Mapped[str | None] = mapped_column(Text)
    risk_expires_at: Mapped[datetime | None]
    vex_justification: Mapped[str | None] = mapped_column(Text)


class CertificateRow(Base):
    """A certificate Maat issued or knows (vendor signers, trust roots)."""

    __tablename__ = "certificates"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 of the DER
    serial: Mapped[str] = mapped_column(String(64), index=True)  # lower-case hex
    role: Mapped[str] = mapped_column(
        String(20)
    )  # root | intermediate | code-signing | tsa | external
    subject: Mapped[str] = mapped_column(String(1000))
    issuer: Mapped[str] = mapped_column(String(1000))
    not_before: Mapped[datetime]
    not_after: Mapped[datetime]
    key_label: Mapped[str | None] = mapped_column(String(200))
    vendor: Mapped[str | None] = mapped_column(String(200))
    pem: Mapped[str] = mapped_column(Text)
    revoked_at: Mapped[datetime | None]
    revocation_reason: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime]


class CrlRow(Base):
    """A CRL Maat issued or imported."""

    __tablename__ = "crls"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    issuer: Mapped[str] = mapped_column(String(1000), index=True)
    number: Mapped[int | None] = mapped_column(BigInteger)
    this_update: Mapped[datetime]
    next_update: Mapped[datetime | None]
    source: Mapped[str] = mapped_column(String(1000))
    der: Mapped[bytes] = mapped_column(LargeBinary)
    imported_at: Mapped[datetime]


class ArtifactRow(Base):
    """A file Maat signed or saw signed: its digest, signer and product."""

    __tablename__ = "artifacts"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(1000))
    product: Mapped[str | None] = mapped_column(String(200))
    version: Mapped[str | None] = mapped_column(String(100))
    signer_fingerprint: Mapped[str | None] = mapped_column(String(64), index=True)
    signed_at: Mapped[datetime | None]
    recorded_at: Mapped[datetime]


class SightingRow(Base):
    """A binary seen (about to run) on a host, and the execution decision."""

    __tablename__ = "sightings"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    host: Mapped[str] = mapped_column(String(253), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    path: Mapped[str] = mapped_column(String(2000))
    signer_fingerprint: Mapped[str | None] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(20))
    policy: Mapped[str | None] = mapped_column(String(200))
    seen_at: Mapped[datetime]


class ExecPolicyRow(Base):
    """A version of an execution policy (YAML kept verbatim, with its digest)."""

    __tablename__ = "exec_policies"
    __table_args__ = (UniqueConstraint("name", "version", name="uq_exec_policies_version"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    digest: Mapped[str] = mapped_column(String(80))  # sha256:<64 hex>
    active: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(400))


class VendorRow(Base):
    """A vendor in the register."""

    __tablename__ = "vendors"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    criticality: Mapped[str] = mapped_column(String(20))
    tiers: Mapped[list[str]] = mapped_column(JSON)
    contacts: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    website: Mapped[str | None] = mapped_column(String(2000))
    breached_at: Mapped[datetime | None]
    breach_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class AssessmentRow(Base):
    """A scored vendor assessment."""

    __tablename__ = "assessments"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    vendor_id: Mapped[str] = mapped_column(String(40), index=True)
    questionnaire: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    score: Mapped[float]
    answered_at: Mapped[datetime]
    assessed_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    points: Mapped[list[Any]] = mapped_column(JSON)
    missing: Mapped[list[str]] = mapped_column(JSON)


class ContractRow(Base):
    """A vendor's contract terms (the YAML kept as given)."""

    __tablename__ = "contracts"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    vendor_id: Mapped[str] = mapped_column(String(40), unique=True)
    text: Mapped[str] = mapped_column(Text)
    signed_at: Mapped[datetime]
    recorded_at: Mapped[datetime]


class AlertRow(Base):
    """An alert with the entities it concerns (detection rules arrive with issue 6)."""

    __tablename__ = "alerts"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    rule_id: Mapped[str] = mapped_column(String(200), index=True)
    title: Mapped[str] = mapped_column(String(1000))
    level: Mapped[str] = mapped_column(String(20))
    techniques: Mapped[list[str]] = mapped_column(JSON)
    entities: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    group_key: Mapped[str] = mapped_column(String(64), index=True, server_default="")
    event_ids: Mapped[list[str]] = mapped_column(JSON, server_default="[]")
    count: Mapped[int] = mapped_column(Integer, server_default="1")
    last_seen: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    state: Mapped[str] = mapped_column(String(20), index=True, server_default="open")
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(400), nullable=True)
    forwarded_to: Mapped[list[str]] = mapped_column(JSON, server_default="[]")
    forwarded_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True, index=True)


class DeviceRow(Base):
    """An enrolled device: its host, its agent's credential, heartbeat and quarantine."""

    __tablename__ = "devices"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    host: Mapped[str] = mapped_column(String(200), index=True)
    created_at: Mapped[datetime]
    address: Mapped[str | None] = mapped_column(String(64))
    tags: Mapped[list[str]] = mapped_column(JSON)
    token_id: Mapped[str | None] = mapped_column(String(40), index=True)
    last_heartbeat_at: Mapped[datetime | None]
    quarantined_at: Mapped[datetime | None]
    quarantine_reason: Mapped[str | None] = mapped_column(Text)
    cert_sha256: Mapped[str | None] = mapped_column(String(64), index=True)


class AccessPolicyRow(Base):
    """A version of the access policy (YAML kept verbatim, with its digest)."""

    __tablename__ = "access_policies"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(400))
    __table_args__ = (UniqueConstraint("kind", "version", name="uq_access_policies_version"),)


class ChangeEpochRow(Base):
    """A counter database triggers bump when data an access decision reads changes."""

    __tablename__ = "change_epochs"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger)


class WebAuthnCredentialRow(Base):
    """A registered WebAuthn authenticator."""

    __tablename__ = "webauthn_credentials"
    id: Mapped[str] = mapped_column(String(400), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]


class WebAuthnChallengeRow(Base):
    """A WebAuthn ceremony in progress."""

    __tablename__ = "webauthn_challenges"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(20))
    challenge: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class IncidentNoticeRow(Base):
    """A vendor's incident notice."""

    __tablename__ = "vendor_incidents"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    vendor_id: Mapped[str] = mapped_column(String(40), index=True)
    occurred_at: Mapped[datetime]
    notified_at: Mapped[datetime]
    note: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime]
    recorded_by: Mapped[str] = mapped_column(String(400))


class VendorFindingRow(Base):
    """A finding against a vendor."""

    __tablename__ = "vendor_findings"
    __table_args__ = (
        Index("uq_vendor_findings_open", "vendor_id", "key", unique=True,
              sqlite_where=text("closed_at IS NULL"), postgresql_where=text("closed_at IS NULL")),
    )  # fmt: skip
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    vendor_id: Mapped[str] = mapped_column(String(40), index=True)
    source: Mapped[str] = mapped_column(String(20))
    term: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(400))
    detail: Mapped[str] = mapped_column(Text)
    opened_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]

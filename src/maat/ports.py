"""Ports: the interfaces through which services reach the outside world.

Capability packages never see adapters; services receive these Protocols. Each port has an
adapter for tests (SQLite, in-process, in-memory) and one for production (PostgreSQL, NATS,
PKCS#11, ...).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from maat.access.records import DeviceRecord, PolicyVersion
from maat.audit.chain import AuditEntry, AuditRecord
from maat.auth.records import (
    EnrolmentRecord,
    SessionRecord,
    TokenRecord,
    UserRecord,
    WebAuthnChallengeRecord,
    WebAuthnCredentialRecord,
)
from maat.core.enums import FindingStatus
from maat.detect.records import AlertRecord
from maat.signing.records import (
    ArtifactRecord,
    CertificateRecord,
    CrlRecord,
    ExecPolicyRecord,
    SightingRecord,
)
from maat.vendors.records import (
    AssessmentRecord,
    IncidentNoticeRecord,
    VendorFindingRecord,
    VendorRecord,
)
from maat.vulns.records import FindingRecord, HostRecord, ProductRecord, SbomRecord

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes


class Clock(Protocol):
    """Where time comes from (a fixed or stepping clock in tests)."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        return datetime.now(UTC)


class UserRepository(Protocol):
    """Users by id and by unique name."""

    def add(self, user: UserRecord) -> None: ...
    def update(self, user: UserRecord) -> None: ...
    def get(self, user_id: str, *, for_update: bool = False) -> UserRecord | None: ...
    def by_name(self, name: str, *, for_update: bool = False) -> UserRecord | None: ...
    def list(self) -> Sequence[UserRecord]: ...


class SessionRepository(Protocol):
    """Interactive sessions."""

    def add(self, session: SessionRecord) -> None: ...
    def update(self, session: SessionRecord) -> None: ...
    def get(self, session_id: str) -> SessionRecord | None: ...
    def end_all_for_user(self, user_id: str, at: datetime, reason: str) -> int: ...


class TokenRepository(Protocol):
    """API tokens."""

    def add(self, token: TokenRecord) -> None: ...
    def update(self, token: TokenRecord) -> None: ...
    def get(self, token_id: str) -> TokenRecord | None: ...
    def list(self, user_id: str | None = None) -> Sequence[TokenRecord]: ...


class EnrolmentRepository(Protocol):
    """Pending TOTP enrolments."""

    def add(self, enrolment: EnrolmentRecord) -> None: ...
    def update(self, enrolment: EnrolmentRecord) -> None: ...
    def get(self, enrolment_id: str, *, for_update: bool = False) -> EnrolmentRecord | None: ...
    def close_all_for_user(self, user_id: str, at: datetime) -> int: ...


class AuditLog(Protocol):
    """The append-only, hash-chained audit log."""

    def append(self, entry: AuditEntry) -> AuditRecord:
        """Append inside the current transaction, serialised against other appends."""
        ...

    def records(self, *, after_seq: int = 0, limit: int | None = None) -> Iterator[AuditRecord]:
        """Records in ascending sequence order."""
        ...

    def head(self) -> tuple[int, str]:
        """The (seq, MAC) of the last record as recorded at append time."""
        ...

    def head_tag(self) -> str | None:
        """The keyed tag stored with the head (see :func:`maat.audit.chain.head_tag`)."""
        ...


class HostRepository(Protocol):
    """Hosts."""

    def add(self, host: HostRecord) -> None: ...
    def update(self, host: HostRecord) -> None: ...
    def get(self, host_id: str) -> HostRecord | None: ...
    def by_name(self, name: str) -> HostRecord | None: ...
    def list(self) -> Sequence[HostRecord]: ...


class ProductRepository(Protocol):
    """Products."""

    def add(self, product: ProductRecord) -> None: ...
    def update(self, product: ProductRecord) -> None: ...
    def get(self, product_id: str) -> ProductRecord | None: ...
    def by_name(self, name: str) -> ProductRecord | None: ...
    def list(self) -> Sequence[ProductRecord]: ...


class SbomRepository(Protocol):
    """Imported SBOM documents."""

    def add(self, sbom: SbomRecord) -> None: ...
    def get(self, sbom_id: str) -> SbomRecord | None: ...
    def for_product(self, product_id: str) -> list[SbomRecord]: ...


class FindingRepository(Protocol):
    """Findings."""

    def add(self, finding: FindingRecord) -> None: ...
    def update(self, finding: FindingRecord) -> None: ...
    def get(self, finding_id: str) -> FindingRecord | None: ...
    def for_subject(self, kind: str, subject_id: str) -> Sequence[FindingRecord]: ...
    def list(
        self,
        *,
        statuses: Sequence[FindingStatus] | None = None,
        due_before: datetime | None = None,
        subject_kind: str | None = None,
        subject_id: str | None = None,
        limit: int | None = None,
    ) -> Sequence[FindingRecord]: ...


class CertificateRepository(Protocol):
    """Certificates Maat issued or knows."""

    def add(self, certificate: CertificateRecord) -> None: ...
    def update(self, certificate: CertificateRecord) -> None: ...
    def get(self, certificate_id: str) -> CertificateRecord | None: ...
    def by_fingerprint(self, fingerprint: str) -> CertificateRecord | None: ...
    def by_serial(self, serial: str) -> list[CertificateRecord]: ...
    def by_role(self, role: str) -> list[CertificateRecord]: ...
    def issued_by(self, issuer: str) -> list[CertificateRecord]: ...
    def list(self) -> Sequence[CertificateRecord]: ...


class CrlRepository(Protocol):
    """Issued and imported CRLs."""

    def add(self, crl: CrlRecord) -> None: ...
    def latest(self) -> list[CrlRecord]: ...
    def next_number(self, issuer: str) -> int: ...


class ArtifactRepository(Protocol):
    """Signed artifacts."""

    def add(self, artifact: ArtifactRecord) -> None: ...
    def by_sha256(self, sha256: str) -> list[ArtifactRecord]: ...
    def signed_by(self, fingerprint: str) -> list[ArtifactRecord]: ...
    def of_products(self, products: Sequence[str]) -> list[ArtifactRecord]: ...


class SightingRepository(Protocol):
    """Binaries seen on hosts."""

    def add(self, sighting: SightingRecord) -> None: ...
    def of_hashes(
        self, hashes: Sequence[str], since: datetime | None = None
    ) -> list[SightingRecord]: ...
    def by_signer(self, fingerprint: str) -> list[SightingRecord]: ...


class ExecPolicyRepository(Protocol):
    """Execution policy versions."""

    def add(self, policy: ExecPolicyRecord) -> None: ...
    def active(self) -> list[ExecPolicyRecord]: ...
    def latest_version(self, name: str) -> int: ...
    def deactivate(self, name: str) -> None: ...


class AlertRepository(Protocol):
    """Alerts."""

    def add(self, alert: AlertRecord) -> None: ...
    def update(self, alert: AlertRecord) -> None: ...
    def list(
        self, *, rule_id: str | None = None, host: str | None = None, level: str | None = None,
        limit: int = 100,
    ) -> list[AlertRecord]: ...  # fmt: skip
    def latest_in_group(self, group_key: str) -> AlertRecord | None: ...
    def unforwarded(self, since: datetime, limit: int) -> Sequence[AlertRecord]: ...
    def record_forwards(
        self, alert_id: str, receivers: Sequence[str], complete_at: datetime | None
    ) -> None: ...
    def open_naming(
        self, entity: str, name: str, levels: Sequence[str]
    ) -> Sequence[AlertRecord]: ...


class VendorRepository(Protocol):
    """The vendor register."""

    def add(self, vendor: VendorRecord) -> None: ...
    def update(self, vendor: VendorRecord) -> None: ...
    def by_name(self, name: str, *, for_update: bool = False) -> VendorRecord | None: ...
    def list(self) -> Sequence[VendorRecord]: ...


class AssessmentRepository(Protocol):
    """Vendor assessments."""

    def add(self, record: AssessmentRecord) -> None: ...
    def latest(self, vendor_id: str) -> AssessmentRecord | None: ...


class ContractRepository(Protocol):
    """Vendor contracts."""

    def put(self, contract_id: str, vendor_id: str, text: str, signed_at: datetime,
            recorded_at: datetime) -> None: ...  # fmt: skip
    def text_of(self, vendor_id: str) -> str | None: ...


class DeviceRepository(Protocol):
    """Enrolled devices."""

    def add(self, device: DeviceRecord) -> None: ...
    def update(self, device: DeviceRecord) -> None: ...
    def get(self, device_id: str) -> DeviceRecord | None: ...
    def by_name(self, name: str) -> DeviceRecord | None: ...
    def by_token(self, token_id: str) -> DeviceRecord | None: ...
    def by_cert(self, sha256: str) -> DeviceRecord | None: ...
    def list(self) -> Sequence[DeviceRecord]: ...


class PolicyVersionRepository(Protocol):
    """Versions of the access policy and of the segmentation."""

    def add(self, version: PolicyVersion) -> None: ...
    def latest(self, kind: str) -> PolicyVersion | None: ...
    def latest_version(self, kind: str) -> int: ...
    def history(self, kind: str) -> list[PolicyVersion]: ...


class WebAuthnRepository(Protocol):
    """WebAuthn authenticators and ceremonies in progress."""

    def add_credential(self, record: WebAuthnCredentialRecord) -> None: ...
    def update_credential(self, record: WebAuthnCredentialRecord) -> None: ...
    def credentials_of(self, user_id: str) -> list[WebAuthnCredentialRecord]: ...
    def delete_all_for_user(self, user_id: str) -> int: ...
    def add_challenge(self, record: WebAuthnChallengeRecord) -> None: ...
    def take_challenge(self, challenge_id: str) -> WebAuthnChallengeRecord | None: ...
    def use_challenge(self, challenge_id: str, at: datetime) -> None: ...


class VendorIncidentRepository(Protocol):
    """Vendors' incident notices."""

    def add(self, notice: IncidentNoticeRecord) -> None: ...
    def of_vendor(self, vendor_id: str) -> list[IncidentNoticeRecord]: ...


class VendorFindingRepository(Protocol):
    """Findings against vendors (contract breaches)."""

    def add(self, finding: VendorFindingRecord) -> None: ...
    def update(self, finding: VendorFindingRecord) -> None: ...
    def of_vendor(
        self, vendor_id: str, *, open_only: bool = False
    ) -> list[VendorFindingRecord]: ...


class UnitOfWork(Protocol):
    """One transaction over every repository; commits on normal exit, rolls back on error."""

    @property
    def users(self) -> UserRepository: ...
    @property
    def sessions(self) -> SessionRepository: ...
    @property
    def tokens(self) -> TokenRepository: ...
    @property
    def enrolments(self) -> EnrolmentRepository: ...
    @property
    def audit(self) -> AuditLog: ...
    @property
    def hosts(self) -> HostRepository: ...
    @property
    def products(self) -> ProductRepository: ...
    @property
    def sboms(self) -> SbomRepository: ...
    @property
    def findings(self) -> FindingRepository: ...
    @property
    def certificates(self) -> CertificateRepository: ...
    @property
    def crls(self) -> CrlRepository: ...
    @property
    def artifacts(self) -> ArtifactRepository: ...
    @property
    def sightings(self) -> SightingRepository: ...
    @property
    def exec_policies(self) -> ExecPolicyRepository: ...
    @property
    def alerts(self) -> AlertRepository: ...
    @property
    def vendors(self) -> VendorRepository: ...
    @property
    def assessments(self) -> AssessmentRepository: ...
    @property
    def contracts(self) -> ContractRepository: ...
    @property
    def devices(self) -> DeviceRepository: ...
    @property
    def policy_versions(self) -> PolicyVersionRepository: ...
    @property
    def webauthn(self) -> WebAuthnRepository: ...
    @property
    def vendor_incidents(self) -> VendorIncidentRepository: ...
    @property
    def vendor_findings(self) -> VendorFindingRepository: ...


class StateStore(Protocol):
    """The state store (SQLite or PostgreSQL)."""

    def transaction(self, *, write: bool = True) -> AbstractContextManager[UnitOfWork]:
        """Open a unit of work."""
        ...

    def check_schema(self) -> None:
        """Raise ``StorageError`` unless the schema is at the version this code expects."""
        ...

    def epoch(self) -> int:
        """A counter that moves whenever data an access decision reads changes (findings,
        alert states, devices, hosts, execution policies, users, vendors, tokens,
        policies), in any process; caches keyed on it are exact."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class BusMessage(NamedTuple):
    """One stored message as a consumer receives it.

    ``position`` grows with every message of the stream (spool byte offset, JetStream stream
    sequence): a consumer that records the last position it finished resumes after it.

    A named tuple, not a frozen dataclass: the spool makes one a message, and a frozen
    dataclass's ``__init__`` (four ``object.__setattr__`` calls) cost 1 µs of them.
    """

    subject: str
    msg_id: str
    data: bytes
    position: int


class EventBus(Protocol):
    """Carries events between pipeline stages: the durable local spool on one node, NATS
    JetStream on a cluster. Errors: ``Unavailable`` (503) when data cannot be stored."""

    @property
    def identity(self) -> str:
        """Names this sequence of positions; a new one when the bus was recreated (a fresh
        spool, a re-created stream), so a recorded position is never applied to another."""
        ...

    def publish(self, subject: str, messages: Sequence[tuple[str, bytes]]) -> int:
        """Store ``(msg_id, data)`` pairs under ``subject``; return only once all are durable.

        A ``msg_id`` already stored within the bus's deduplication window is stored once.
        Returns how many messages were new (the others were duplicates). Raises
        ``Unavailable`` (nothing is acknowledged) when the bus is down or full.
        """
        ...

    def fetch(self, consumer: str, *, max_messages: int, timeout: float) -> list[BusMessage]:
        """Up to ``max_messages`` messages the durable ``consumer`` has not acknowledged yet,
        oldest first, waiting at most ``timeout`` seconds for the first one."""
        ...

    def ack(self, consumer: str, messages: Sequence[BusMessage]) -> None:
        """Mark ``messages`` as done for ``consumer``: they are not fetched again."""
        ...

    def seek(self, consumer: str, position: int) -> None:
        """Make ``consumer`` continue, in order, with the first message after ``position``.

        For a consumer that records its own progress elsewhere (the lake's manifest): at
        start it seeks to what it has, so nothing is skipped or delivered twice.
        """
        ...

    def close(self) -> None:
        """Release files, connections and threads."""
        ...


class Lake(Protocol):
    """The telemetry lake: Parquet files by day and module, listed in a hash-chained manifest.

    The value types (``LakeReport``, ``RetentionReport``, ``QueryResult``) live in
    :mod:`maat.lake`. Only files listed in the manifest are ever queried.
    """

    def write_batch(
        self,
        events: Sequence[Mapping[str, Any]],
        *,
        commit: Mapping[str, Any] | None = None,
        fields: Sequence[bytes | memoryview] | None = None,
    ) -> int:
        """Write ``events`` (normalised, :mod:`maat.telemetry.model`) as Parquet files, fsync
        them, then append their manifest entries, the last one carrying ``commit`` (e.g. the
        bus position the batch ends at). Returns the number of rows written. ``fields`` is
        each event's JSON without ``event.original`` when the caller has it already (the bus
        message's, :mod:`maat.telemetry.wire`)."""
        ...

    def last_commit(self) -> Mapping[str, Any] | None:
        """The ``commit`` of the newest manifest entry that has one (resume point)."""
        ...

    def verify(self) -> Any:
        """Check every file against the manifest and the manifest's chain (``LakeReport``)."""
        ...

    def query(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run read-only SQL over the view ``events`` (``QueryResult``)."""
        ...


class KeyStore(Protocol):
    """Signing keys that never leave their store (PKCS#11 in production).

    Keys are named by label and made by one of the algorithms ``"ec-p256"``, ``"ec-p384"``,
    ``"rsa-3072"``. Signatures are what ``cryptography`` itself would produce, so its
    ``verify()`` accepts them: ECDSA P-256 with SHA-256 and P-384 with SHA-384, DER-encoded
    (RFC 3279 ``Ecdsa-Sig-Value``); RSA PKCS#1 v1.5 with SHA-256. Errors are ``MaatError``s:
    ``InvalidInput`` (bad label or algorithm), ``Conflict``, ``NotFound``, ``ConfigError``
    (store misconfigured: module, token, PIN) and the adapter's own for a failing store.
    """

    def generate(self, label: str, algorithm: str) -> None:
        """Make a new key pair ``label`` inside the store; ``Conflict`` if the label exists."""
        ...

    def public_key(self, label: str) -> PublicKeyTypes:
        """The public half of ``label`` (``EllipticCurvePublicKey`` or ``RSAPublicKey``).

        ``NotFound`` if there is no such key.
        """
        ...

    def sign(self, label: str, data: bytes) -> bytes:
        """Sign ``data`` inside the store with ``label``; ``NotFound`` if there is no such key."""
        ...

    def labels(self) -> list[str]:
        """The labels of the signing keys in the store, sorted."""
        ...

    def close(self) -> None:
        """Release sessions and handles."""
        ...


class ActionExecutor(Protocol):
    """Carries out a response action (isolate, block, revoke, notify)."""

    def execute(self, action: str, target: str, parameters: Mapping[str, Any]) -> str:
        """Do it and return a reference the case can record."""
        ...

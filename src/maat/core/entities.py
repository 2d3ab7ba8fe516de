"""The shared entities of the trust graph, as immutable values (enums: :mod:`maat.core.enums`).

Each entity is a frozen, slotted dataclass with keyword-only fields, a validating
``from_dict`` (raising :class:`~maat.errors.InvalidInput` naming the field and file) and a
JSON-ready ``to_dict``; ``X.from_dict(x.to_dict()) == x``. Timestamps are aware, in UTC; lists
are tuples (tags, roles, aliases, techniques sorted and de-duplicated); mappings are read-only.
``ID_PREFIX`` is the prefix for :func:`maat.core.ids.new_id`; ids read from input are only
checked to be non-empty, at most 200 characters and without whitespace (some come from outside).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Self

from maat.core._validate import (
    MAX_TEXT,
    Reader,
    dump_fields,
    empty_mapping,
    field_names,
    freeze_json,
)
from maat.core.digest import Digest
from maat.core.enums import (
    AlertLevel,
    CaseStatus,
    Criticality,
    FindingStatus,
    IdentityKind,
    RevocationReason,
    Severity,
)
from maat.core.purl import Purl

__all__ = [
    "Advisory",
    "Alert",
    "AlertLevel",
    "Artifact",
    "Case",
    "CaseStatus",
    "Certificate",
    "Criticality",
    "Finding",
    "FindingStatus",
    "Host",
    "Identity",
    "IdentityKind",
    "Product",
    "RevocationReason",
    "Segment",
    "Session",
    "Severity",
    "Vendor",
]

_DN_MAX = 1000
_TECHNIQUE = re.compile(r"T\d{4}(?:\.\d{3})?")


class _Entity:
    """Behaviour shared by all entities: ``to_dict``."""

    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data that :meth:`from_dict` reads back to an equal value."""
        return dump_fields(self)


def _reader(cls: type[Any], data: Mapping[str, Any], file: str | None) -> Reader:
    return Reader(data, file=file, known=field_names(cls))


@dataclass(frozen=True, slots=True, kw_only=True)
class Vendor(_Entity):
    """A supplier of software or services, with its criticality tier and free tags."""

    ID_PREFIX: ClassVar[str] = "vnd"
    id: str
    name: str
    criticality: Criticality
    tags: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, file: str | None = None) -> Self:
        """Validate and build a vendor from JSON-like data."""
        r = _reader(cls, data, file)
        return cls(
            id=r.id("id"),
            name=r.name("name"),
            criticality=r.enum("criticality", Criticality),
            tags=r.strings("tags", unique_sorted=True),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Product(_Entity):
    """A product a vendor supplies; ``purl`` identifies it as a package when it is one."""

    ID_PREFIX: ClassVar[str] = "prd"
    id: str
    vendor_id: str
    name: str
    purl: Purl | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, file: str | None = None) -> Self:
        """Validate and build a product from JSON-like data."""
        r = _reader(cls, data, file)
        return cls(
            id=r.id("id"), vendor_id=r.id("vendor_id"), name=r.name("name"), purl=r.opt_purl("purl")
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Artifact(_Entity):
    """A file (binary, package, update) known by its SHA-256, shipped by a product."""

    ID_PREFIX: ClassVar[str] = "art"
    id: str
    sha256: Digest
    name: str
    product_id: str | None = None
    size: int | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, file: str | None = None) -> Self:
        """Validate and build an artifact; ``sha256`` may be ``"sha256:<hex>"`` or bare hex."""
        r = _reader(cls, data, file)
        return cls(
            id=r.id("id"),
            sha256=r.digest("sha256", "sha256"),
            name=r.name("name"),
            product_id=r.opt_id("product_id"),
            size=r.opt_int("size", minimum=0),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Certificate(_Entity):
    """An X.509 certificate, by SHA-256 fingerprint, with validity and revocation state."""

    ID_PREFIX: ClassVar[str] = "crt"
    id: str
    fingerprint_sha256: Digest
    subject: str
    issuer: str
    serial: str
    not_before: datetime
    not_after: datetime
    revoked_at: datetime | None = None
    revocation_reason: RevocationReason | None = None
    vendor_id: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, file: str | None = None) -> Self:
        """Validate and build a certificate.

        ``serial`` may be an integer or hex (colons allowed) and is kept as lower-case hex;
        ``not_after`` must not precede ``not_before``; a ``revocation_reason`` needs
        ``revoked_at``.
        """
        r = _reader(cls, data, file)
        not_before = r.timestamp("not_before")
        not_after = r.timestamp("not_after")
        r.check_order("not_before", "not_after", not_before, not_after)
        revoked_at = r.opt_timestamp("revoked_at")
        reason = r.opt_enum("revocation_reason", RevocationReason)
        if reason is not None and revoked_at is None:
            raise r.error("revoked_at", "is required when revocation_reason is set")
        return cls(
            id=r.id("id"),
            fingerprint_sha256=r.digest("fingerprint_sha256", "sha256"),
            subject=r.name("subject", max_len=_DN_MAX),
            issuer=r.name("issuer", max_len=_DN_MAX),
            serial=r.serial("serial"),
            not_before=not_before,
            not_after=not_after,
            revoked_at=revoked_at,
            revocation_reason=reason,
            vendor_id=r.opt_id("vendor_id"),
        )

    def is_revoked_at(self, when: datetime) -> bool:
        """Whether the certificate had been revoked at the aware time ``when``."""
        return self.revoked_at is not None and self.revoked_at <= when

    def is_valid_at(self, when: datetime) -> bool:
        """Whether ``when`` lies in the validity period and the certificate was not revoked."""
        return self.not_before <= when <= self.not_after and not self.is_revoked_at(when)


@dataclass(frozen=True, slots=True, kw_only=True)
class Host(_Entity):
    """A machine (endpoint or server); ``hostname`` is kept in lower case."""

    ID_PREFIX: ClassVar[str] = "hst"
    id: str
    hostname: str
    os: str = ""
    segment_id: str | None = None
    tags: tuple[str, ...] = ()
    criticality: Criticality = Criticality.MEDIUM

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, file: str | None = None) -> Self:
        """Validate and build a host from JSON-like data."""
        r = _reader(cls, data, file)
        return cls(
            id=r.id("id"),
            hostname=r.hostname("hostname"),
            os=r.text("os", max_len=200),
            segment_id=r.opt_id("segment_id"),
            tags=r.strings("tags", unique_sorted=True),
            criticality=r.enum("criticality", Criticality, default=Criticality.MEDIUM),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Segment(_Entity):
    """A network segment (micro-segmentation zone)."""

    ID_PREFIX: ClassVar[str] = "seg"
    id: str
    name: str
    tags: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, file: str | None = None) -> Self:
        """Validate and build a segment from JSON-like data."""
        r = _reader(cls, data, file)
        return cls(id=r.id("id"), name=r.name("name"), tags=r.strings("tags", unique_sorted=True))


@dataclass(frozen=True, slots=True, kw_only=True)
class Identity(_Entity):
    """A user, service or device identity; ``vendor_id`` is set for a vendor's identities."""

    ID_PREFIX: ClassVar[str] = "idn"
    id: str
    name: str
    kind: IdentityKind
    vendor_id: str | None = None
    roles: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, file: str | None = None) -> Self:
        """Validate and build an identity from JSON-like data."""
        r = _reader(cls, data, file)
        return cls(
            id=r.id("id"),
            name=r.name("name"),
            kind=r.enum("kind", IdentityKind),
            vendor_id=r.opt_id("vendor_id"),
            roles=r.strings("roles", unique_sorted=True),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Session(_Entity):
    """An identity's session, from a host when known; ``mfa_at`` is the last MFA."""

    ID_PREFIX: ClassVar[str] = "ses"
    id: str
    identity_id: str
    host_id: str | None = None
    started_at: datetime
    mfa_at: datetime | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, file: str | None = None) -> Self:
        """Validate and build a session from JSON-like data."""
        r = _reader(cls, data, file)
        return cls(
            id=r.id("id"),
            identity_id=r.id("identity_id"),
            host_id=r.opt_id("host_id"),
            started_at=r.timestamp("started_at"),
            mfa_at=r.opt_timestamp("mfa_at"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Advisory(_Entity):
    """A security advisory (OSV, GHSA, CVE…). ``raw`` keeps the source data verbatim.

    :meth:`from_dict` puts every key it does not know into ``raw`` (together with an explicit
    ``raw`` object); :meth:`to_dict` writes ``raw`` as one nested object.
    """

    id: str
    aliases: tuple[str, ...] = ()
    summary: str = ""
    severity: Severity | None = None
    published: datetime | None = None
    modified: datetime | None = None
    raw: Mapping[str, Any] = field(default_factory=empty_mapping, hash=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, file: str | None = None) -> Self:
        """Validate the known fields and keep the rest in ``raw``.

        An unknown key that is also in an explicit ``raw`` object with another value is an
        error (field ``raw.<key>``).
        """
        r = Reader(data, file=file)
        raw = dict(r.mapping("raw"))
        for key, value in r.unknown_entries(field_names(cls)).items():
            frozen = freeze_json(value, field=key, file=file)
            if key in raw and raw[key] != frozen:
                raise r.error(f"raw.{key}", "differs from the top-level field of the same name")
            raw[key] = frozen
        return cls(
            id=r.id("id"),
            aliases=r.ids("aliases", unique_sorted=True),
            summary=r.text("summary", max_len=MAX_TEXT),
            severity=r.opt_enum("severity", Severity),
            published=r.opt_timestamp("published"),
            modified=r.opt_timestamp("modified"),
            raw=freeze_json(raw, field="raw", file=file),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding(_Entity):
    """An advisory that applies to a component (purl) on a host or in a product."""

    ID_PREFIX: ClassVar[str] = "fnd"
    id: str
    advisory_id: str
    component: Purl
    host_id: str | None = None
    product_id: str | None = None
    severity: Severity
    status: FindingStatus = FindingStatus.OPEN
    opened_at: datetime
    due_at: datetime | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, file: str | None = None) -> Self:
        """Validate and build a finding; ``due_at`` must not precede ``opened_at``."""
        r = _reader(cls, data, file)
        opened_at = r.timestamp("opened_at")
        due_at = r.opt_timestamp("due_at")
        r.check_order("opened_at", "due_at", opened_at, due_at)
        return cls(
            id=r.id("id"),
            advisory_id=r.id("advisory_id"),
            component=r.purl("component"),
            host_id=r.opt_id("host_id"),
            product_id=r.opt_id("product_id"),
            severity=r.enum("severity", Severity),
            status=r.enum("status", FindingStatus, default=FindingStatus.OPEN),
            opened_at=opened_at,
            due_at=due_at,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert(_Entity):
    """A detection: the rule that fired, ATT&CK techniques, the events and the entities
    involved (``{"host": ("hst_…",), "vendor": ("vnd_…",)}``)."""

    ID_PREFIX: ClassVar[str] = "alr"
    id: str
    rule_id: str
    title: str
    level: AlertLevel
    techniques: tuple[str, ...] = ()
    event_ids: tuple[str, ...] = ()
    entities: Mapping[str, tuple[str, ...]] = field(default_factory=empty_mapping, hash=False)
    created_at: datetime

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, file: str | None = None) -> Self:
        """Validate and build an alert; techniques must look like ``T1574`` or ``T1574.002``
        and entity values may be one id or a list of ids."""
        r = _reader(cls, data, file)

        def technique(key: str, value: object) -> str:
            if not isinstance(value, str) or not _TECHNIQUE.fullmatch(value.strip().upper()):
                raise r.error(
                    key, f"expected an ATT&CK technique id like T1574.002, got {value!r:.40}"
                )
            return value.strip().upper()

        return cls(
            id=r.id("id"),
            rule_id=r.id("rule_id"),
            title=r.name("title"),
            level=r.enum("level", AlertLevel),
            techniques=r.strings("techniques", check=technique, unique_sorted=True),
            event_ids=r.ids("event_ids"),
            entities=r.id_map("entities"),
            created_at=r.timestamp("created_at"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Case(_Entity):
    """An incident case gathering alerts."""

    ID_PREFIX: ClassVar[str] = "cas"
    id: str
    title: str
    status: CaseStatus = CaseStatus.OPEN
    opened_at: datetime
    alert_ids: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, file: str | None = None) -> Self:
        """Validate and build a case from JSON-like data."""
        r = _reader(cls, data, file)
        return cls(
            id=r.id("id"),
            title=r.name("title"),
            status=r.enum("status", CaseStatus, default=CaseStatus.OPEN),
            opened_at=r.timestamp("opened_at"),
            alert_ids=r.ids("alert_ids"),
        )

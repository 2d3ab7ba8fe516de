"""The vendor register: vendors, their access tiers and contacts, and CSV import."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import datetime

from maat.core.enums import Criticality
from maat.errors import InvalidInput

__all__ = ["TIERS", "Contact", "VendorRecord", "VendorRow", "parse_contact", "read_vendor_csv"]

TIERS = ("data_access", "network_access", "production_software", "remote_access")
"""What a vendor can touch: our data, our network, software running in production, remote
access into our hosts. Each tier widens what a breach at the vendor reaches."""

_NAME = re.compile(r"[^\x00-\x1f\x7f]{1,200}")
_EMAIL = re.compile(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+")


@dataclass(frozen=True)
class Contact:
    """A person at the vendor to reach (security contact, account manager)."""

    name: str
    email: str
    role: str = "security"


@dataclass(frozen=True)
class VendorRecord:
    """A vendor in the register."""

    id: str
    name: str
    created_at: datetime
    criticality: Criticality = Criticality.MEDIUM
    tiers: tuple[str, ...] = ()
    contacts: tuple[Contact, ...] = ()
    website: str | None = None
    breached_at: datetime | None = None
    breach_note: str | None = None


@dataclass(frozen=True)
class AssessmentRecord:
    """A scored assessment of a vendor: answers, evidence files by SHA-256, expiry."""

    id: str
    vendor_id: str
    questionnaire: str
    version: int
    score: float
    answered_at: datetime
    assessed_at: datetime
    expires_at: datetime
    answers: dict[str, dict[str, str]] = field(default_factory=dict)
    evidence: tuple[dict[str, object], ...] = ()
    """``{"question", "name", "sha256", "size"}`` per stored file."""
    points: tuple[tuple[str, float, float, str], ...] = ()
    missing: tuple[str, ...] = ()


@dataclass(frozen=True)
class VendorRow:
    """One vendor as read from a CSV line (before it has an id)."""

    line: int
    name: str
    criticality: Criticality
    tiers: tuple[str, ...]
    contacts: tuple[Contact, ...] = field(default_factory=tuple)
    website: str | None = None


def valid_name(name: str, *, field_name: str = "name") -> str:
    """A vendor name: 1-200 printable characters, trimmed."""
    name = name.strip()
    if not _NAME.fullmatch(name):
        raise InvalidInput("a vendor name is 1-200 printable characters", field=field_name)
    return name


def valid_tiers(
    values: list[str] | tuple[str, ...], *, field_name: str = "tiers"
) -> tuple[str, ...]:
    """Tiers from :data:`TIERS`, sorted, each once."""
    out = set()
    for value in values:
        tier = value.strip().lower().replace("-", "_").replace(" ", "_")
        if not tier:
            continue
        if tier not in TIERS:
            raise InvalidInput(
                f"unknown tier {value!r}; known: {', '.join(TIERS)}", field=field_name
            )
        out.add(tier)
    return tuple(sorted(out))


def parse_contact(text: str, *, role: str = "security") -> Contact:
    """``"Name <email>"`` or a bare email."""
    text = text.strip()
    match = re.fullmatch(r"(.*?)\s*<([^>]+)>", text)
    name, email = (match.group(1).strip(), match.group(2).strip()) if match else ("", text)
    if not _EMAIL.fullmatch(email):
        raise InvalidInput(f"not an email address: {email!r}", field="contact")
    return Contact(name or email, email, role)


_COLUMNS = {"name", "criticality", "tiers", "security_contact", "website"}


def read_vendor_csv(
    data: bytes, *, path: str = "vendors.csv"
) -> tuple[list[VendorRow], list[InvalidInput]]:
    """Vendors from CSV (header: ``name,criticality,tiers,security_contact,website``; tiers
    separated by ``;``). A bad line is reported with its line and field; the others are kept.
    An unknown column is an error for the whole file (a typo would silently drop data)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"not UTF-8 text: {exc.reason}", file=path) from None
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    unknown = sorted(set(header) - _COLUMNS)
    if "name" not in header or unknown:
        raise InvalidInput(
            f"columns must be {', '.join(sorted(_COLUMNS))} (name required)"
            + (f"; unknown: {', '.join(unknown)}" if unknown else ""),
            file=path, line=1,
        )  # fmt: skip
    reader.fieldnames = header
    rows: list[VendorRow] = []
    errors: list[InvalidInput] = []
    seen: set[str] = set()
    for record in reader:
        line = reader.line_num
        try:
            name = valid_name(record.get("name") or "")
            if name.lower() in seen:
                raise InvalidInput(f"vendor {name!r} appears twice", field="name")
            seen.add(name.lower())
            raw_level = (record.get("criticality") or "medium").strip().lower()
            try:
                level = Criticality(raw_level)
            except ValueError:
                wanted = "low, medium, high or critical"
                raise InvalidInput(
                    f"criticality {raw_level!r} is not {wanted}", field="criticality"
                ) from None
            tiers = valid_tiers((record.get("tiers") or "").split(";"))
            contact = (record.get("security_contact") or "").strip()
            contacts = (parse_contact(contact),) if contact else ()
            website = (record.get("website") or "").strip() or None
            rows.append(VendorRow(line, name, level, tiers, contacts, website))
        except InvalidInput as exc:
            errors.append(InvalidInput(exc.message, file=path, line=line, field=exc.location.field))
    return rows, errors


@dataclass(frozen=True)
class IncidentNoticeRecord:
    """A vendor's notice of a security incident: when it began, when they told us."""

    id: str
    vendor_id: str
    occurred_at: datetime
    notified_at: datetime
    note: str
    recorded_at: datetime
    recorded_by: str


@dataclass(frozen=True)
class VendorFindingRecord:
    """A finding against a vendor (a contract breach), open until it no longer holds."""

    id: str
    vendor_id: str
    source: str  # contract
    term: str
    key: str  # the breach's stable identity (term and evidence)
    detail: str
    opened_at: datetime
    closed_at: datetime | None = None

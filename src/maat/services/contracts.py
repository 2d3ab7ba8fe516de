"""Vendor contracts: terms stored, compliance measured from Maat's own data.

Compliance is measured on read, like the score: each breach found (a critical fixed late, an
unsigned delivered file, a product without an SBOM) is listed with its evidence and counts
in the vendor's score as an SLA breach.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from maat.core.ids import new_id
from maat.errors import InvalidInput, NotFound
from maat.ports import UnitOfWork
from maat.sbom.api import parse_sbom
from maat.services.platform import Platform
from maat.vendors.contracts import (
    ArtifactFact,
    ComplianceFacts,
    Contract,
    ContractBreach,
    CriticalFact,
    IncidentFact,
    measure,
    read_contract,
)
from maat.vendors.records import IncidentNoticeRecord, VendorFindingRecord, VendorRecord
from maat.vulns.records import SbomRecord

__all__ = [
    "Compliance", "ComplianceReview", "compliance", "compliance_in", "record_notice",
    "review_compliance", "set_contract",
]  # fmt: skip


def _parse(text: str, source: str) -> Contract:
    contract, problems = read_contract(text, source=source)
    if contract is None:
        first = problems[0]
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        where = first.location
        raise InvalidInput(first.message + more, file=where.file, line=where.line,
                           field=where.field)  # fmt: skip
    return contract


def set_contract(platform: Platform, actor: str, text: str, *, source: str) -> Contract:
    """Store a vendor's contract (the vendor it names must be registered)."""
    contract = _parse(text, source)
    with platform.transaction() as uow:
        vendor = uow.vendors.by_name(contract.vendor)
        if vendor is None:
            raise NotFound(f"no vendor named {contract.vendor!r}", hint="add it first")
        signed = datetime.combine(contract.signed, datetime.min.time(), UTC)
        uow.contracts.put(new_id("ctr"), vendor.id, text, signed, platform.now())
        platform.audit(uow, actor, "vendor.contract", f"vendor:{vendor.id}",
                       terms=sorted(contract.terms))  # fmt: skip
    return contract


@dataclass(frozen=True)
class Compliance:
    """A vendor's contract, the breaches Maat measured, and what it could not measure."""

    vendor: str
    contract: Contract | None
    breaches: tuple[ContractBreach, ...]
    notes: tuple[str, ...]


def compliance_in(uow: UnitOfWork, vendor: VendorRecord, now: datetime) -> Compliance:
    """Compliance of ``vendor`` within an open unit of work (used by the vendor score)."""
    text = uow.contracts.text_of(vendor.id)
    if text is None:
        return Compliance(vendor.name, None, (), ("no contract on record",))
    contract = _parse(text, f"contract of {vendor.name}")
    products = [p for p in uow.products.list() if p.vendor == vendor.name]
    criticals = []
    for product in products:
        for f in uow.findings.for_subject("product", product.id):
            if f.severity == "critical":
                criticals.append(CriticalFact(f.id, product.name, f.opened_at, f.fixed_at))
    artifacts = [
        ArtifactFact(a.sha256, a.name, str(a.product), a.signer_fingerprint is not None)
        for a in uow.artifacts.of_products([p.name for p in products])
    ]
    sboms = {p.name: uow.sboms.for_product(p.id) for p in products}
    with_sbom = frozenset(name for name, found in sboms.items() if found)
    listed: dict[str, frozenset[str]] = {}
    if contract.terms.get("sbom_with_every_delivery"):
        listed = {name: sbom_sha256(found) for name, found in sboms.items() if found}
    incidents: list[IncidentFact] = []
    if "incident_notification_hours" in contract.terms:
        notices = uow.vendor_incidents.of_vendor(vendor.id)
        incidents = [IncidentFact(n.id, n.occurred_at, n.notified_at) for n in notices]
        if vendor.breached_at is not None:
            incidents = _answer_breach(vendor.id, vendor.breached_at, notices, incidents)
    facts = ComplianceFacts(now=now, criticals=tuple(criticals), artifacts=tuple(artifacts),
                            products=tuple(p.name for p in products),
                            products_with_sbom=with_sbom, sbom_hashes=listed,
                            incidents=tuple(incidents))  # fmt: skip
    breaches, notes = measure(contract, facts)
    return Compliance(vendor.name, contract, tuple(breaches), tuple(notes))


def _answer_breach(
    vendor_id: str,
    breached_at: datetime,
    notices: list[IncidentNoticeRecord],
    incidents: list[IncidentFact],
) -> list[IncidentFact]:
    """A breach Maat recorded is answered by the first notice sent from three days before it
    on (the vendor may have told us first); that notice is then measured on its own times,
    except that the incident it reports began no later than Maat's record: else a vendor
    silent for a month could file "began an hour ago" and be on time. Without such a notice
    the vendor's silence is measured from the record; an older notice is about another
    incident, and later ones about later incidents."""
    since = breached_at - NOTICE_ANSWERS_BREACH
    answering = [n for n in notices if n.notified_at >= since]
    if not answering:
        return [*incidents, IncidentFact(f"breach:{vendor_id}", breached_at, None, "breach")]
    first = min(answering, key=lambda n: (n.notified_at, n.id))
    began = min(first.occurred_at, breached_at)
    return [dataclasses.replace(i, occurred_at=began) if i.id == first.id else i
            for i in incidents]  # fmt: skip


NOTICE_ANSWERS_BREACH = timedelta(days=3)
CLOCK_SKEW = timedelta(minutes=5)


def sbom_sha256(sboms: list[SbomRecord]) -> frozenset[str]:
    """The SHA-256 digests the product's SBOMs list for their components. Each stored SBOM
    is read once per process (stored SBOMs never change; ids are never reused)."""
    out: set[str] = set()
    for record in sboms:
        with _LISTED_LOCK:
            listed = _LISTED.get(record.id)
        if listed is None:
            listed = _listed_digests(record)  # outside the lock: a big SBOM takes a while
            with _LISTED_LOCK:
                while len(_LISTED) >= _LISTED_MAX:
                    _LISTED.pop(next(iter(_LISTED)), None)
                _LISTED[record.id] = listed
        out.update(listed)
    return frozenset(out)


_LISTED: dict[str, frozenset[str]] = {}
_LISTED_MAX = 256
_LISTED_LOCK = threading.Lock()


def _listed_digests(record: SbomRecord) -> frozenset[str]:
    try:
        sbom = parse_sbom(record.document, source=record.name)
    except InvalidInput:
        return frozenset()  # it was read when imported; a document that no longer parses lists none
    listed = list(sbom.components)
    if sbom.metadata_component is not None:  # the product itself, e.g. its installer
        listed.append(sbom.metadata_component)
    return frozenset(d.hex for c in listed for d in c.hashes if d.algorithm == "sha256")


def record_notice(
    platform: Platform, actor: str, vendor_name: str, *, occurred_at: datetime,
    notified_at: datetime, note: str = "",
) -> IncidentNoticeRecord:  # fmt: skip
    """Record a vendor's incident notice (when the incident began, when they told us)."""
    if notified_at < occurred_at:
        raise InvalidInput("a notice cannot come before the incident", field="notified_at")
    if notified_at > platform.now() + CLOCK_SKEW:
        raise InvalidInput("a notice cannot be dated in the future", field="notified_at")
    with platform.transaction() as uow:
        vendor = uow.vendors.by_name(vendor_name)
        if vendor is None:
            raise NotFound(f"no vendor named {vendor_name!r}")
        notice = IncidentNoticeRecord(
            id=new_id("inc"), vendor_id=vendor.id, occurred_at=occurred_at,
            notified_at=notified_at, note=note[:4000], recorded_at=platform.now(),
            recorded_by=actor,
        )  # fmt: skip
        uow.vendor_incidents.add(notice)
        platform.audit(
            uow, actor, "vendor.notice", f"vendor:{vendor.id}",
            occurred_at=occurred_at.isoformat(), notified_at=notified_at.isoformat(),
        )  # fmt: skip
    return notice


@dataclass(frozen=True)
class ComplianceReview:
    """A compliance measurement and the vendor's findings after it."""

    compliance: Compliance
    opened: tuple[VendorFindingRecord, ...]
    closed: tuple[VendorFindingRecord, ...]
    open: tuple[VendorFindingRecord, ...]


def review_compliance(platform: Platform, actor: str, name: str) -> ComplianceReview:
    """Measure the vendor's compliance and keep each breach as a finding against it:

    1. measure the contract against Maat's data now;
    2. a breach with no open finding of the same key opens one (audited);
    3. an open finding whose breach no longer holds is closed (audited).
    """
    now = platform.now()
    with platform.transaction() as uow:
        vendor = uow.vendors.by_name(name)
        if vendor is None:
            raise NotFound(f"no vendor named {name!r}")
        result = compliance_in(uow, vendor, now)
        current = {b.key: b for b in result.breaches}
        existing = {f.key: f for f in uow.vendor_findings.of_vendor(vendor.id, open_only=True)}
        opened, closed = [], []
        for key, breach in current.items():
            if key not in existing:
                finding = VendorFindingRecord(
                    id=new_id("vfd"), vendor_id=vendor.id, source="contract", term=breach.term,
                    key=key[:400], detail=breach.detail[:4000], opened_at=now,
                )  # fmt: skip
                uow.vendor_findings.add(finding)
                opened.append(finding)
                platform.audit(uow, actor, "vendor.finding.open", f"vendor:{vendor.id}",
                               term=breach.term, detail=breach.detail[:400])  # fmt: skip
        for key, finding in existing.items():
            if key not in current:
                finding = dataclasses.replace(finding, closed_at=now)
                uow.vendor_findings.update(finding)
                closed.append(finding)
                platform.audit(uow, actor, "vendor.finding.close", f"vendor:{vendor.id}",
                               term=finding.term)  # fmt: skip
        still = tuple(uow.vendor_findings.of_vendor(vendor.id, open_only=True))
    return ComplianceReview(result, tuple(opened), tuple(closed), still)


def compliance(platform: Platform, name: str) -> Compliance:
    """The vendor's contract compliance now."""
    with platform.transaction(write=False) as uow:
        vendor = uow.vendors.by_name(name)
        if vendor is None:
            raise NotFound(f"no vendor named {name!r}")
        return compliance_in(uow, vendor, platform.now())

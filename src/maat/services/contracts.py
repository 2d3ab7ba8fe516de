"""Vendor contracts: terms stored, compliance measured from Maat's own data.

Compliance is measured on read, like the score: each breach found (a critical fixed late, an
unsigned delivered file, a product without an SBOM) is listed with its evidence and counts
in the vendor's score as an SLA breach.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from maat.core.ids import new_id
from maat.errors import InvalidInput, NotFound
from maat.ports import UnitOfWork
from maat.services.platform import Platform
from maat.vendors.contracts import (
    ArtifactFact,
    ComplianceFacts,
    Contract,
    ContractBreach,
    CriticalFact,
    measure,
    read_contract,
)
from maat.vendors.records import VendorRecord

__all__ = ["Compliance", "compliance", "compliance_in", "set_contract"]


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
    with_sbom = frozenset(p.name for p in products if uow.sboms.for_product(p.id))
    facts = ComplianceFacts(now=now, criticals=tuple(criticals), artifacts=tuple(artifacts),
                            products=tuple(p.name for p in products),
                            products_with_sbom=with_sbom)  # fmt: skip
    breaches, notes = measure(contract, facts)
    return Compliance(vendor.name, contract, tuple(breaches), tuple(notes))


def compliance(platform: Platform, name: str) -> Compliance:
    """The vendor's contract compliance now."""
    with platform.transaction(write=False) as uow:
        vendor = uow.vendors.by_name(name)
        if vendor is None:
            raise NotFound(f"no vendor named {name!r}")
        return compliance_in(uow, vendor, platform.now())

"""Contract security clauses as structured terms, and compliance measured from Maat's data.

A contract is YAML::

    vendor: Contoso ERP
    signed: 2025-01-01
    terms:
      critical_fix_days: 14          # a critical vulnerability fixed within N days
      signed_releases: true          # every file the vendor delivers is signed
      sbom_with_every_delivery: true # every product has an SBOM on record
      incident_notification_hours: 24
      right_to_audit: true

:func:`measure` compares the terms with what Maat saw (numbered rules below) and returns one
:class:`ContractBreach` per violation, with its evidence; what Maat has no data for is said
in the notes, never assumed compliant.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from maat.errors import Problem
from maat.yaml_reader import YamlReader, compose

__all__ = [
    "TERMS",
    "ArtifactFact",
    "ComplianceFacts",
    "Contract",
    "ContractBreach",
    "CriticalFact",
    "IncidentFact",
    "measure",
    "read_contract",
]

TERMS = {
    "critical_fix_days": "number",
    "incident_notification_hours": "number",
    "signed_releases": "bool",
    "sbom_with_every_delivery": "bool",
    "right_to_audit": "bool",
}


@dataclass(frozen=True)
class Contract:
    """A vendor's contract terms."""

    vendor: str
    signed: date
    terms: dict[str, Any]


@dataclass(frozen=True)
class CriticalFact:
    """A critical finding in one of the vendor's products, and when it was fixed."""

    id: str
    product: str
    opened_at: datetime
    fixed_at: datetime | None


@dataclass(frozen=True)
class ArtifactFact:
    """A file of one of the vendor's products, and whether it came signed."""

    sha256: str
    name: str
    product: str
    signed: bool


@dataclass(frozen=True)
class IncidentFact:
    """A security incident at the vendor: when it began and when the vendor told us (None:
    not yet). ``source`` is ``notice`` (the vendor's) or ``breach`` (recorded by Maat, with
    ``occurred_at`` the time it was recorded)."""

    id: str
    occurred_at: datetime
    notified_at: datetime | None
    source: str = "notice"


@dataclass(frozen=True)
class ComplianceFacts:
    """What Maat holds about a vendor's deliveries, fixes and incidents."""

    now: datetime
    criticals: tuple[CriticalFact, ...] = ()
    artifacts: tuple[ArtifactFact, ...] = ()
    products: tuple[str, ...] = ()
    products_with_sbom: frozenset[str] = field(default_factory=frozenset)
    sbom_hashes: dict[str, frozenset[str]] = field(default_factory=dict)
    """Per product, the SHA-256 digests its SBOMs list (empty: they list none)."""
    incidents: tuple[IncidentFact, ...] = ()


@dataclass(frozen=True)
class ContractBreach:
    """One violation of one term, with the evidence."""

    term: str
    detail: str
    evidence: str

    @property
    def key(self) -> str:
        """A stable identity of the breach (term and evidence)."""
        return f"{self.term}:{self.evidence}"


def read_contract(text: str, *, source: str) -> tuple[Contract | None, list[Problem]]:
    """A contract and every problem in it (file, line, key path)."""
    root, problems = compose(text, source=source, max_chars=100_000, what="contract")
    if root is None:
        return None, problems
    reader = YamlReader(source, max_text=400, what="contracts")
    top = reader.mapping(root, "", ("vendor", "signed", "terms"), ())
    if top is None or len(top) < 3:
        return None, reader.problems
    vendor = reader.text(*top["vendor"])
    signed_text = reader.scalar(*top["signed"])
    signed: date | None = None
    if signed_text is not None:
        try:
            signed = date.fromisoformat(signed_text[:10])
        except ValueError:
            reader.problem(top["signed"][0], "signed", f"{signed_text!r} is not a date")
    terms: dict[str, Any] = {}
    raw = reader.mapping(*top["terms"], (), tuple(TERMS))
    for name, (node, path) in (raw or {}).items():
        if TERMS[name] == "number":
            value = reader.number(node, path, low=0, high=100_000)
            if value is not None:
                terms[name] = value
        else:
            flag = reader.scalar(node, path)
            if flag is not None and flag.lower() in ("true", "false"):
                terms[name] = flag.lower() == "true"
            elif flag is not None:
                reader.problem(node, path, "must be true or false")
    if reader.problems or vendor is None or signed is None:
        return None, reader.problems
    return Contract(vendor, signed, terms), []


def measure(contract: Contract, facts: ComplianceFacts) -> tuple[list[ContractBreach], list[str]]:
    """Breaches of ``contract`` in ``facts``, and notes on what could not be measured.

    1. ``critical_fix_days``: each critical finding fixed later than the term, or still open
       past it, is a breach;
    2. ``signed_releases``: each delivered file without a signature is a breach;
    3. ``sbom_with_every_delivery``: each product with no SBOM on record is a breach, and
       each delivered file its product's SBOMs do not list (by SHA-256) is one; a product
       whose SBOMs list no digests cannot be checked and is named in the notes;
    4. ``incident_notification_hours``: each incident the vendor told us of later than the
       term after it began, and each one (a vendor notice without its time, a breach Maat
       recorded) with no notice within the term, is a breach;
    5. ``right_to_audit``: a legal term, said so in the notes.
    """
    terms, now = contract.terms, facts.now
    breaches: list[ContractBreach] = []
    notes: list[str] = []
    days = terms.get("critical_fix_days")
    if days is not None:
        limit = timedelta(days=float(days))
        for fact in facts.criticals:
            end = fact.fixed_at or now
            if end - fact.opened_at > limit:
                state = "fixed" if fact.fixed_at else "still open"
                taken = (end - fact.opened_at).days
                breaches.append(ContractBreach(
                    "critical_fix_days",
                    f"critical {fact.id} in {fact.product} {state} after {taken} days "
                    f"(contract: {days:g})", fact.id,
                ))  # fmt: skip
    if terms.get("signed_releases"):
        for artifact in facts.artifacts:
            if not artifact.signed:
                breaches.append(ContractBreach(
                    "signed_releases", f"unsigned file {artifact.name} in {artifact.product}",
                    artifact.sha256,
                ))  # fmt: skip
    if terms.get("sbom_with_every_delivery"):
        for product in facts.products:
            if product not in facts.products_with_sbom:
                breaches.append(ContractBreach(
                    "sbom_with_every_delivery", f"no SBOM on record for {product}", product
                ))  # fmt: skip
        unchecked: set[str] = set()
        for artifact in facts.artifacts:
            if artifact.product not in facts.products_with_sbom:
                continue
            listed = facts.sbom_hashes.get(artifact.product, frozenset())
            if not listed:
                unchecked.add(artifact.product)
            elif artifact.sha256 not in listed:
                breaches.append(ContractBreach(
                    "sbom_with_every_delivery",
                    f"delivered file {artifact.name} of {artifact.product} is not in its SBOM",
                    artifact.sha256,
                ))  # fmt: skip
        if unchecked:
            names = ", ".join(sorted(unchecked))
            notes.append(f"sbom_with_every_delivery: the SBOMs of {names} list no file "
                         "digests, so delivered files cannot be checked")  # fmt: skip
    hours = terms.get("incident_notification_hours")
    if hours is not None:
        limit_h = timedelta(hours=float(hours))
        for incident in facts.incidents:
            told = incident.notified_at
            if told is not None and told - incident.occurred_at > limit_h:
                late = (told - incident.occurred_at).total_seconds() / 3600
                breaches.append(ContractBreach(
                    "incident_notification_hours",
                    f"incident of {incident.occurred_at:%Y-%m-%d %H:%M} notified after "
                    f"{late:.0f} h (contract: {hours:g})", incident.id,
                ))  # fmt: skip
            elif told is None and now - incident.occurred_at > limit_h:
                what = "breach recorded" if incident.source == "breach" else "incident"
                breaches.append(ContractBreach(
                    "incident_notification_hours",
                    f"no notice from the vendor {hours:g} h after the {what} of "
                    f"{incident.occurred_at:%Y-%m-%d %H:%M}", incident.id,
                ))  # fmt: skip
    if terms.get("right_to_audit"):
        notes.append("right_to_audit: a legal term, not measurable from Maat's data")
    return breaches, notes

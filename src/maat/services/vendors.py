"""The vendor register, vendor scores, the trust graph and a vendor breach's blast radius.

The trust graph is built from what the state store holds (products by vendor, artifacts by
product and signer, certificates by vendor, sightings by host, accounts by vendor), so each
link appears as soon as the control that records it exists. A recorded breach
(:func:`record_breach`, numbered steps) marks the vendor, raises an alert and returns the
blast radius with the containment actions it calls for.
"""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509

from maat.core.enums import Criticality, FindingStatus
from maat.core.graph import Node, Reach, TrustGraph
from maat.core.ids import new_id
from maat.detect.records import AlertRecord
from maat.errors import Conflict, InvalidInput, NotFound
from maat.ports import UnitOfWork
from maat.services.contracts import compliance_in
from maat.services.platform import Platform
from maat.signing.chain import is_code_signing_leaf
from maat.signing.records import CertificateRecord
from maat.vendors.records import (
    Contact,
    VendorRecord,
    read_vendor_csv,
    valid_name,
    valid_tiers,
)
from maat.vendors.score import AlertFact, CertificateFact, Evidence, FindingFact, VendorScore, score
from maat.vulns.findings import RiskAcceptance, effective_status, is_overdue

__all__ = [
    "BreachReport",
    "add_vendor",
    "blast_radius",
    "import_vendors",
    "link_account",
    "list_vendors",
    "record_breach",
    "report_html",
    "trust_graph",
    "vendor_score",
]


def add_vendor(
    platform: Platform, actor: str, name: str, *, criticality: Criticality = Criticality.MEDIUM,
    tiers: Sequence[str] = (), contacts: Sequence[Contact] = (), website: str | None = None,
) -> VendorRecord:  # fmt: skip
    """Register a vendor (``Conflict`` if the name is taken)."""
    record = VendorRecord(
        id=new_id("vnd"), name=valid_name(name), created_at=platform.now(),
        criticality=criticality, tiers=valid_tiers(list(tiers)), contacts=tuple(contacts),
        website=website,
    )  # fmt: skip
    with platform.transaction() as uow:
        if uow.vendors.by_name(record.name) is not None:
            raise Conflict(f"vendor {record.name!r} already exists")
        uow.vendors.add(record)
        platform.audit(uow, actor, "vendor.add", f"vendor:{record.id}", name=record.name)
    return record


def import_vendors(
    platform: Platform, actor: str, data: bytes, *, path: str
) -> tuple[list[VendorRecord], list[InvalidInput]]:
    """Vendors from CSV: new ones added, known ones updated; bad lines reported with their
    line and field, the others kept."""
    rows, errors = read_vendor_csv(data, path=path)
    done: list[VendorRecord] = []
    with platform.transaction() as uow:
        for row in rows:
            known = uow.vendors.by_name(row.name)
            if known is None:
                record = VendorRecord(
                    id=new_id("vnd"), name=row.name, created_at=platform.now(),
                    criticality=row.criticality, tiers=row.tiers, contacts=row.contacts,
                    website=row.website,
                )  # fmt: skip
                uow.vendors.add(record)
            else:
                record = dataclasses.replace(
                    known, criticality=row.criticality, tiers=row.tiers,
                    contacts=row.contacts or known.contacts, website=row.website or known.website,
                )  # fmt: skip
                uow.vendors.update(record)
            done.append(record)
        platform.audit(uow, actor, "vendor.import", f"file:{path}", vendors=len(done),
                       errors=len(errors))  # fmt: skip
    return done, errors


def list_vendors(platform: Platform) -> list[VendorRecord]:
    """Every vendor, by name."""
    with platform.transaction(write=False) as uow:
        return list(uow.vendors.list())


def _vendor(uow: UnitOfWork, name: str) -> VendorRecord:
    found = uow.vendors.by_name(name)
    if found is None:
        raise NotFound(f"no vendor named {name!r}", hint="list them with `maat vendor list`")
    return found


def link_account(platform: Platform, actor: str, user: str, vendor: str | None) -> None:
    """Say which vendor an account belongs to (None: to none)."""
    with platform.transaction() as uow:
        record = uow.users.by_name(user, for_update=True)
        if record is None:
            raise NotFound(f"no user named {user!r}")
        name = _vendor(uow, vendor).name if vendor is not None else None
        uow.users.update(dataclasses.replace(record, vendor=name))
        platform.audit(uow, actor, "vendor.link-account", f"user:{record.id}", vendor=name)


def _graph(uow: UnitOfWork) -> TrustGraph:
    graph = TrustGraph()
    vendors = {v.name for v in uow.vendors.list()}
    products = list(uow.products.list())
    for product in products:
        if product.vendor:
            graph.add(Node("vendor", product.vendor), "supplies", Node("product", product.name))
    for artifact in uow.artifacts.of_products([p.name for p in products]):
        graph.add(
            Node("product", str(artifact.product)), "ships", Node("artifact", artifact.sha256)
        )
    signers: list[str] = []
    for cert in uow.certificates.list():
        if cert.vendor:
            graph.add(Node("vendor", cert.vendor), "holds", Node("certificate", cert.fingerprint))
            signers.append(cert.fingerprint)
    for fingerprint in signers:
        for artifact in uow.artifacts.signed_by(fingerprint):
            graph.add(Node("certificate", fingerprint), "signed", Node("artifact", artifact.sha256))
        for sighting in uow.sightings.by_signer(fingerprint):
            graph.add(Node("certificate", fingerprint), "signed", Node("artifact", sighting.sha256))
    digests = [n.key for n in graph.nodes("artifact")]
    for sighting in uow.sightings.of_hashes(digests):
        graph.add(Node("artifact", sighting.sha256), "runs on", Node("host", sighting.host))
    for device in uow.devices.list():  # hosts the vendor runs (tag "vendor:<name>")
        for tag in device.tags:
            if tag.startswith("vendor:"):
                graph.add(Node("vendor", tag[7:]), "operates", Node("host", device.host))
    for user in uow.users.list():
        if user.vendor:
            graph.add(Node("vendor", user.vendor), "holds", Node("identity", user.name))
            for token in uow.tokens.list(user.id):
                if token.revoked_at is None:
                    graph.add(Node("identity", user.name), "owns", Node("token", token.id))
    for name in vendors:  # a vendor with nothing linked yet is still a node
        graph.add_node(Node("vendor", name))
    return graph


def trust_graph(platform: Platform) -> TrustGraph:
    """The trust graph of everything the state store holds."""
    with platform.transaction(write=False) as uow:
        return _graph(uow)


def blast_radius(platform: Platform, kind: str, key: str) -> Reach:
    """What a node (``vendor``, ``product``, ``artifact``, ``certificate``, ``host``,
    ``identity``) reaches in the trust graph."""
    graph = trust_graph(platform)
    node = Node(kind, key)
    if node not in graph:
        raise NotFound(f"{kind} {key!r} is not in the trust graph")
    return graph.blast_radius(node)


@dataclass(frozen=True)
class BreachReport:
    """A vendor breach: what it reaches and what to do about it."""

    vendor: VendorRecord
    reach: Reach
    actions: tuple[str, ...]
    alert_id: str

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "vendor": self.vendor.name,
            "breached_at": self.vendor.breached_at.isoformat() if self.vendor.breached_at else None,
            "in_reach": self.reach.as_dict(),
            "paths": {str(n): self.reach.explain(n) for n in sorted(self.reach.paths)},
            "actions": list(self.actions),
            "executed": False,
            "alert": self.alert_id,
        }


def containment_actions(reach: Reach) -> tuple[str, ...]:
    """Containment actions for what a breached vendor reaches (listed; response playbooks
    execute them once they exist)."""
    nodes = reach.nodes
    actions = []
    if nodes["identity"]:
        actions.append(
            "require fresh MFA (step-up) for identities: " + ", ".join(nodes["identity"])
        )
    if nodes["token"]:
        actions.append("revoke or rotate API tokens: " + ", ".join(nodes["token"]))
    if nodes["certificate"]:
        actions.append("treat signatures by these certificates as suspect until re-verified: "
                       + ", ".join(c[:16] for c in nodes["certificate"]))  # fmt: skip
    if nodes["artifact"]:
        actions.append(f"block new, unlisted or unsigned files in the vendor's product folders "
                       f"({len(nodes['artifact'])} known artifacts stay allowed)")  # fmt: skip
    if nodes["host"]:
        actions.append(
            "raise monitoring and baseline strictness on hosts: " + ", ".join(nodes["host"])
        )
    if nodes["product"]:
        actions.append("hold updates of products pending vendor confirmation: "
                       + ", ".join(nodes["product"]))  # fmt: skip
    return tuple(actions)


def record_breach(platform: Platform, actor: str, name: str, *, note: str = "") -> BreachReport:
    """A vendor breach (VENOM), as numbered steps:

    1. mark the vendor breached now, with the note (audited);
    2. compute its blast radius over the trust graph;
    3. raise one alert naming the vendor and everything in reach;
    4. return the report with the containment actions (not executed here).
    """
    report = _record_breach(platform, actor, name, note=note, only_if_new=False)
    assert report is not None  # only_if_new=False always records
    return report


def record_breach_once(
    platform: Platform, actor: str, name: str, *, note: str = ""
) -> BreachReport | None:
    """:func:`record_breach` unless the vendor is breached already (then None): the first
    record stands, decided under the vendor row's lock, so two nodes cannot both record."""
    return _record_breach(platform, actor, name, note=note, only_if_new=True)


def _record_breach(
    platform: Platform, actor: str, name: str, *, note: str, only_if_new: bool
) -> BreachReport | None:
    """Steps of :func:`record_breach`:

    1. mark the vendor breached now, with the note (audited);
    2. compute its blast radius over the trust graph;
    3. raise one alert naming the vendor and everything in reach;
    4. return the report with the containment actions (not executed here).
    """
    now = platform.now()
    with platform.transaction() as uow:
        current = uow.vendors.by_name(name, for_update=True)
        if current is None:
            raise NotFound(f"no vendor named {name!r}", hint="list them with `maat vendor list`")
        if only_if_new and current.breached_at is not None:
            return None  # recorded already (by an analyst or another node): the first stands
        vendor = dataclasses.replace(current, breached_at=now, breach_note=note or None)
        uow.vendors.update(vendor)
        platform.audit(uow, actor, "vendor.breach", f"vendor:{vendor.id}", note=note)
        reach = _graph(uow).blast_radius(Node("vendor", vendor.name))
        nodes = reach.nodes
        alert = AlertRecord(
            id=new_id("alr"), rule_id="maat.vendors.breach", level="critical",
            title=f"Vendor breach recorded: {vendor.name}; {len(nodes['host'])} hosts, "
            f"{len(nodes['identity'])} identities in reach",
            created_at=now, techniques=("T1195.002", "T1199"),
            # In reach is not compromised: the hosts and identities are named apart from
            # "hosts" and "users", which device posture and identity risk read as evidence.
            entities={"vendors": [vendor.name], "reach_hosts": list(nodes["host"]),
                      "reach_users": list(nodes["identity"]), "products": list(nodes["product"]),
                      "artifacts": list(nodes["artifact"])},
            group_key=f"vendor-breach:{vendor.id}", last_seen=now,
        )  # fmt: skip
        uow.alerts.add(alert)
        platform.audit(uow, actor, "alert.raise", f"alert:{alert.id}", rule=alert.rule_id)
    return BreachReport(vendor, reach, containment_actions(reach), alert.id)


def _evidence(uow: UnitOfWork, vendor: VendorRecord, platform: Platform) -> Evidence:
    now = platform.now()
    products = [p for p in uow.products.list() if p.vendor == vendor.name]
    findings = []
    for product in products:
        for f in uow.findings.for_subject("product", product.id):
            # A risk acceptance that lapsed (or never had an expiry) leaves the finding
            # open in effect: it counts against the vendor again, as it does everywhere.
            accepted = (
                RiskAcceptance(f.risk_approver, f.risk_reason or "", f.risk_expires_at)
                if f.risk_approver and f.risk_expires_at
                else None
            )
            if effective_status(f.status, accepted, now) is FindingStatus.OPEN:
                overdue = is_overdue(f.status, f.due_at, now, accepted)
                findings.append(FindingFact(f.id, product.name, f.severity, overdue))
    certificates = [
        CertificateFact(c.fingerprint, c.not_after, c.revoked_at, c.revocation_reason,
                        not_before=c.not_before, signing=_signs(c))
        for c in uow.certificates.list() if c.vendor == vendor.name and c.role != "root"
    ]  # fmt: skip
    identities = {u.name for u in uow.users.list() if u.vendor == vendor.name}
    alerts = []
    for alert in uow.alerts.list(limit=10_000):
        named = set(alert.entities.get("vendors", ())) | set(alert.entities.get("vendor", ()))
        users = set(alert.entities.get("users", ()))
        if alert.rule_id == "maat.vendors.breach":
            continue  # the breach itself counts once, as the breach
        if vendor.name in named or users & identities:
            alerts.append(AlertFact(alert.id, alert.level, alert.created_at, alert.title))
    latest = uow.assessments.latest(vendor.id)
    breaches = compliance_in(uow, vendor, now).breaches
    return Evidence(vendor=vendor, now=now, findings=tuple(findings),
                    certificates=tuple(certificates), alerts=tuple(alerts),
                    assessment_expires=latest.expires_at if latest else None,
                    assessment_score=latest.score if latest else None,
                    sla_breaches=tuple(b.key for b in breaches))  # fmt: skip


def _signs(record: CertificateRecord) -> bool:
    """Whether a vendor's certificate on record signs code itself: one Maat issued for it,
    or an imported one that is a code-signing leaf (not the vendor's CA)."""
    if record.role == "code-signing":
        return True
    if record.role != "external":
        return False
    try:
        return is_code_signing_leaf(x509.load_pem_x509_certificate(record.pem.encode()))
    except ValueError:  # unreadable: nothing it could sign is verifiable either
        return False


def vendor_score(platform: Platform, name: str) -> VendorScore:
    """The vendor's score from the evidence Maat holds now, with its contributions."""
    with platform.transaction(write=False) as uow:
        vendor = _vendor(uow, name)
        return score(_evidence(uow, vendor, platform))


def report_html(vendor: VendorRecord, result: VendorScore, reach: Reach) -> str:
    """A one-page scorecard (every value escaped)."""
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(c.name)}</td><td>{c.points}</td><td>{e(c.detail)}</td></tr>"
        for c in result.contributions
    )
    tiers = ", ".join(vendor.tiers) or "none"
    reached = "".join(
        f"<li>{e(kind)}: {e(', '.join(keys))}</li>" for kind, keys in reach.as_dict().items()
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>Maat scorecard: {e(vendor.name)}</title></head><body>"
        f"<h1>{e(vendor.name)}: {result.score}/100 (grade {e(result.grade)})</h1>"
        f"<p>Criticality {e(vendor.criticality.value)}; tiers: {e(tiers)}</p>"
        "<h2>Contributions</h2><table><tr><th>evidence</th><th>points</th><th>detail</th></tr>"
        f"{rows}</table><h2>In reach</h2><ul>{reached}</ul></body></html>"
    )

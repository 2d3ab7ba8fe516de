"""Stored vulnerability work: SBOMs per product, inventories per host, findings and their
lifecycle, remediation plans, time-to-fix per vendor."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from maat.core.enums import Criticality, FindingStatus
from maat.core.ids import new_id
from maat.core.purl import Purl
from maat.errors import Conflict, InvalidInput, NotFound
from maat.sbom import parse_sbom
from maat.services.platform import Platform
from maat.services.vulns import Intel, Reconciled, reconcile, run_scan, stored_intel
from maat.vulns import distros, inventory
from maat.vulns.findings import (
    RiskAcceptance,
    TimeToFix,
    effective_status,
    is_overdue,
    isolation_reasons,
    time_to_fix,
)
from maat.vulns.records import FindingRecord, HostRecord, ProductRecord, SbomRecord
from maat.vulns.remediate import (
    Upgrade,
    Vulnerable,
    ansible_playbooks,
    plan_upgrade,
    ranges_for,
)
from maat.vulns.scan import ScanReport
from maat.vulns.subjects import subject_from_component, subject_from_package

EXPOSURES = ("internet", "internal", "isolated")
_GROUP = re.compile(r"^[A-Za-z0-9_.-]{1,200}$")  # becomes an Ansible group and a file name


@dataclass(frozen=True)
class StoredScan:
    """A scan whose findings were stored against a host or product."""

    subject: str
    report: ScanReport
    changes: Reconciled
    isolation_reasons: tuple[str, ...] = ()


def _criticality(value: str) -> Criticality:
    try:
        return Criticality(value)
    except ValueError:
        raise InvalidInput(
            f"unknown criticality {value!r}",
            field="criticality",
            hint="low, medium, high or critical",
        ) from None


def import_sbom(
    platform: Platform,
    actor: str,
    product_name: str,
    data: bytes,
    *,
    source: str,
    vendor: str | None = None,
    intel: Intel | None = None,
) -> StoredScan:
    """Store an SBOM for a product (created if new) and scan it against stored advisories."""
    v = platform.settings.vulns
    sbom = parse_sbom(
        data, source=source, max_bytes=int(v.max_sbom_bytes), max_components=v.max_sbom_components
    )
    intel = intel or stored_intel(platform)
    now = platform.now()
    described = sbom.metadata_component
    report = run_scan(
        [subject_from_component(c) for c in sbom.components],
        intel,
        product_purl=str(described.purl) if described is not None and described.purl else None,
    )
    with platform.transaction() as uow:
        product = uow.products.by_name(product_name)
        if product is None:
            product = ProductRecord(
                id=new_id("prd"), name=product_name, created_at=now, vendor=vendor
            )
            uow.products.add(product)
        elif vendor and product.vendor != vendor:
            product = replace(product, vendor=vendor)
            uow.products.update(product)
        uow.sboms.add(
            SbomRecord(
                id=new_id("sbm"),
                product_id=product.id,
                name=source[-400:],
                format=sbom.format,
                spec_version=sbom.spec_version,
                sha256=hashlib.sha256(data).hexdigest(),
                components=len(sbom.components),
                imported_at=now,
                document=data,
            )
        )
        changes = reconcile(platform, uow, "product", product.id, report, intel.index)
        platform.audit(
            uow,
            actor,
            "sbom.import",
            f"product:{product_name}",
            source=source,
            components=len(sbom.components),
            opened=changes.opened,
            fixed=changes.fixed,
            reopened=changes.reopened,
        )
    return StoredScan(product_name, report, changes)


def import_inventory(
    platform: Platform,
    actor: str,
    host_name: str,
    data: bytes,
    *,
    source: str,
    os_release_text: str | None = None,
    group: str = "all",
    criticality: str = "medium",
    exposure: str = "internal",
    intel: Intel | None = None,
    today: date | None = None,
) -> StoredScan:
    """Store a host's package inventory and scan it; flag the host for isolation when its OS
    is past end of life or a finding has no fix."""
    if not _GROUP.match(group):
        raise InvalidInput("host groups are letters, digits and ._-", field="group")
    if exposure not in EXPOSURES:
        raise InvalidInput(
            f"unknown exposure {exposure!r}", field="exposure", hint=", ".join(EXPOSURES)
        )
    level = _criticality(criticality)
    v = platform.settings.vulns
    os_release = distros.parse_os_release(os_release_text) if os_release_text else None
    inv = inventory.parse_inventory(
        data,
        source=source,
        os_release=os_release,
        max_bytes=int(v.max_inventory_bytes),
        max_packages=v.max_inventory_packages,
    )
    intel = intel or stored_intel(platform)
    now = platform.now()
    report = run_scan(
        [subject_from_package(p) for p in inv.packages], intel, criticality=level, exposure=exposure
    )
    eol = distros.end_of_life(os_release, today or now.date()) if os_release else None
    eol_text = (
        f"{os_release.pretty_name or os_release.id} (EOL {eol.eol.isoformat()})"
        if eol and os_release
        else None
    )
    unfixable = {
        f.match.advisory.id: f.subject.name for f in report.findings if not f.match.fixed_versions
    }
    reasons = tuple(isolation_reasons(end_of_life=eol_text, unfixable=unfixable))
    with platform.transaction() as uow:
        host = uow.hosts.by_name(host_name)
        fields: dict[str, Any] = dict(  # noqa: C408 - keyword form reads as the record's fields
            group=group,
            criticality=level,
            exposure=exposure,
            os_ecosystem=distros.osv_ecosystem(os_release) if os_release else None,
            os_name=os_release.pretty_name if os_release else None,
            end_of_life=eol_text,
            isolation_reasons=reasons,
            inventory_at=now,
        )
        if host is None:
            host = HostRecord(id=new_id("hst"), name=host_name, created_at=now, **fields)
            uow.hosts.add(host)
        else:
            host = replace(host, **fields)
            uow.hosts.update(host)
        changes = reconcile(platform, uow, "host", host.id, report, intel.index)
        platform.audit(
            uow,
            actor,
            "inventory.import",
            f"host:{host_name}",
            source=source,
            packages=len(inv.packages),
            opened=changes.opened,
            fixed=changes.fixed,
            reopened=changes.reopened,
            isolation=list(reasons),
        )
    return StoredScan(host_name, report, changes, reasons)


@dataclass(frozen=True)
class FindingView:
    """A finding with its subject's name and whether it is overdue now."""

    record: FindingRecord
    subject_name: str
    overdue: bool
    effective_status: FindingStatus


def list_findings(
    platform: Platform,
    *,
    overdue_only: bool = False,
    include_closed: bool = False,
    subject: str | None = None,
    limit: int | None = None,
) -> list[FindingView]:
    """Findings, most urgent first; ``overdue_only`` keeps those past their SLA now."""
    now = platform.now()
    with platform.transaction(write=False) as uow:
        names = {h.id: h.name for h in uow.hosts.list()} | {
            p.id: p.name for p in uow.products.list()
        }
        statuses = None if include_closed else [FindingStatus.OPEN, FindingStatus.RISK_ACCEPTED]
        subject_id = None
        if subject is not None:
            found = uow.hosts.by_name(subject) or uow.products.by_name(subject)
            if found is None:
                raise NotFound(f"no host or product named {subject!r}")
            subject_id = found.id
        records = uow.findings.list(
            statuses=statuses,
            due_before=now if overdue_only else None,
            subject_id=subject_id,
            limit=None if overdue_only else limit,
        )
    views = []
    for r in records:
        acceptance = acceptance_of(r)
        overdue = is_overdue(r.status, r.due_at, now, acceptance)
        if overdue_only and not overdue:
            continue

        views.append(
            FindingView(
                r,
                names.get(r.subject_id, r.subject_id),
                overdue,
                effective_status(r.status, acceptance, now),
            )
        )
    return views[:limit] if limit else views


def acceptance_of(r: FindingRecord) -> RiskAcceptance | None:
    """The risk acceptance recorded on a finding, if any."""
    if r.risk_approver and r.risk_expires_at:
        return RiskAcceptance(r.risk_approver, r.risk_reason or "", r.risk_expires_at)
    return None


def accept_risk(
    platform: Platform,
    actor: str,
    finding_id: str,
    *,
    approver: str,
    reason: str,
    expires_at: datetime,
) -> FindingRecord:
    """Mark a finding risk-accepted until ``expires_at`` (then it is open again)."""
    now = platform.now()
    acceptance = RiskAcceptance.create(approver, reason, expires_at, now)
    with platform.transaction() as uow:
        record = uow.findings.get(finding_id)
        if record is None:
            raise NotFound(f"no finding {finding_id!r}")
        if record.status is FindingStatus.FIXED:
            raise Conflict("a fixed finding needs no risk acceptance")
        record = replace(
            record,
            status=FindingStatus.RISK_ACCEPTED,
            risk_approver=acceptance.approver,
            risk_reason=acceptance.reason,
            risk_expires_at=acceptance.expires_at,
        )
        uow.findings.update(record)
        platform.audit(
            uow,
            actor,
            "finding.accept_risk",
            f"finding:{finding_id}",
            approver=approver,
            reason=reason,
            expires_at=expires_at.isoformat(),
        )
    return record


def mitigate_by_isolation(platform: Platform, actor: str, finding_id: str) -> FindingRecord:
    """Record that the host is isolated, which mitigates the finding until it is fixed."""
    with platform.transaction() as uow:
        record = uow.findings.get(finding_id)
        if record is None:
            raise NotFound(f"no finding {finding_id!r}")
        if record.status is FindingStatus.FIXED:
            raise Conflict("a fixed finding needs no mitigation")
        record = replace(record, status=FindingStatus.MITIGATED_BY_ISOLATION)
        uow.findings.update(record)
        platform.audit(uow, actor, "finding.mitigate", f"finding:{finding_id}")
    return record


def vendor_time_to_fix(platform: Platform) -> list[TimeToFix]:
    """Time from a finding's opening to its fix, per product vendor."""
    with platform.transaction(write=False) as uow:
        vendors = {p.id: p.vendor or f"(no vendor) {p.name}" for p in uow.products.list()}
        rows = [
            (vendors.get(f.subject_id, "?"), f.opened_at, f.fixed_at, f.due_at)
            for f in uow.findings.list(subject_kind="product")
        ]
    return time_to_fix(rows)


def remediation_plan(platform: Platform) -> tuple[list[Upgrade], dict[str, str]]:
    """Upgrades for every open host finding and the Ansible playbooks, per host group."""
    with platform.transaction(write=False) as uow:
        hosts = {h.id: h for h in uow.hosts.list()}
        records = uow.findings.list(statuses=[FindingStatus.OPEN], subject_kind="host")
    grouped: dict[tuple[str, str, str], dict[str, tuple[str, ...]]] = {}
    versions: dict[tuple[str, str, str], tuple[str, str]] = {}
    for r in records:
        host = hosts.get(r.subject_id)
        if host is None:
            continue
        ecosystem = (
            host.os_ecosystem
            if r.component_purl and r.component_purl.startswith(("pkg:deb", "pkg:rpm", "pkg:apk"))
            else _ecosystem_of(r)
        )
        key = (host.id, ecosystem or "", r.component_name)
        grouped.setdefault(key, {})[r.advisory_id] = r.fixed_versions
        versions[key] = (r.component_version, host.group)
    # The advisories' ranges let the plan pick a version no advisory still covers; where the
    # advisory names another package (a Debian source package), the fixed versions alone guide.
    index = stored_intel(platform).index if grouped else None
    upgrades = []
    for (host_id, ecosystem, package), fixes in sorted(grouped.items()):
        version, group = versions[(host_id, ecosystem, package)]
        ranges = ranges_for(index, ecosystem, package) if index is not None and ecosystem else {}
        upgrades.append(
            plan_upgrade(
                Vulnerable(
                    host=hosts[host_id].name,
                    group=group,
                    ecosystem=ecosystem,
                    package=package,
                    version=version,
                    fixes=fixes,
                    ranges={a: ranges[a] for a in fixes if a in ranges},
                )
            )
        )
    return upgrades, ansible_playbooks(upgrades)


def _ecosystem_of(r: FindingRecord) -> str | None:
    if not r.component_purl:
        return None

    return Purl.parse(r.component_purl).ecosystem

"""Vulnerability management over HTTP: SBOMs, inventories, scans, findings, remediation."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import AwareDatetime, BaseModel, Field

from maat.api.schemas import Strict
from maat.api.security import platform_of, requirement, requires
from maat.auth.permissions import Permission
from maat.auth.principal import Principal
from maat.sbom import parse_sbom
from maat.services import findings as findings_service
from maat.services import vulns
from maat.vulns.scan import report_dict
from maat.vulns.subjects import subject_from_component

router = APIRouter(prefix="/v1", tags=["vulnerabilities"])


class InventoryUpload(Strict):
    """A host's package list (as the package manager printed it) and its os-release."""

    inventory: str = Field(min_length=1)
    os_release: str | None = None
    kind: str | None = Field(default=None, max_length=20)
    group: str = Field(default="all", max_length=200)
    criticality: str = Field(default="medium", max_length=20)
    exposure: str = Field(default="internal", max_length=20)


class RiskAcceptanceIn(Strict):
    """Who accepts the risk, why, and until when."""

    approver: str = Field(min_length=1, max_length=200)
    reason: str = Field(min_length=1, max_length=2000)
    expires_at: AwareDatetime


class FindingOut(BaseModel):
    """A stored finding."""

    id: str
    subject: str
    subject_kind: str
    component: dict[str, Any]
    advisory: dict[str, Any]
    severity: str
    priority: float
    priority_label: str
    kev: bool
    status: str
    overdue: bool
    opened_at: datetime
    due_at: datetime
    fixed_at: datetime | None
    fixed_versions: list[str]

    @classmethod
    def of(cls, v: findings_service.FindingView) -> FindingOut:
        """From a finding view."""
        r = v.record
        return cls(
            id=r.id,
            subject=v.subject_name,
            subject_kind=r.subject_kind,
            component={
                "name": r.component_name,
                "version": r.component_version,
                "purl": r.component_purl,
            },
            advisory={"id": r.advisory_id, "aliases": list(r.aliases), "summary": r.summary},
            severity=r.severity,
            priority=r.priority,
            priority_label=r.priority_label,
            kev=r.kev,
            status=v.effective_status.value,
            overdue=v.overdue,
            opened_at=r.opened_at,
            due_at=r.due_at,
            fixed_at=r.fixed_at,
            fixed_versions=list(r.fixed_versions),
        )


def _stored_summary(stored: findings_service.StoredScan) -> dict[str, Any]:
    c = stored.changes
    return {
        "subject": stored.subject,
        "findings": len(stored.report.findings),
        "opened": c.opened,
        "reopened": c.reopened,
        "fixed": c.fixed,
        "updated": c.updated,
        "skipped": len(stored.report.skipped),
        "isolation_reasons": list(stored.isolation_reasons),
    }


@router.post("/products/{product}/sboms", status_code=201, **requires(Permission.VULNS_WRITE))
async def upload_sbom(
    product: str,
    request: Request,
    vendor: str | None = Query(default=None, max_length=200),
    caller: Principal = Depends(requirement(Permission.VULNS_WRITE)),
) -> dict[str, Any]:
    """Store an SBOM (the request body, any supported format) for a product and scan it."""
    data = await request.body()
    platform = platform_of(request)
    stored = await run_in_threadpool(
        findings_service.import_sbom,
        platform,
        caller.actor,
        product,
        data,
        source=f"upload:{product}",
        vendor=vendor,
    )
    return _stored_summary(stored)


@router.post("/hosts/{host}/inventory", status_code=201, **requires(Permission.VULNS_WRITE))
def upload_inventory(
    host: str,
    body: InventoryUpload,
    request: Request,
    caller: Principal = Depends(requirement(Permission.VULNS_WRITE)),
) -> dict[str, Any]:
    """Store a host's package inventory and scan it."""
    stored = findings_service.import_inventory(
        platform_of(request),
        caller.actor,
        host,
        body.inventory.encode(),
        source=f"upload:{host}",
        os_release_text=body.os_release,
        group=body.group,
        criticality=body.criticality,
        exposure=body.exposure,
    )
    return _stored_summary(stored)


@router.post("/scan/sbom", **requires(Permission.VULNS_READ))
async def scan_sbom(request: Request) -> dict[str, Any]:
    """Scan an SBOM (the request body) against the stored advisories; nothing is stored."""
    data = await request.body()
    platform = platform_of(request)

    def work() -> dict[str, Any]:
        limits = platform.settings.vulns
        sbom = parse_sbom(
            data,
            source="upload",
            max_bytes=int(limits.max_sbom_bytes),
            max_components=limits.max_sbom_components,
        )
        report = vulns.run_scan(
            [subject_from_component(c) for c in sbom.components], vulns.stored_intel(platform)
        )
        return report_dict(report)

    return await run_in_threadpool(work)


@router.get("/findings", **requires(Permission.VULNS_READ))
def list_findings(
    request: Request,
    overdue: bool = False,
    include_closed: bool = False,
    subject: str | None = Query(default=None, max_length=253),
    limit: int = Query(default=200, ge=1, le=10_000),
) -> list[FindingOut]:
    """Findings, most urgent first; ``overdue=true`` keeps those past their SLA."""
    views = findings_service.list_findings(
        platform_of(request),
        overdue_only=overdue,
        include_closed=include_closed,
        subject=subject,
        limit=limit,
    )
    return [FindingOut.of(v) for v in views]


@router.post("/findings/{finding_id}/accept-risk", **requires(Permission.VULNS_WRITE))
def accept_risk(
    finding_id: str,
    body: RiskAcceptanceIn,
    request: Request,
    caller: Principal = Depends(requirement(Permission.VULNS_WRITE)),
) -> dict[str, str]:
    """Accept a finding's risk until ``expires_at``."""
    record = findings_service.accept_risk(
        platform_of(request),
        caller.actor,
        finding_id,
        approver=body.approver,
        reason=body.reason,
        expires_at=body.expires_at,
    )
    return {"id": record.id, "status": record.status.value}


@router.post("/findings/{finding_id}/mitigate", **requires(Permission.VULNS_WRITE))
def mitigate(
    finding_id: str,
    request: Request,
    caller: Principal = Depends(requirement(Permission.VULNS_WRITE)),
) -> dict[str, str]:
    """Record that the host is isolated, which mitigates the finding until it is fixed."""
    record = findings_service.mitigate_by_isolation(platform_of(request), caller.actor, finding_id)
    return {"id": record.id, "status": record.status.value}


@router.get("/findings/time-to-fix", **requires(Permission.VULNS_READ))
def time_to_fix(request: Request) -> list[dict[str, Any]]:
    """Time-to-fix statistics per vendor."""
    return [vars(s) for s in findings_service.vendor_time_to_fix(platform_of(request))]


@router.get("/remediation/ansible", **requires(Permission.VULNS_READ))
def remediation(request: Request) -> dict[str, Any]:
    """The upgrade plan and one Ansible playbook (YAML text) per host group."""
    upgrades, playbooks = findings_service.remediation_plan(platform_of(request))
    return {"upgrades": [vars(u) for u in upgrades], "playbooks": playbooks}

"""The vendor register, vendor scores, breaches and the trust graph's blast radius."""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AwareDatetime, Field

from maat.api.schemas import Strict
from maat.api.security import platform_of, requirement, requires
from maat.auth.permissions import Permission
from maat.auth.principal import Principal
from maat.core.enums import Criticality
from maat.services import contracts
from maat.services import vendors as vendor_service
from maat.vendors.records import VendorRecord, parse_contact

router = APIRouter(prefix="/v1", tags=["vendors"])


class VendorIn(Strict):
    """A vendor to register."""

    name: str = Field(min_length=1, max_length=200)
    criticality: Criticality = Criticality.MEDIUM
    tiers: list[str] = Field(default_factory=list, max_length=4)
    security_contact: str | None = Field(default=None, max_length=400)
    website: str | None = Field(default=None, max_length=2000)


class BreachIn(Strict):
    """What is known of a vendor breach."""

    note: str = Field(default="", max_length=4000)


def _out(v: VendorRecord) -> dict[str, Any]:
    return {
        "id": v.id, "name": v.name, "criticality": v.criticality.value, "tiers": list(v.tiers),
        "contacts": [{"name": c.name, "email": c.email, "role": c.role} for c in v.contacts],
        "website": v.website, "breached_at": v.breached_at, "breach_note": v.breach_note,
    }  # fmt: skip


@router.get("/vendors", **requires(Permission.VENDORS_READ))
def list_vendors(request: Request) -> list[dict[str, Any]]:
    """Every vendor, by name."""
    return [_out(v) for v in vendor_service.list_vendors(platform_of(request))]


@router.post("/vendors", status_code=201, **requires(Permission.VENDORS_WRITE))
def add_vendor(
    body: VendorIn,
    request: Request,
    caller: Principal = Depends(requirement(Permission.VENDORS_WRITE)),
) -> dict[str, Any]:
    """Register a vendor (409 if the name is taken)."""
    contacts = [parse_contact(body.security_contact)] if body.security_contact else []
    record = vendor_service.add_vendor(
        platform_of(request), caller.actor, body.name, criticality=body.criticality,
        tiers=body.tiers, contacts=contacts, website=body.website,
    )  # fmt: skip
    return _out(record)


@router.get("/vendors/{name}/score", **requires(Permission.VENDORS_READ))
def vendor_score(name: str, request: Request) -> dict[str, Any]:
    """The vendor's score with every contribution and its evidence."""
    return vendor_service.vendor_score(platform_of(request), name).as_dict()


@router.post("/vendors/{name}/breach", **requires(Permission.VENDORS_WRITE))
def record_breach(
    name: str,
    body: BreachIn,
    request: Request,
    caller: Principal = Depends(requirement(Permission.VENDORS_WRITE)),
) -> dict[str, Any]:
    """Record a breach at the vendor: blast radius, containment actions, and an alert."""
    report = vendor_service.record_breach(platform_of(request), caller.actor, name, note=body.note)
    return report.as_dict()


class NoticeIn(Strict):
    """A vendor's incident notice."""

    occurred_at: AwareDatetime
    notified_at: AwareDatetime
    note: str = Field(default="", max_length=4000)


@router.post("/vendors/{name}/notices", status_code=201, **requires(Permission.VENDORS_WRITE))
def record_notice(
    name: str, body: NoticeIn, request: Request,
    caller: Principal = Depends(requirement(Permission.VENDORS_WRITE)),
) -> dict[str, Any]:  # fmt: skip
    """Record when an incident at the vendor began and when the vendor told you."""
    notice = contracts.record_notice(platform_of(request), caller.actor, name,
                                     occurred_at=body.occurred_at,
                                     notified_at=body.notified_at, note=body.note)  # fmt: skip
    return {"id": notice.id, "occurred_at": notice.occurred_at,
            "notified_at": notice.notified_at}  # fmt: skip


@router.post("/vendors/{name}/compliance", **requires(Permission.VENDORS_WRITE))
def review_compliance(
    name: str, request: Request,
    caller: Principal = Depends(requirement(Permission.VENDORS_WRITE)),
) -> dict[str, Any]:  # fmt: skip
    """Measure the vendor's contract compliance now; breaches open findings against the
    vendor, findings whose breach no longer holds close."""
    review = contracts.review_compliance(platform_of(request), caller.actor, name)
    result = review.compliance
    return {
        "vendor": result.vendor,
        "breaches": [{"term": b.term, "detail": b.detail, "evidence": b.evidence}
                     for b in result.breaches],
        "notes": list(result.notes),
        "findings": {"opened": len(review.opened), "closed": len(review.closed),
                     "open": [dataclasses.asdict(f) for f in review.open]},
    }  # fmt: skip


@router.get("/graph/reach", **requires(Permission.VENDORS_READ))
def reach(
    request: Request,
    kind: str = Query(pattern="^(vendor|product|artifact|certificate|host|identity)$"),
    key: str = Query(min_length=1, max_length=2000),
) -> dict[str, Any]:
    """What one node of the trust graph reaches, with the path to each node."""
    found = vendor_service.blast_radius(platform_of(request), kind, key)
    return {
        "in_reach": found.as_dict(),
        "paths": {str(n): found.explain(n) for n in sorted(found.paths)},
    }

"""The audit log: read and verify."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request

from maat.api.schemas import AuditRecordOut, AuditVerification
from maat.api.security import platform_of, requires
from maat.auth.permissions import Permission
from maat.services import audit

router = APIRouter(prefix="/v1/audit", tags=["audit"])


@router.get("", **requires(Permission.AUDIT_READ))
def list_audit(
    request: Request,
    after: int = Query(default=0, ge=0, le=2**63 - 1),
    limit: int = Query(default=100, ge=1, le=1_000),
) -> list[AuditRecordOut]:
    """Audit records after sequence number ``after``."""
    records = audit.list_audit(platform_of(request), after_seq=after, limit=limit)
    return [AuditRecordOut.of(r) for r in records]


@router.get("/verify", **requires(Permission.AUDIT_READ))
def verify(request: Request) -> AuditVerification:
    """Verify the hash chain; problems name the records concerned."""
    return AuditVerification.of(audit.verify_audit(platform_of(request)))

"""Execution decisions for agents, and the CA's public material (certificates, CRL, OCSP)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import Field

from maat.api.schemas import Strict
from maat.api.security import platform_of, public, requirement, requires
from maat.auth.permissions import Permission
from maat.auth.principal import Principal
from maat.services import execution, revocation, signing
from maat.services.devices import sending_device

router = APIRouter(tags=["signing"])


class SightingIn(Strict):
    """A binary about to run on a host."""

    sha256: str = Field(min_length=64, max_length=64, pattern="^[0-9a-fA-F]{64}$")
    path: str = Field(default="", max_length=2000)
    host: str = Field(min_length=1, max_length=253)
    host_group: str = Field(default="default", max_length=200)
    signer_fingerprint: str | None = Field(default=None, min_length=64, max_length=64)


@router.post("/v1/exec/decide", **requires(Permission.EXEC_DECIDE))
def decide(
    body: SightingIn,
    request: Request,
    caller: Principal = Depends(requirement(Permission.EXEC_DECIDE)),
) -> dict[str, Any]:
    """Run or block, with the rule and reasons that decided; the sighting is recorded."""
    platform = platform_of(request)
    device = sending_device(platform, caller)
    decision = execution.decide(
        platform,
        execution.Sighted(
            body.host, body.sha256, body.path, body.host_group, body.signer_fingerprint,
            sender=device.host if device is not None else None,
        ),
    )  # fmt: skip
    return {
        "action": decision.action,
        "would_block": decision.would_block,
        "reasons": list(decision.reasons),
        "policy": getattr(decision, "policy", None),
        "rule": getattr(decision, "rule", None),
    }


@router.get("/v1/exec/policy", **requires(Permission.EXEC_DECIDE))
def policy(request: Request) -> dict[str, Any]:
    """The active policies, signed by Maat's timestamping key, for agents to verify offline."""
    return execution.signed_policy_document(platform_of(request))


@router.get("/pki/intermediate.crl", **public())
async def crl(request: Request) -> Response:
    """The current CRL of Maat's code-signing CA (DER)."""
    der = await run_in_threadpool(signing.latest_crl_der, platform_of(request))
    return Response(der, media_type="application/pkix-crl")


@router.post("/pki/ocsp", **public())
async def ocsp_responder(request: Request) -> Response:
    """OCSP (RFC 6960) for certificates Maat's CA issued: POST the DER request."""
    body = await request.body()
    answer = await run_in_threadpool(revocation.ocsp_respond, platform_of(request), body)
    return Response(answer, media_type="application/ocsp-response")

"""Health and version."""

from __future__ import annotations

from fastapi import APIRouter, Request

from maat import __version__
from maat.api.schemas import SystemInfo
from maat.api.security import platform_of, public, requires
from maat.auth.permissions import Permission

router = APIRouter(tags=["system"])


@router.get("/healthz", **public())
def health() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/v1/system", **requires(Permission.SYSTEM_READ))
def system(request: Request) -> SystemInfo:
    """Version, state-store backend and schema revision."""
    store = platform_of(request).store
    return SystemInfo(
        version=__version__, database=store.backend, schema_revision=store.current_revision()
    )

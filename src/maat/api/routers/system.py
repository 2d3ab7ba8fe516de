"""Health and version."""

from __future__ import annotations

from fastapi import APIRouter, Request

from maat import __version__
from maat.api.schemas import PipelineInfo, SystemInfo
from maat.api.security import platform_of, public, requires
from maat.auth.permissions import Permission

router = APIRouter(tags=["system"])


@router.get("/healthz", **public())
def health() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/v1/system", **requires(Permission.SYSTEM_READ))
def system(request: Request) -> SystemInfo:
    """Version, state-store backend, schema revision and the telemetry pipeline's state."""
    store = platform_of(request).store
    telemetry = getattr(request.app.state, "telemetry", None)
    pipeline = None
    if telemetry is not None:
        error = telemetry.writer_error
        pipeline = PipelineInfo(
            writer_running=telemetry.writer_running,
            last_error=None if error is None else error.diagnostics(),
            events_passed_over=telemetry.undetected,
        )
    return SystemInfo(
        version=__version__,
        database=store.backend,
        schema_revision=store.current_revision(),
        pipeline=pipeline,
    )

"""Event ingest over HTTP: ``POST /v1/events`` takes NDJSON (optionally gzip) from agents."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool

from maat.adapters.feeds.files import gunzip_bounded
from maat.api.security import platform_of, requirement, requires
from maat.auth.permissions import Permission
from maat.auth.principal import Principal
from maat.errors import InvalidInput, PayloadTooLarge, Unavailable
from maat.services.devices import heartbeat, sending_device
from maat.services.telemetry import Telemetry

router = APIRouter(prefix="/v1", tags=["telemetry"])


def telemetry_of(request: Request) -> Telemetry:
    """The process's telemetry (bus and lake); 503 when this server runs without it."""
    telemetry: Telemetry | None = getattr(request.app.state, "telemetry", None)
    if telemetry is None:
        raise Unavailable("this server was started without telemetry ingest")
    return telemetry


@router.post("/events", **requires(Permission.EVENTS_WRITE))
async def ingest_events(
    request: Request,
    # Source names: "sysmon_linux", "app.jvm", "paloalto.globalprotect" (unknown: 400).
    source: str = Query(default="auto", max_length=40, pattern=r"^[a-z][a-z0-9_.]*$"),
    caller: Principal = Depends(requirement(Permission.EVENTS_WRITE)),
) -> dict[str, Any]:
    """Ingest events: one JSON record per line (or a Zeek / auditd text body).

    The answer comes once the accepted events are durable: ``{"accepted", "rejected",
    "duplicates", "errors": [{"path", "line", "reason"}]}``. Malformed lines are reported by
    line number and the rest kept. A bus that cannot store (disk full, NATS down) answers 503
    with ``Retry-After`` and acknowledges nothing. ``Content-Encoding: gzip`` is accepted.
    """
    telemetry = telemetry_of(request)
    limits = telemetry.settings.telemetry
    body = await request.body()
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding == "gzip":
        body = gunzip_bounded(
            body, int(limits.max_request_bytes), what="the body",
            setting="telemetry.max_request_bytes",
        )  # fmt: skip
    elif encoding not in ("identity", ""):
        raise InvalidInput(f"unsupported Content-Encoding {encoding!r}", field="content-encoding")
    if len(body) > limits.max_request_bytes:
        raise PayloadTooLarge(
            f"the body of {len(body):,} bytes exceeds {int(limits.max_request_bytes):,} bytes "
            "(telemetry.max_request_bytes)"
        )
    path = f"POST /v1/events by {caller.actor}"
    platform = platform_of(request)
    device = None
    if caller.via_token:  # a device's own agent: its events are vouched for by the device
        device = await run_in_threadpool(sending_device, platform, caller)
    report = await run_in_threadpool(
        telemetry.ingest, body, path=path, source=source, max_events=limits.max_batch_events,
        sender=device.host if device is not None else None,
    )  # fmt: skip
    if device is not None:  # a device's agent sending events is alive: that is its heartbeat
        interval = float(platform.settings.access.heartbeat_write_interval)
        token_id = caller.credential.partition(":")[2]
        await run_in_threadpool(heartbeat, platform, token_id, min_interval=interval)
    return report.as_dict()

"""Event ingest over HTTP: ``POST /v1/events`` takes NDJSON (optionally gzip) from agents."""

from __future__ import annotations

import zlib
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool

from maat.api.security import requirement, requires
from maat.auth.permissions import Permission
from maat.auth.principal import Principal
from maat.errors import InvalidInput, MalformedRequest, PayloadTooLarge, Unavailable
from maat.services.telemetry import Telemetry

router = APIRouter(prefix="/v1", tags=["telemetry"])


def telemetry_of(request: Request) -> Telemetry:
    """The process's telemetry (bus and lake); 503 when this server runs without it."""
    telemetry: Telemetry | None = getattr(request.app.state, "telemetry", None)
    if telemetry is None:
        raise Unavailable("this server was started without telemetry ingest")
    return telemetry


def _gunzip(body: bytes, limit: int) -> bytes:
    """Inflate a gzip body, refusing beyond ``limit`` bytes (a decompression bomb)."""
    inflater = zlib.decompressobj(wbits=31)
    try:
        data = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise MalformedRequest(f"the gzip body is corrupt: {exc}") from exc
    if len(data) > limit or inflater.unconsumed_tail:
        raise PayloadTooLarge(
            f"the body inflates beyond {limit:,} bytes (telemetry.max_request_bytes)"
        )
    if not inflater.eof:
        raise MalformedRequest("the gzip body is truncated")
    return data


@router.post("/events", **requires(Permission.EVENTS_WRITE))
async def ingest_events(
    request: Request,
    source: str = Query(default="auto", max_length=40, pattern=r"^[a-z_]+$"),
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
        body = _gunzip(body, int(limits.max_request_bytes))
    elif encoding not in ("identity", ""):
        raise InvalidInput(f"unsupported Content-Encoding {encoding!r}", field="content-encoding")
    if len(body) > limits.max_request_bytes:
        raise PayloadTooLarge(
            f"the body of {len(body):,} bytes exceeds {int(limits.max_request_bytes):,} bytes "
            "(telemetry.max_request_bytes)"
        )
    lines = body.count(b"\n") + 1
    if lines > limits.max_batch_events:
        raise PayloadTooLarge(
            f"the body holds {lines:,} lines, more than {limits.max_batch_events:,} "
            "(telemetry.max_batch_events): send smaller batches"
        )
    path = f"POST /v1/events by {caller.actor}"
    report = await run_in_threadpool(telemetry.ingest, body, path=path, source=source)
    return report.as_dict()

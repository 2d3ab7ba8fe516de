"""Errors as RFC 9457 problem+json; the one place the API turns exceptions into answers."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from maat.errors import AuthenticationFailed, InvalidInput, MaatError, RateLimited, Unavailable

log = logging.getLogger("maat.api")

PROBLEM_JSON = "application/problem+json"
_TITLES = {
    400: "Malformed request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many requests",
}


def problem(
    status: int,
    slug: str,
    title: str,
    detail: str,
    *,
    instance: str = "",
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A problem+json response."""
    body: dict[str, Any] = {
        "type": f"urn:maat:problem:{slug}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(
        body, status_code=status, media_type=PROBLEM_JSON, headers=dict(headers or {})
    )


async def _maat_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, MaatError)
    headers: dict[str, str] = {}
    extra: dict[str, Any] = {"hint": exc.hint}
    if isinstance(exc, AuthenticationFailed) and exc.status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="maat"'
    if isinstance(exc, RateLimited | Unavailable):
        headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, InvalidInput):
        loc = exc.location
        extra["errors"] = [
            {"field": loc.field, "file": loc.file, "line": loc.line, "message": exc.message}
        ]
    detail = exc.message
    if exc.status >= 500:
        log.error("server-side error on %s: %s", request.url.path, exc.diagnostics())
    if exc.status >= 500 and not isinstance(exc, Unavailable):
        # Server-side faults are for the operator's log, not for the caller. Unavailable
        # (spool full, bus down) is not a fault: the client needs its reason to back off.
        detail = "the server could not complete the request; the server log has the details"
        extra["hint"] = None
    return problem(
        exc.status,
        exc.slug,
        exc.title,
        detail,
        instance=request.url.path,
        headers=headers,
        **extra,
    )


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(p) for p in loc)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    malformed = [e for e in errors if e.get("type") == "json_invalid"]
    if malformed:
        first = malformed[0]
        position = first.get("loc", ("body", None))[-1]
        reason = (first.get("ctx") or {}).get("error", "not valid JSON")
        return problem(
            400,
            "malformed-request",
            "Malformed request",
            f"the body is not valid JSON: {reason} at character {position}",
            instance=request.url.path,
            errors=[{"field": "body", "position": position, "message": reason}],
        )
    not_json = [
        e
        for e in errors
        if tuple(e.get("loc", ())) == ("body",) and isinstance(e.get("input"), bytes | str)
    ]
    if not_json:
        return problem(
            400,
            "malformed-request",
            "Malformed request",
            "the body must be a JSON object",
            instance=request.url.path,
            hint="send Content-Type: application/json with a JSON object",
            errors=[{"field": "body", "message": "not a JSON object"}],
        )
    items = [{"field": _field(e.get("loc", ())), "message": e.get("msg", "")} for e in errors]
    summary = "; ".join(f"{i['field']}: {i['message']}" for i in items[:5])
    return problem(
        422, "invalid-input", "Invalid input", summary, instance=request.url.path, errors=items
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    title = _TITLES.get(status, "Error")
    detail = exc.detail if isinstance(exc.detail, str) else title
    slug = title.lower().replace(" ", "-")
    return problem(status, slug, title, detail, instance=request.url.path, headers=exc.headers)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    # A foreign exception reaching here is a bug: log it whole, tell the caller little.
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(
        500,
        "internal-error",
        "Internal error",
        "an unexpected error occurred; the server log has the details",
        instance=request.url.path,
    )


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(MaatError, _maat_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)

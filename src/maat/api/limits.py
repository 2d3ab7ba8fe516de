"""Request size limit as ASGI middleware: refuses early on Content-Length, and counts bytes
as they arrive for chunked bodies, so an oversized body is never buffered whole."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from maat.api.problems import problem


class BodySizeLimit:
    """Answer 413 to bodies larger than ``max_bytes``, or than the limit ``routes`` gives
    the request's path (``POST /v1/events`` has its own: ``telemetry.max_request_bytes``)."""

    def __init__(
        self, app: ASGIApp, max_bytes: int, routes: dict[str, tuple[int, str]] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.routes = routes or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, setting = self.routes.get(scope.get("path", ""), (self.max_bytes, _SETTING))
        await _Limited(self.app, limit, setting)(scope, receive, send)


_SETTING = "api.max_request_bytes (MAAT_API_MAX_REQUEST_BYTES)"


class _Limited:
    """One request under one limit."""

    def __init__(self, app: ASGIApp, max_bytes: int, setting: str) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.setting = setting

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                response = problem(
                    400, "malformed-request", "Malformed request", "Content-Length is not a number"
                )
                await response(scope, receive, send)
                return
            if int(declared) > self.max_bytes:
                await self._too_large(scope, receive, send, int(declared))
                return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Raised inside body reading: FastAPI re-raises HTTPException unchanged.
                    raise HTTPException(413, self._detail(received))
            return message

        await self.app(scope, counting_receive, send)

    def _detail(self, size: int) -> str:
        return f"request body of at least {size} bytes exceeds the limit of {self.max_bytes} bytes"

    async def _too_large(self, scope: Scope, receive: Receive, send: Send, size: int) -> None:
        response = problem(
            413,
            "payload-too-large",
            "Payload too large",
            self._detail(size),
            hint=f"raise {self.setting} or send smaller batches",
        )
        await response(scope, receive, send)

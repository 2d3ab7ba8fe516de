"""A route that escapes the start-up permission check is served to anyone: nested routers,
hidden (``include_in_schema=False``) routes and WebSocket or plain Starlette routes must all
be refused at start-up, since none of them shows up where the check used to look."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, WebSocket
from starlette.requests import Request
from starlette.responses import PlainTextResponse

from maat.api.security import check_routes, public, requires
from maat.auth.permissions import Permission
from maat.errors import ConfigError


def test_hidden_route_in_a_nested_router_cannot_skip_its_permission() -> None:
    outer, inner = APIRouter(), APIRouter()

    @inner.get("/v1/hidden", include_in_schema=False)
    def hidden() -> dict[str, str]:
        return {}

    outer.include_router(inner)
    with pytest.raises(ConfigError, match="/v1/hidden declares no permission"):
        check_routes(outer.routes)


def test_nested_router_with_permissions_is_accepted() -> None:
    outer, inner = APIRouter(), APIRouter(prefix="/v1/inner")

    @inner.get("/read", **requires(Permission.AUDIT_READ))
    def read() -> dict[str, str]:
        return {}

    @inner.get("/health", **public())
    def health() -> dict[str, str]:
        return {}

    outer.include_router(inner)
    check_routes(outer.routes)


def test_websocket_route_cannot_skip_the_permission_check() -> None:
    router = APIRouter()

    @router.websocket("/v1/stream")
    async def stream(socket: WebSocket) -> None:
        await socket.accept()

    with pytest.raises(ConfigError, match="/v1/stream"):
        check_routes(router.routes)


def test_plain_starlette_route_cannot_skip_the_permission_check() -> None:
    router = APIRouter()

    async def raw(_request: Request) -> PlainTextResponse:
        return PlainTextResponse("secret")

    router.add_route("/v1/raw", raw)
    with pytest.raises(ConfigError, match="/v1/raw"):
        check_routes(router.routes)

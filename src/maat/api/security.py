"""Route permissions: every route declares one (or says it is public), checked at start-up.

Use ``@router.get(path, **requires(Permission.X))`` and take the caller with
``caller: Principal = Depends(requirement(Permission.X))``; or ``**public()`` for the few
routes anyone may call. :func:`check_routes` refuses a route whose two disagree.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.routing import APIRoute, APIRouter
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from maat.auth.permissions import Permission
from maat.auth.principal import Principal
from maat.errors import AuthenticationFailed, ConfigError
from maat.services import auth
from maat.services.platform import Platform

PERMISSION_KEY = "x-maat-permission"
PUBLIC = "public"

_bearer = HTTPBearer(auto_error=False, description="A session token or an API token")


def platform_of(request: Request) -> Platform:
    """The platform the app was built with."""
    platform: Platform = request.app.state.platform
    return platform


def client_of(request: Request) -> str:
    """The caller's address, used for throttling and the audit log."""
    return request.client.host if request.client else "unknown"


@cache
def requirement(permission: Permission) -> Callable[..., Principal]:
    """The dependency that authenticates the caller and checks ``permission``.

    Cached, so a route listing it in ``dependencies`` and a parameter asking for the
    principal share one call per request.
    """

    def dependency(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        if credentials is None:
            raise AuthenticationFailed(
                "authentication required", hint="send 'Authorization: Bearer <token>'"
            )
        platform = platform_of(request)
        principal = auth.authenticate(platform, credentials.credentials, client=client_of(request))
        if not principal.can(permission):
            platform.refuse(
                principal.actor,
                "auth.forbidden",
                f"{request.method} {request.url.path}",
                f"lacks {permission.value}",
                throttle_key=f"{principal.credential}:{permission}",
                client=client_of(request),
            )
            principal.require(permission)
        return principal

    dependency.__maat_permission__ = permission.value  # type: ignore[attr-defined]
    return dependency


def requires(permission: Permission) -> dict[str, Any]:
    """Route keyword arguments that enforce and document ``permission``."""
    return {
        "dependencies": [Depends(requirement(permission))],
        "openapi_extra": {PERMISSION_KEY: permission.value},
    }


def public() -> dict[str, Any]:
    """Route keyword arguments for a route anyone may call (login, health)."""
    return {"openapi_extra": {PERMISSION_KEY: PUBLIC}}


def declared_permission(route: APIRoute) -> str | None:
    """The permission a route declares, or ``None``."""
    value = (route.openapi_extra or {}).get(PERMISSION_KEY)
    return value if isinstance(value, str) else None


def check_routes(routes: list[Any], *, plain_public: frozenset[str] = frozenset()) -> None:
    """Refuse to start if a route lacks a permission or does not enforce the one it declares.

    Included sub-routers are checked route by route. Any other kind of route (WebSocket,
    plain Starlette ``Route``, ``Mount``) cannot carry a permission, so it is refused, unless
    its path is in ``plain_public`` (FastAPI's own documentation pages): such routes appear
    nowhere in the OpenAPI document either, and would otherwise be served to anyone.
    """
    for route in routes:
        nested = getattr(route, "original_router", None)  # FastAPI's included sub-router
        if isinstance(nested, APIRouter):
            check_routes(nested.routes, plain_public=plain_public)
            continue
        if not isinstance(route, APIRoute):
            path = str(getattr(route, "path", "?"))
            if path not in plain_public:
                raise ConfigError(
                    f"route {path} ({type(route).__name__}) declares no permission: only "
                    "API routes can carry one",
                    field=str(getattr(route, "name", path)),
                )
            continue
        declared = declared_permission(route)
        where = f"{sorted(route.methods or ())} {route.path}"
        if declared is None:
            raise ConfigError(f"route {where} declares no permission", field=route.name)
        enforced: set[str] = {
            p
            for d in route.dependant.dependencies
            if isinstance(p := getattr(d.call, "__maat_permission__", None), str)
        }
        if declared == PUBLIC and enforced:
            raise ConfigError(f"public route {where} requires {enforced}", field=route.name)
        if declared != PUBLIC and enforced != {declared}:
            raise ConfigError(
                f"route {where} declares {declared!r} but enforces {sorted(enforced)}",
                field=route.name,
            )


def check_operations(openapi: dict[str, Any]) -> None:
    """Refuse to start if any operation in the served OpenAPI document lacks a permission.

    This second check sees every route the app serves, however it was added.
    """
    for path, operations in openapi.get("paths", {}).items():
        for method, operation in operations.items():
            if PERMISSION_KEY not in operation:
                raise ConfigError(
                    f"route {method.upper()} {path} declares no permission", field=path
                )

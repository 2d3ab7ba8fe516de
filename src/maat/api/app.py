"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from maat import __version__
from maat.api import problems
from maat.api.limits import BodySizeLimit
from maat.api.routers import (
    access,
    alerts,
    audit,
    auth,
    events,
    signing,
    system,
    tokens,
    users,
    vendors,
    vulns,
)
from maat.api.security import check_operations, check_routes
from maat.services.access import AccessPoint
from maat.services.platform import Platform
from maat.services.telemetry import Telemetry

ROUTERS = (
    # First: a decision point's routes are matched on every proxied request.
    access.router,
    system.router,
    alerts.router,
    auth.router,
    users.router,
    tokens.router,
    audit.router,
    vulns.router,
    signing.router,
    events.router,
    vendors.router,
)


def create_app(
    platform: Platform, *, telemetry: Telemetry | None = None, close_on_shutdown: bool = True
) -> FastAPI:
    """Build the API over an opened platform; refuses routes without a permission.

    ``telemetry`` (bus and lake) enables ``POST /v1/events``; without it that route answers
    503. Its lake writer runs while the app does.
    """

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if telemetry is not None:
            telemetry.start_writer()
        yield
        app.state.access.close()
        if telemetry is not None and close_on_shutdown:
            telemetry.close()
        if close_on_shutdown:
            platform.close()

    app = FastAPI(
        title="Maat",
        version=__version__,
        description="Defence against software-supply-chain intrusions. Every route needs a "
        "bearer token (session or API token) and the permission it names under "
        "x-maat-permission, unless that says public.",
        lifespan=lifespan,
    )
    app.state.platform = platform
    app.state.telemetry = telemetry
    app.state.access = AccessPoint(platform)
    problems.install(app)
    for router in ROUTERS:
        check_routes(router.routes)
        app.include_router(router)
    # Everything the app serves, however it got there (hidden routes included); FastAPI's
    # documentation pages are the only plain routes, public like the OpenAPI they show.
    docs = {app.openapi_url, app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url}
    check_routes(app.routes, plain_public=frozenset(d for d in docs if d))
    check_operations(app.openapi())
    # Event batches have their own limit (the unzipped body's, which a plain body may reach).
    events = (int(platform.settings.telemetry.max_request_bytes), "telemetry.max_request_bytes")
    app.add_middleware(
        BodySizeLimit,
        max_bytes=int(platform.settings.api.max_request_bytes),
        routes={"/v1/events": events},
    )
    return app

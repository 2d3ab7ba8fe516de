"""Every API route × every role (and anonymous) gets the status its permission says."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from maat.api.app import create_app
from maat.api.security import (
    PERMISSION_KEY,
    PUBLIC,
    check_operations,
    check_routes,
    requirement,
    requires,
)
from maat.auth.permissions import ROLE_PERMISSIONS, Permission, Role
from maat.errors import ConfigError
from maat.services import users
from maat.services.platform import Platform
from maat.services.telemetry import Telemetry
from maat_testkit import PASSWORD, FakeClock, open_platform, session_for


@pytest.fixture
def platform(backend: str, tmp_path: Path, clock: FakeClock) -> Iterator[Platform]:
    """With a public URL: routes that need one (WebAuthn) answer, rather than report
    their missing setting."""
    yield from open_platform(backend, tmp_path / "data", clock,
                             api={"public_url": "https://maat.test"})  # fmt: skip


@pytest.fixture
def app(platform: Platform) -> Iterator[FastAPI]:
    telemetry = Telemetry.open(platform.settings)  # so that POST /v1/events is served
    yield create_app(platform, telemetry=telemetry, close_on_shutdown=False)
    telemetry.close()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=True) as c:
        yield c


def api_routes(app: FastAPI) -> list[tuple[str, str, str]]:
    """(method, path, declared permission) for every operation the app serves."""
    return [(m, p, perm) for m, p, perm, _ in credential_routes(app)]


def credential_routes(app: FastAPI) -> list[tuple[str, str, str, str]]:
    """Also the header each operation reads its caller's credential from (a decision
    point's proxy sends its own token beside the user's Authorization)."""
    out = []
    for path, operations in app.openapi()["paths"].items():
        for method, operation in operations.items():
            header = operation.get("x-maat-credential-header", "Authorization")
            out.append((method.upper(), path, operation.get(PERMISSION_KEY, "MISSING"), header))
    return out


def test_every_route_declares_a_permission(app: FastAPI) -> None:
    routes = api_routes(app)
    assert len(routes) >= 15
    missing = [f"{m} {p}" for m, p, perm in routes if perm == "MISSING"]
    assert missing == []


def test_app_refuses_a_route_without_permission(platform: Platform) -> None:
    router = APIRouter()

    @router.get("/v1/oops")
    def oops() -> dict[str, str]:
        return {}

    with pytest.raises(ConfigError, match="declares no permission"):
        check_routes(router.routes)
    app = create_app(platform, close_on_shutdown=False)
    app.include_router(router)
    app.openapi_schema = None
    with pytest.raises(ConfigError, match="GET /v1/oops declares no permission"):
        check_operations(app.openapi())


def test_app_refuses_a_route_enforcing_another_permission_than_declared() -> None:
    from fastapi import Depends

    router = APIRouter()
    kwargs = requires(Permission.AUDIT_READ)
    kwargs["dependencies"] = [Depends(requirement(Permission.USERS_READ))]

    @router.get("/v1/mismatch", **kwargs)
    def mismatch() -> dict[str, str]:
        return {}

    with pytest.raises(ConfigError, match="declares 'audit:read' but enforces"):
        check_routes(router.routes)


def _fill_path(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "does-not-exist", path)


def test_every_route_answers_each_role_as_declared(
    app: FastAPI, client: TestClient, platform: Platform
) -> None:
    for role in Role:
        users.add_user(platform, "test", f"u-{role.value}", [role.value], PASSWORD)
    failures: list[str] = []
    for method, path, permission, header in credential_routes(app):
        url = _fill_path(path)
        body = {} if method in {"POST", "PUT", "PATCH"} else None
        # anonymous
        status = client.request(method, url, json=body).status_code
        if permission == PUBLIC:
            if status in (401, 403) or status >= 500:
                failures.append(f"anonymous {method} {path}: {status} on a public route")
        elif status != 401:
            failures.append(f"anonymous {method} {path}: {status}, expected 401")
        if permission == PUBLIC:
            continue
        for role in Role:
            token = session_for(platform, f"u-{role.value}")
            headers = {header: f"Bearer {token}"}
            response = client.request(method, url, json=body, headers=headers)
            status = response.status_code
            allowed = Permission(permission) in ROLE_PERMISSIONS[role]
            if allowed and "x-maat-decision" in response.headers:
                continue  # a decision point answered: its 401/403 are decisions, not refusals
            if status >= 500:
                failures.append(f"{role.value} {method} {path}: {status}")
            elif allowed and status in (401, 403):
                failures.append(f"{role.value} {method} {path}: {status}, expected access")
            elif not allowed and status != 403:
                failures.append(f"{role.value} {method} {path}: {status}, expected 403")
    assert failures == []


def test_forbidden_answer_names_the_missing_permission(
    client: TestClient, platform: Platform
) -> None:
    users.add_user(platform, "test", "aud", ["auditor"], PASSWORD)
    token = session_for(platform, "aud")
    response = client.post(
        "/v1/users",
        json={"name": "x", "roles": ["analyst"]},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert "users:write" in response.json()["detail"]

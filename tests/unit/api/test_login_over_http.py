"""The whole first-login path over HTTP: password, TOTP enrolment, session, token, audit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from maat.api.app import create_app
from maat.services import users
from maat.services.platform import Platform
from maat_testkit import PASSWORD, FakeClock, current_code, open_platform


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform, close_on_shutdown=False)) as c:
        yield c


def test_first_login_enrols_totp_then_everything_works(
    client: TestClient, platform: Platform, clock: FakeClock
) -> None:
    users.add_user(platform, "test", "alice", ["admin"], PASSWORD)
    step1 = client.post("/v1/auth/login", json={"username": "alice", "password": PASSWORD})
    assert step1.status_code == 200
    assert step1.json()["status"] == "totp_enrolment_required"
    enrolment = step1.json()["enrolment"]
    step2 = client.post(
        "/v1/auth/enrol",
        json={"ticket": enrolment["ticket"], "totp": current_code(platform, enrolment["secret"])},
    )
    assert step2.status_code == 200
    session = {"Authorization": f"Bearer {step2.json()['token']}"}
    me = client.get("/v1/auth/me", headers=session).json()
    assert me["name"] == "alice" and "users:write" in me["permissions"]

    created = client.post(
        "/v1/tokens", json={"name": "siem", "scopes": ["audit:read"]}, headers=session
    )
    assert created.status_code == 201
    token = {"Authorization": f"Bearer {created.json()['token']}"}
    assert client.get("/v1/audit/verify", headers=token).json()["ok"] is True
    assert client.get("/v1/users", headers=token).status_code == 403

    revoked = client.delete(f"/v1/tokens/{created.json()['id']}", headers=session)
    assert revoked.status_code == 200
    assert client.get("/v1/audit/verify", headers=token).status_code == 401

    clock.advance(seconds=30)
    login = client.post(
        "/v1/auth/login",
        json={
            "username": "alice",
            "password": PASSWORD,
            "totp": current_code(platform, enrolment["secret"]),
        },
    )
    assert login.json()["status"] == "session"

    records = client.get("/v1/audit?limit=100", headers=session).json()
    actions = [r["action"] for r in records]
    assert actions.count("auth.login") >= 1 and "token.revoke" in actions
    assert any(r["action"] == "auth.token" and r["outcome"] == "refused" for r in records)


def test_hammering_login_from_one_client_gets_429(client: TestClient, platform: Platform) -> None:
    users.add_user(platform, "test", "alice", ["analyst"], PASSWORD)
    statuses = [
        client.post("/v1/auth/login", json={"username": "alice", "password": "wrong"}).status_code
        for _ in range(platform.settings.auth.login_rate_burst + 1)
    ]
    assert statuses[:-1] == [401] * platform.settings.auth.login_rate_burst
    assert statuses[-1] == 429
    response = client.post("/v1/auth/login", json={"username": "alice", "password": "wrong"})
    assert int(response.headers["retry-after"]) > 0


def test_guessed_account_is_locked_with_423(tmp_path: Path, clock: FakeClock) -> None:
    for platform in open_platform("sqlite", tmp_path, clock, auth={"login_rate_burst": 50}):
        users.add_user(platform, "test", "alice", ["analyst"], PASSWORD)
        with TestClient(create_app(platform, close_on_shutdown=False)) as client:
            for _ in range(platform.settings.auth.lockout_threshold):
                wrong = {"username": "alice", "password": "wrong"}
                assert client.post("/v1/auth/login", json=wrong).status_code == 401
            right = {"username": "alice", "password": PASSWORD}
            response = client.post("/v1/auth/login", json=right)
            assert response.status_code == 423
            assert response.json()["type"] == "urn:maat:problem:account-locked"

"""Bad requests get precise 400/401/404/405/413/422 answers as problem+json, never a 500."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maat.api.app import create_app
from maat.services import users
from maat.services.platform import Platform
from maat_testkit import PASSWORD, FakeClock, open_platform, session_for

PROBLEM = "application/problem+json"


@pytest.fixture
def small_platform(backend: str, tmp_path: Path, clock: FakeClock) -> Iterator[Platform]:
    yield from open_platform(backend, tmp_path / "d", clock, api={"max_request_bytes": 4096})


@pytest.fixture
def client(small_platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(small_platform, close_on_shutdown=False)) as c:
        yield c


@pytest.fixture
def admin(small_platform: Platform) -> dict[str, str]:
    users.add_user(small_platform, "test", "root", ["admin"], PASSWORD)
    return {"Authorization": f"Bearer {session_for(small_platform, 'root')}"}


def test_oversized_body_is_refused_before_it_is_read(client: TestClient) -> None:
    response = client.post(
        "/v1/auth/login", content=b"x" * 5000, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM
    assert "4096" in response.json()["detail"]


def test_oversized_chunked_body_without_length_is_refused(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(10):
            yield b'{"a": "' + b"x" * 1000 + b'"}'

    response = client.post(
        "/v1/auth/login", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


def test_malformed_json_is_400_with_position(client: TestClient) -> None:
    response = client.post(
        "/v1/auth/login", content=b'{"username": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "urn:maat:problem:malformed-request"
    assert body["errors"][0]["position"] == 13


def test_body_that_is_not_json_is_400(client: TestClient) -> None:
    response = client.post("/v1/auth/login", content=b"username=alice")
    assert response.status_code == 400


def test_bad_content_length_is_400(client: TestClient) -> None:
    response = client.post("/v1/auth/login", content=b"{}", headers={"content-length": "abc"})
    assert response.status_code == 400


def test_missing_field_is_422_naming_it(client: TestClient) -> None:
    response = client.post("/v1/auth/login", json={"username": "alice"})
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert [e["field"] for e in response.json()["errors"]] == ["body.password"]


def test_unknown_field_is_422_naming_it(client: TestClient, admin: dict[str, str]) -> None:
    response = client.post(
        "/v1/users", json={"name": "a", "roles": ["analyst"], "is_admin": True}, headers=admin
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.is_admin"


def test_service_validation_error_is_422_naming_the_field(
    client: TestClient, admin: dict[str, str]
) -> None:
    response = client.post("/v1/users", json={"name": "bob", "roles": ["overlord"]}, headers=admin)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "roles"


def test_garbage_bearer_is_401_with_challenge(client: TestClient) -> None:
    response = client.get("/v1/auth/me", headers={"Authorization": "Bearer nonsense"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_unknown_route_and_wrong_method_are_problems(client: TestClient) -> None:
    assert client.get("/v1/nothing-here").status_code == 404
    response = client.put("/v1/auth/login", json={})
    assert response.status_code == 405
    assert response.headers["content-type"] == PROBLEM


def test_duplicate_user_is_409(client: TestClient, admin: dict[str, str]) -> None:
    body = {"name": "bob", "roles": ["analyst"]}
    assert client.post("/v1/users", json=body, headers=admin).status_code == 201
    assert client.post("/v1/users", json=body, headers=admin).status_code == 409


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    path=st.sampled_from(
        ["/v1/auth/login", "/v1/auth/enrol", "/v1/users", "/v1/tokens", "/v1/auth/password"]
    ),
    body=st.one_of(
        st.binary(max_size=300),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=20),
            lambda inner: (
                st.lists(inner, max_size=4)
                | st.dictionaries(st.text(max_size=8), inner, max_size=4)
            ),
            max_leaves=10,
        ).map(lambda v: __import__("json").dumps(v).encode()),
    ),
)
def test_no_request_body_crashes_the_api(
    client: TestClient, admin: dict[str, str], path: str, body: bytes
) -> None:
    response = client.post(
        path, content=body, headers={**admin, "content-type": "application/json"}
    )
    assert response.status_code < 500
    assert response.headers["content-type"] in (PROBLEM, "application/json")


def test_nul_in_a_name_is_refused_without_leaking_sql(client: TestClient) -> None:
    response = client.post("/v1/auth/login", json={"username": "a\u0000b", "password": "x"})
    assert response.status_code == 422
    assert "SELECT" not in response.text


def test_absurd_numbers_are_422_not_500(client: TestClient, admin: dict[str, str]) -> None:
    huge_ttl = {"name": "t", "ttl_seconds": 10**15}
    assert client.post("/v1/tokens", json=huge_ttl, headers=admin).status_code == 422
    assert client.get(f"/v1/audit?after={2**63}", headers=admin).status_code == 422


def test_login_answers_do_not_reveal_a_right_password(
    client: TestClient, small_platform: Platform, clock: FakeClock
) -> None:
    from maat_testkit import enrolled_user

    enrolled_user(small_platform, clock, "alice", ["analyst"])
    right = client.post("/v1/auth/login", json={"username": "alice", "password": PASSWORD})
    wrong = client.post("/v1/auth/login", json={"username": "alice", "password": "nope"})
    unknown = client.post("/v1/auth/login", json={"username": "zed", "password": PASSWORD})
    assert right.status_code == wrong.status_code == unknown.status_code == 401
    assert right.json() == wrong.json() == unknown.json()


def test_forbidden_requests_are_audited(client: TestClient, small_platform: Platform) -> None:
    from maat.services import audit

    users.add_user(small_platform, "test", "aud", ["auditor"], PASSWORD)
    headers = {"Authorization": f"Bearer {session_for(small_platform, 'aud')}"}
    assert (
        client.post(
            "/v1/users", json={"name": "x", "roles": ["admin"]}, headers=headers
        ).status_code
        == 403
    )
    records = audit.list_audit(small_platform, limit=100)
    assert any(r.entry.action == "auth.forbidden" and r.entry.actor == "user:aud" for r in records)

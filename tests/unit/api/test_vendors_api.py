"""/v1/vendors, the score and breach routes, and /v1/graph/reach over HTTP."""

from __future__ import annotations

from fastapi.testclient import TestClient

from maat.api.app import create_app
from maat.services import users
from maat.services.platform import Platform
from maat_testkit import PASSWORD, session_for


def test_vendor_register_score_breach_and_reach(platform: Platform) -> None:
    users.add_user(platform, "test", "vm", ["vendor-manager"], PASSWORD)
    users.add_user(platform, "test", "aud", ["auditor"], PASSWORD)
    manager = {"Authorization": f"Bearer {session_for(platform, 'vm')}"}
    auditor = {"Authorization": f"Bearer {session_for(platform, 'aud')}"}
    with TestClient(create_app(platform, close_on_shutdown=False)) as client:
        body = {"name": "Contoso ERP", "criticality": "critical", "tiers": ["remote_access"],
                "security_contact": "Sec <sec@contoso.example>"}  # fmt: skip
        created = client.post("/v1/vendors", json=body, headers=manager)
        assert created.status_code == 201, created.text
        assert client.post("/v1/vendors", json=body, headers=manager).status_code == 409
        assert client.post("/v1/vendors", json=body, headers=auditor).status_code == 403
        bad = client.post(
            "/v1/vendors", json={**body, "name": "X", "tiers": ["moon"]}, headers=manager
        )
        assert bad.status_code == 422 and "unknown tier" in bad.text
        assert [v["name"] for v in client.get("/v1/vendors", headers=auditor).json()] == [
            "Contoso ERP"
        ]
        score = client.get("/v1/vendors/Contoso ERP/score", headers=auditor).json()
        assert score["score"] == 85
        breach = client.post(
            "/v1/vendors/Contoso ERP/breach", json={"note": "VENOM"}, headers=manager
        )
        assert breach.status_code == 200 and breach.json()["executed"] is False
        assert client.get("/v1/vendors/Contoso ERP/score", headers=auditor).json()["score"] == 45
        reach = client.get("/v1/graph/reach", params={"kind": "vendor", "key": "Contoso ERP"},
                           headers=auditor)  # fmt: skip
        assert reach.status_code == 200 and reach.json()["in_reach"] == {}
        missing = client.get(
            "/v1/graph/reach", params={"kind": "host", "key": "nope"}, headers=auditor
        )
        assert missing.status_code == 404

"""Vulnerability routes: upload an SBOM and an inventory, list overdue findings, accept risk,
get the remediation playbooks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from maat.api.app import create_app
from maat.services import tokens, users, vulns
from maat.services.platform import Platform
from maat_testkit import PASSWORD, FakeClock, session_for
from vulns_kit import advisory, eco_range

CRITICAL = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"


@pytest.fixture
def client(platform: Platform, tmp_path: Path) -> Iterator[TestClient]:
    folder = tmp_path / "osv"
    folder.mkdir()
    doc = advisory(
        "PYSEC-2099-1",
        "PyPI",
        "requests",
        severity=CRITICAL,
        ranges=[eco_range(("introduced", "0"), ("fixed", "2.31.0"))],
    )
    (folder / "a.json").write_text(json.dumps(doc))
    vulns.import_advisories(platform, "test", folder)
    with TestClient(create_app(platform, close_on_shutdown=False)) as c:
        yield c


def headers(platform: Platform, role: str) -> dict[str, str]:
    users.add_user(platform, "test", f"u-{role}", [role], PASSWORD)
    return {"Authorization": f"Bearer {session_for(platform, f'u-{role}')}"}


def token_headers(platform: Platform, role: str) -> dict[str, str]:
    """A 30-day API token: survives the clock jumps that end sessions."""
    users.add_user(platform, "test", f"t-{role}", [role], PASSWORD)
    token = tokens.create_token(platform, "test", f"t-{role}", "ci", ttl=timedelta(days=30))
    return {"Authorization": f"Bearer {token.text}"}


SBOM = json.dumps(
    {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "version": 1,
        "components": [
            {
                "type": "library",
                "bom-ref": "r",
                "name": "requests",
                "version": "2.30.0",
                "purl": "pkg:pypi/requests@2.30.0",
            }
        ],
    }
).encode()


def test_sbom_upload_creates_findings_that_go_overdue(
    client: TestClient, platform: Platform, clock: FakeClock
) -> None:
    analyst = token_headers(platform, "analyst")
    response = client.post("/v1/products/erp/sboms?vendor=Acme", content=SBOM, headers=analyst)
    assert response.status_code == 201, response.text
    assert response.json()["opened"] == 1
    assert client.get("/v1/findings?overdue=true", headers=analyst).json() == []
    clock.advance(hours=72)
    [finding] = client.get("/v1/findings?overdue=true", headers=analyst).json()
    assert finding["subject"] == "erp"
    assert finding["overdue"] is True
    accepted = client.post(
        f"/v1/findings/{finding['id']}/accept-risk",
        json={
            "approver": "ciso",
            "reason": "vendor patch pending",
            "expires_at": (clock.current + timedelta(days=7)).isoformat(),
        },
        headers=analyst,
    )
    assert accepted.json()["status"] == "risk_accepted"
    assert client.get("/v1/findings?overdue=true", headers=analyst).json() == []


def test_auditor_reads_but_cannot_upload(client: TestClient, platform: Platform) -> None:
    auditor = headers(platform, "auditor")
    assert client.post("/v1/products/erp/sboms", content=SBOM, headers=auditor).status_code == 403
    assert client.get("/v1/findings", headers=auditor).status_code == 200


def test_bad_sbom_upload_is_422_with_location(client: TestClient, platform: Platform) -> None:
    analyst = headers(platform, "analyst")
    response = client.post(
        "/v1/products/erp/sboms", content=b'{"bomFormat": "CycloneDX"}', headers=analyst
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"]


def test_stateless_scan_and_inventory_and_remediation(
    client: TestClient, platform: Platform
) -> None:
    analyst = headers(platform, "analyst")
    report = client.post("/v1/scan/sbom", content=SBOM, headers=analyst).json()
    assert [f["advisory"]["id"] for f in report["findings"]] == ["PYSEC-2099-1"]
    upload = {
        "inventory": json.dumps([{"name": "requests", "version": "2.30.0"}]),
        "kind": "pip",
        "group": "engineering",
    }
    assert (
        client.post("/v1/hosts/eng-ws-01/inventory", json=upload, headers=analyst).status_code
        == 201
    )
    plan = client.get("/v1/remediation/ansible", headers=analyst).json()
    assert "requests==2.31.0" in plan["playbooks"]["engineering"]

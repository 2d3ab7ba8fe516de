"""The decision point over HTTP: JSON decide, nginx and Envoy checks, step-up, devices."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from maat.api.app import create_app
from maat.services import access, devices, execution, tokens, users
from maat.services.platform import Platform
from maat_testkit import (
    PASSWORD,
    FakeClock,
    current_code,
    enrolled_user,
    open_platform,
    session_for,
)

EXAMPLES = Path(__file__).parents[3] / "examples" / "access"


def _world(platform: Platform) -> tuple[str, str]:
    """The example policy and segmentation, a heart-beating engineering workstation, and a
    proxy token; returns (proxy token, agent token)."""
    access.apply_policy(platform, "test", (EXAMPLES / "policy.yml").read_text(), source="p")
    access.apply_segments(platform, "test", (EXAMPLES / "segments.yml").read_text(), source="s")
    users.add_user(platform, "test", "proxy", ["agent"], PASSWORD)
    users.add_user(platform, "test", "agent", ["agent"], PASSWORD)
    _, agent = devices.enrol_device(platform, "test", "ws-eng-01", agent_user="agent",
                                   tags=("engineering",))  # fmt: skip
    assert agent is not None
    execution.load_policy_text(platform, "test", "name: ws\nversion: 1\nmode: enforce\n"
                               "host_groups: ['*']\nrules:\n  - allow_path: {glob: 'C:/W/**'}\n",
                               source="exec.yml")  # fmt: skip
    return tokens.create_token(platform, "test", "proxy", "nginx").text, agent


def test_json_decide_replaces_claims_with_what_maat_knows(platform: Platform) -> None:
    proxy, agent = _world(platform)
    users.add_user(platform, "test", "audrey", ["admin"], PASSWORD)
    auditor = tokens.create_token(platform, "test", "audrey", "review").text
    with TestClient(create_app(platform, close_on_shutdown=False)) as client:
        assert client.post("/v1/access/heartbeat",
                           headers={"Authorization": f"Bearer {agent}"}).status_code == 200  # fmt: skip
        body = {"subject": {"id": "mallory", "roles": ["engineer"], "risk": 0},
                "device": {"id": "ws-eng-01", "posture": "trusted", "segment": "engineering"},
                "resource": "plm/designs/7", "action": "write"}  # fmt: skip
        answer = client.post("/v1/access/decide?explain=true", json=body,
                             headers={"Authorization": f"Bearer {auditor}"})  # fmt: skip
        assert answer.status_code == 200, answer.text
        out = answer.json()
        # mallory is no Maat user: no risk, so the engineers' rule (risk < 50) cannot allow.
        assert out["decision"] == "deny"
        assert out["attributes"]["device"]["posture"] == "trusted"
        assert out["attributes"]["device"]["segment"] == "engineering"
        assert "risk" not in out["attributes"]["subject"]
        bad = client.post("/v1/access/decide", content=b"[1]",
                          headers={"Authorization": f"Bearer {proxy}"})  # fmt: skip
        assert bad.status_code == 422 or bad.status_code == 400
        assert client.post("/v1/access/decide", json=body).status_code == 401


def test_nginx_and_envoy_checks_allow_deny_and_ask_for_step_up(
    platform: Platform, clock: FakeClock
) -> None:
    proxy, agent = _world(platform)
    alice = enrolled_user(platform, clock, "alice", ["analyst"])
    users.set_groups(platform, "test", "alice", ["engineer", "erp-admin"])
    pep = {"X-Maat-PEP-Token": proxy, "Authorization": f"Bearer {alice.token}",
           "X-Maat-Device-Token": agent}  # fmt: skip
    with TestClient(create_app(platform, close_on_shutdown=False)) as client:
        client.post("/v1/access/heartbeat", headers={"Authorization": f"Bearer {agent}"})
        check = client.get("/v1/access/check", headers={
            **pep, "X-Original-URI": "/plm/designs/7?rev=3", "X-Original-Method": "PUT"})  # fmt: skip
        assert check.status_code == 200, check.text
        assert check.headers["X-Maat-Decision"] == "allow"
        assert check.headers["X-Maat-User"] == "alice"
        envoy = client.put("/v1/access/envoy/plm/designs/7", headers=pep)
        assert envoy.status_code == 200 and envoy.json()["rules"] == ["engineers-plm"]
        # ERP changes need MFA within 15 minutes; the login was longer ago: step up.
        clock.advance(minutes=20)
        client.post("/v1/access/heartbeat", headers={"Authorization": f"Bearer {agent}"})
        erp = client.post("/v1/access/envoy/erp/config", headers=pep)
        assert erp.status_code == 401
        assert erp.headers["WWW-Authenticate"].startswith("MaatStepUp")
        code = current_code(platform, alice.totp_secret)
        stepped = client.post("/v1/auth/step-up", json={"code": code},
                              headers={"Authorization": f"Bearer {alice.token}"})  # fmt: skip
        assert stepped.status_code == 200, stepped.text
        assert client.post("/v1/access/envoy/erp/config", headers=pep).status_code == 200
        # A device that proves nothing (a made-up credential, or a trusted device's name):
        # denied whoever asks.
        other = client.get("/v1/access/envoy/wiki/home",
                           headers={**pep, "X-Maat-Device-Token": "mt_x.y"})  # fmt: skip
        assert other.status_code == 403 and other.headers["X-Maat-Decision"] == "deny"
        named = {k: v for k, v in pep.items() if k != "X-Maat-Device-Token"}
        named["X-Maat-Device"] = "ws-eng-01"
        assert client.get("/v1/access/envoy/wiki/home", headers=named).status_code == 403
        # Paths are decided as the upstream serves them: ".." and double encoding do not
        # escape a prefix rule (alice may write plm/*, not hr/salaries).
        for sneaky in ("/v1/access/envoy/plm/../hr/salaries",
                       "/v1/access/envoy/plm/%2e%2e/hr/salaries",
                       "/v1/access/envoy/plm%2f..%2fhr/salaries",
                       "/v1/access/envoy/plm/%252e%252e/hr"):  # fmt: skip
            assert client.put(sneaky, headers=pep).status_code == 403, sneaky
        check = client.get("/v1/access/check", headers={
            **pep, "X-Original-URI": "/plm/../hr/salaries", "X-Original-Method": "PUT"})  # fmt: skip
        assert check.status_code == 403
        # Without the proxy's own token, no decision at all.
        no_pep = {k: v for k, v in pep.items() if k != "X-Maat-PEP-Token"}
        assert client.get("/v1/access/envoy/wiki/home", headers=no_pep).status_code == 401
        # A user's own session is not a proxy: it lacks access:decide.
        as_user = {**pep, "X-Maat-PEP-Token": session_for(platform, "alice")}
        assert client.get("/v1/access/envoy/wiki/home", headers=as_user).status_code == 403


def test_devices_posture_and_quarantine_over_http(platform: Platform) -> None:
    _world(platform)
    users.add_user(platform, "test", "boss", ["admin"], PASSWORD)
    admin = {"Authorization": f"Bearer {session_for(platform, 'boss')}"}
    with TestClient(create_app(platform, close_on_shutdown=False)) as client:
        posture = client.get("/v1/devices/ws-eng-01/posture", headers=admin).json()
        assert posture["posture"] == "untrusted"  # no heartbeat yet
        failed = [c["name"] for c in posture["checks"] if not c["passed"]]
        assert failed == ["heartbeat"]
        q = client.post("/v1/devices/ws-eng-01/quarantine", json={"reason": "case 1"},
                        headers=admin)  # fmt: skip
        assert q.status_code == 200 and q.json()["quarantine_reason"] == "case 1"
        assert client.get("/v1/devices/ws-eng-01/posture",
                          headers=admin).json()["posture"] == "quarantined"  # fmt: skip
        history = client.get("/v1/access/policy", headers=admin).json()
        assert [v["version"] for v in history] == [1]
        bad = client.put("/v1/access/policy", content=b"rules: [{effect: maybe}]", headers=admin)
        assert bad.status_code == 422 or bad.status_code == 400


def _self_signed() -> bytes:
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ws-eng-02")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(7).not_valid_before(now)
            .not_valid_after(now + timedelta(days=1)).sign(key, hashes.SHA256()))  # fmt: skip
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.mark.parametrize("trusted", [False, True])
def test_a_client_certificate_proves_a_device_only_when_the_proxies_verify_them(
    backend: str, tmp_path: Path, clock: FakeClock, trusted: bool
) -> None:
    from urllib.parse import quote

    for platform in open_platform(backend, tmp_path / "d", clock,
                                  access={"proxy_client_cert": trusted}):  # fmt: skip
        proxy, _ = _world(platform)
        pem = _self_signed()
        _, agent = devices.enrol_device(platform, "test", "ws-eng-02", agent_user="agent",
                                       tags=("engineering",), certificate=pem)  # fmt: skip
        assert agent is not None
        alice = enrolled_user(platform, clock, "alice", ["analyst"])
        users.set_groups(platform, "test", "alice", ["engineer"])
        with TestClient(create_app(platform, close_on_shutdown=False)) as client:
            client.post("/v1/access/heartbeat", headers={"Authorization": f"Bearer {agent}"})
            answer = client.get("/v1/access/envoy/wiki/home", headers={
                "X-Maat-PEP-Token": proxy, "Authorization": f"Bearer {alice.token}",
                "X-Maat-Device-Cert": quote(pem.decode())})  # fmt: skip
            assert answer.status_code == (200 if trusted else 403), answer.text


def test_an_agent_token_cannot_look_up_what_maat_knows_of_any_user(platform: Platform) -> None:
    """A compromised host's agent token asked ?explain=true about other users and got their
    roles, groups and risk back; it still gets the decision itself."""
    proxy, _ = _world(platform)
    users.add_user(platform, "test", "bob", ["analyst"], PASSWORD)
    body = {"subject": {"id": "bob"}, "device": {"id": "ws-eng-01"},
            "resource": "plm/designs/7", "action": "read"}  # fmt: skip
    with TestClient(create_app(platform, close_on_shutdown=False)) as client:
        headers = {"Authorization": f"Bearer {proxy}"}
        refused = client.post("/v1/access/decide?explain=true", json=body, headers=headers)
        assert refused.status_code == 403
        assert "policy:read" in refused.json()["detail"]
        plain = client.post("/v1/access/decide", json=body, headers=headers)
        assert plain.status_code == 200 and "attributes" not in plain.json()

"""Code signing against SoftHSM2, end to end: the TIDRONE ERP delivery.

An ERP update signed with the supplier's certificate runs under the execution policy; the
certificate is then revoked for key compromise: the same update is blocked, verification
refuses it, and the retro-hunt names the hosts that ran it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from hsm_kit import softhsm_token
from maat.cli.main import run
from maat.services import execution, revocation, signing
from maat.services.platform import Platform
from maat_testkit import FakeClock, make_settings

pytestmark = pytest.mark.hsm

POLICY = """
name: erp-workstations
version: 1
mode: enforce
host_groups: [engineering]
rules:
  - allow_publisher: {subject: "Acme ERP Release Signing"}
"""


@pytest.fixture
def hsm_platform(tmp_path: Path, clock: FakeClock) -> Iterator[Platform]:
    with softhsm_token(tmp_path / "hsm") as token:
        settings = make_settings(
            tmp_path / "data",
            "",
            pkcs11={"module": token.module, "token": token.label, "pin": token.pin},
        )
        platform = Platform.open(settings, create=True, clock=clock)
        platform.store.migrate()
        try:
            yield platform
        finally:
            platform.close()


def test_trojanised_erp_update_signed_by_later_revoked_certificate_is_blocked_and_hunted(
    hsm_platform: Platform, clock: FakeClock
) -> None:
    p = hsm_platform
    signing.ca_init(p, "test", organisation="Drone Maker")
    signer = signing.ca_issue(
        p, "test", subject="Acme ERP Release Signing", organisation="Acme", vendor="Acme"
    )
    update = b"MZ\x90\x00 acme erp 7.2 update (trojanised by VENOM)"
    bundle = signing.sign_file(
        p,
        "test",
        update,
        "erp-update-7.2.exe",
        signer=signer.fingerprint,
        product="Acme ERP",
        version="7.2",
    )
    assert signing.verify_file(p, update, bundle, name="erp-update-7.2.exe").passed
    execution.load_policy_text(p, "test", POLICY, source="erp.yaml")
    sha = hashlib.sha256(update).hexdigest()
    for host in ("eng-ws-01", "eng-ws-02"):
        decision = execution.decide(
            p, execution.Sighted(host, sha, "C:/Acme/ERP/update.exe", "engineering")
        )
        assert decision.action == "run", decision.reasons
    clock.advance(days=3)
    revoked = signing.ca_revoke(p, "test", signer.fingerprint, reason="key_compromise")
    hunt = execution.retro_hunt(p, "test", revoked.fingerprint)
    assert hunt.hosts == ("eng-ws-01", "eng-ws-02")
    assert hunt.artifacts == (sha,)  # key compromise: signed before the revocation, still tainted
    blocked = execution.decide(
        p, execution.Sighted("eng-ws-03", sha, "C:/Acme/ERP/update.exe", "engineering")
    )
    assert blocked.action == "block"
    verdict = signing.verify_file(p, update, bundle, name="erp-update-7.2.exe")
    assert not verdict.passed
    assert any(s.name.lower().startswith("revocation") and not s.passed for s in verdict.steps)
    with p.transaction(write=False) as uow:
        [alert] = uow.alerts.list(rule_id="maat.signing.revoked-signer")
    assert alert.entities["hosts"] == ["eng-ws-01", "eng-ws-02"]


def test_unsigned_or_tampered_file_is_refused(hsm_platform: Platform) -> None:
    p = hsm_platform
    signing.ca_init(p, "test", organisation="Drone Maker")
    signer = signing.ca_issue(p, "test", subject="Firmware Team")
    data = b"firmware image v1"
    bundle = signing.sign_file(p, "test", data, "fw.bin", signer=signer.fingerprint)
    tampered = signing.verify_file(p, data + b"!", bundle, name="fw.bin")
    assert not tampered.passed
    assert not tampered.steps[0].passed  # step 1: the digest names another file
    execution.load_policy_text(p, "test", POLICY, source="erp.yaml")
    wwlib = hashlib.sha256(b"unsigned wwlib.dll side-loaded by winword.exe").hexdigest()
    decision = execution.decide(
        p, execution.Sighted("eng-ws-01", wwlib, "C:/Acme/ERP/wwlib.dll", "engineering")
    )
    assert decision.action == "block"


def test_cli_interface_ca_init_issue_sign_verify(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with softhsm_token(tmp_path / "hsm") as token:
        for name in list(__import__("os").environ):
            if name.startswith("MAAT_") and not name.startswith("MAAT_TEST_"):
                monkeypatch.delenv(name)
        monkeypatch.setenv("MAAT_DATA_DIR", str(tmp_path / "data"))
        monkeypatch.setenv("MAAT_PKCS11_MODULE", token.module)
        monkeypatch.setenv("MAAT_PKCS11_TOKEN", token.label)
        monkeypatch.setenv("MAAT_PKCS11_PIN", token.pin)
        assert run(["init"]) == 0
        assert run(["ca", "init"]) == 0
        assert run(["ca", "issue", "--subject", "Acme ERP Release Signing"]) == 0
        artifact = tmp_path / "erp.exe"
        artifact.write_bytes(b"an erp build")
        assert run(["sign", str(artifact)]) == 0
        bundle = json.loads((tmp_path / "erp.exe.maat-sig.json").read_text())
        assert bundle  # the bundle is JSON next to the file
        capsys.readouterr()
        assert run(["verify", str(artifact)]) == 0
        artifact.write_bytes(b"an erp build, modified")
        assert run(["verify", str(artifact)]) == 1
        err = capsys.readouterr().err
        assert "not verified" in err


def test_ocsp_answers_good_then_revoked_signed_in_the_hsm(
    hsm_platform: Platform, clock: FakeClock
) -> None:
    from cryptography import x509 as cx509

    from maat.signing import ocsp

    p = hsm_platform
    signing.ca_init(p, "test", organisation="Drone Maker")
    record = signing.ca_issue(p, "test", subject="Firmware Team")
    leaf = cx509.load_pem_x509_certificate(record.pem.encode())
    with p.transaction(write=False) as uow:
        inter = cx509.load_pem_x509_certificate(
            uow.certificates.by_role("intermediate")[0].pem.encode()
        )
    request = ocsp.build_request(leaf, inter)
    good = revocation.ocsp_respond(p, request)
    assert (
        ocsp.check_response(good, issuer_cert=inter, serial=leaf.serial_number, now=clock.current)[
            0
        ]
        == "good"
    )
    signing.ca_revoke(p, "test", record.fingerprint, reason="key_compromise")
    revoked = revocation.ocsp_respond(p, request)
    status, when = ocsp.check_response(
        revoked, issuer_cert=inter, serial=leaf.serial_number, now=clock.current
    )
    assert status == "revoked"
    assert when is not None
    assert revocation.ocsp_respond(p, b"not an ocsp request") == ocsp.malformed()

"""Revocation watch: a vendor's CRL revokes its signing certificate for key compromise; Maat
marks it revoked and the retro-hunt names every host that ran a file it signed."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from maat.errors import InvalidInput
from maat.services import execution, revocation
from maat.services.platform import Platform
from maat.signing.crl import RevokedEntry, build_crl
from maat.signing.x509build import software_key
from maat_testkit import FakeClock
from signing_kit import pki


def test_vendor_crl_revoking_its_signer_triggers_retro_hunt(
    platform: Platform, clock: FakeClock
) -> None:
    vendor = pki()
    pem = serialization.Encoding.PEM
    revocation.import_certificate(
        platform, "test", vendor.intermediate.cert.public_bytes(pem), vendor="Acme"
    )
    leaf = revocation.import_certificate(
        platform, "test", vendor.leaf.cert.public_bytes(pem), vendor="Acme"
    )
    update = hashlib.sha256(b"acme erp 7.2").hexdigest()
    for host in ("eng-ws-07", "ot-hmi-01"):
        execution.decide(
            platform,
            execution.Sighted(host, update, "C:/Acme/ERP/erp.exe", "engineering", leaf.fingerprint),
        )
    crl = build_crl(
        vendor.intermediate.cert,
        software_key(vendor.intermediate.key),
        [
            RevokedEntry(
                vendor.leaf.cert.serial_number,
                clock.current - timedelta(days=1),
                x509.ReasonFlags.key_compromise,
            )
        ],
        this_update=clock.current,
        next_update=clock.current + timedelta(days=7),
        number=5,
    )
    result = revocation.import_crl(
        platform,
        "test",
        crl.public_bytes(serialization.Encoding.DER),
        source="https://pki.acme.example/ca.crl",
    )
    assert [c.fingerprint for c in result.newly_revoked] == [leaf.fingerprint]
    hunt = execution.retro_hunt(platform, "test", leaf.fingerprint)
    assert hunt.hosts == ("eng-ws-07", "ot-hmi-01")
    assert hunt.artifacts == (update,)
    assert hunt.reason == "key_compromise"


def test_forged_crl_for_a_known_issuer_is_refused(platform: Platform, clock: FakeClock) -> None:
    vendor, forger = pki(), pki()
    pem = serialization.Encoding.PEM
    revocation.import_certificate(platform, "test", vendor.intermediate.cert.public_bytes(pem))
    # Same issuer name, other key: a forged CRL must not revoke (or un-revoke) anything.
    crl = build_crl(
        forger.intermediate.cert,
        software_key(forger.intermediate.key),
        [],
        this_update=clock.current,
        next_update=clock.current + timedelta(days=7),
        number=1,
    )
    with pytest.raises(InvalidInput):
        revocation.import_crl(
            platform, "test", crl.public_bytes(serialization.Encoding.DER), source="forged.crl"
        )


def test_polled_crl_url_revokes_and_a_dead_url_is_reported(
    platform: Platform, clock: FakeClock
) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    vendor = pki()
    pem = serialization.Encoding.PEM
    revocation.import_certificate(platform, "test", vendor.intermediate.cert.public_bytes(pem))
    leaf = revocation.import_certificate(platform, "test", vendor.leaf.cert.public_bytes(pem))
    crl = build_crl(
        vendor.intermediate.cert,
        software_key(vendor.intermediate.key),
        [RevokedEntry(vendor.leaf.cert.serial_number, clock.current, x509.ReasonFlags.superseded)],
        this_update=clock.current,
        next_update=clock.current + timedelta(days=7),
        number=2,
    )
    body = crl.public_bytes(serialization.Encoding.DER)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/ca.crl":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        results = revocation.poll_crls(platform, "test", [f"{base}/ca.crl", f"{base}/missing.crl"])
    finally:
        server.shutdown()
        server.server_close()
    ok, dead = results
    assert ok.result is not None
    assert [c.fingerprint for c in ok.result.newly_revoked] == [leaf.fingerprint]
    assert dead.result is None
    assert dead.error is not None
    assert "404" in dead.error

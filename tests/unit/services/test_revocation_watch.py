"""Revocation watch: a vendor's CRL revokes its signing certificate for key compromise; Maat
marks it revoked and the retro-hunt names every host that ran a file it signed."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from maat.errors import InvalidInput
from maat.services import execution, signing
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
    signing.import_certificate(
        platform, "test", vendor.intermediate.cert.public_bytes(pem), vendor="Acme"
    )
    leaf = signing.import_certificate(
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
    result = signing.import_crl(
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
    signing.import_certificate(platform, "test", vendor.intermediate.cert.public_bytes(pem))
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
        signing.import_crl(
            platform, "test", crl.public_bytes(serialization.Encoding.DER), source="forged.crl"
        )

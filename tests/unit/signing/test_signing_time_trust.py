"""The signing time a verification trusts must come from a TSA the verifier trusts."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from maat.errors import InvalidInput
from maat.signing import timestamp, x509build
from maat.signing.bundle import add_timestamp, parse_bundle
from maat.signing.verify import verify_artifact
from signing_kit import NOW, FakeRevocation, issue, pki, sha256, sign_file

DATA = b"MZ... trojanised Acme ERP update"
NAME = "acme-erp-7.2.2.msi"
TSA_EKU = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING])


def test_a_self_made_tsa_cannot_backdate_a_signature_by_a_revoked_certificate() -> None:
    kit = pki()
    # Earth Ammit stamps its own "2026-10-26" time on a signature made after the revocation.
    rogue_tsa = issue("CN=Earth Ammit TSA", eku=None, extra=[(TSA_EKU, True)])
    unstamped = sign_file(DATA, NAME, kit)
    imprint = parse_bundle(unstamped, source="b", max_bytes=1 << 20).timestamp_imprint()
    token = timestamp.build_token(
        imprint,
        tsa_cert=rogue_tsa.cert,
        tsa_key=x509build.software_key(rogue_tsa.key),
        gen_time=NOW - timedelta(days=30),
        serial=1,
    )
    bundle = parse_bundle(add_timestamp(unstamped, token), source="b", max_bytes=1 << 20)
    revocation = FakeRevocation()
    revocation.revoke(kit.leaf.cert, NOW - timedelta(days=3), x509.ReasonFlags.superseded)

    def careless(token: bytes, imprint: bytes) -> datetime:  # no trusted_tsa, no trust_roots
        return timestamp.verify_token(token, expected_imprint=imprint)

    verdict = verify_artifact(
        sha256(DATA), NAME, bundle, trust_roots=kit.roots, now=NOW,
        revocation=revocation, signing_time_verifier=careless,
    )  # fmt: skip
    assert not verdict.passed
    assert verdict.steps[-1].number == 5, verdict.steps


def test_verify_token_without_any_trust_anchor_is_refused() -> None:
    tsa = issue("CN=Some TSA", eku=None, extra=[(TSA_EKU, True)])
    token = timestamp.build_token(
        bytes(32), tsa_cert=tsa.cert, tsa_key=x509build.software_key(tsa.key),
        gen_time=NOW, serial=1,
    )  # fmt: skip
    with pytest.raises(InvalidInput):
        timestamp.verify_token(token, expected_imprint=bytes(32))
    assert timestamp.verify_token(token, expected_imprint=bytes(32), trusted_tsa=[tsa.cert]) == NOW

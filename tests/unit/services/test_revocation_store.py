"""StoreRevocation and import_crl: only a CRL whose signature verified with a known issuer's key
may vouch for (or revoke) a certificate, and it vouches only while current at the time asked."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from maat.core.ids import new_id
from maat.errors import InvalidInput
from maat.services import revocation
from maat.services.platform import Platform
from maat.signing.crl import RevokedEntry, build_crl
from maat.signing.records import CrlRecord
from maat.signing.x509build import software_key
from maat_testkit import FakeClock
from signing_kit import Issued, issue, pki

DER = serialization.Encoding.DER
PEM = serialization.Encoding.PEM
WEEK = timedelta(days=7)


def _crl_der(
    issuer: Issued, now: datetime, *, revoked: tuple[x509.Certificate, ...] = (), number: int = 1
) -> bytes:
    entries = [
        RevokedEntry(c.serial_number, now - timedelta(hours=1), x509.ReasonFlags.key_compromise)
        for c in revoked
    ]
    crl = build_crl(
        issuer.cert,
        software_key(issuer.key),
        entries,
        this_update=now,
        next_update=now + WEEK,
        number=number,
    )
    return crl.public_bytes(DER)


def _store_raw(platform: Platform, der: bytes, issuer: str, now: datetime) -> None:
    """A CRL row written as an older Maat (or anyone with database access) could have."""
    with platform.transaction() as uow:
        uow.crls.add(
            CrlRecord(
                id=new_id("crl"),
                issuer=issuer,
                number=1,
                this_update=now,
                next_update=now + WEEK,
                source="legacy.crl",
                der=der,
                imported_at=now,
            )
        )


def test_crl_of_an_unknown_issuer_is_refused_at_import(
    platform: Platform, clock: FakeClock
) -> None:
    """A CRL whose issuer Maat does not know cannot be checked, so it is not stored at all."""
    vendor = pki()
    revocation.import_certificate(platform, "test", vendor.leaf.cert.public_bytes(PEM))
    forged = _crl_der(vendor.intermediate, clock.current, revoked=(vendor.leaf.cert,))
    with pytest.raises(InvalidInput, match="not a certificate Maat knows"):
        revocation.import_crl(platform, "test", forged, source="https://evil.example/ca.crl")
    with platform.transaction(write=False) as uow:
        assert uow.crls.latest() == []
        assert all(c.revoked_at is None for c in uow.certificates.list())


def test_stored_crl_with_a_forged_signature_does_not_vouch(
    platform: Platform, clock: FakeClock
) -> None:
    """A forger's empty CRL under the vendor CA's name, stored without a signature check (as
    import_crl once did), must not make the vendor's revoked signer "good"."""
    vendor, forger = pki(), pki()
    revocation.import_certificate(platform, "test", vendor.intermediate.cert.public_bytes(PEM))
    _store_raw(
        platform, _crl_der(forger.intermediate, clock.current), vendor.intermediate.subject,
        clock.current,
    )  # fmt: skip
    answer = revocation.StoreRevocation(platform).status(vendor.leaf.cert, clock.current)
    assert answer.state == "unknown"


def test_stored_crl_of_an_unknown_issuer_does_not_vouch(
    platform: Platform, clock: FakeClock
) -> None:
    vendor = pki()
    _store_raw(
        platform, _crl_der(vendor.intermediate, clock.current), vendor.intermediate.subject,
        clock.current,
    )  # fmt: skip
    answer = revocation.StoreRevocation(platform).status(vendor.leaf.cert, clock.current)
    assert answer.state == "unknown"


def test_crl_of_a_same_named_ca_does_not_vouch_for_another_cas_certificate(
    platform: Platform, clock: FakeClock
) -> None:
    """Two known CAs share a name (a re-keyed vendor CA, or a look-alike): the CRL one signs
    says nothing about the certificates the other issued."""
    vendor = pki()
    twin = issue(vendor.intermediate.subject, issuer=vendor.root, ca=True, path_length=0)
    revocation.import_certificate(platform, "test", vendor.intermediate.cert.public_bytes(PEM))
    revocation.import_certificate(platform, "test", twin.cert.public_bytes(PEM))
    revocation.import_crl(platform, "test", _crl_der(twin, clock.current), source="twin.crl")
    store = revocation.StoreRevocation(platform)
    assert store.status(vendor.leaf.cert, clock.current).state == "unknown"
    twin_leaf = issue("CN=Twin Signer", issuer=twin)
    assert store.status(twin_leaf.cert, clock.current).state == "good"


def test_same_named_ca_crl_cannot_revoke_another_cas_certificate(
    platform: Platform, clock: FakeClock
) -> None:
    """A CRL listing the serial of a certificate another CA (of the same name) issued must not
    mark that certificate revoked: serials are unique per issuing key, not per name."""
    vendor = pki()
    twin = issue(vendor.intermediate.subject, issuer=vendor.root, ca=True, path_length=0)
    revocation.import_certificate(platform, "test", vendor.intermediate.cert.public_bytes(PEM))
    leaf = revocation.import_certificate(platform, "test", vendor.leaf.cert.public_bytes(PEM))
    revocation.import_certificate(platform, "test", twin.cert.public_bytes(PEM))
    crl = _crl_der(twin, clock.current, revoked=(vendor.leaf.cert,))
    result = revocation.import_crl(platform, "test", crl, source="twin.crl")
    assert result.newly_revoked == ()
    with platform.transaction(write=False) as uow:
        stored = uow.certificates.by_fingerprint(leaf.fingerprint)
    assert stored is not None
    assert stored.revoked_at is None


def test_stale_crl_does_not_vouch_at_the_time_asked(platform: Platform, clock: FakeClock) -> None:
    """The CRL is judged current at the time the caller asks about, not when the store was
    built: a long-lived store must not keep calling a certificate good past nextUpdate."""
    vendor = pki()
    revocation.import_certificate(platform, "test", vendor.intermediate.cert.public_bytes(PEM))
    revocation.import_crl(
        platform, "test", _crl_der(vendor.intermediate, clock.current), source="ca.crl"
    )
    store = revocation.StoreRevocation(platform)
    assert store.status(vendor.leaf.cert, clock.current).state == "good"
    later = clock.current + WEEK + timedelta(days=1)
    assert store.status(vendor.leaf.cert, later).state == "unknown"


def test_revoked_by_a_verified_crl(platform: Platform, clock: FakeClock) -> None:
    vendor = pki()
    revocation.import_certificate(platform, "test", vendor.intermediate.cert.public_bytes(PEM))
    crl = _crl_der(vendor.intermediate, clock.current, revoked=(vendor.leaf.cert,))
    revocation.import_crl(platform, "test", crl, source="ca.crl")
    answer = revocation.StoreRevocation(platform).status(vendor.leaf.cert, clock.current)
    assert answer.state == "revoked"
    assert answer.reason == x509.ReasonFlags.key_compromise


def test_a_rekeyed_cas_newer_crl_does_not_hide_the_old_keys_crl(
    platform: Platform, clock: FakeClock
) -> None:
    """After a re-key under the same name a CA publishes one CRL per key (as AD CS does):
    each must keep answering for the certificates its key issued."""
    vendor = pki()
    renewed = issue(vendor.intermediate.subject, issuer=vendor.root, ca=True, path_length=0)
    revocation.import_certificate(platform, "test", vendor.intermediate.cert.public_bytes(PEM))
    revocation.import_certificate(platform, "test", renewed.cert.public_bytes(PEM))
    revocation.import_crl(
        platform, "test", _crl_der(vendor.intermediate, clock.current), source="ca.crl"
    )
    later = clock.current + timedelta(hours=1)
    revocation.import_crl(platform, "test", _crl_der(renewed, later), source="ca(1).crl")
    answer = revocation.StoreRevocation(platform).status(vendor.leaf.cert, later)
    assert answer.state == "good"

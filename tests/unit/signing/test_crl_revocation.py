"""CrlRevocation: which CRLs may vouch for a certificate, and which may only revoke it."""

from __future__ import annotations

from datetime import timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from maat.signing.crl import CrlIndex
from maat.signing.verify import CrlRevocation
from signing_kit import NOW, Issued, issue, pki

DER = serialization.Encoding.DER
HOUR = timedelta(hours=1)


def _crl(
    issuer: Issued,
    *,
    number: int,
    revoked: tuple[x509.Certificate, ...] = (),
    reason: x509.ReasonFlags | None = None,
    scope: x509.IssuingDistributionPoint | None = None,
) -> CrlIndex:
    """A current CRL signed by ``issuer``, loaded with its signature checked."""
    entries = []
    for cert in revoked:
        entry = x509.RevokedCertificateBuilder().serial_number(cert.serial_number)
        entry = entry.revocation_date(NOW - HOUR)
        if reason is not None:
            entry = entry.add_extension(x509.CRLReason(reason), critical=False)
        entries.append(entry.build())
    builder = x509.CertificateRevocationListBuilder(
        issuer_name=issuer.cert.subject,
        last_update=NOW - timedelta(minutes=number),
        next_update=NOW + timedelta(days=1),
        revoked_certificates=entries,
    ).add_extension(x509.CRLNumber(number), critical=False)
    if scope is not None:
        builder = builder.add_extension(scope, critical=True)
    crl = builder.sign(issuer.key, hashes.SHA256())  # type: ignore[arg-type]
    return CrlIndex.load(crl.public_bytes(DER), issuer=issuer.cert)


def _scope(
    *,
    users: bool = False,
    cas: bool = False,
    reasons: frozenset[x509.ReasonFlags] | None = None,
    point: str | None = None,
) -> x509.IssuingDistributionPoint:
    return x509.IssuingDistributionPoint(
        full_name=[x509.UniformResourceIdentifier(point)] if point else None,
        relative_name=None,
        only_contains_user_certs=users,
        only_contains_ca_certs=cas,
        only_some_reasons=reasons,
        indirect_crl=False,
        only_contains_attribute_certs=False,
    )


def test_an_older_current_crl_does_not_hide_a_revocation_in_a_newer_one() -> None:
    kit = pki()
    older = _crl(kit.intermediate, number=1)
    newer = _crl(
        kit.intermediate, number=2, revoked=(kit.leaf.cert,),
        reason=x509.ReasonFlags.key_compromise,
    )  # fmt: skip
    for order in ([older, newer], [newer, older]):
        answer = CrlRevocation(order).status(kit.leaf.cert, NOW)
        assert answer.state == "revoked", order
        assert answer.reason is x509.ReasonFlags.key_compromise


def test_a_crl_of_a_same_named_ca_with_another_key_does_not_vouch_for_a_certificate() -> None:
    kit = pki()
    # Earth Ammit's CA copies the vendor CA's name; its (validly self-signed) CRL is empty.
    rogue = issue(kit.intermediate.subject, issuer=kit.root, ca=True, path_length=0)
    answer = CrlRevocation([_crl(rogue, number=9)]).status(kit.leaf.cert, NOW)
    assert answer.state == "unknown"


def test_a_crl_of_the_same_named_ca_with_another_key_cannot_unrevoke() -> None:
    kit = pki()
    rogue = issue(kit.intermediate.subject, issuer=kit.root, ca=True, path_length=0)
    real = _crl(kit.intermediate, number=1, revoked=(kit.leaf.cert,))
    answer = CrlRevocation([_crl(rogue, number=9), real]).status(kit.leaf.cert, NOW)
    assert answer.state == "revoked"


def test_a_ca_only_crl_does_not_vouch_for_a_code_signing_leaf() -> None:
    kit = pki()
    arl = _crl(kit.intermediate, number=1, scope=_scope(cas=True))
    assert CrlRevocation([arl]).status(kit.leaf.cert, NOW).state == "unknown"


def test_a_user_only_crl_does_not_vouch_for_an_intermediate_ca() -> None:
    kit = pki()
    users = _crl(kit.root, number=1, scope=_scope(users=True))
    assert CrlRevocation([users]).status(kit.intermediate.cert, NOW).state == "unknown"
    complete = _crl(kit.root, number=2)
    assert CrlRevocation([users, complete]).status(kit.intermediate.cert, NOW).state == "good"


def test_a_reason_partitioned_crl_does_not_vouch_but_still_revokes() -> None:
    kit = pki()
    compromise_only = _scope(reasons=frozenset({x509.ReasonFlags.key_compromise}))
    empty = _crl(kit.intermediate, number=1, scope=compromise_only)
    assert CrlRevocation([empty]).status(kit.leaf.cert, NOW).state == "unknown"
    listing = _crl(
        kit.intermediate, number=2, revoked=(kit.leaf.cert,), scope=compromise_only,
        reason=x509.ReasonFlags.key_compromise,
    )  # fmt: skip
    assert CrlRevocation([listing]).status(kit.leaf.cert, NOW).state == "revoked"


def test_a_crl_of_another_distribution_point_partition_does_not_vouch() -> None:
    point = x509.CRLDistributionPoints(
        [x509.DistributionPoint([x509.UniformResourceIdentifier("http://crl.test/1.crl")],
                                None, None, None)]
    )  # fmt: skip
    kit = pki(extra=[(point, False)])
    other = _crl(kit.intermediate, number=1, scope=_scope(point="http://crl.test/2.crl"))
    assert CrlRevocation([other]).status(kit.leaf.cert, NOW).state == "unknown"
    mine = _crl(kit.intermediate, number=2, scope=_scope(point="http://crl.test/1.crl"))
    assert CrlRevocation([other, mine]).status(kit.leaf.cert, NOW).state == "good"


def test_a_complete_current_crl_of_the_real_issuer_still_vouches() -> None:
    kit = pki()
    assert CrlRevocation([_crl(kit.intermediate, number=1)]).status(kit.leaf.cert, NOW).state == (
        "good"
    )

"""A TSA chain gets the checks a code-signing chain gets: a time-stamp authority certificate
made by a CA that may not make it (path length, usage restricted by EKU), or resting on a weak
hash or key, must not supply a trusted signing time."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from asn1crypto import cms  # type: ignore[import-untyped]
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from maat.errors import VerificationFailed
from maat.signing import timestamp, x509build
from signing_kit import NOW, Issued, issue, new_key

DER = serialization.Encoding.DER
IMPRINT = hashlib.sha256(b"a signature to time-stamp").digest()
TSA_EKU = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING])


def _root() -> Issued:
    return issue("CN=TSA Root,O=Maat Test", ca=True, path_length=1, key=new_key("p384"))


def _tsa(issuer: Issued, *, key: str = "p256") -> Issued:
    return issue(
        "CN=Time Stamping,O=Maat Test",
        issuer=issuer,
        eku=None,
        extra=[(TSA_EKU, True)],
        key=new_key(key),
    )


_SHA256_RSA = bytes.fromhex("06092a864886f70d01010b")  # OID sha256WithRSAEncryption
_SHA1_RSA = bytes.fromhex("06092a864886f70d010105")  # OID sha1WithRSAEncryption


def _resigned_with_sha1(cert: Issued, issuer: Issued) -> Issued:
    """``cert`` signed again by the RSA ``issuer`` with SHA-1 (cryptography refuses to build
    SHA-1 certificates, so the TBS is edited and signed by hand)."""
    assert isinstance(issuer.key, rsa.RSAPrivateKey)
    tbs = cert.cert.tbs_certificate_bytes
    assert tbs.count(_SHA256_RSA) == 1
    tbs = tbs.replace(_SHA256_RSA, _SHA1_RSA)
    signature = issuer.key.sign(tbs, padding.PKCS1v15(), hashes.SHA1())  # noqa: S303
    algorithm = x509build.der_tlv(0x30, _SHA1_RSA + b"\x05\x00")
    der = x509build.assemble_signed(tbs, algorithm, signature)
    return Issued(x509.load_der_x509_certificate(der), cert.key)


def _token(tsa: Issued, *chain: Issued) -> bytes:
    """A token by ``tsa`` that also carries ``chain`` (the CA certificates above it)."""
    token = timestamp.build_token(
        IMPRINT,
        tsa_cert=tsa.cert,
        tsa_key=x509build.software_key(tsa.key),
        gen_time=NOW,
        serial=x509build.random_serial(),
    )
    info = cms.ContentInfo.load(token)
    signed = info["content"]
    signed["certificates"] = [
        *signed["certificates"],
        *(asn1_x509.Certificate.load(c.cert.public_bytes(DER)) for c in chain),
    ]
    return bytes(info.dump(force=True))


def _verify(token: bytes, root: Issued) -> object:
    return timestamp.verify_token(token, expected_imprint=IMPRINT, trust_roots=[root.cert])


def test_tsa_through_a_proper_intermediate_is_trusted() -> None:
    root = _root()
    ca = issue("CN=TSA CA,O=Maat Test", issuer=root, ca=True, path_length=0)
    tsa = _tsa(ca)
    assert _verify(_token(tsa, ca), root) == NOW


def test_tsa_minted_below_a_ca_whose_path_length_forbids_it_is_refused() -> None:
    """The root allows one CA below it; a sub-CA that CA created may not issue a TSA."""
    root = issue("CN=TSA Root,O=Maat Test", ca=True, path_length=0, key=new_key("p384"))
    ca = issue("CN=TSA CA,O=Maat Test", issuer=root, ca=True, path_length=0)
    rogue = issue("CN=Rogue Sub CA,O=Maat Test", issuer=ca, ca=True)
    tsa = _tsa(rogue)
    with pytest.raises(VerificationFailed, match="not trusted") as info:
        _verify(_token(tsa, ca, rogue), root)
    assert "pathLenConstraint" in " ".join(info.value.reasons)


def test_tsa_below_an_intermediate_restricted_to_code_signing_is_refused() -> None:
    """A code-signing CA (EKU codeSigning only) must not be able to mint time-stamp authorities:
    whoever holds it could then back-date signatures."""
    root = _root()
    ca = issue(
        "CN=Code Signing CA,O=Maat Test",
        issuer=root,
        ca=True,
        path_length=0,
        extra=[(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), False)],
    )
    tsa = _tsa(ca)
    with pytest.raises(VerificationFailed, match="not trusted") as info:
        _verify(_token(tsa, ca), root)
    assert "timeStamping" in " ".join(info.value.reasons)


def test_tsa_intermediate_allowing_time_stamping_is_trusted() -> None:
    root = _root()
    ca = issue(
        "CN=TSA CA,O=Maat Test",
        issuer=root,
        ca=True,
        path_length=0,
        extra=[(TSA_EKU, False)],
    )
    assert _verify(_token(_tsa(ca), ca), root) == NOW


def test_tsa_certificate_signed_with_sha1_is_refused() -> None:
    """A SHA-1 signature on the TSA certificate can be collided onto a certificate of the
    attacker's choice (chosen-prefix collisions, as SHAttered / Shambles showed). The chain
    module refuses it as a weak hash, or earlier when ``cryptography`` will not verify SHA-1
    certificate signatures at all (the case here): either way it is not trusted."""
    root = issue("CN=TSA Root,O=Maat Test", ca=True, path_length=1, key=new_key("rsa2048"))
    tsa = _resigned_with_sha1(_tsa(root), root)
    with pytest.raises(VerificationFailed, match="not trusted"):
        _verify(_token(tsa), root)


def test_tsa_issued_by_a_ca_with_a_weak_rsa_key_is_refused() -> None:
    """A 1024-bit RSA CA key can be factored; whoever does so mints TSAs that sign any time."""
    root = _root()
    ca = issue("CN=TSA CA,O=Maat Test", issuer=root, ca=True, path_length=0, key=new_key("rsa1024"))
    with pytest.raises(VerificationFailed, match="not trusted") as info:
        _verify(_token(_tsa(ca), ca), root)
    assert "weak" in " ".join(info.value.reasons)


def test_tsa_whose_ca_expired_before_gen_time_is_refused() -> None:
    root = _root()
    ca = issue(
        "CN=TSA CA,O=Maat Test",
        issuer=root,
        ca=True,
        path_length=0,
        not_before=NOW - timedelta(days=30),
        not_after=NOW - timedelta(days=1),
    )
    tsa = _tsa(ca)
    with pytest.raises(VerificationFailed, match="not trusted"):
        _verify(_token(tsa, ca), root)

"""The OCSP responder core and the check of OCSP answers."""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp as cocsp
from hypothesis import given, settings
from hypothesis import strategies as st

from maat.errors import InvalidInput, MaatError, VerificationFailed
from maat.signing import ocsp
from maat.signing import x509build as xb

NOW = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)
ALGORITHMS = ["ec-p256", "ec-p384", "rsa-3072"]
DER = serialization.Encoding.DER
PEM = serialization.Encoding.PEM

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def new_key(algorithm: str) -> PrivateKey:
    if algorithm == "ec-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm == "ec-p384":
        return ec.generate_private_key(ec.SECP384R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=3072)


@dataclass
class Pki:
    ca_key: PrivateKey
    ca: x509.Certificate
    leaf_key: PrivateKey
    leaf: x509.Certificate
    responder_key: PrivateKey
    responder: x509.Certificate


def make_pki(algorithm: str, now: datetime = NOW) -> Pki:
    ca_key, leaf_key, responder_key = new_key(algorithm), new_key(algorithm), new_key(algorithm)
    signer = xb.software_key(ca_key)
    ca = xb.build_root(
        xb.subject_name("Maat OCSP Test CA"),
        signer,
        serial=xb.random_serial(),
        not_before=now,
        not_after=now + 3650 * DAY,
    )
    leaf = xb.build_code_signing(
        xb.subject_name("Signer"),
        leaf_key.public_key(),
        ca,
        signer,
        serial=xb.random_serial(),
        not_before=now,
        not_after=now + 365 * DAY,
    )
    responder = xb.build_ocsp_signing(
        xb.subject_name("Maat OCSP"),
        responder_key.public_key(),
        ca,
        signer,
        serial=xb.random_serial(),
        not_before=now,
        not_after=now + 365 * DAY,
    )
    return Pki(ca_key, ca, leaf_key, leaf, responder_key, responder)


@pytest.fixture(scope="module", params=ALGORITHMS)
def pki(request: pytest.FixtureRequest) -> Pki:
    return make_pki(str(request.param))


def respond(
    pki: Pki,
    status: ocsp.OcspStatus,
    *,
    delegated: bool,
    nonce: bytes | None = None,
    **extra: object,
) -> tuple[ocsp.OcspQuery, bytes]:
    query = ocsp.parse_request(ocsp.build_request(pki.leaf, pki.ca, nonce=nonce))
    responder, key = (pki.responder, pki.responder_key) if delegated else (pki.ca, pki.ca_key)
    if status == "revoked":
        extra.setdefault("revoked_at", NOW - DAY)
    der = ocsp.build_response(
        query,
        pki.ca,
        responder,
        xb.software_key(key),
        status,
        this_update=NOW,
        next_update=NOW + DAY,
        **extra,
    )  # type: ignore[arg-type]
    return query, der


def verify_with_cryptography(response: cocsp.OCSPResponse, signer: x509.Certificate) -> None:
    key = signer.public_key()
    algorithm = response.signature_hash_algorithm
    assert algorithm is not None
    if isinstance(key, rsa.RSAPublicKey):
        key.verify(response.signature, response.tbs_response_bytes, padding.PKCS1v15(), algorithm)
    else:
        assert isinstance(key, ec.EllipticCurvePublicKey)
        key.verify(response.signature, response.tbs_response_bytes, ec.ECDSA(algorithm))


# --- requests --------------------------------------------------------------------------------


def test_parse_request_reads_cert_id_and_nonce(pki: Pki) -> None:
    for algorithm in (hashes.SHA1(), hashes.SHA256()):  # noqa: S303 - CertID hashes
        request = (
            cocsp.OCSPRequestBuilder()
            .add_certificate(pki.leaf, pki.ca, algorithm)
            .add_extension(x509.OCSPNonce(b"n" * 16), critical=False)
            .build()
        )
        query = ocsp.parse_request(request.public_bytes(DER))
        assert query.serial == pki.leaf.serial_number
        assert query.hash_algorithm == algorithm.name
        assert query.issuer_name_hash == request.issuer_name_hash
        assert query.issuer_key_hash == request.issuer_key_hash
        assert query.nonce == b"n" * 16
        assert query.names_issuer(pki.ca)
        assert not query.names_issuer(pki.leaf)


def test_parse_request_refuses_bad_input() -> None:
    for data in (b"", b"\x30\x00", b"garbage", b"\x30" * 70_000):
        with pytest.raises(InvalidInput):
            ocsp.parse_request(data)


def test_overlong_nonce_is_refused(pki: Pki) -> None:
    with pytest.raises(InvalidInput) as caught:
        ocsp.parse_request(ocsp.build_request(pki.leaf, pki.ca, nonce=b"x" * 33))
    assert caught.value.location.field == "nonce"


# --- responses -------------------------------------------------------------------------------


@pytest.mark.parametrize("delegated", [False, True], ids=["by-ca", "delegated"])
@pytest.mark.parametrize("status", ["good", "revoked", "unknown"])
def test_response_round_trip(pki: Pki, status: ocsp.OcspStatus, delegated: bool) -> None:
    reason = x509.ReasonFlags.key_compromise if status == "revoked" else None
    query, der = respond(pki, status, delegated=delegated, nonce=b"0123456789abcdef", reason=reason)
    response = cocsp.load_der_ocsp_response(der)
    assert response.response_status is cocsp.OCSPResponseStatus.SUCCESSFUL
    assert response.serial_number == pki.leaf.serial_number
    assert (
        response.certificate_status
        is {
            "good": cocsp.OCSPCertStatus.GOOD,
            "revoked": cocsp.OCSPCertStatus.REVOKED,
            "unknown": cocsp.OCSPCertStatus.UNKNOWN,
        }[status]
    )
    assert response.this_update_utc == NOW and response.next_update_utc == NOW + DAY
    if status == "revoked":
        assert response.revocation_time_utc == NOW - DAY
        assert response.revocation_reason is x509.ReasonFlags.key_compromise
    signer = pki.responder if delegated else pki.ca
    assert (
        response.responder_key_hash
        == hashlib.sha1(
            signer.public_key().public_bytes(DER, serialization.PublicFormat.PKCS1)
            if isinstance(signer.public_key(), rsa.RSAPublicKey)
            else signer.public_key().public_bytes(  # type: ignore[call-arg]
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            ),
            usedforsecurity=False,
        ).digest()
    )
    assert response.certificates == ([pki.responder] if delegated else [])
    verify_with_cryptography(response, signer)
    nonce = response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
    assert nonce == b"0123456789abcdef"
    expected_time = NOW - DAY if status == "revoked" else None
    assert ocsp.check_response(
        der,
        issuer_cert=pki.ca,
        serial=pki.leaf.serial_number,
        now=NOW + timedelta(hours=1),
        nonce=query.nonce,
    ) == (status, expected_time)


def test_openssl_accepts_the_response(tmp_path: Path) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    now = datetime.now(UTC) - timedelta(minutes=1)
    pki = make_pki("ec-p256", now)
    for name, cert in (("ca", pki.ca), ("leaf", pki.leaf)):
        (tmp_path / f"{name}.pem").write_bytes(cert.public_bytes(PEM))
    query = ocsp.parse_request(ocsp.build_request(pki.leaf, pki.ca))
    for responder, key in ((pki.ca, pki.ca_key), (pki.responder, pki.responder_key)):
        der = ocsp.build_response(
            query,
            pki.ca,
            responder,
            xb.software_key(key),
            "revoked",
            revoked_at=now,
            this_update=now,
            next_update=now + DAY,
        )
        (tmp_path / "resp.der").write_bytes(der)
        result = subprocess.run(
            [
                openssl,
                "ocsp",
                "-respin",
                str(tmp_path / "resp.der"),
                "-CAfile",
                str(tmp_path / "ca.pem"),
                "-issuer",
                str(tmp_path / "ca.pem"),
                "-cert",
                str(tmp_path / "leaf.pem"),
                "-no_nonce",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert "Response verify OK" in result.stdout + result.stderr
        assert "leaf.pem: revoked" in result.stdout


def test_build_refuses_a_query_for_another_ca(pki: Pki) -> None:
    other = make_pki("ec-p256")
    query = ocsp.parse_request(ocsp.build_request(other.leaf, other.ca))
    with pytest.raises(InvalidInput, match="another CA") as caught:
        ocsp.build_response(
            query,
            pki.ca,
            pki.ca,
            xb.software_key(pki.ca_key),
            "good",
            this_update=NOW,
            next_update=NOW + DAY,
        )
    assert caught.value.hint and "unauthorised" in caught.value.hint


@pytest.mark.parametrize(
    ("status", "extra", "field"),
    [
        ("revoked", {}, "revoked_at"),
        ("good", {"revoked_at": NOW}, "revoked_at"),
        ("good", {"reason": x509.ReasonFlags.key_compromise}, "reason"),
        ("maybe", {}, "status"),
        ("good", {"next_update": NOW}, "next_update"),
        ("good", {"this_update": datetime(2026, 1, 1)}, "this_update"),  # naive
    ],
)
def test_build_input_checks(status: str, extra: dict[str, object], field: str) -> None:
    pki = _PKI
    query = ocsp.parse_request(ocsp.build_request(pki.leaf, pki.ca))
    arguments: dict[str, object] = {"this_update": NOW, "next_update": NOW + DAY, **extra}
    with pytest.raises(InvalidInput) as caught:
        ocsp.build_response(
            query,
            pki.ca,
            pki.ca,
            xb.software_key(pki.ca_key),
            status,  # type: ignore[arg-type]
            **arguments,
        )  # type: ignore[arg-type]
    assert caught.value.location.field == field


def test_build_refuses_unauthorised_responders() -> None:
    pki = _PKI
    query = ocsp.parse_request(ocsp.build_request(pki.leaf, pki.ca))
    window = {"this_update": NOW, "next_update": NOW + DAY}
    with pytest.raises(InvalidInput, match="OCSPSigning"):  # a code-signing certificate
        ocsp.build_response(
            query, pki.ca, pki.leaf, xb.software_key(pki.leaf_key), "good", **window
        )  # type: ignore[arg-type]
    with pytest.raises(InvalidInput) as caught:  # key and certificate differ
        ocsp.build_response(
            query, pki.ca, pki.responder, xb.software_key(pki.ca_key), "good", **window
        )  # type: ignore[arg-type]
    assert caught.value.location.field == "responder_key"


def test_a_signer_with_another_key_fails_closed() -> None:
    pki = _PKI
    query = ocsp.parse_request(ocsp.build_request(pki.leaf, pki.ca))
    wrong = xb.SigningKey(pki.ca_key.public_key(), xb.software_key(pki.leaf_key).sign)
    with pytest.raises(VerificationFailed):
        ocsp.build_response(
            query, pki.ca, pki.ca, wrong, "good", this_update=NOW, next_update=NOW + DAY
        )


# --- checking responses ----------------------------------------------------------------------


def test_error_responses() -> None:
    for der, status in (
        (ocsp.unauthorised(), cocsp.OCSPResponseStatus.UNAUTHORIZED),
        (ocsp.malformed(), cocsp.OCSPResponseStatus.MALFORMED_REQUEST),
        (ocsp.internal_error(), cocsp.OCSPResponseStatus.INTERNAL_ERROR),
    ):
        assert cocsp.load_der_ocsp_response(der).response_status is status
        with pytest.raises(VerificationFailed, match="answered"):
            ocsp.check_response(der, issuer_cert=_PKI.ca, serial=1, now=NOW)


def test_check_refuses_stale_future_and_mismatched_answers() -> None:
    pki = _PKI
    query, der = respond(pki, "good", delegated=False, nonce=b"abcdefgh")
    serial = pki.leaf.serial_number
    check = {"issuer_cert": pki.ca, "serial": serial}
    with pytest.raises(VerificationFailed, match="stale"):
        ocsp.check_response(der, now=NOW + 2 * DAY, **check)  # type: ignore[arg-type]
    with pytest.raises(VerificationFailed, match="future"):
        ocsp.check_response(der, now=NOW - DAY, **check)  # type: ignore[arg-type]
    with pytest.raises(VerificationFailed, match="nonce"):
        ocsp.check_response(der, now=NOW, nonce=b"other", **check)  # type: ignore[arg-type]
    with pytest.raises(VerificationFailed, match="does not cover"):
        ocsp.check_response(der, issuer_cert=pki.ca, serial=serial + 1, now=NOW)
    other = make_pki("ec-p256")
    with pytest.raises(VerificationFailed):  # the CertID names another CA
        ocsp.check_response(der, issuer_cert=other.ca, serial=serial, now=NOW)
    assert query.nonce == b"abcdefgh"


def _foreign_response(pki: Pki, responder: x509.Certificate, key: PrivateKey) -> bytes:
    """A response made with cryptography and a real key of a responder the CA did not authorise."""
    builder = (
        cocsp.OCSPResponseBuilder()
        .add_response(
            cert=pki.leaf,
            issuer=pki.ca,
            algorithm=hashes.SHA1(),  # noqa: S303
            cert_status=cocsp.OCSPCertStatus.GOOD,
            this_update=NOW,
            next_update=NOW + DAY,
            revocation_time=None,
            revocation_reason=None,
        )
        .responder_id(cocsp.OCSPResponderEncoding.HASH, responder)
        .certificates([responder])
    )
    return builder.sign(key, hashes.SHA256()).public_bytes(DER)  # type: ignore[arg-type]


def test_check_refuses_responders_the_ca_did_not_authorise() -> None:
    pki = _PKI
    serial = pki.leaf.serial_number
    # a certificate of the CA without id-kp-OCSPSigning
    with pytest.raises(VerificationFailed, match="authorised") as caught:
        ocsp.check_response(
            _foreign_response(pki, pki.leaf, pki.leaf_key),
            issuer_cert=pki.ca,
            serial=serial,
            now=NOW,
        )
    assert any("OCSPSigning" in r for r in caught.value.reasons)
    # an OCSP signing certificate of another CA
    other = make_pki("ec-p256")
    with pytest.raises(VerificationFailed, match="authorised"):
        ocsp.check_response(
            _foreign_response(pki, other.responder, other.responder_key),
            issuer_cert=pki.ca,
            serial=serial,
            now=NOW,
        )
    # a genuine delegate outside its validity
    late = NOW + 400 * DAY
    _, der = respond(pki, "good", delegated=True)
    with pytest.raises(VerificationFailed):
        ocsp.check_response(
            der, issuer_cert=pki.ca, serial=serial, now=late, max_age=timedelta(days=1000)
        )


def test_check_refuses_a_tampered_response() -> None:
    pki = _PKI
    _, der = respond(pki, "revoked", delegated=False)
    response = cocsp.load_der_ocsp_response(der)
    tbs = response.tbs_response_bytes
    # turn "revoked" (A1 ...) into a different revocation time inside the signed data
    stamp = NOW - DAY
    old = stamp.strftime("%Y%m%d%H%M%SZ").encode()
    new = (stamp - DAY).strftime("%Y%m%d%H%M%SZ").encode()
    assert old in tbs
    tampered = der.replace(old, new, 1)
    with pytest.raises(VerificationFailed, match="signature"):
        ocsp.check_response(tampered, issuer_cert=pki.ca, serial=pki.leaf.serial_number, now=NOW)


# --- fuzz ------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=1024))
def test_fuzz_parse_request_raises_only_invalid_input(data: bytes) -> None:
    with contextlib.suppress(InvalidInput):
        ocsp.parse_request(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=1024))
def test_fuzz_check_response_raises_only_maat_errors(data: bytes) -> None:
    with contextlib.suppress(InvalidInput, VerificationFailed):
        ocsp.check_response(data, issuer_cert=_PKI.ca, serial=1, now=NOW)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_fuzz_mutated_messages_raise_only_maat_errors(data: st.DataObject) -> None:
    request, response = _MESSAGES
    for message in (request, response):
        position = data.draw(st.integers(0, len(message) - 1))
        value = data.draw(st.integers(0, 255))
        cut = data.draw(st.integers(position + 1, len(message)))
        mutated = message[:position] + bytes([value]) + message[position + 1 : cut]
        try:
            query = ocsp.parse_request(mutated)
            ocsp.build_response(
                query,
                _PKI.ca,
                _PKI.ca,
                xb.software_key(_PKI.ca_key),
                "good",
                this_update=NOW,
                next_update=NOW + DAY,
            )
        except MaatError:
            pass
        with contextlib.suppress(InvalidInput, VerificationFailed):
            ocsp.check_response(
                mutated, issuer_cert=_PKI.ca, serial=_PKI.leaf.serial_number, now=NOW
            )


_PKI = make_pki("ec-p256")
_MESSAGES = (
    ocsp.build_request(_PKI.leaf, _PKI.ca, nonce=b"fuzzfuzz"),
    respond(_PKI, "revoked", delegated=True, reason=x509.ReasonFlags.superseded)[1],
)

"""The core of an OCSP responder (RFC 6960) and the check of OCSP answers for the verifier.

Requests are parsed with ``cryptography``. Responses are built with ``asn1crypto``: the
``ResponseData`` DER is signed by the responder's :class:`~maat.signing.x509build.SigningKey`
(``cryptography``'s builder insists on a private key matching the responder certificate, which
an HSM key is not). Every response is loaded back and checked with :func:`check_response`
before it is returned (fail closed). The responder is either the issuing CA itself or a
delegated responder the CA certified with id-kp-OCSPSigning (answered by key hash).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from asn1crypto import algos, core  # type: ignore[import-untyped]
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID

from maat.errors import InvalidInput, VerificationFailed
from maat.signing.x509build import (
    SigningKey,
    key_algorithm,
    key_bits,
    same_key,
    signature_algorithm_der,
    utc,
)

OcspStatus = Literal["good", "revoked", "unknown"]
MAX_REQUEST_BYTES = 64 * 1024
MAX_RESPONSE_BYTES = 1024 * 1024
MAX_NONCE_BYTES = 32  # RFC 8954
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
_FOREIGN = (ValueError, TypeError, UnsupportedAlgorithm, x509.InvalidVersion)


@dataclass(frozen=True)
class OcspQuery:
    """One certificate an OCSP request asks about (CertID fields) and the request nonce."""

    serial: int
    issuer_name_hash: bytes
    issuer_key_hash: bytes
    hash_algorithm: str  # sha1 | sha256 | sha384 | sha512
    nonce: bytes | None = None

    def names_issuer(self, issuer_cert: x509.Certificate) -> bool:
        """Whether the CertID's issuer hashes are those of ``issuer_cert``."""
        return cert_id_matches(
            issuer_cert, self.issuer_name_hash, self.issuer_key_hash, self.hash_algorithm
        )


def cert_id_matches(
    issuer_cert: x509.Certificate, name_hash: bytes, key_hash: bytes, algorithm: str
) -> bool:
    """Whether a CertID's issuer name and key hashes (under ``algorithm``) name ``issuer_cert``."""
    if algorithm not in _HASHES:
        return False
    name = issuer_cert.subject.public_bytes()
    bits = key_bits(issuer_cert.public_key())
    return hmac.compare_digest(hashlib.new(algorithm, name).digest(), name_hash) and (
        hmac.compare_digest(hashlib.new(algorithm, bits).digest(), key_hash)
    )


def _verify(
    public_key: object, signature: bytes, data: bytes, algorithm: hashes.HashAlgorithm | None
) -> None:
    """Check an RSA PKCS#1 v1.5 or ECDSA signature; VerificationFailed if it does not hold."""
    try:
        if isinstance(public_key, rsa.RSAPublicKey) and algorithm is not None:
            public_key.verify(signature, data, padding.PKCS1v15(), algorithm)
        elif isinstance(public_key, ec.EllipticCurvePublicKey) and algorithm is not None:
            public_key.verify(signature, data, ec.ECDSA(algorithm))
        else:
            raise VerificationFailed(f"unsupported responder key {type(public_key).__name__}")
    except (InvalidSignature, *_FOREIGN) as exc:
        reason = str(exc) or type(exc).__name__
        raise VerificationFailed("the OCSP signature does not verify", reasons=(reason,)) from exc


def _key_id(cert: x509.Certificate) -> bytes:
    """The ResponderID byKey: SHA-1 of the responder's public key bits (RFC 6960 §4.2.1)."""
    return hashlib.sha1(key_bits(cert.public_key()), usedforsecurity=False).digest()


def parse_request(der: bytes, *, max_bytes: int = MAX_REQUEST_BYTES) -> OcspQuery:
    """The certificate a DER OCSP request asks about; InvalidInput if it is malformed."""
    if not isinstance(der, bytes) or len(der) > max_bytes:
        raise InvalidInput(f"an OCSP request must be at most {max_bytes} bytes", field="request")
    try:
        request = ocsp.load_der_ocsp_request(der)
        algorithm = request.hash_algorithm.name
        query_fields = (request.serial_number, request.issuer_name_hash, request.issuer_key_hash)
        nonce: bytes | None = None
        for ext in request.extensions:
            if isinstance(ext.value, x509.OCSPNonce):
                nonce = ext.value.nonce
            elif ext.critical:
                message = f"unsupported critical extension {ext.oid.dotted_string}"
                raise InvalidInput(message, field="request")
    except _FOREIGN as exc:
        raise InvalidInput(f"malformed OCSP request: {exc}", field="request") from exc
    if algorithm not in _HASHES:
        raise InvalidInput(f"unsupported CertID hash {algorithm}", field="request")
    if nonce is not None and not 1 <= len(nonce) <= MAX_NONCE_BYTES:
        raise InvalidInput(f"the nonce must be 1 to {MAX_NONCE_BYTES} octets", field="nonce")
    serial, name_hash, key_hash = query_fields
    return OcspQuery(serial, name_hash, key_hash, algorithm, nonce)


def build_request(
    cert: x509.Certificate, issuer_cert: x509.Certificate, *, nonce: bytes | None = None
) -> bytes:
    """A DER OCSP request for ``cert`` (CertID with SHA-1, as RFC 5019 clients send)."""
    sha1 = hashes.SHA1()  # noqa: S303 - CertID identifies the certificate; RFC 5019 mandates SHA-1
    builder = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer_cert, sha1)
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


def _unsuccessful(status: ocsp.OCSPResponseStatus) -> bytes:
    return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(
        serialization.Encoding.DER
    )


def malformed() -> bytes:
    """The OCSP response for a request that cannot be parsed (malformedRequest)."""
    return _unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)


def unauthorised() -> bytes:
    """The OCSP response for a certificate this responder does not answer for (unauthorized)."""
    return _unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED)


def internal_error() -> bytes:
    """The OCSP response when the responder cannot answer (internalError)."""
    return _unsuccessful(ocsp.OCSPResponseStatus.INTERNAL_ERROR)


def _check_delegate(
    cert: x509.Certificate, issuer_cert: x509.Certificate, now: datetime
) -> str | None:
    """Why ``cert`` is not a responder authorised by ``issuer_cert`` at ``now`` (None if it is)."""
    try:
        cert.verify_directly_issued_by(issuer_cert)
    except (*_FOREIGN, InvalidSignature) as exc:
        return f"responder certificate not issued by the CA: {exc}"
    try:
        usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return "responder certificate without the OCSPSigning extended key usage"
    if ExtendedKeyUsageOID.OCSP_SIGNING not in usage:
        return "responder certificate without the OCSPSigning extended key usage"
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        return "responder certificate not valid at the time of the check"
    return None


def _signer(
    response: ocsp.OCSPResponse, issuer_cert: x509.Certificate, now: datetime
) -> x509.Certificate:
    """The certificate whose key signed ``response``: the CA or a delegate it authorised."""
    name, key_hash = response.responder_name, response.responder_key_hash

    def named(cert: x509.Certificate) -> bool:
        if name is not None:
            return cert.subject == name
        return key_hash is not None and hmac.compare_digest(_key_id(cert), key_hash)

    if named(issuer_cert):
        return issuer_cert
    reasons: list[str] = []
    for cert in response.certificates:
        if named(cert):
            problem = _check_delegate(cert, issuer_cert, now)
            if problem is None:
                return cert
            reasons.append(problem)
    raise VerificationFailed(
        "the OCSP response is signed by neither the CA nor a responder it authorised",
        reasons=tuple(reasons),
    )


def check_response(
    der: bytes,
    *,
    issuer_cert: x509.Certificate,
    serial: int,
    now: datetime,
    nonce: bytes | None = None,
    skew: timedelta = timedelta(minutes=5),
    max_age: timedelta = timedelta(days=7),
    max_bytes: int = MAX_RESPONSE_BYTES,
) -> tuple[OcspStatus, datetime | None]:
    """The status of certificate ``serial`` of ``issuer_cert`` in a DER OCSP response.

    Returns ``("good", None)``, ``("revoked", revocation time)`` or ``("unknown", None)``.
    The response must be successful, signed by the CA or a delegated responder with
    id-kp-OCSPSigning issued by it, cover the certificate, be current at ``now`` (within
    ``skew``; without nextUpdate, no older than ``max_age``) and echo ``nonce`` when given.
    InvalidInput for bytes that are no OCSP response, VerificationFailed for every other failure.
    """
    moment = utc(now, field="now")
    if not isinstance(der, bytes) or len(der) > max_bytes:
        raise InvalidInput(f"an OCSP response must be at most {max_bytes} bytes", field="response")
    try:
        response = ocsp.load_der_ocsp_response(der)
        answered = response.response_status
    except _FOREIGN as exc:
        raise InvalidInput(f"malformed OCSP response: {exc}", field="response") from exc
    if answered is not ocsp.OCSPResponseStatus.SUCCESSFUL:
        raise VerificationFailed(f"the OCSP responder answered {answered.name.lower()}")
    try:
        single = None
        for candidate in response.responses:
            if candidate.serial_number == serial and cert_id_matches(
                issuer_cert,
                candidate.issuer_name_hash,
                candidate.issuer_key_hash,
                candidate.hash_algorithm.name,
            ):
                single = candidate
                break
        if single is None:
            raise VerificationFailed(f"the OCSP response does not cover serial {serial:x}")
        signer = _signer(response, issuer_cert, moment)
        _verify(
            signer.public_key(),
            response.signature,
            response.tbs_response_bytes,
            response.signature_hash_algorithm,
        )
        extensions = [e.value for e in response.extensions]
        echoed = [e.nonce for e in extensions if isinstance(e, x509.OCSPNonce)]
        this_update, next_update = single.this_update_utc, single.next_update_utc
        status, revoked_at = single.certificate_status, single.revocation_time_utc
    except _FOREIGN as exc:
        message = "the OCSP response cannot be checked"
        raise VerificationFailed(message, reasons=(str(exc),)) from exc
    if nonce is not None and (not echoed or not hmac.compare_digest(echoed[0], nonce)):
        raise VerificationFailed("the OCSP response does not echo the request nonce")
    if this_update > moment + skew:
        raise VerificationFailed("the OCSP response is dated in the future")
    expiry = next_update if next_update is not None else this_update + max_age
    if moment > expiry + skew:
        raise VerificationFailed(f"the OCSP response is stale (valid until {expiry.isoformat()})")
    if status is ocsp.OCSPCertStatus.REVOKED:
        return "revoked", revoked_at
    return ("good", None) if status is ocsp.OCSPCertStatus.GOOD else ("unknown", None)


def build_response(
    query: OcspQuery,
    issuer_cert: x509.Certificate,
    responder_cert: x509.Certificate,
    responder_key: SigningKey,
    status: OcspStatus,
    *,
    revoked_at: datetime | None = None,
    reason: x509.ReasonFlags | None = None,
    this_update: datetime,
    next_update: datetime,
) -> bytes:
    """A signed, successful DER OCSP response answering ``query`` with ``status``.

    ``responder_cert`` is ``issuer_cert`` itself or a delegated responder certificate issued by
    it with id-kp-OCSPSigning. InvalidInput when the query names another CA (answer it with
    :func:`unauthorised`) or the arguments do not fit together.
    """
    if status not in ("good", "revoked", "unknown"):
        raise InvalidInput("must be good, revoked or unknown", field="status")
    if (status == "revoked") != (revoked_at is not None):
        raise InvalidInput("is required exactly when the status is revoked", field="revoked_at")
    if reason is not None and (status != "revoked" or not isinstance(reason, x509.ReasonFlags)):
        raise InvalidInput("must be an x509.ReasonFlags of a revoked status", field="reason")
    if not query.names_issuer(issuer_cert):
        raise InvalidInput(
            "the request names another CA", field="query", hint="answer with ocsp.unauthorised()"
        )
    start = utc(this_update, field="this_update").replace(microsecond=0)
    end = utc(next_update, field="next_update").replace(microsecond=0)
    if end <= start:
        raise InvalidInput("must be after this_update", field="next_update")
    if not same_key(responder_cert.public_key(), responder_key.public_key):
        message = "the responder key is not the responder certificate's key"
        raise InvalidInput(message, field="responder_key")
    key_algorithm(responder_key.public_key, field="responder_key")
    delegated = responder_cert != issuer_cert
    if delegated and (problem := _check_delegate(responder_cert, issuer_cert, start)):
        raise InvalidInput(problem, field="responder_cert")

    if status == "revoked" and revoked_at is not None:
        when = utc(revoked_at, field="revoked_at").replace(microsecond=0)
        info: dict[str, object] = {"revocation_time": when}
        if reason is not None:
            info["revocation_reason"] = reason.name
        cert_status = asn1_ocsp.CertStatus(name="revoked", value=info)
    elif status == "good":
        cert_status = asn1_ocsp.CertStatus(name="good", value=asn1_ocsp.StatusGood())
    else:
        cert_status = asn1_ocsp.CertStatus(name="unknown", value=asn1_ocsp.StatusUnknown())
    single = {
        "cert_id": {
            "hash_algorithm": {"algorithm": query.hash_algorithm, "parameters": core.Null()},
            "issuer_name_hash": query.issuer_name_hash,
            "issuer_key_hash": query.issuer_key_hash,
            "serial_number": query.serial,
        },
        "cert_status": cert_status,
        "this_update": start,
        "next_update": end,
    }
    data: dict[str, object] = {
        "responder_id": asn1_ocsp.ResponderId(name="by_key", value=_key_id(responder_cert)),
        "produced_at": start,
        "responses": [single],
    }
    if query.nonce is not None:
        data["response_extensions"] = [{"extn_id": "nonce", "extn_value": query.nonce}]
    try:
        tbs = asn1_ocsp.ResponseData(data)
        tbs.dump()
    except (ValueError, TypeError, KeyError) as exc:  # a hand-made OcspQuery that cannot be encoded
        raise InvalidInput(f"the response cannot be encoded: {exc}", field="query") from exc
    basic: dict[str, object] = {
        "tbs_response_data": tbs,
        "signature_algorithm": algos.SignedDigestAlgorithm.load(
            signature_algorithm_der(responder_key.public_key)
        ),
        "signature": responder_key.sign(tbs.dump()),
    }
    if delegated:
        basic["certs"] = [
            asn1_x509.Certificate.load(responder_cert.public_bytes(serialization.Encoding.DER))
        ]
    der: bytes = asn1_ocsp.OCSPResponse(
        {
            "response_status": "successful",
            "response_bytes": {"response_type": "basic_ocsp_response", "response": basic},
        }
    ).dump()
    answer = check_response(
        der, issuer_cert=issuer_cert, serial=query.serial, now=start, nonce=query.nonce
    )
    if answer[0] != status:
        raise VerificationFailed(f"the signed OCSP response says {answer[0]}, not {status}")
    return der

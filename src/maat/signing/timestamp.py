"""RFC 3161 time-stamp tokens: Maat's own TSA (key in the HSM) and checks of any TSA's tokens.

A token is a CMS ``SignedData`` (RFC 5652) whose encapsulated content is a ``TSTInfo``; its one
signer signs the DER ``SET`` of the signed attributes content-type, message-digest and
signing-certificate-v2 (RFC 5816) with the TSA key through
:class:`~maat.signing.x509build.SigningKey`. Built with ``asn1crypto``; every token built is
verified before it is returned (fail closed).

Trust in :func:`verify_token`: the signer certificate is trusted when it is one of
``trusted_tsa`` (pinned TSA certificates) or chains, through certificates in the token, to one
of ``trust_roots`` with the checks a code-signing chain gets (:mod:`maat.signing.chain`: path
length, key usage, weak hashes and keys, validity at genTime) and timeStamping in place of
codeSigning for intermediates' extended key usage. It refuses to run with neither, since the
time it returns is relied upon as a trusted signing time. :func:`verify_token_details` alone
may be called with neither: it then checks only the token's own consistency, says
``trusted=False`` and the caller must judge the signer certificate it returns. Revocation of the
TSA certificate is the caller's check as well.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from asn1crypto import algos, cms, core, tsp  # type: ignore[import-untyped]
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from maat.errors import InvalidInput, MaatError, VerificationFailed
from maat.signing._steps import describe
from maat.signing.chain import _step_chain, _step_validity
from maat.signing.x509build import (
    SigningKey,
    check_serial,
    same_key,
    signature_algorithm_der,
    signature_hash,
    utc,
)

# A UUID-derived OID (ITU-T X.667, arc 2.25): unique without registration. Operators with their
# own TSA policy pass its OID instead.
DEFAULT_POLICY_OID = "2.25.328965322035627405911284377414100708923"
MAX_TOKEN_BYTES = 1024 * 1024
_OID = re.compile(r"[0-2](\.(0|[1-9][0-9]*))+")
_DIGESTS: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
_DER = serialization.Encoding.DER
_TSA_CA_USAGES = {ExtendedKeyUsageOID.TIME_STAMPING, ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE}


class _TimeStampResp(core.Sequence):  # type: ignore[misc]
    """RFC 3161 TimeStampResp with the token OPTIONAL (asn1crypto's requires it)."""

    _fields = [
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


@dataclass(frozen=True)
class TimestampInfo:
    """What a verified token says: time, serial, policy, nonce and the TSA certificate."""

    gen_time: datetime
    serial: int
    policy_oid: str
    nonce: int | None
    tsa_cert: x509.Certificate
    trusted: bool  # False only when neither trusted_tsa nor trust_roots was given


@contextmanager
def _asn1(what: str, field: str) -> Iterator[None]:
    """Turn any failure of asn1crypto's lazy parsing into InvalidInput (MaatError passes)."""
    try:
        yield
    except MaatError:
        raise
    except Exception as exc:  # asn1crypto raises assorted types (ValueError, TypeError, ...)
        raise InvalidInput(f"malformed {what}: {exc}", field=field) from exc


def _imprint(value: object, field: str) -> bytes:
    if not isinstance(value, bytes) or len(value) != 32:
        raise InvalidInput("must be a SHA-256 digest (32 bytes)", field=field)
    return value


def _tsa_problem(cert: x509.Certificate, when: datetime | None) -> str | None:
    """Why ``cert`` cannot sign time stamps (at ``when``), or None."""
    try:
        found = {e.oid: e for e in cert.extensions}
    except ValueError as exc:
        return f"the TSA certificate has malformed extensions: {exc}"
    eku, usage = found.get(x509.ExtendedKeyUsage.oid), found.get(x509.KeyUsage.oid)
    if eku is None or not isinstance(eku.value, x509.ExtendedKeyUsage):
        return "the TSA certificate has no extended key usage timeStamping"
    if list(eku.value) != [ExtendedKeyUsageOID.TIME_STAMPING] or not eku.critical:
        return "the TSA certificate's extended key usage is not a critical timeStamping only"
    if (
        isinstance(usage, x509.Extension)
        and isinstance(usage.value, x509.KeyUsage)
        and not (usage.value.digital_signature or usage.value.content_commitment)
    ):
        return "the TSA certificate's key usage does not allow signatures"
    if when is not None and not cert.not_valid_before_utc <= when <= cert.not_valid_after_utc:
        return "the time stamp lies outside the TSA certificate's validity"
    return None


def build_request(
    message_imprint_sha256: bytes, *, nonce: int | None = None, cert_req: bool = True
) -> bytes:
    """A DER TimeStampReq for an external TSA (SHA-256 imprint)."""
    request: dict[str, object] = {
        "version": "v1",
        "message_imprint": {
            "hash_algorithm": {"algorithm": "sha256"},
            "hashed_message": _imprint(message_imprint_sha256, "message_imprint_sha256"),
        },
        "cert_req": cert_req,
    }
    if nonce is not None:
        request["nonce"] = nonce
    return bytes(tsp.TimeStampReq(request).dump())


def build_token(
    message_imprint_sha256: bytes,
    *,
    tsa_cert: x509.Certificate,
    tsa_key: SigningKey,
    gen_time: datetime,
    serial: int,
    policy_oid: str = DEFAULT_POLICY_OID,
    nonce: int | None = None,
    accuracy: timedelta | None = None,
) -> bytes:
    """A DER TimeStampToken over a SHA-256 message imprint, signed by ``tsa_key``."""
    imprint = _imprint(message_imprint_sha256, "message_imprint_sha256")
    if not same_key(tsa_cert.public_key(), tsa_key.public_key):
        raise InvalidInput("the TSA key is not the TSA certificate's key", field="tsa_key")
    when = utc(gen_time, field="gen_time")
    if problem := _tsa_problem(tsa_cert, when):
        raise InvalidInput(problem, field="tsa_cert")
    if not isinstance(policy_oid, str) or not _OID.fullmatch(policy_oid):
        raise InvalidInput("must be a dotted object identifier", field="policy_oid")
    if nonce is not None and (not isinstance(nonce, int) or nonce < 0 or nonce.bit_length() > 512):
        raise InvalidInput("must be a non-negative integer of at most 512 bits", field="nonce")
    digest = signature_hash(tsa_key.public_key).name
    issuer = asn1_x509.Name.load(tsa_cert.issuer.public_bytes())
    info: dict[str, object] = {
        "version": "v1",
        "policy": policy_oid,
        "message_imprint": {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": imprint},
        "serial_number": check_serial(serial),
        "gen_time": when,
        "tsa": {"directory_name": asn1_x509.Name.load(tsa_cert.subject.public_bytes())},
    }
    if accuracy is not None:
        micros = int(accuracy / timedelta(microseconds=1))
        if micros <= 0:
            raise InvalidInput("must be positive", field="accuracy")
        seconds, rest = divmod(micros, 1_000_000)
        parts = {"seconds": seconds, "millis": rest // 1000, "micros": rest % 1000}
        info["accuracy"] = {k: v for k, v in parts.items() if v}
    if nonce is not None:
        info["nonce"] = nonce
    tst_der = tsp.TSTInfo(info).dump()
    cert_der = tsa_cert.public_bytes(_DER)
    attributes = cms.CMSAttributes(
        [
            {"type": "content_type", "values": ["tst_info"]},
            {"type": "message_digest", "values": [hashlib.new(digest, tst_der).digest()]},
            {
                "type": "signing_certificate_v2",
                "values": [
                    {
                        "certs": [
                            {
                                "cert_hash": hashlib.sha256(cert_der).digest(),
                                "issuer_serial": {
                                    "issuer": [
                                        asn1_x509.GeneralName(name="directory_name", value=issuer)
                                    ],
                                    "serial_number": tsa_cert.serial_number,
                                },
                            }
                        ]
                    }
                ],
            },
        ]
    )
    signer = {
        "version": "v1",
        "sid": cms.SignerIdentifier(
            name="issuer_and_serial_number",
            value={
                "issuer": issuer,
                "serial_number": tsa_cert.serial_number,
            },
        ),
        "digest_algorithm": {"algorithm": digest},
        "signed_attrs": attributes,
        "signature_algorithm": algos.SignedDigestAlgorithm.load(
            signature_algorithm_der(tsa_key.public_key)
        ),
        "signature": tsa_key.sign(attributes.dump()),
    }
    signed_data = {
        "version": "v3",
        "digest_algorithms": [{"algorithm": digest}],
        "encap_content_info": {"content_type": "tst_info", "content": tsp.TSTInfo.load(tst_der)},
        "certificates": [asn1_x509.Certificate.load(cert_der)],
        "signer_infos": [signer],
    }
    token = bytes(cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump())
    verify_token(token, expected_imprint=imprint, trusted_tsa=[tsa_cert])
    return token


def token_from_response(der: bytes, *, max_bytes: int = MAX_TOKEN_BYTES) -> bytes:
    """The TimeStampToken inside a DER TimeStampResp; VerificationFailed if the TSA refused."""
    if not isinstance(der, bytes) or len(der) > max_bytes:
        message = f"a time-stamp response must be at most {max_bytes} bytes"
        raise InvalidInput(message, field="response")
    with _asn1("time-stamp response", "response"):
        response = _TimeStampResp.load(der, strict=True)
        status = response["status"]
        granted = status["status"].native
        texts = [str(t) for t in (status["status_string"].native or [])]
        failure = sorted(status["fail_info"].native or [])
        token = response["time_stamp_token"]
        token = None if isinstance(token, core.Void) else token
        if token is not None and token["content_type"].native != "signed_data":
            raise InvalidInput("the token is not CMS SignedData", field="response")
        token_der = None if token is None else bytes(token.dump())
    if granted not in ("granted", "granted_with_mods"):
        raise VerificationFailed(f"the TSA answered {granted}", reasons=(*texts, *failure))
    if token_der is None:
        raise VerificationFailed("the TSA granted the request but sent no token")
    return token_der


def _parse(token: bytes, max_bytes: int) -> tuple[Any, bytes, Any, Any, list[bytes]]:
    """(signer info, TSTInfo DER, TSTInfo, signed attributes, embedded certificate DERs)."""
    if not isinstance(token, bytes) or len(token) > max_bytes:
        raise InvalidInput(f"a time-stamp token must be at most {max_bytes} bytes", field="token")
    with _asn1("time-stamp token", "token"):
        info = cms.ContentInfo.load(token, strict=True)
        if info["content_type"].native != "signed_data":
            raise InvalidInput("not CMS SignedData", field="token")
        signed = info["content"]
        encap = signed["encap_content_info"]
        if encap["content_type"].native != "tst_info" or encap["content"].native is None:
            raise InvalidInput("the content is not a TSTInfo", field="token")
        tst_der = bytes(encap["content"])
        tst = tsp.TSTInfo.load(tst_der, strict=True)
        tst.native  # noqa: B018 - parse every field now, inside this guard
        signers = signed["signer_infos"]
        if len(signers) != 1:
            raise InvalidInput("a time-stamp token has exactly one signer", field="token")
        signer = signers[0]
        attrs = signer["signed_attrs"]
        if not attrs:
            raise InvalidInput("the signer has no signed attributes", field="token")
        attrs.native  # noqa: B018
        signer["sid"].native  # noqa: B018
        certs = [c.chosen.dump() for c in signed["certificates"] if c.name == "certificate"]
    return signer, tst_der, tst, attrs, certs


def _attribute(attrs: Any, name: str) -> Any:
    values = [a["values"] for a in attrs if a["type"].native == name]
    if len(values) > 1 or (values and len(values[0]) != 1):
        raise VerificationFailed(f"the signed attribute {name} is not single-valued")
    return values[0][0] if values else None


def _pick_signer(sid: Any, certs: list[x509.Certificate]) -> x509.Certificate:
    for cert in certs:
        if sid.name == "subject_key_identifier":
            try:
                ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
            except x509.ExtensionNotFound:
                continue
            if ski.digest == sid.native:
                return cert
        else:
            wanted = sid.chosen
            parsed = asn1_x509.Certificate.load(cert.public_bytes(_DER))
            if parsed.serial_number == wanted["serial_number"].native and (
                parsed.issuer == wanted["issuer"]
            ):
                return cert
    raise VerificationFailed("the TSA certificate is neither in the token nor among the trusted")


def _check_ess(attrs: Any, cert: x509.Certificate) -> None:
    """The ESS signing-certificate(-v2) attribute names ``cert`` (RFC 2634, RFC 5816)."""
    cert_der = cert.public_bytes(_DER)
    v2, v1 = _attribute(attrs, "signing_certificate_v2"), _attribute(attrs, "signing_certificate")
    if v2 is None and v1 is None:
        raise VerificationFailed("the token has no signing-certificate attribute")
    first = (v2 if v2 is not None else v1)["certs"][0]
    algorithm = first["hash_algorithm"]["algorithm"].native if v2 is not None else "sha1"
    if algorithm not in ("sha1", "sha256", "sha384", "sha512"):
        raise VerificationFailed(f"unsupported signing-certificate hash {algorithm}")
    expected = hashlib.new(algorithm, cert_der).digest()
    if not hmac.compare_digest(bytes(first["cert_hash"].native), expected):
        raise VerificationFailed("the signing-certificate attribute names another certificate")
    serial = first["issuer_serial"]
    if serial and serial["serial_number"].native != cert.serial_number:
        raise VerificationFailed("the signing-certificate attribute names another serial")


def _check_signature(signer: Any, cert: x509.Certificate, attrs: Any, digest: str) -> None:
    algorithm = signer["signature_algorithm"]
    kind = algorithm.signature_algo
    if kind not in ("rsassa_pkcs1v15", "rsassa_pss", "ecdsa"):
        raise VerificationFailed(f"unsupported signature algorithm {kind}")
    generic = algorithm["algorithm"].native in ("rsassa_pkcs1v15", "rsassa_pss", "ecdsa")
    if not generic and algorithm.hash_algo != digest:
        raise VerificationFailed("the signature hash differs from the digest algorithm")
    hash_algorithm = _DIGESTS[digest]()
    data = b"\x31" + attrs.dump()[1:]  # signed as SET OF, stored as [0] IMPLICIT
    signature = bytes(signer["signature"].native)
    public_key = cert.public_key()
    try:
        if kind == "ecdsa" and isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, data, ec.ECDSA(hash_algorithm))
        elif kind == "rsassa_pkcs1v15" and isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, data, padding.PKCS1v15(), hash_algorithm)
        elif kind == "rsassa_pss" and isinstance(public_key, rsa.RSAPublicKey):
            params = algorithm["parameters"]
            pss_hash = params["hash_algorithm"]["algorithm"].native
            mgf_hash = params["mask_gen_algorithm"]["parameters"]["algorithm"].native
            if pss_hash != digest or mgf_hash != digest:
                raise VerificationFailed("RSA-PSS parameters do not fit the digest algorithm")
            pss = padding.PSS(padding.MGF1(hash_algorithm), int(params["salt_length"].native))
            public_key.verify(signature, data, pss, hash_algorithm)
        else:
            raise VerificationFailed("the signature algorithm does not fit the TSA key")
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise VerificationFailed("the TSA signature does not verify") from exc


def _chain_problem(
    cert: x509.Certificate,
    pool: Sequence[x509.Certificate],
    roots: Sequence[x509.Certificate],
    when: datetime,
) -> str | None:
    """Why ``cert`` does not chain through ``pool`` to one of ``roots`` as a TSA, or None.

    1. Steps 3 and 5 of a code-signing chain (:mod:`maat.signing.chain`): a bounded path
       search, CA basic constraints, path length, keyCertSign, no unknown critical extension,
       no SHA-1/MD5 signature, no weak key, every certificate valid at ``when`` (genTime).
    2. Step 4 with timeStamping for codeSigning: an intermediate with an EKU extension must
       allow timeStamping (or any usage), or a CA restricted to other usages could mint TSAs.
       The leaf's own critical timeStamping-only EKU is :func:`_tsa_problem`'s check.
    """
    chain_step, path = _step_chain(cert, pool, roots)
    if path is None:
        return chain_step.detail
    for ca in path[1:-1]:
        try:
            eku = ca.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound:
            continue
        except ValueError as exc:
            return f"{describe(ca)} has malformed extensions: {exc}"
        if not _TSA_CA_USAGES & set(eku):
            return (
                f"intermediate {describe(ca)} restricts its subordinates to usages that "
                "exclude timeStamping"
            )
    validity = _step_validity(path, when, "genTime")
    return None if validity.passed else validity.detail


def verify_token_details(
    token: bytes,
    *,
    expected_imprint: bytes,
    trusted_tsa: Sequence[x509.Certificate] | None = None,
    trust_roots: Sequence[x509.Certificate] | None = None,
    expected_nonce: int | None = None,
    max_bytes: int = MAX_TOKEN_BYTES,
) -> TimestampInfo:
    """Check a DER TimeStampToken over SHA-256 ``expected_imprint``; see :func:`verify_token`."""
    imprint = _imprint(expected_imprint, "expected_imprint")
    signer, tst_der, tst, attrs, cert_ders = _parse(token, max_bytes)
    with _asn1("time-stamp token", "token"):  # a MaatError raised inside passes unchanged
        certs = [x509.load_der_x509_certificate(der) for der in cert_ders]
        fields = tst.native
        digest = signer["digest_algorithm"]["algorithm"].native
        if fields["version"] != "v1":
            raise VerificationFailed(f"unsupported TSTInfo version {fields['version']}")
        if fields["message_imprint"]["hash_algorithm"]["algorithm"] != "sha256":
            raise VerificationFailed("the token's message imprint is not SHA-256")
        if not hmac.compare_digest(bytes(fields["message_imprint"]["hashed_message"]), imprint):
            raise VerificationFailed("the token's message imprint does not match")
        if expected_nonce is not None and fields["nonce"] != expected_nonce:
            raise VerificationFailed("the token does not echo the request nonce")
        if digest not in _DIGESTS:
            raise VerificationFailed(f"unsupported digest algorithm {digest}")
        content_type = _attribute(attrs, "content_type")
        if content_type is None or content_type.native != "tst_info":
            raise VerificationFailed("the signed content-type attribute is not id-ct-TSTInfo")
        message_digest = _attribute(attrs, "message_digest")
        if message_digest is None or not hmac.compare_digest(
            bytes(message_digest.native), hashlib.new(digest, tst_der).digest()
        ):
            raise VerificationFailed("the signed message digest does not match the TSTInfo")
        gen_time = utc(fields["gen_time"], field="gen_time")
        cert = _pick_signer(signer["sid"], [*certs, *(trusted_tsa or ())])
        if problem := _tsa_problem(cert, gen_time):
            raise VerificationFailed(problem)
        _check_ess(attrs, cert)
        _check_signature(signer, cert, attrs, digest)
        trusted = False
        if trusted_tsa is not None or trust_roots is not None:
            trusted = cert in (trusted_tsa or ())  # pinned: trusted as it is
            if not trusted:
                pool = [*certs, *(trusted_tsa or ())]
                problem = _chain_problem(cert, pool, trust_roots or (), gen_time)
                if problem is not None:
                    subject = cert.subject.rfc4514_string()
                    raise VerificationFailed(
                        "the TSA certificate is not trusted", reasons=(subject, problem)
                    )
                trusted = True
        return TimestampInfo(
            gen_time=gen_time,
            serial=int(fields["serial_number"]),
            policy_oid=str(fields["policy"]),
            nonce=fields["nonce"],
            tsa_cert=cert,
            trusted=trusted,
        )


def verify_token(
    token: bytes,
    *,
    expected_imprint: bytes,
    trusted_tsa: Sequence[x509.Certificate] | None = None,
    trust_roots: Sequence[x509.Certificate] | None = None,
    expected_nonce: int | None = None,
    max_bytes: int = MAX_TOKEN_BYTES,
) -> datetime:
    """The genTime of a valid DER TimeStampToken over SHA-256 ``expected_imprint``.

    Checks the imprint, the signed content-type and message-digest, the signing-certificate
    attribute, the TSA certificate (critical timeStamping-only EKU, valid at genTime), the
    signature, and trust (see the module notes). InvalidInput for bytes that are no token
    or when neither ``trusted_tsa`` nor ``trust_roots`` is given (a genTime from an unchecked
    TSA is anyone's claim, and would let a forger back-date a signature past an expiry or a
    revocation), VerificationFailed with the reason for every other failure.
    """
    if trusted_tsa is None and trust_roots is None:
        raise InvalidInput(
            "a time-stamp token needs trusted_tsa or trust_roots to be trusted",
            field="trusted_tsa",
            hint="use verify_token_details to inspect a token from an unknown TSA",
        )
    return verify_token_details(
        token,
        expected_imprint=expected_imprint,
        trusted_tsa=trusted_tsa,
        trust_roots=trust_roots,
        expected_nonce=expected_nonce,
        max_bytes=max_bytes,
    ).gen_time

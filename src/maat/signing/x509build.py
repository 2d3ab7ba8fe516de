"""X.509 certificates for Maat's CA, signed by keys that never leave the HSM.

No private key object is needed: the issuer key is a :class:`SigningKey`, its public key and a
``sign(data) -> DER signature`` callable (ECDSA or RSA PKCS#1 v1.5; SHA-384 for P-384, SHA-256
for P-256 and RSA). ``cryptography``'s builder shapes the TBS with a throw-away key of the same
type and size (so the signature AlgorithmIdentifier inside it is right); the TBS bytes are
signed by ``SigningKey.sign``; the DER ``SEQUENCE { tbs, algorithm, BIT STRING }`` is assembled
here, loaded back and checked with the issuer public key before it is returned (fail closed).
Key identifiers come from the real keys, never from the throw-away key.

Profiles: CAs get critical BasicConstraints and KeyUsage (keyCertSign, cRLSign); code signing a
critical KeyUsage digitalSignature and a *non-critical* EKU codeSigning (as the CA/B Forum
code-signing baseline requirements profile it); timestamping a *critical* EKU with only
timeStamping (RFC 3161 §2.3). Child validity must lie within the issuer's.
"""

from __future__ import annotations

import functools
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from maat.errors import InvalidInput, VerificationFailed

Signer = Callable[[bytes], bytes]
"""``data -> DER signature`` made inside the key store with the hash of :func:`signature_hash`."""

MIN_RSA_BITS = 2048
MAX_RSA_BITS = 8192
MAX_SERIAL_BITS = 159  # RFC 5280: at most 20 octets, positive
MAX_NAME_PART = 64  # ub-common-name, ub-organization-name, ub-organizational-unit-name
_CURVES = frozenset({"secp256r1", "secp384r1"})
_E = TypeVar("_E", bound=x509.ExtensionType)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_URL = re.compile(r"https?://[!-~]+")


@dataclass(frozen=True)
class SigningKey:
    """A key held elsewhere (HSM): its public half and a callable that signs with it."""

    public_key: PublicKeyTypes
    sign: Signer


def software_key(private_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> SigningKey:
    """A :class:`SigningKey` over an in-memory private key (tests and development only)."""
    hash_algorithm = signature_hash(private_key.public_key())

    def sign(data: bytes) -> bytes:
        if isinstance(private_key, rsa.RSAPrivateKey):
            return private_key.sign(data, padding.PKCS1v15(), hash_algorithm)
        return private_key.sign(data, ec.ECDSA(hash_algorithm))

    return SigningKey(public_key=private_key.public_key(), sign=sign)


# --- key types --------------------------------------------------------------------------------


def key_algorithm(public_key: PublicKeyTypes, *, field: str = "public_key") -> str:
    """The short name of a supported key (``ec-p256``, ``ec-p384``, ``rsa-<bits>``).

    Raises InvalidInput for any other key (other curves, Ed25519, DSA, small RSA).
    """
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        if public_key.curve.name not in _CURVES:
            raise InvalidInput(
                f"unsupported curve {public_key.curve.name} (P-256, P-384)", field=field
            )
        return f"ec-p{public_key.curve.key_size}"
    if isinstance(public_key, rsa.RSAPublicKey):
        bits = public_key.key_size
        if not MIN_RSA_BITS <= bits <= MAX_RSA_BITS:
            message = f"RSA key of {bits} bits ({MIN_RSA_BITS} to {MAX_RSA_BITS} are accepted)"
            raise InvalidInput(message, field=field)
        return f"rsa-{bits}"
    kind = type(public_key).__name__
    raise InvalidInput(f"unsupported key type {kind} (EC P-256, P-384 or RSA)", field=field)


def signature_hash(public_key: PublicKeyTypes) -> hashes.SHA256 | hashes.SHA384:
    """The hash a signature by this key uses: SHA-384 for P-384, SHA-256 otherwise."""
    name = key_algorithm(public_key)
    return hashes.SHA384() if name == "ec-p384" else hashes.SHA256()


@functools.lru_cache(maxsize=8)
def _throwaway(algorithm: str) -> ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey:
    """A process-local key of the named type, used only to shape TBS structures."""
    if algorithm == "ec-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm == "ec-p384":
        return ec.generate_private_key(ec.SECP384R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=int(algorithm[4:]))


def throwaway_key(public_key: PublicKeyTypes) -> ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey:
    """A throw-away private key of the same type and size as ``public_key`` (cached)."""
    return _throwaway(key_algorithm(public_key))


@functools.lru_cache(maxsize=8)
def _algorithm_identifier(algorithm: str) -> bytes:
    key = _throwaway(algorithm)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "throw-away")])
    request = x509.CertificateSigningRequestBuilder().subject_name(name)
    signed = request.sign(key, hashes.SHA384() if algorithm == "ec-p384" else hashes.SHA256())
    return der_children(signed.public_bytes(serialization.Encoding.DER))[1]


def signature_algorithm_der(public_key: PublicKeyTypes) -> bytes:
    """The DER AlgorithmIdentifier of a signature by ``public_key`` (e.g. ecdsa-with-SHA256)."""
    return _algorithm_identifier(key_algorithm(public_key))


def same_key(a: PublicKeyTypes, b: PublicKeyTypes) -> bool:
    """Whether two public keys are the same key (compared as SubjectPublicKeyInfo DER)."""
    der, spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    return a.public_bytes(der, spki) == b.public_bytes(der, spki)


# --- a small DER toolkit ----------------------------------------------------------------------


def der_tlv(tag: int, content: bytes) -> bytes:
    """One DER element with a one-byte ``tag``."""
    n = len(content)
    if n < 0x80:
        return bytes((tag, n)) + content
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(size))) + size + content


def _header(data: bytes, pos: int) -> tuple[int, int]:
    """(start of content, end of element) for the element at ``pos``."""
    if pos + 2 > len(data) or data[pos] & 0x1F == 0x1F:
        raise ValueError("truncated or multi-byte tag")
    first = data[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or pos + count > len(data):
            raise ValueError("unsupported length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    if pos + length > len(data):
        raise ValueError("truncated element")
    return pos, pos + length


def der_children(element: bytes) -> list[bytes]:
    """The complete child elements of one constructed DER element (ValueError if malformed)."""
    start, end = _header(element, 0)
    if end != len(element):
        raise ValueError("trailing data after the element")
    children: list[bytes] = []
    pos = start
    while pos < end:
        _, child_end = _header(element, pos)
        children.append(element[pos:child_end])
        pos = child_end
    return children


def der_content(element: bytes) -> bytes:
    """The content octets of one DER element."""
    start, end = _header(element, 0)
    return element[start:end]


def assemble_signed(tbs: bytes, algorithm_der: bytes, signature: bytes) -> bytes:
    """``SEQUENCE { tbs, algorithm, BIT STRING signature }`` (certificate, CRL, OCSP basic)."""
    return der_tlv(0x30, tbs + algorithm_der + der_tlv(0x03, b"\x00" + signature))


def key_bits(public_key: PublicKeyTypes) -> bytes:
    """The subjectPublicKey BIT STRING value (what key identifiers and OCSP key hashes hash)."""
    der, spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    return der_content(der_children(public_key.public_bytes(der, spki))[1])[1:]


# --- inputs -----------------------------------------------------------------------------------


def utc(value: object, *, field: str) -> datetime:
    """An aware datetime as UTC (InvalidInput for naive or non-datetime values)."""
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise InvalidInput("must be a timezone-aware datetime", field=field)
    return value.astimezone(UTC)


def check_serial(serial: object, *, field: str = "serial") -> int:
    """A positive serial of at most 159 bits (RFC 5280 §4.1.2.2)."""
    if not isinstance(serial, int) or isinstance(serial, bool) or serial <= 0:
        raise InvalidInput("must be a positive integer", field=field)
    if serial.bit_length() > MAX_SERIAL_BITS:
        raise InvalidInput(f"must fit in {MAX_SERIAL_BITS} bits", field=field)
    return serial


def random_serial() -> int:
    """A random positive 159-bit serial (158 random bits, top bit set: always 20 octets)."""
    return secrets.randbits(MAX_SERIAL_BITS - 1) | (1 << (MAX_SERIAL_BITS - 1))


def _name_part(value: object, field: str, *, required: bool = False) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("must be a non-empty string", field=field)
    if value != value.strip() or _CONTROL.search(value):
        raise InvalidInput("has surrounding spaces or control characters", field=field)
    if len(value) > MAX_NAME_PART:
        raise InvalidInput(f"is longer than {MAX_NAME_PART} characters", field=field)
    return value


def subject_name(
    common_name: str,
    organisation: str | None = None,
    org_unit: str | None = None,
    country: str | None = None,
) -> x509.Name:
    """A distinguished name ``C, O, OU, CN`` from validated parts (InvalidInput names the part)."""
    attributes: list[x509.NameAttribute[str]] = []
    if country is not None:
        if not isinstance(country, str) or not re.fullmatch(r"[A-Za-z]{2}", country):
            raise InvalidInput("must be a two-letter ISO 3166 country code", field="country")
        attributes.append(x509.NameAttribute(NameOID.COUNTRY_NAME, country.upper()))
    if (org := _name_part(organisation, "organisation")) is not None:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    if (unit := _name_part(org_unit, "org_unit")) is not None:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit))
    cn = _name_part(common_name, "common_name", required=True)
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, str(cn)))
    return x509.Name(attributes)


def _url(value: str | None, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 2000 or not _URL.fullmatch(value):
        raise InvalidInput("must be an http:// or https:// URL without spaces", field=field)
    return value


# --- issuing ----------------------------------------------------------------------------------


def _ext(cert: x509.Certificate, kind: type[_E]) -> _E | None:
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None
    except ValueError as exc:
        message = f"the issuer certificate has malformed extensions: {exc}"
        raise InvalidInput(message, field="issuer_cert") from exc


def _check_issuer(
    issuer_cert: x509.Certificate,
    issuer_key: SigningKey,
    not_before: datetime,
    not_after: datetime,
    *,
    issuing_ca: bool,
) -> None:
    """The issuer is a CA whose key is ``issuer_key`` and whose validity covers the child's."""
    if not same_key(issuer_cert.public_key(), issuer_key.public_key):
        raise InvalidInput("the issuer key is not the issuer certificate's key", field="issuer_key")
    constraints = _ext(issuer_cert, x509.BasicConstraints)
    if constraints is None or not constraints.ca:
        raise InvalidInput("the issuer certificate is not a CA", field="issuer_cert")
    usage = _ext(issuer_cert, x509.KeyUsage)
    if usage is not None and not usage.key_cert_sign:
        raise InvalidInput("the issuer certificate may not sign certificates", field="issuer_cert")
    if issuing_ca and constraints.path_length == 0:
        message = "the issuer's path length 0 forbids intermediate CAs"
        raise InvalidInput(message, field="issuer_cert")
    if not_before < issuer_cert.not_valid_before_utc:
        raise InvalidInput("starts before the issuer certificate is valid", field="not_before")
    if not_after > issuer_cert.not_valid_after_utc:
        raise InvalidInput("ends after the issuer certificate expires", field="not_after")


def _validity(not_before: object, not_after: object) -> tuple[datetime, datetime]:
    start = utc(not_before, field="not_before").replace(microsecond=0)
    end = utc(not_after, field="not_after").replace(microsecond=0)
    if end <= start:
        raise InvalidInput("must be after not_before", field="not_after")
    return start, end


def _aki(
    issuer_cert: x509.Certificate | None, issuer_public: PublicKeyTypes
) -> x509.AuthorityKeyIdentifier:
    """The AKI from the issuer certificate's SKI when it has one, else from its public key."""
    ski = _ext(issuer_cert, x509.SubjectKeyIdentifier) if issuer_cert is not None else None
    if ski is not None:
        return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)
    return x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_public)  # type: ignore[arg-type]


def _base(
    subject: x509.Name,
    subject_public_key: PublicKeyTypes,
    issuer_name: x509.Name,
    serial: int,
    not_before: datetime,
    not_after: datetime,
) -> x509.CertificateBuilder:
    if not isinstance(subject, x509.Name) or len(subject) == 0:
        raise InvalidInput("must be a non-empty x509.Name", field="subject")
    key_algorithm(subject_public_key, field="subject_public_key")
    ski = x509.SubjectKeyIdentifier.from_public_key(subject_public_key)  # type: ignore[arg-type]
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(subject_public_key)  # type: ignore[arg-type]
        .serial_number(check_serial(serial))
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(ski, critical=False)
    )


def _revocation_pointers(
    builder: x509.CertificateBuilder, crl_url: str | None, ocsp_url: str | None
) -> x509.CertificateBuilder:
    if (crl := _url(crl_url, "crl_url")) is not None:
        point = x509.DistributionPoint([x509.UniformResourceIdentifier(crl)], None, None, None)
        builder = builder.add_extension(x509.CRLDistributionPoints([point]), critical=False)
    if (ocsp := _url(ocsp_url, "ocsp_url")) is not None:
        where = x509.UniformResourceIdentifier(ocsp)
        access = x509.AccessDescription(AuthorityInformationAccessOID.OCSP, where)
        builder = builder.add_extension(x509.AuthorityInformationAccess([access]), critical=False)
    return builder


def _usage(*, cert_sign: bool) -> x509.KeyUsage:
    """keyCertSign + cRLSign for CAs, digitalSignature alone for end entities."""
    ca, ee, no = cert_sign, not cert_sign, False
    return x509.KeyUsage(ee, no, no, no, no, ca, ca, encipher_only=no, decipher_only=no)


def _sign(
    builder: x509.CertificateBuilder, issuer_key: SigningKey, issuer_cert: x509.Certificate | None
) -> x509.Certificate:
    """Shape with the throw-away key, sign the TBS with ``issuer_key``, assemble, self-check."""
    throwaway = throwaway_key(issuer_key.public_key)
    try:
        draft = builder.sign(throwaway, signature_hash(issuer_key.public_key))
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"the certificate cannot be built: {exc}", field="certificate") from exc
    tbs = draft.tbs_certificate_bytes
    algorithm = der_children(draft.public_bytes(serialization.Encoding.DER))[1]
    der = assemble_signed(tbs, algorithm, issuer_key.sign(tbs))
    try:
        cert = x509.load_der_x509_certificate(der)
        cert.verify_directly_issued_by(issuer_cert if issuer_cert is not None else cert)
    except (ValueError, TypeError, InvalidSignature) as exc:
        raise VerificationFailed(
            "the key store's signature does not verify with the issuer public key",
            reasons=(str(exc) or type(exc).__name__,),
            hint="check that the key label names the issuer's key and its algorithm",
        ) from exc
    return cert


def _path_length(value: object) -> int | None:
    if value is not None and (not isinstance(value, int) or value < 0):
        raise InvalidInput("must be None or a non-negative integer", field="path_length")
    return value


def build_root(
    subject: x509.Name,
    key: SigningKey,
    *,
    serial: int,
    not_before: datetime,
    not_after: datetime,
    path_length: int | None = 1,
) -> x509.Certificate:
    """A self-signed root CA certificate (critical BasicConstraints and KeyUsage)."""
    start, end = _validity(not_before, not_after)
    constraints = x509.BasicConstraints(ca=True, path_length=_path_length(path_length))
    builder = (
        _base(subject, key.public_key, subject, serial, start, end)
        .add_extension(constraints, critical=True)
        .add_extension(_usage(cert_sign=True), critical=True)
        .add_extension(_aki(None, key.public_key), critical=False)
    )
    return _sign(builder, key, None)


def build_intermediate(
    subject: x509.Name,
    subject_public_key: PublicKeyTypes,
    issuer_cert: x509.Certificate,
    issuer_key: SigningKey,
    *,
    serial: int,
    not_before: datetime,
    not_after: datetime,
    crl_url: str | None = None,
    ocsp_url: str | None = None,
    path_length: int | None = 0,
) -> x509.Certificate:
    """An intermediate CA certificate issued by ``issuer_cert`` (CRL and OCSP pointers when
    given); ``path_length`` must stay below the issuer's."""
    start, end = _validity(not_before, not_after)
    _check_issuer(issuer_cert, issuer_key, start, end, issuing_ca=True)
    path_length = _path_length(path_length)
    limit = _ext(issuer_cert, x509.BasicConstraints)
    if (
        limit is not None
        and limit.path_length is not None
        and (path_length is None or path_length >= limit.path_length)
    ):
        raise InvalidInput(
            f"must be below the issuer's path length {limit.path_length}", field="path_length"
        )
    builder = (
        _base(subject, subject_public_key, issuer_cert.subject, serial, start, end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(_usage(cert_sign=True), critical=True)
        .add_extension(_aki(issuer_cert, issuer_key.public_key), critical=False)
    )
    return _sign(_revocation_pointers(builder, crl_url, ocsp_url), issuer_key, issuer_cert)


def _leaf(
    purpose: x509.ObjectIdentifier,
    purpose_critical: bool,
    extra: Sequence[x509.ExtensionType],
    /,
    *,
    subject: x509.Name,
    subject_public_key: PublicKeyTypes,
    issuer_cert: x509.Certificate,
    issuer_key: SigningKey,
    serial: int,
    not_before: datetime,
    not_after: datetime,
    crl_url: str | None = None,
    ocsp_url: str | None = None,
) -> x509.Certificate:
    """An end-entity certificate with one extended key usage (the public builders' arguments
    arrive as keywords: ``**locals()`` at their first line)."""
    start, end = _validity(not_before, not_after)
    _check_issuer(issuer_cert, issuer_key, start, end, issuing_ca=False)
    builder = (
        _base(subject, subject_public_key, issuer_cert.subject, serial, start, end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([purpose]), critical=purpose_critical)
        .add_extension(_aki(issuer_cert, issuer_key.public_key), critical=False)
    )
    for extension in extra:
        builder = builder.add_extension(extension, critical=False)
    return _sign(_revocation_pointers(builder, crl_url, ocsp_url), issuer_key, issuer_cert)


def build_code_signing(
    subject: x509.Name,
    subject_public_key: PublicKeyTypes,
    issuer_cert: x509.Certificate,
    issuer_key: SigningKey,
    *,
    serial: int,
    not_before: datetime,
    not_after: datetime,
    crl_url: str | None = None,
    ocsp_url: str | None = None,
) -> x509.Certificate:
    """A code-signing certificate: EKU codeSigning (non-critical, as the CA/B code-signing
    baseline requirements profile it), KU digitalSignature (critical), CA=False, and the CRL
    distribution point and OCSP access when given."""
    return _leaf(ExtendedKeyUsageOID.CODE_SIGNING, False, [], **locals())


def build_timestamping(
    subject: x509.Name,
    subject_public_key: PublicKeyTypes,
    issuer_cert: x509.Certificate,
    issuer_key: SigningKey,
    *,
    serial: int,
    not_before: datetime,
    not_after: datetime,
    crl_url: str | None = None,
    ocsp_url: str | None = None,
) -> x509.Certificate:
    """A TSA certificate: EKU with only timeStamping, critical (RFC 3161 §2.3), KU
    digitalSignature (critical), CA=False."""
    return _leaf(ExtendedKeyUsageOID.TIME_STAMPING, True, [], **locals())


def build_ocsp_signing(
    subject: x509.Name,
    subject_public_key: PublicKeyTypes,
    issuer_cert: x509.Certificate,
    issuer_key: SigningKey,
    *,
    serial: int,
    not_before: datetime,
    not_after: datetime,
) -> x509.Certificate:
    """A delegated OCSP responder certificate: EKU OCSPSigning and id-pkix-ocsp-nocheck
    (RFC 6960 §4.2.2.2), KU digitalSignature (critical), CA=False."""
    return _leaf(ExtendedKeyUsageOID.OCSP_SIGNING, False, [x509.OCSPNoCheck()], **locals())

"""Test helpers for code signing: an in-memory CA chain made with ``cryptography`` keys.

``pki()`` builds root → intermediate → code-signing leaf; ``issue()`` makes any other
certificate (wrong EKU, expired, not yet valid, rogue root). Nothing touches the disk.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from maat.signing.bundle import sign_bundle, statement_for
from maat.signing.verify import RevocationAnswer

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
"""The time tests verify at (the same as ``maat_testkit.FakeClock``'s start)."""

BEFORE = NOW - timedelta(days=365)
AFTER = NOW + timedelta(days=365)
CODE_SIGNING = ExtendedKeyUsageOID.CODE_SIGNING
SERVER_AUTH = ExtendedKeyUsageOID.SERVER_AUTH


def new_key(kind: str = "p256") -> PrivateKey:
    """A fresh private key: ``p256``, ``p384``, ``rsa2048`` or ``rsa1024``."""
    if kind == "p256":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "p384":
        return ec.generate_private_key(ec.SECP384R1())
    if kind == "rsa2048":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if kind == "rsa1024":
        return rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - weak on purpose
    raise ValueError(kind)


@dataclass(frozen=True)
class Issued:
    """A certificate and its private key."""

    cert: x509.Certificate
    key: PrivateKey = field(repr=False)

    @property
    def subject(self) -> str:
        return self.cert.subject.rfc4514_string()

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


def issue(
    subject: str,
    *,
    issuer: Issued | None = None,
    key: PrivateKey | None = None,
    ca: bool = False,
    path_length: int | None = None,
    eku: Iterable[x509.ObjectIdentifier] | None = (CODE_SIGNING,),
    key_cert_sign: bool | None = None,
    not_before: datetime = BEFORE,
    not_after: datetime = AFTER,
    basic_constraints: bool = True,
    hash_algorithm: hashes.SHA256 | hashes.SHA384 | None = None,
    extra: Iterable[tuple[x509.ExtensionType, bool]] = (),
) -> Issued:
    """Issue a certificate for ``subject`` (an RFC 4514 DN); self-signed when no ``issuer``."""
    key = key or new_key()
    name = x509.Name.from_rfc4514_string(subject)
    signer_key = issuer.key if issuer else key
    issuer_name = issuer.cert.subject if issuer else name
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
    )
    if basic_constraints:
        builder = builder.add_extension(
            x509.BasicConstraints(ca=ca, path_length=path_length if ca else None), True
        )
    cert_sign = ca if key_cert_sign is None else key_cert_sign
    builder = builder.add_extension(
        x509.KeyUsage(
            digital_signature=not ca,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=cert_sign,
            crl_sign=ca,
            encipher_only=False,
            decipher_only=False,
        ),
        True,
    )
    if eku is not None and not ca:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), False)
    for extension, critical in extra:
        builder = builder.add_extension(extension, critical)
    algorithm: hashes.SHA256 | hashes.SHA384 = hash_algorithm or (
        hashes.SHA384()
        if isinstance(signer_key, ec.EllipticCurvePrivateKey)
        and signer_key.curve.name == "secp384r1"
        else hashes.SHA256()
    )
    return Issued(builder.sign(signer_key, algorithm), key)


def signer_for(key: PrivateKey) -> Callable[[bytes], bytes]:
    """The ``signer`` callable :func:`sign_bundle` expects, for ``key``."""

    def sign(message: bytes) -> bytes:
        if isinstance(key, rsa.RSAPrivateKey):
            return key.sign(message, padding.PKCS1v15(), hashes.SHA256())
        digest = hashes.SHA384() if key.curve.name == "secp384r1" else hashes.SHA256()
        return key.sign(message, ec.ECDSA(digest))

    return sign


@dataclass(frozen=True)
class Pki:
    """A root, an intermediate and a code-signing leaf."""

    root: Issued
    intermediate: Issued
    leaf: Issued

    @property
    def chain(self) -> list[x509.Certificate]:
        """Leaf first, no root — as a bundle carries it."""
        return [self.leaf.cert, self.intermediate.cert]

    @property
    def roots(self) -> list[x509.Certificate]:
        return [self.root.cert]


def pki(
    *,
    leaf_key: str = "p256",
    leaf_subject: str = "CN=Acme ERP Code Signing,O=Acme Software,C=TW",
    root_subject: str = "CN=Maat Test Root,O=Maat Test",
    ca_subject: str = "CN=Maat Test Code Signing CA,O=Maat Test",
    **leaf_options: Any,
) -> Pki:
    """A fresh test PKI: 'Maat Test Root' → 'Maat Test Code Signing CA' → the leaf."""
    root = issue(root_subject, ca=True, path_length=1, key=new_key("p384"))
    inter = issue(ca_subject, issuer=root, ca=True, path_length=0)
    leaf = issue(leaf_subject, issuer=inter, key=new_key(leaf_key), **leaf_options)
    return Pki(root, inter, leaf)


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def sign_file(
    data: bytes,
    name: str,
    kit: Pki,
    *,
    leaf: Issued | None = None,
    chain: list[x509.Certificate] | None = None,
    product: str | None = "Acme ERP",
    version: str | None = "7.2.1",
    timestamp_token: bytes | None = None,
    signer: str | None = None,
) -> bytes:
    """A bundle for ``data`` signed by ``leaf`` (default: the kit's leaf)."""
    leaf = leaf or kit.leaf
    predicate: dict[str, str] = {"signer": signer or leaf.subject}
    if product is not None:
        predicate["product"] = product
    if version is not None:
        predicate["version"] = version
    statement = statement_for(name, hashlib.sha256(data).hexdigest(), predicate)
    return sign_bundle(
        statement,
        signer_for(leaf.key),
        chain if chain is not None else [leaf.cert, kit.intermediate.cert],
        keyid="test",
        timestamp_token=timestamp_token,
    )


@dataclass
class FakeRevocation:
    """A revocation source answering from a dict keyed by serial (default ``good``)."""

    answers: dict[int, RevocationAnswer] = field(default_factory=dict)
    default: RevocationAnswer = RevocationAnswer("good", source="test CRL")
    asked: list[int] = field(default_factory=list)

    def status(self, cert: x509.Certificate, at: datetime) -> RevocationAnswer:
        self.asked.append(cert.serial_number)
        return self.answers.get(cert.serial_number, self.default)

    def revoke(self, cert: x509.Certificate, at: datetime, reason: x509.ReasonFlags | None) -> None:
        self.answers[cert.serial_number] = RevocationAnswer("revoked", at, reason, "test CRL")

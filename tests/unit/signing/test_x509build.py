"""Certificates signed through a SigningKey: chains, profiles, key identifiers, input checks."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

from maat.errors import InvalidInput, VerificationFailed
from maat.signing import x509build as xb

NOW = datetime(2026, 1, 1, tzinfo=UTC)
CRL_URL = "http://pki.example.test/intermediate.crl"
OCSP_URL = "http://pki.example.test/ocsp"
ALGORITHMS = ["ec-p256", "ec-p384", "rsa-3072"]

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def new_key(algorithm: str) -> PrivateKey:
    if algorithm == "ec-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm == "ec-p384":
        return ec.generate_private_key(ec.SECP384R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=3072)


@dataclass
class Chain:
    algorithm: str
    root_key: PrivateKey
    inter_key: PrivateKey
    leaf_key: PrivateKey
    root: x509.Certificate
    inter: x509.Certificate
    leaf: x509.Certificate
    tsa: x509.Certificate
    responder: x509.Certificate


def build_chain(algorithm: str, now: datetime = NOW) -> Chain:
    root_key, inter_key, leaf_key = new_key(algorithm), new_key(algorithm), new_key(algorithm)
    root_signer, inter_signer = xb.software_key(root_key), xb.software_key(inter_key)
    root = xb.build_root(
        xb.subject_name("Maat Test Root", "Maat", country="TW"),
        root_signer,
        serial=xb.random_serial(),
        not_before=now,
        not_after=now + timedelta(days=3650),
    )
    inter = xb.build_intermediate(
        xb.subject_name("Maat Test Intermediate", "Maat"),
        inter_key.public_key(),
        root,
        root_signer,
        serial=xb.random_serial(),
        not_before=now,
        not_after=now + timedelta(days=1825),
        crl_url=CRL_URL,
        ocsp_url=OCSP_URL,
    )
    window = {"not_before": now, "not_after": now + timedelta(days=365)}
    leaf = xb.build_code_signing(
        xb.subject_name("Vendor Signer", "Vendor Ltd"),
        leaf_key.public_key(),
        inter,
        inter_signer,
        serial=xb.random_serial(),
        crl_url=CRL_URL,
        ocsp_url=OCSP_URL,
        **window,
    )
    tsa = xb.build_timestamping(
        xb.subject_name("Maat TSA"),
        leaf_key.public_key(),
        inter,
        inter_signer,
        serial=xb.random_serial(),
        **window,
    )
    responder = xb.build_ocsp_signing(
        xb.subject_name("Maat OCSP"),
        leaf_key.public_key(),
        inter,
        inter_signer,
        serial=xb.random_serial(),
        **window,
    )
    return Chain(algorithm, root_key, inter_key, leaf_key, root, inter, leaf, tsa, responder)


@pytest.fixture(scope="module", params=ALGORITHMS)
def chain(request: pytest.FixtureRequest) -> Chain:
    return build_chain(str(request.param))


E = TypeVar("E", bound=x509.ExtensionType)


def ext(cert: x509.Certificate, kind: type[E]) -> x509.Extension[E]:
    return cert.extensions.get_extension_for_class(kind)


def ski_of(key: PrivateKey) -> bytes:
    return x509.SubjectKeyIdentifier.from_public_key(key.public_key()).digest


# --- chains ----------------------------------------------------------------------------------


def test_chain_verifies_with_cryptography(chain: Chain) -> None:
    chain.root.verify_directly_issued_by(chain.root)
    chain.inter.verify_directly_issued_by(chain.root)
    for cert in (chain.leaf, chain.tsa, chain.responder):
        cert.verify_directly_issued_by(chain.inter)


def test_signature_algorithm_follows_the_issuer_key(chain: Chain) -> None:
    expected = hashes.SHA384 if chain.algorithm == "ec-p384" else hashes.SHA256
    for cert in (chain.root, chain.inter, chain.leaf):
        assert isinstance(cert.signature_hash_algorithm, expected)
    family = "RSA" if chain.algorithm.startswith("rsa") else "ecdsa"
    assert family.lower() in (chain.leaf.signature_algorithm_oid._name or "").lower()


def test_openssl_verifies_the_chain(chain: Chain, tmp_path: Path) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    current = build_chain(chain.algorithm, datetime.now(UTC) - timedelta(minutes=1))
    for name, cert in (("root", current.root), ("inter", current.inter), ("leaf", current.leaf)):
        (tmp_path / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    result = subprocess.run(
        [
            openssl,
            "verify",
            "-CAfile",
            str(tmp_path / "root.pem"),
            "-untrusted",
            str(tmp_path / "inter.pem"),
            "-purpose",
            "any",
            str(tmp_path / "leaf.pem"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- profiles --------------------------------------------------------------------------------


def test_root_profile(chain: Chain) -> None:
    root = chain.root
    assert root.issuer == root.subject
    constraints = ext(root, x509.BasicConstraints)
    assert constraints.critical and constraints.value == x509.BasicConstraints(
        ca=True, path_length=1
    )
    usage = ext(root, x509.KeyUsage)
    assert usage.critical and usage.value.key_cert_sign and usage.value.crl_sign
    assert not usage.value.digital_signature
    assert ext(root, x509.SubjectKeyIdentifier).value.digest == ski_of(chain.root_key)
    assert ext(root, x509.AuthorityKeyIdentifier).value.key_identifier == ski_of(chain.root_key)


def test_intermediate_profile(chain: Chain) -> None:
    inter = chain.inter
    constraints = ext(inter, x509.BasicConstraints)
    assert constraints.critical and constraints.value == x509.BasicConstraints(
        ca=True, path_length=0
    )
    usage = ext(inter, x509.KeyUsage)
    assert usage.critical and usage.value.key_cert_sign and usage.value.crl_sign
    assert ext(inter, x509.SubjectKeyIdentifier).value.digest == ski_of(chain.inter_key)
    assert ext(inter, x509.AuthorityKeyIdentifier).value.key_identifier == ski_of(chain.root_key)
    points = ext(inter, x509.CRLDistributionPoints).value
    assert [p.full_name[0].value for p in points if p.full_name] == [CRL_URL]


def test_code_signing_profile(chain: Chain) -> None:
    leaf = chain.leaf
    constraints = ext(leaf, x509.BasicConstraints)
    assert constraints.critical and not constraints.value.ca
    usage = ext(leaf, x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature
    assert not (usage.value.key_cert_sign or usage.value.crl_sign)
    eku = ext(leaf, x509.ExtendedKeyUsage)
    assert not eku.critical and list(eku.value) == [ExtendedKeyUsageOID.CODE_SIGNING]
    # key identifiers come from the real keys, never from the throw-away key
    assert ext(leaf, x509.SubjectKeyIdentifier).value.digest == ski_of(chain.leaf_key)
    assert ext(leaf, x509.AuthorityKeyIdentifier).value.key_identifier == ski_of(chain.inter_key)
    points = ext(leaf, x509.CRLDistributionPoints)
    assert not points.critical
    assert [p.full_name[0].value for p in points.value if p.full_name] == [CRL_URL]
    access = ext(leaf, x509.AuthorityInformationAccess)
    assert [(a.access_method, a.access_location.value) for a in access.value] == [
        (AuthorityInformationAccessOID.OCSP, OCSP_URL)
    ]
    assert leaf.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) == chain.leaf_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_timestamping_profile(chain: Chain) -> None:
    eku = ext(chain.tsa, x509.ExtendedKeyUsage)
    assert eku.critical and list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]
    assert ext(chain.tsa, x509.KeyUsage).value.digital_signature
    assert not ext(chain.tsa, x509.BasicConstraints).value.ca


def test_ocsp_signing_profile(chain: Chain) -> None:
    eku = ext(chain.responder, x509.ExtendedKeyUsage)
    assert list(eku.value) == [ExtendedKeyUsageOID.OCSP_SIGNING]
    assert ext(chain.responder, x509.OCSPNoCheck)


def test_leaf_without_urls_has_no_revocation_pointers(chain: Chain) -> None:
    cert = xb.build_code_signing(
        xb.subject_name("No URLs"),
        chain.leaf_key.public_key(),
        chain.inter,
        xb.software_key(chain.inter_key),
        serial=xb.random_serial(),
        not_before=NOW,
        not_after=NOW + timedelta(days=1),
    )
    oids = {e.oid for e in cert.extensions}
    assert x509.CRLDistributionPoints.oid not in oids
    assert x509.AuthorityInformationAccess.oid not in oids


def test_the_signer_receives_exactly_the_tbs() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    seen: list[bytes] = []
    inner = xb.software_key(key)

    def sign(data: bytes) -> bytes:
        seen.append(data)
        return inner.sign(data)

    root = xb.build_root(
        xb.subject_name("R"),
        xb.SigningKey(key.public_key(), sign),
        serial=7,
        not_before=NOW,
        not_after=NOW + timedelta(days=1),
    )
    assert seen == [root.tbs_certificate_bytes]
    assert root.serial_number == 7


# --- failing closed and input checks ----------------------------------------------------------


def test_a_signer_with_another_key_fails_closed() -> None:
    key, other = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    wrong = xb.SigningKey(key.public_key(), xb.software_key(other).sign)
    with pytest.raises(VerificationFailed, match="does not verify"):
        xb.build_root(
            xb.subject_name("R"), wrong, serial=1, not_before=NOW, not_after=NOW + timedelta(days=1)
        )


def test_a_signer_returning_garbage_fails_closed() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(VerificationFailed):
        xb.build_root(
            xb.subject_name("R"),
            xb.SigningKey(key.public_key(), lambda _: b"\x30\x00"),
            serial=1,
            not_before=NOW,
            not_after=NOW + timedelta(days=1),
        )


def test_issuer_key_must_match_issuer_certificate(chain: Chain) -> None:
    with pytest.raises(InvalidInput) as caught:
        xb.build_code_signing(
            xb.subject_name("X"),
            chain.leaf_key.public_key(),
            chain.inter,
            xb.software_key(chain.root_key),
            serial=1,
            not_before=NOW,
            not_after=NOW + timedelta(days=1),
        )
    assert caught.value.location.field == "issuer_key"


def test_leaf_cannot_outlive_its_issuer(chain: Chain) -> None:
    with pytest.raises(InvalidInput) as caught:
        xb.build_code_signing(
            xb.subject_name("X"),
            chain.leaf_key.public_key(),
            chain.inter,
            xb.software_key(chain.inter_key),
            serial=1,
            not_before=NOW,
            not_after=NOW + timedelta(days=4000),
        )
    assert caught.value.location.field == "not_after"


def test_path_length_and_ca_rules(chain: Chain) -> None:
    inter_signer = xb.software_key(chain.inter_key)
    window = {"serial": 5, "not_before": NOW, "not_after": NOW + timedelta(days=1)}
    with pytest.raises(InvalidInput, match="path length 0"):
        xb.build_intermediate(
            xb.subject_name("Sub"), chain.leaf_key.public_key(), chain.inter, inter_signer, **window
        )
    with pytest.raises(InvalidInput, match="not a CA"):
        xb.build_code_signing(
            xb.subject_name("X"),
            chain.leaf_key.public_key(),
            chain.leaf,
            xb.software_key(chain.leaf_key),
            **window,
        )
    with pytest.raises(InvalidInput) as caught:
        xb.build_intermediate(
            xb.subject_name("Sub"),
            chain.leaf_key.public_key(),
            chain.root,
            xb.software_key(chain.root_key),
            path_length=1,
            **window,
        )
    assert caught.value.location.field == "path_length"


@pytest.mark.parametrize(
    "make",
    [
        lambda: ec.generate_private_key(ec.SECP521R1()),
        lambda: ed25519.Ed25519PrivateKey.generate(),
        lambda: rsa.generate_private_key(public_exponent=65537, key_size=1024),  # noqa: S505
    ],
    ids=["p521", "ed25519", "rsa1024"],
)
def test_unsupported_keys_are_refused(make: object) -> None:
    key = make()  # type: ignore[operator]
    with pytest.raises(InvalidInput):
        xb.build_root(
            xb.subject_name("R"),
            xb.SigningKey(key.public_key(), lambda d: b""),
            serial=1,
            not_before=NOW,
            not_after=NOW + timedelta(days=1),
        )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"not_before": datetime(2026, 1, 1)}, "not_before"),  # naive on purpose
        ({"not_after": NOW}, "not_after"),
        ({"serial": 0}, "serial"),
        ({"serial": -5}, "serial"),
        ({"serial": 2**159}, "serial"),
        ({"path_length": -1}, "path_length"),
    ],
)
def test_root_input_checks(changes: dict[str, object], field: str) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    arguments: dict[str, object] = {
        "serial": 1,
        "not_before": NOW,
        "not_after": NOW + timedelta(days=1),
        **changes,
    }
    with pytest.raises(InvalidInput) as caught:
        xb.build_root(xb.subject_name("R"), xb.software_key(key), **arguments)  # type: ignore[arg-type]
    assert caught.value.location.field == field


def test_bad_urls_are_refused(chain: Chain) -> None:
    for url, field in (("ftp://x/crl", "crl_url"), ("http://x/a b", "crl_url")):
        with pytest.raises(InvalidInput) as caught:
            xb.build_code_signing(
                xb.subject_name("X"),
                chain.leaf_key.public_key(),
                chain.inter,
                xb.software_key(chain.inter_key),
                serial=1,
                not_before=NOW,
                not_after=NOW + timedelta(days=1),
                crl_url=url,
            )
        assert caught.value.location.field == field


def test_random_serials_are_159_bit_positive_and_distinct() -> None:
    serials = {xb.random_serial() for _ in range(200)}
    assert len(serials) == 200
    assert all(s.bit_length() == 159 for s in serials)


def test_subject_name_builds_and_normalises_the_country() -> None:
    name = xb.subject_name("Signer", "Vendor Ltd", "Build", "tw")
    assert name.rfc4514_string() == "CN=Signer,OU=Build,O=Vendor Ltd,C=TW"


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        (("",), "common_name"),
        (("x" * 65,), "common_name"),
        ((" padded",), "common_name"),
        (("a\x00b",), "common_name"),
        (("CN", "o" * 65), "organisation"),
        (("CN", None, ""), "org_unit"),
        (("CN", None, None, "TWN"), "country"),
        (("CN", None, None, "1A"), "country"),
    ],
)
def test_subject_name_checks(arguments: tuple[object, ...], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        xb.subject_name(*arguments)  # type: ignore[arg-type]
    assert caught.value.location.field == field

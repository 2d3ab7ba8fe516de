"""CRLs signed through a SigningKey, and the constant-time CrlIndex over loaded CRLs."""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from maat.errors import InvalidInput, VerificationFailed
from maat.signing import x509build as xb
from maat.signing.crl import CrlIndex, RevokedEntry, build_crl

NOW = datetime(2026, 1, 1, tzinfo=UTC)
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


def make_ca(key: PrivateKey, name: str = "Maat Test CA") -> x509.Certificate:
    return xb.build_root(
        xb.subject_name(name),
        xb.software_key(key),
        serial=xb.random_serial(),
        not_before=NOW,
        not_after=NOW + timedelta(days=3650),
    )


@pytest.fixture(scope="module", params=ALGORITHMS)
def ca(request: pytest.FixtureRequest) -> tuple[PrivateKey, x509.Certificate]:
    key = new_key(str(request.param))
    return key, make_ca(key)


@pytest.fixture(scope="module")
def small() -> tuple[x509.Certificate, bytes]:
    return _SMALL


ENTRIES = [
    RevokedEntry(1001, NOW - timedelta(days=3), x509.ReasonFlags.key_compromise),
    RevokedEntry(1002, NOW - timedelta(days=2), None),
    RevokedEntry(1003, NOW - timedelta(days=1), x509.ReasonFlags.unspecified),
    RevokedEntry(2**158 + 5, NOW - timedelta(hours=1), x509.ReasonFlags.superseded),
]


def test_crl_round_trip(ca: tuple[PrivateKey, x509.Certificate]) -> None:
    key, cert = ca
    crl = build_crl(
        cert,
        xb.software_key(key),
        ENTRIES,
        this_update=NOW,
        next_update=NOW + timedelta(days=7),
        number=42,
    )
    assert crl.is_signature_valid(cert.public_key())  # type: ignore[arg-type]
    assert crl.issuer == cert.subject
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 42
    aki = crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    revoked = crl.get_revoked_certificate_by_serial_number(1001)
    assert revoked is not None and revoked.revocation_date_utc == NOW - timedelta(days=3)

    for data in (crl.public_bytes(DER), crl.public_bytes(PEM)):
        index = CrlIndex.load(data, issuer=cert, source="test.crl")
        assert index.verified and len(index) == 4 and index.number == 42
        assert index.issuer == cert.subject
        assert (index.this_update, index.next_update) == (NOW, NOW + timedelta(days=7))
        assert index.status(1001) == ENTRIES[0]
        assert index.status(1002) == ENTRIES[1]
        # "unspecified" is left out of the CRL (RFC 5280 §5.3.1), so it reads back as None
        assert index.status(1003) == RevokedEntry(1003, ENTRIES[2].revoked_at, None)
        assert index.status(2**158 + 5) == ENTRIES[3]
        assert index.status(1004) is None
        assert 1001 in index and 1004 not in index


def test_is_current() -> None:
    index = CrlIndex(
        issuer=x509.Name([]),
        this_update=NOW,
        next_update=NOW + timedelta(days=1),
        number=None,
        entries={},
        verified=True,
    )
    assert not index.is_current(NOW - timedelta(seconds=1))
    assert index.is_current(NOW)
    assert index.is_current(NOW + timedelta(hours=23))
    assert not index.is_current(NOW + timedelta(days=1))
    never = CrlIndex(
        issuer=x509.Name([]),
        this_update=NOW,
        next_update=None,
        number=None,
        entries={},
        verified=True,
    )
    assert not never.is_current(NOW)
    with pytest.raises(InvalidInput):
        index.is_current(datetime(2026, 1, 1))  # naive


def test_empty_crl() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = make_ca(key)
    crl = build_crl(
        cert,
        xb.software_key(key),
        [],
        this_update=NOW,
        next_update=NOW + timedelta(days=1),
        number=0,
    )
    index = CrlIndex.load(crl.public_bytes(DER), issuer=cert)
    assert len(index) == 0 and index.number == 0


def test_crl_signed_by_another_key_is_refused(small: tuple[x509.Certificate, bytes]) -> None:
    cert, _ = small
    impostor_key = ec.generate_private_key(ec.SECP256R1())
    impostor = make_ca(impostor_key)  # same subject name, other key
    assert impostor.subject == cert.subject
    forged = build_crl(
        impostor,
        xb.software_key(impostor_key),
        ENTRIES,
        this_update=NOW,
        next_update=NOW + timedelta(days=7),
        number=2,
    )
    with pytest.raises(InvalidInput, match="signature"):
        CrlIndex.load(forged.public_bytes(DER), issuer=cert)
    # without an issuer the CRL loads, but says it was not verified
    assert not CrlIndex.load(forged.public_bytes(DER)).verified


def test_crl_of_another_issuer_name_is_refused(small: tuple[x509.Certificate, bytes]) -> None:
    _, data = small
    other_key = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(InvalidInput, match="issued by"):
        CrlIndex.load(data, issuer=make_ca(other_key, "Other CA"))


def test_issuer_must_be_allowed_to_sign_crls() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = make_ca(key)
    leaf = xb.build_code_signing(
        xb.subject_name("Leaf"),
        key.public_key(),
        ca_cert,
        xb.software_key(key),
        serial=9,
        not_before=NOW,
        not_after=NOW + timedelta(days=1),
    )
    with pytest.raises(InvalidInput, match="not a CA"):
        build_crl(
            leaf,
            xb.software_key(key),
            [],
            this_update=NOW,
            next_update=NOW + timedelta(days=1),
            number=1,
        )


def test_a_signer_with_another_key_fails_closed() -> None:
    key, other = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    cert = make_ca(key)
    wrong = xb.SigningKey(key.public_key(), xb.software_key(other).sign)
    with pytest.raises(VerificationFailed):
        build_crl(cert, wrong, [], this_update=NOW, next_update=NOW + timedelta(days=1), number=1)


@pytest.mark.parametrize(
    ("entries", "changes", "field"),
    [
        ([RevokedEntry(5, NOW), RevokedEntry(5, NOW)], {}, "revoked[1].serial"),
        ([RevokedEntry(0, NOW)], {}, "revoked[0].serial"),
        ([RevokedEntry(5, datetime(2026, 1, 1))], {}, "revoked[0].revoked_at"),  # naive
        ([RevokedEntry(5, NOW, x509.ReasonFlags.remove_from_crl)], {}, "revoked[0].reason"),
        ([], {"next_update": NOW}, "next_update"),
        ([], {"number": -1}, "number"),
        ([], {"number": 2**160}, "number"),
    ],
)
def test_build_input_checks(
    entries: list[RevokedEntry], changes: dict[str, object], field: str
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = make_ca(key)
    arguments: dict[str, object] = {
        "this_update": NOW,
        "next_update": NOW + timedelta(days=1),
        "number": 1,
        **changes,
    }
    with pytest.raises(InvalidInput) as caught:
        build_crl(cert, xb.software_key(key), entries, **arguments)  # type: ignore[arg-type]
    assert caught.value.location.field == field


def _crl_with(
    key: PrivateKey,
    cert: x509.Certificate,
    *,
    extension: x509.ExtensionType | None = None,
    critical: bool = False,
    entry_extension: x509.ExtensionType | None = None,
) -> bytes:
    """A CRL made directly with cryptography and a real key (for shapes build_crl refuses)."""
    entry = x509.RevokedCertificateBuilder().serial_number(77).revocation_date(NOW)
    if entry_extension is not None:
        entry = entry.add_extension(entry_extension, critical=True)
    builder = x509.CertificateRevocationListBuilder(
        issuer_name=cert.subject,
        last_update=NOW,
        next_update=NOW + timedelta(days=1),
        revoked_certificates=[entry.build()],
    )
    if extension is not None:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(key, hashes.SHA256()).public_bytes(DER)  # type: ignore[arg-type]


def test_delta_indirect_and_unknown_critical_crls_are_refused() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = make_ca(key)
    cases = {
        "delta": _crl_with(key, cert, extension=x509.DeltaCRLIndicator(3), critical=True),
        "indirect": _crl_with(
            key,
            cert,
            entry_extension=x509.CertificateIssuer(
                [x509.DirectoryName(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "X")]))]
            ),
        ),
        "unknown critical": _crl_with(
            key,
            cert,
            critical=True,
            extension=x509.UnrecognizedExtension(
                x509.ObjectIdentifier("1.3.6.1.4.1.55555.1"), b"\x05\x00"
            ),
        ),
    }
    for name, data in cases.items():
        with pytest.raises(InvalidInput):
            CrlIndex.load(data, issuer=cert)
        assert name
    plain = _crl_with(key, cert)
    assert CrlIndex.load(plain, issuer=cert).status(77) is not None


def test_size_limit_and_garbage() -> None:
    with pytest.raises(InvalidInput, match="larger"):
        CrlIndex.load(b"\x30" * 100, max_bytes=10)
    with pytest.raises(InvalidInput) as caught:
        CrlIndex.load(b"-----BEGIN X509 CRL-----\nnope\n-----END X509 CRL-----\n", source="x.pem")
    assert caught.value.location.file == "x.pem"


def test_load_100k_entry_crl(capsys: pytest.CaptureFixture[str]) -> None:
    """Loading (parse, verify, index) 100,000 entries: target ≤ 1 s; measured and printed."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = make_ca(key)
    base = 2**158
    entries = [
        x509.RevokedCertificateBuilder()
        .serial_number(base + i)
        .revocation_date(NOW)
        .add_extension(x509.CRLReason(x509.ReasonFlags.key_compromise), critical=False)
        .build()
        if i % 4 == 0
        else x509.RevokedCertificateBuilder().serial_number(base + i).revocation_date(NOW).build()
        for i in range(100_000)
    ]
    crl = (
        x509.CertificateRevocationListBuilder(
            issuer_name=cert.subject,
            last_update=NOW,
            next_update=NOW + timedelta(days=7),
            revoked_certificates=entries,
        )
        .add_extension(x509.CRLNumber(100), critical=False)
        .sign(key, hashes.SHA256())
    )
    data = crl.public_bytes(DER)
    timings = []
    for _ in range(3):
        start = time.perf_counter()
        index = CrlIndex.load(data, issuer=cert)
        timings.append(time.perf_counter() - start)
    start = time.perf_counter()
    for i in range(0, 200_000, 2):
        index.status(base + i)
    lookup = (time.perf_counter() - start) / 100_000
    with capsys.disabled():
        print(
            f"\n100k-entry CRL ({len(data) / 1e6:.1f} MB): load+verify+index "
            f"best {min(timings):.3f} s, worst {max(timings):.3f} s; "
            f"status() {lookup * 1e6:.2f} µs per lookup"
        )
    assert len(index) == 100_000
    assert index.status(base) == RevokedEntry(base, NOW, x509.ReasonFlags.key_compromise)
    assert index.status(base + 1) == RevokedEntry(base + 1, NOW, None)
    assert index.status(base + 100_000) is None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_fuzz_arbitrary_bytes_raise_only_invalid_input(data: bytes) -> None:
    with contextlib.suppress(InvalidInput):
        CrlIndex.load(data)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_fuzz_mutated_crls_raise_only_invalid_input(small_crl: st.DataObject) -> None:
    cert, data = _SMALL
    position = small_crl.draw(st.integers(0, len(data) - 1))
    value = small_crl.draw(st.integers(0, 255))
    cut = small_crl.draw(st.integers(position + 1, len(data)))
    mutated = data[:position] + bytes([value]) + data[position + 1 : cut]
    with contextlib.suppress(InvalidInput):  # anything else (even another MaatError) fails
        CrlIndex.load(mutated, issuer=cert)


def _small_crl() -> tuple[x509.Certificate, bytes]:
    """A small valid CRL and its issuer, made once (hypothesis tests cannot take fixtures)."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = make_ca(key)
    crl = build_crl(
        cert,
        xb.software_key(key),
        ENTRIES,
        this_update=NOW,
        next_update=NOW + timedelta(days=7),
        number=1,
    )
    return cert, crl.public_bytes(DER)


_SMALL = _small_crl()

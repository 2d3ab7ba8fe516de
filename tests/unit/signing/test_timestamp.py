"""RFC 3161 time-stamp tokens from Maat's TSA and from others, and their verification."""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import cms, tsp  # type: ignore[import-untyped]
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID
from hypothesis import given, settings
from hypothesis import strategies as st

from maat.errors import InvalidInput, VerificationFailed
from maat.signing import timestamp
from maat.signing import x509build as xb

NOW = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)
ALGORITHMS = ["ec-p256", "ec-p384", "rsa-3072"]
IMPRINT = hashlib.sha256(b"signature bytes of an artifact").digest()
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
class Tsa:
    algorithm: str
    root_key: PrivateKey
    root: x509.Certificate
    key: PrivateKey
    cert: x509.Certificate

    def token(self, imprint: bytes = IMPRINT, **extra: object) -> bytes:
        arguments: dict[str, object] = {"gen_time": NOW + timedelta(hours=1), "serial": 4711}
        arguments.update(extra)
        return timestamp.build_token(
            imprint, tsa_cert=self.cert, tsa_key=xb.software_key(self.key), **arguments
        )  # type: ignore[arg-type]


def make_tsa(algorithm: str, now: datetime = NOW) -> Tsa:
    root_key, key = new_key(algorithm), new_key(algorithm)
    signer = xb.software_key(root_key)
    root = xb.build_root(
        xb.subject_name("Maat TSA Root"),
        signer,
        serial=xb.random_serial(),
        not_before=now,
        not_after=now + 3650 * DAY,
    )
    cert = xb.build_timestamping(
        xb.subject_name("Maat TSA", "Maat"),
        key.public_key(),
        root,
        signer,
        serial=xb.random_serial(),
        not_before=now,
        not_after=now + 365 * DAY,
    )
    return Tsa(algorithm, root_key, root, key, cert)


@pytest.fixture(scope="module", params=ALGORITHMS)
def tsa(request: pytest.FixtureRequest) -> Tsa:
    return make_tsa(str(request.param))


# --- Maat's own tokens -----------------------------------------------------------------------


def test_build_and_verify(tsa: Tsa) -> None:
    gen_time = NOW + timedelta(hours=1, microseconds=250_000)
    token = tsa.token(gen_time=gen_time, nonce=2**70 + 3, accuracy=timedelta(milliseconds=1500))
    assert (
        timestamp.verify_token(token, expected_imprint=IMPRINT, trusted_tsa=[tsa.cert]) == gen_time
    )
    info = timestamp.verify_token_details(
        token, expected_imprint=IMPRINT, trust_roots=[tsa.root], expected_nonce=2**70 + 3
    )
    assert info.trusted and info.tsa_cert == tsa.cert
    assert (info.gen_time, info.serial, info.nonce) == (gen_time, 4711, 2**70 + 3)
    assert info.policy_oid == timestamp.DEFAULT_POLICY_OID
    untrusted = timestamp.verify_token_details(token, expected_imprint=IMPRINT)
    assert not untrusted.trusted and untrusted.gen_time == gen_time


def test_token_structure_checked_with_asn1crypto(tsa: Tsa) -> None:
    token = tsa.token(nonce=99, policy_oid="1.3.6.1.4.1.99999.1")
    info = cms.ContentInfo.load(token, strict=True)
    assert info["content_type"].native == "signed_data"
    signed = info["content"]
    digest = "sha384" if tsa.algorithm == "ec-p384" else "sha256"
    assert signed["version"].native == "v3"
    assert [a["algorithm"].native for a in signed["digest_algorithms"]] == [digest]
    assert signed["encap_content_info"]["content_type"].native == "tst_info"
    tst = signed["encap_content_info"]["content"].parsed
    assert isinstance(tst, tsp.TSTInfo)
    assert tst["version"].native == "v1"
    assert tst["policy"].native == "1.3.6.1.4.1.99999.1"
    assert tst["message_imprint"]["hash_algorithm"]["algorithm"].native == "sha256"
    assert tst["message_imprint"]["hashed_message"].native == IMPRINT
    assert tst["serial_number"].native == 4711
    assert tst["nonce"].native == 99
    assert tst["gen_time"].native == NOW + timedelta(hours=1)
    assert tst["tsa"].name == "directory_name"
    assert [c.chosen.dump() for c in signed["certificates"]] == [tsa.cert.public_bytes(DER)]
    (signer,) = signed["signer_infos"]
    assert signer["version"].native == "v1"
    assert signer["sid"].name == "issuer_and_serial_number"
    assert signer["sid"].chosen["serial_number"].native == tsa.cert.serial_number
    assert signer["digest_algorithm"]["algorithm"].native == digest
    attributes = {a["type"].native: a["values"] for a in signer["signed_attrs"]}
    assert set(attributes) == {"content_type", "message_digest", "signing_certificate_v2"}
    assert attributes["content_type"][0].native == "tst_info"
    tst_der = signed["encap_content_info"]["content"].parsed.dump()
    assert attributes["message_digest"][0].native == hashlib.new(digest, tst_der).digest()
    (ess,) = attributes["signing_certificate_v2"][0]["certs"]
    assert ess["hash_algorithm"]["algorithm"].native == "sha256"
    assert ess["cert_hash"].native == hashlib.sha256(tsa.cert.public_bytes(DER)).digest()
    assert ess["issuer_serial"]["serial_number"].native == tsa.cert.serial_number
    family = "rsassa_pkcs1v15" if tsa.algorithm.startswith("rsa") else "ecdsa"
    assert signer["signature_algorithm"].signature_algo == family


def test_openssl_verifies_maat_tokens(tmp_path: Path) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    now = datetime.now(UTC) - timedelta(minutes=1)
    for algorithm in ("ec-p256", "rsa-3072"):
        live = make_tsa(algorithm, now)
        data = b"the artifact's signature"
        token = timestamp.build_token(
            hashlib.sha256(data).digest(),
            tsa_cert=live.cert,
            tsa_key=xb.software_key(live.key),
            gen_time=now,
            serial=1,
        )
        (tmp_path / "token.der").write_bytes(token)
        (tmp_path / "data").write_bytes(data)
        (tmp_path / "root.pem").write_bytes(live.root.public_bytes(PEM))
        (tmp_path / "tsa.pem").write_bytes(live.cert.public_bytes(PEM))
        result = subprocess.run(
            [
                openssl,
                "ts",
                "-verify",
                "-in",
                str(tmp_path / "token.der"),
                "-token_in",
                "-data",
                str(tmp_path / "data"),
                "-CAfile",
                str(tmp_path / "root.pem"),
                "-untrusted",
                str(tmp_path / "tsa.pem"),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0 and "Verification: OK" in result.stdout, result.stderr


def test_tampered_imprint_is_refused(tsa: Tsa) -> None:
    token = tsa.token()
    other = hashlib.sha256(b"another signature").digest()
    with pytest.raises(VerificationFailed, match="imprint"):
        timestamp.verify_token(token, expected_imprint=other, trusted_tsa=[tsa.cert])
    # rewrite the imprint inside the token: the signed message digest no longer matches
    assert token.count(IMPRINT) == 1
    forged = token.replace(IMPRINT, other)
    with pytest.raises(VerificationFailed, match="message digest"):
        timestamp.verify_token(forged, expected_imprint=other, trusted_tsa=[tsa.cert])


def test_tampered_signature_or_attributes_are_refused(tsa: Tsa) -> None:
    token = tsa.token()
    info = cms.ContentInfo.load(token)
    signer = info["content"]["signer_infos"][0]
    signature = bytearray(signer["signature"].native)
    signature[-1] ^= 1
    signer["signature"] = bytes(signature)
    with pytest.raises(VerificationFailed, match="signature"):
        timestamp.verify_token(
            info.dump(force=True), expected_imprint=IMPRINT, trusted_tsa=[tsa.cert]
        )
    # a token whose genTime was changed after signing
    late = token.replace(b"20260101010000Z", b"20260101020000Z")
    assert late != token
    with pytest.raises(VerificationFailed, match="message digest"):
        timestamp.verify_token(late, expected_imprint=IMPRINT, trusted_tsa=[tsa.cert])


def test_untrusted_tsa_is_refused(tsa: Tsa) -> None:
    token = tsa.token()
    stranger = make_tsa("ec-p256")
    with pytest.raises(VerificationFailed, match="not trusted"):
        timestamp.verify_token(token, expected_imprint=IMPRINT, trusted_tsa=[stranger.cert])
    with pytest.raises(VerificationFailed, match="not trusted"):
        timestamp.verify_token(token, expected_imprint=IMPRINT, trust_roots=[stranger.root])
    with pytest.raises(VerificationFailed, match="not trusted"):
        timestamp.verify_token(token, expected_imprint=IMPRINT, trusted_tsa=[])


def test_nonce_mismatch_is_refused() -> None:
    token = _TSA.token(nonce=5)
    with pytest.raises(VerificationFailed, match="nonce"):
        timestamp.verify_token(
            token, expected_imprint=IMPRINT, trusted_tsa=[_TSA.cert], expected_nonce=6
        )


def _code_signing_cert(tsa: Tsa, *, critical_ts: bool | None) -> x509.Certificate:
    """A certificate for the TSA key with the wrong usages, made by cryptography directly."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(xb.subject_name("Not a TSA"))
        .issuer_name(tsa.root.subject)
        .public_key(tsa.key.public_key())
        .serial_number(77)
        .not_valid_before(NOW)
        .not_valid_after(NOW + 30 * DAY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )
    if critical_ts is None:
        usage = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING])
        builder = builder.add_extension(usage, critical=False)
    else:
        usage = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING])
        builder = builder.add_extension(usage, critical=critical_ts)
    return builder.sign(tsa.root_key, hashes.SHA256())  # type: ignore[arg-type]


@pytest.mark.parametrize("critical_ts", [None, False], ids=["code-signing", "non-critical-eku"])
def test_tsa_certificate_without_critical_timestamping_eku(
    critical_ts: bool | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    tsa = _TSA
    wrong = _code_signing_cert(tsa, critical_ts=critical_ts)
    with pytest.raises(InvalidInput, match="timeStamping") as caught:
        timestamp.build_token(
            IMPRINT, tsa_cert=wrong, tsa_key=xb.software_key(tsa.key), gen_time=NOW + DAY, serial=1
        )
    assert caught.value.location.field == "tsa_cert"
    # a token made anyway (the build-side check switched off) is refused by the verifier
    monkeypatch.setattr(timestamp, "verify_token", lambda *a, **k: NOW)
    monkeypatch.setattr(timestamp, "_tsa_problem", lambda cert, when: None)
    token = timestamp.build_token(
        IMPRINT, tsa_cert=wrong, tsa_key=xb.software_key(tsa.key), gen_time=NOW + DAY, serial=1
    )
    monkeypatch.undo()
    with pytest.raises(VerificationFailed, match="timeStamping"):
        timestamp.verify_token(token, expected_imprint=IMPRINT, trust_roots=[tsa.root])


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"gen_time": NOW - DAY}, "tsa_cert"),  # before the TSA certificate is valid
        ({"gen_time": datetime(2026, 1, 2)}, "gen_time"),  # naive
        ({"serial": 0}, "serial"),
        ({"policy_oid": "not.an.oid"}, "policy_oid"),
        ({"nonce": -1}, "nonce"),
        ({"accuracy": timedelta(0)}, "accuracy"),
    ],
)
def test_build_input_checks(extra: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        _TSA.token(**extra)
    assert caught.value.location.field == field


def test_build_refuses_a_short_imprint_and_a_foreign_key() -> None:
    with pytest.raises(InvalidInput) as caught:
        _TSA.token(imprint=b"\x00" * 20)
    assert caught.value.location.field == "message_imprint_sha256"
    with pytest.raises(InvalidInput) as caught:
        timestamp.build_token(
            IMPRINT,
            tsa_cert=_TSA.cert,
            tsa_key=xb.software_key(_TSA.root_key),
            gen_time=NOW + DAY,
            serial=1,
        )
    assert caught.value.location.field == "tsa_key"


def test_a_signer_with_another_key_fails_closed() -> None:
    wrong = xb.SigningKey(_TSA.key.public_key(), xb.software_key(_TSA.root_key).sign)
    with pytest.raises(VerificationFailed):
        timestamp.build_token(
            IMPRINT, tsa_cert=_TSA.cert, tsa_key=wrong, gen_time=NOW + DAY, serial=1
        )


# --- tokens from other TSAs ------------------------------------------------------------------


def test_build_request_structure() -> None:
    request = tsp.TimeStampReq.load(timestamp.build_request(IMPRINT, nonce=12345), strict=True)
    assert request["version"].native == "v1"
    assert request["message_imprint"]["hashed_message"].native == IMPRINT
    assert request["nonce"].native == 12345 and request["cert_req"].native is True


def _openssl_tsa(tmp_path: Path, tsa: Tsa, openssl: str) -> Path:
    key = tsa.key.private_bytes(
        PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (tmp_path / "tsa.key").write_bytes(key)
    (tmp_path / "tsa.pem").write_bytes(tsa.cert.public_bytes(PEM))
    (tmp_path / "serial").write_text("1F\n")
    config = tmp_path / "ts.cnf"
    config.write_text(
        "[ tsa ]\ndefault_tsa = t\n[ t ]\n"
        f"serial = {tmp_path / 'serial'}\nsigner_cert = {tmp_path / 'tsa.pem'}\n"
        f"certs = {tmp_path / 'tsa.pem'}\nsigner_key = {tmp_path / 'tsa.key'}\n"
        "signer_digest = sha256\ndefault_policy = 1.2.3.4.1\ndigests = sha256\n"
        "accuracy = secs:1\nordering = no\ntsa_name = yes\ness_cert_id_alg = sha256\n"
        "crypto_device = builtin\nother_policies = 1.2.3.4.2\n"
    )
    return config


def test_tokens_from_an_external_tsa(tmp_path: Path) -> None:
    """OpenSSL acts as an external TSA; its TimeStampResp is unwrapped and verified."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    now = datetime.now(UTC) - timedelta(minutes=1)
    external = make_tsa("ec-p256", now)
    config = _openssl_tsa(tmp_path, external, openssl)
    (tmp_path / "req.tsq").write_bytes(timestamp.build_request(IMPRINT, nonce=424242))
    subprocess.run(
        [
            openssl,
            "ts",
            "-reply",
            "-config",
            str(config),
            "-queryfile",
            str(tmp_path / "req.tsq"),
            "-out",
            str(tmp_path / "resp.tsr"),
        ],
        capture_output=True,
        check=True,
    )
    token = timestamp.token_from_response((tmp_path / "resp.tsr").read_bytes())
    info = timestamp.verify_token_details(
        token, expected_imprint=IMPRINT, trust_roots=[external.root], expected_nonce=424242
    )
    assert info.trusted and info.policy_oid == "1.2.3.4.1" and info.serial == 0x20
    assert abs(info.gen_time - datetime.now(UTC)) < timedelta(minutes=5)
    with pytest.raises(VerificationFailed, match="imprint"):
        timestamp.verify_token(token, expected_imprint=bytes(32), trust_roots=[external.root])

    # a request with an algorithm the TSA does not accept is rejected with a reason
    rejected = tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {
                "hash_algorithm": {"algorithm": "sha512"},
                "hashed_message": hashlib.sha512(b"x").digest(),
            },
        }
    ).dump()
    (tmp_path / "bad.tsq").write_bytes(rejected)
    subprocess.run(
        [
            openssl,
            "ts",
            "-reply",
            "-config",
            str(config),
            "-queryfile",
            str(tmp_path / "bad.tsq"),
            "-out",
            str(tmp_path / "bad.tsr"),
        ],
        capture_output=True,
        check=True,
    )
    with pytest.raises(VerificationFailed, match="rejection") as caught:
        timestamp.token_from_response((tmp_path / "bad.tsr").read_bytes())
    assert "bad_alg" in caught.value.reasons


def test_token_from_response_without_token() -> None:
    granted_without_token = tsp.PKIStatusInfo({"status": "granted"}).dump()
    response = b"\x30" + bytes([len(granted_without_token)]) + granted_without_token
    with pytest.raises(VerificationFailed, match="no token"):
        timestamp.token_from_response(response)


# --- fuzz ------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_fuzz_verify_token_raises_only_maat_errors(data: bytes) -> None:
    with contextlib.suppress(InvalidInput, VerificationFailed):
        timestamp.verify_token(data, expected_imprint=IMPRINT, trusted_tsa=[_TSA.cert])


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_fuzz_token_from_response_raises_only_maat_errors(data: bytes) -> None:
    with contextlib.suppress(InvalidInput, VerificationFailed):
        timestamp.token_from_response(data)


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_fuzz_mutated_tokens_raise_only_maat_errors(data: st.DataObject) -> None:
    token = _TOKEN
    position = data.draw(st.integers(0, len(token) - 1))
    value = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(position + 1, len(token)))
    mutated = token[:position] + bytes([value]) + token[position + 1 : cut]
    with contextlib.suppress(InvalidInput, VerificationFailed):
        timestamp.verify_token(mutated, expected_imprint=IMPRINT, trust_roots=[_TSA.root])
    wrapped = (
        b"\x30"
        + bytes([0x82])
        + (len(mutated) + 5).to_bytes(2, "big")
        + (b"\x30\x03\x02\x01\x00" + mutated)
    )
    with contextlib.suppress(InvalidInput, VerificationFailed):
        timestamp.token_from_response(wrapped)


_TSA = make_tsa("ec-p256")
_TOKEN = _TSA.token(nonce=1)

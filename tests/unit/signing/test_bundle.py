"""The signature bundle: DSSE PAE, signing, strict parsing, and fuzzing of every parser path."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maat.errors import InvalidInput, PayloadTooLarge
from maat.signing.bundle import (
    BUNDLE_MEDIA_TYPE,
    PAYLOAD_TYPE,
    PREDICATE_TYPE,
    STATEMENT_TYPE,
    Predicate,
    Subject,
    add_timestamp,
    load_certificate,
    pae,
    parse_bundle,
    sign_bundle,
    statement_for,
    timestamp_imprint,
)
from signing_kit import Pki, pki, sign_file, signer_for

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DATA = b"Acme ERP 7.2.1 update\n"
LIMIT = 1_000_000


@pytest.fixture(scope="module")
def kit() -> Pki:
    return pki()


@pytest.fixture(scope="module")
def bundle_json(kit: Pki) -> bytes:
    return sign_file(DATA, "acme-erp-7.2.1.msi", kit)


def document(bundle_json: bytes) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(bundle_json)
    return doc


def dumps(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc).encode()


def parse_error(data: bytes) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        parse_bundle(data, source="erp.msi.maat-sig.json", max_bytes=LIMIT)
    assert caught.value.location.file == "erp.msi.maat-sig.json"
    return caught.value


# --- PAE --------------------------------------------------------------------------------------


def test_pae_is_exactly_the_dsse_v1_encoding_from_the_spec() -> None:
    assert pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_pae_counts_bytes_not_characters_so_types_cannot_be_confused() -> None:
    assert pae("é", b"") == b"DSSEv1 2 \xc3\xa9 0 "
    assert pae("a b", b"c") != pae("a", b"b c")


# --- signing and round trip ------------------------------------------------------------------


def test_signed_bundle_parses_back_to_the_same_statement_and_chain(
    kit: Pki, bundle_json: bytes
) -> None:
    bundle = parse_bundle(bundle_json, source="b", max_bytes=LIMIT)
    assert bundle.payload_type == PAYLOAD_TYPE
    assert bundle.statement.subjects == (
        Subject("acme-erp-7.2.1.msi", hashlib.sha256(DATA).hexdigest()),
    )
    assert bundle.statement.predicate == Predicate(kit.leaf.subject, "Acme ERP", "7.2.1")
    assert bundle.statement.predicate_type == PREDICATE_TYPE
    assert bundle.certificates == (kit.leaf.cert, kit.intermediate.cert)
    assert bundle.timestamp is None
    assert bundle.signature.keyid == "test"
    statement = json.loads(bundle.payload)
    assert statement["_type"] == STATEMENT_TYPE
    assert document(bundle_json)["mediaType"] == BUNDLE_MEDIA_TYPE


def test_bundle_never_carries_the_root(kit: Pki, bundle_json: bytes) -> None:
    pems = document(bundle_json)["verificationMaterial"]["certificates"]
    assert kit.root.cert.public_bytes(Encoding.PEM).decode() not in pems


def test_timestamper_is_asked_for_the_signature_imprint(kit: Pki) -> None:
    asked: list[bytes] = []

    def timestamper(imprint: bytes) -> bytes:
        asked.append(imprint)
        return b"token:" + imprint

    statement = statement_for(
        "a.bin", hashlib.sha256(b"a").hexdigest(), {"signer": kit.leaf.subject}
    )
    data = sign_bundle(statement, signer_for(kit.leaf.key), kit.chain, "k", timestamper=timestamper)
    bundle = parse_bundle(data, source="b", max_bytes=LIMIT)
    assert asked == [hashlib.sha256(bundle.signature.sig).digest()]
    assert bundle.timestamp == b"token:" + asked[0]
    assert bundle.timestamp_imprint() == timestamp_imprint(bundle.signature.sig)


def test_timestamp_can_be_attached_after_signing(bundle_json: bytes) -> None:
    stamped = parse_bundle(add_timestamp(bundle_json, b"\x30\x03tok"), source="b", max_bytes=LIMIT)
    assert stamped.timestamp == b"\x30\x03tok"
    assert stamped.signature == parse_bundle(bundle_json, source="b", max_bytes=LIMIT).signature


def test_signing_refuses_a_statement_naming_another_signer(kit: Pki) -> None:
    statement = statement_for("a", "0" * 64, {"signer": "CN=Microsoft Corporation"})
    with pytest.raises(InvalidInput) as caught:
        sign_bundle(statement, signer_for(kit.leaf.key), kit.chain, "k")
    assert caught.value.location.field == "predicate.signer"


@pytest.mark.parametrize(
    ("name", "digest", "predicate", "field"),
    [
        ("a", "xyz", {"signer": "CN=a"}, "subject[0].digest.sha256"),
        ("", "0" * 64, {"signer": "CN=a"}, "subject[0].name"),
        ("a", "0" * 64, {}, "predicate.signer"),
        ("a", "0" * 64, {"signer": "CN=a", "colour": "red"}, "predicate.colour"),
        ("a\nb", "0" * 64, {"signer": "CN=a"}, "subject[0].name"),
    ],
)
def test_statement_for_rejects_bad_values_with_the_field(
    name: str, digest: str, predicate: dict[str, str], field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        statement_for(name, digest, predicate)
    assert caught.value.location.field == field


# --- parsing: each malformation has its own error ---------------------------------------------


def test_truncated_bundle_is_reported_as_truncated(bundle_json: bytes) -> None:
    error = parse_error(bundle_json[: len(bundle_json) // 2])
    assert "truncated" in error.message
    assert error.location.line is not None


def test_empty_bundle_is_reported_as_empty() -> None:
    assert "empty" in parse_error(b"  \n").message


def test_malformed_pem_certificate_names_its_index(bundle_json: bytes) -> None:
    doc = document(bundle_json)
    pem = doc["verificationMaterial"]["certificates"][1]
    lines = pem.splitlines()
    lines[3] = lines[3][:10] + "!!!!" + lines[3][14:]
    doc["verificationMaterial"]["certificates"][1] = "\n".join(lines)
    error = parse_error(dumps(doc))
    assert error.location.field == "verificationMaterial.certificates[1]"
    assert error.message.startswith("malformed PEM certificate")


def test_der_instead_of_pem_in_the_bundle_is_refused(bundle_json: bytes, kit: Pki) -> None:
    doc = document(bundle_json)
    der = kit.leaf.cert.public_bytes(Encoding.DER)
    doc["verificationMaterial"]["certificates"][0] = base64.b64encode(der).decode()
    error = parse_error(dumps(doc))
    assert "malformed PEM certificate" in error.message


def test_malformed_der_certificate_is_invalid_input(kit: Pki) -> None:
    der = kit.leaf.cert.public_bytes(Encoding.DER)
    assert load_certificate(der, source="c.der") == kit.leaf.cert
    with pytest.raises(InvalidInput, match="malformed DER certificate") as caught:
        load_certificate(der[:-20], source="c.der", field="certificates[0]")
    assert caught.value.location.field == "certificates[0]"


def test_pem_with_two_certificates_is_refused(kit: Pki) -> None:
    with pytest.raises(InvalidInput, match="exactly one"):
        load_certificate(kit.leaf.cert_pem() + kit.intermediate.cert_pem(), source="c.pem")


@pytest.mark.parametrize(
    ("edit", "field", "words"),
    [
        (lambda d: d.update(extra=1), "extra", "unknown key"),
        (lambda d: d.pop("verificationMaterial"), "verificationMaterial", "missing"),
        (lambda d: d.update(mediaType="application/json"), "mediaType", "must be"),
        (
            lambda d: d["dsseEnvelope"].update(payloadType="text/plain"),
            "dsseEnvelope.payloadType",
            "must be",
        ),
        (lambda d: d["dsseEnvelope"].update(payload="###"), "dsseEnvelope.payload", "base64"),
        (
            lambda d: d["dsseEnvelope"]["signatures"][0].update(sig=""),
            "dsseEnvelope.signatures[0].sig",
            "empty",
        ),
        (
            lambda d: d["dsseEnvelope"]["signatures"].append({"sig": "AA=="}),
            "dsseEnvelope.signatures",
            "more than 1",
        ),
        (lambda d: d["dsseEnvelope"].update(signatures=[]), "dsseEnvelope.signatures", "empty"),
        (
            lambda d: d["verificationMaterial"].update(certificates=[]),
            "verificationMaterial.certificates",
            "empty",
        ),
        (
            lambda d: d["verificationMaterial"].update(certificates="pem"),
            "verificationMaterial.certificates",
            "array",
        ),
        (
            lambda d: d["verificationMaterial"].update(timestamp={"rfc3161": 5}),
            "verificationMaterial.timestamp.rfc3161",
            "string",
        ),
        (
            lambda d: d["verificationMaterial"].update(timestamp={"rfc3161": "AA==", "x": 1}),
            "verificationMaterial.timestamp.x",
            "unknown key",
        ),
    ],
)
def test_malformed_bundle_fields_are_named(
    bundle_json: bytes, edit: Any, field: str, words: str
) -> None:
    doc = document(bundle_json)
    edit(doc)
    error = parse_error(dumps(doc))
    assert error.location.field == field
    assert words in error.message


def replace_payload(bundle_json: bytes, statement: Any) -> bytes:
    doc = document(bundle_json)
    raw = statement if isinstance(statement, bytes) else json.dumps(statement).encode()
    doc["dsseEnvelope"]["payload"] = base64.b64encode(raw).decode()
    return dumps(doc)


@pytest.mark.parametrize(
    ("edit", "field", "words"),
    [
        (lambda s: s.update(_type="https://in-toto.io/Statement/v0.1"), "payload._type", "must be"),
        (
            lambda s: s.update(predicateType="https://slsa.dev/provenance/v1"),
            "payload.predicateType",
            "unsupported predicate type",
        ),
        (
            lambda s: s["subject"][0].update(digest={"sha512": "ab" * 64}),
            "payload.subject[0].digest.sha256",
            "missing",
        ),
        (
            lambda s: s["subject"][0]["digest"].update(sha256="AB" * 32),
            "payload.subject[0].digest.sha256",
            "lower-case hex",
        ),
        (lambda s: s.update(subject=[]), "payload.subject", "empty"),
        (lambda s: s["predicate"].update(signer=7), "payload.predicate.signer", "string"),
    ],
)
def test_malformed_statement_fields_are_named(
    bundle_json: bytes, edit: Any, field: str, words: str
) -> None:
    statement = json.loads(parse_bundle(bundle_json, source="b", max_bytes=LIMIT).payload)
    edit(statement)
    error = parse_error(replace_payload(bundle_json, statement))
    assert error.location.field == field
    assert words in error.message


def test_statement_with_a_duplicate_key_is_refused(bundle_json: bytes) -> None:
    payload = parse_bundle(bundle_json, source="b", max_bytes=LIMIT).payload
    twice = payload[:-1] + b',"_type":"' + STATEMENT_TYPE.encode() + b'"}'
    error = parse_error(replace_payload(bundle_json, twice))
    assert "twice" in error.message


def test_statement_that_is_not_json_names_the_payload(bundle_json: bytes) -> None:
    error = parse_error(replace_payload(bundle_json, b"\xff\xfe"))
    assert error.location.field == "dsseEnvelope.payload"


def test_oversized_bundle_is_refused_before_parsing(bundle_json: bytes) -> None:
    with pytest.raises(PayloadTooLarge):
        parse_bundle(bundle_json, source="b", max_bytes=len(bundle_json) - 1)


def test_nan_and_deep_nesting_are_refused() -> None:
    assert "not valid JSON" in parse_error(b'{"mediaType": NaN}').message
    assert "nested too deeply" in parse_error(b"[" * 100_000 + b"]" * 100_000).message


# --- fuzzing: only InvalidInput ever escapes ---------------------------------------------------


def parse_or_invalid(data: bytes) -> None:
    try:
        parse_bundle(data, source="fuzz", max_bytes=LIMIT)
    except InvalidInput as exc:
        error = exc
    else:
        return
    assert error.location.file == "fuzz"


@FUZZ
@given(st.binary(max_size=2_000))
def test_fuzz_random_bytes_only_raise_invalid_input(data: bytes) -> None:
    parse_or_invalid(data)


@FUZZ
@given(data=st.data())
def test_fuzz_mutated_bundles_only_raise_invalid_input(
    bundle_json: bytes, data: st.DataObject
) -> None:
    mutated = bytearray(bundle_json)
    for _ in range(data.draw(st.integers(1, 8))):
        position = data.draw(st.integers(0, len(mutated) - 1))
        mutated[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(mutated)))
    parse_or_invalid(bytes(mutated[:cut]) if data.draw(st.booleans()) else bytes(mutated))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths(item, (*prefix, index))
    return found


@FUZZ
@given(data=st.data())
def test_fuzz_structurally_edited_bundles_only_raise_invalid_input(
    bundle_json: bytes, data: st.DataObject
) -> None:
    doc = document(bundle_json)
    statement = json.loads(base64.b64decode(doc["dsseEnvelope"]["payload"]))
    target = data.draw(st.sampled_from(["bundle", "statement"]))
    tree = doc if target == "bundle" else statement
    path = data.draw(st.sampled_from(paths(tree)[1:]))
    parent = tree
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = data.draw(json_values)
    if target == "statement":
        doc["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    parse_or_invalid(dumps(doc))


def load_or_invalid(data: bytes) -> None:
    try:
        load_certificate(data, source="fuzz")
    except InvalidInput as exc:
        error = exc
    else:
        return
    assert error.message.startswith(("malformed", "certificate is larger"))


@FUZZ
@given(st.binary(max_size=1_500))
def test_fuzz_random_der_and_pem_only_raise_invalid_input(data: bytes) -> None:
    load_or_invalid(data)
    body = base64.encodebytes(data).decode()
    load_or_invalid(f"-----BEGIN CERTIFICATE-----\n{body}-----END CERTIFICATE-----\n".encode())


@FUZZ
@given(data=st.data())
def test_fuzz_mutated_der_certificates_only_raise_invalid_input(
    kit: Pki, data: st.DataObject
) -> None:
    der = bytearray(kit.leaf.cert.public_bytes(Encoding.DER))
    for _ in range(data.draw(st.integers(1, 6))):
        der[data.draw(st.integers(0, len(der) - 1))] = data.draw(st.integers(0, 255))
    load_or_invalid(bytes(der[: data.draw(st.integers(0, len(der)))]))
    load_or_invalid(bytes(der))

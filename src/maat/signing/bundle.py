"""The Maat signature bundle: an in-toto Statement in a DSSE envelope, plus its certificates.

A bundle travels next to the file it signs as ``FILE.maat-sig.json``::

    {
      "mediaType": "application/vnd.maat.signature-bundle.v1+json",
      "dsseEnvelope": {
        "payloadType": "application/vnd.in-toto+json",
        "payload": "<base64 of the Statement JSON>",
        "signatures": [{"keyid": "<hint>", "sig": "<base64 signature over PAE>"}]
      },
      "verificationMaterial": {
        "certificates": ["<PEM leaf>", "<PEM intermediate>", ...],
        "timestamp": {"rfc3161": "<base64 RFC 3161 token>"}
      }
    }

The Statement is in-toto v1: ``subject`` names the file and its SHA-256, ``predicateType`` is
:data:`PREDICATE_TYPE` and ``predicate`` is ``{signer, product?, version?}``. The predicate type
lives under the reserved ``.invalid`` top-level domain (RFC 2606): it can never resolve to or be
claimed by anyone else, and Maat does not need a resolvable URI because it only recognises its
own predicate; the ``/v1`` suffix versions the predicate's shape.

The envelope is signed over DSSE's pre-authentication encoding (:func:`pae`), so a signature for
one payload type can never be replayed as another. The certificate chain lists the leaf first
and leaves the root out: roots come from the verifier's trust store, never from the bundle.

The optional RFC 3161 timestamp covers the signature: its message imprint is
:func:`timestamp_imprint` (SHA-256 of the raw signature bytes), which proves the signature
existed at the token's time. Request it with that imprint and attach it with
:func:`add_timestamp`, or pass a ``timestamper`` to :func:`sign_bundle`.

Parsing is strict and bounded: unknown keys, duplicate keys, wrong types, bad base64, bad PEM,
more than one signature and oversized inputs are :class:`~maat.errors.InvalidInput` naming the
field path (``dsseEnvelope.signatures[0].sig``, ``payload.subject[0].digest.sha256``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding

from maat.errors import InvalidInput, PayloadTooLarge

# fmt: off
__all__ = [
    "BUNDLE_MEDIA_TYPE", "BUNDLE_SUFFIX", "PAYLOAD_TYPE", "PREDICATE_TYPE", "STATEMENT_TYPE",
    "Bundle", "Predicate", "Statement", "Subject", "add_timestamp", "load_certificate", "pae",
    "parse_bundle", "sign_bundle", "statement_for", "timestamp_imprint",
]
# fmt: on

BUNDLE_SUFFIX = ".maat-sig.json"
BUNDLE_MEDIA_TYPE = "application/vnd.maat.signature-bundle.v1+json"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://maat.invalid/signature/v1"

MAX_CERTIFICATES = 10
MAX_SUBJECTS = 1_000
MAX_TEXT = 4_096
MAX_SIGNATURE = 16_384
MAX_TOKEN = 65_536
MAX_CERTIFICATE = 65_536

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_B64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_B64_URL = re.compile(r"[A-Za-z0-9_-]*={0,2}")
_PEM_BEGIN = b"-----BEGIN CERTIFICATE-----"


# --- value types ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Subject:
    """One in-toto subject: a file name and its SHA-256 (lower-case hex)."""

    name: str
    sha256: str


@dataclass(frozen=True, slots=True)
class Predicate:
    """The Maat signature predicate: who signed (leaf subject DN), and optionally what."""

    signer: str
    product: str | None = None
    version: str | None = None

    def to_dict(self) -> dict[str, str]:
        """The JSON form (optional fields left out when absent)."""
        out = {"signer": self.signer}
        if self.product is not None:
            out["product"] = self.product
        if self.version is not None:
            out["version"] = self.version
        return out


@dataclass(frozen=True, slots=True)
class Statement:
    """A decoded, validated in-toto v1 Statement with the Maat signature predicate."""

    subjects: tuple[Subject, ...]
    predicate: Predicate
    predicate_type: str = PREDICATE_TYPE

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of the Statement."""
        return {
            "_type": STATEMENT_TYPE,
            "subject": [{"name": s.name, "digest": {"sha256": s.sha256}} for s in self.subjects],
            "predicateType": self.predicate_type,
            "predicate": self.predicate.to_dict(),
        }


@dataclass(frozen=True, slots=True)
class EnvelopeSignature:
    """One DSSE signature: an unauthenticated ``keyid`` hint and the raw signature bytes."""

    keyid: str
    sig: bytes


@dataclass(frozen=True)
class Bundle:
    """A parsed signature bundle. ``certificates`` is the chain, leaf first, without root."""

    source: str
    payload_type: str
    payload: bytes
    signatures: tuple[EnvelopeSignature, ...]
    statement: Statement
    certificates: tuple[x509.Certificate, ...]
    timestamp: bytes | None = None
    # The certificates' SHA-256 fingerprints, computed here from ``certificates`` (so a copy
    # made with ``dataclasses.replace`` recomputes them): bytes cache their hash, and
    # verification keys its chain cache on them instead of hashing each DER on every call.
    chain_key: tuple[bytes, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        digest = hashes.SHA256()
        object.__setattr__(
            self, "chain_key", tuple(cert.fingerprint(digest) for cert in self.certificates)
        )

    @property
    def signature(self) -> EnvelopeSignature:
        """The one signature of the envelope."""
        return self.signatures[0]

    @property
    def leaf(self) -> x509.Certificate:
        """The signing certificate."""
        return self.certificates[0]

    @property
    def intermediates(self) -> tuple[x509.Certificate, ...]:
        """The certificates after the leaf."""
        return self.certificates[1:]

    def timestamp_imprint(self) -> bytes:
        """The message imprint an RFC 3161 token for this bundle must carry."""
        return timestamp_imprint(self.signature.sig)


# --- PAE and helpers --------------------------------------------------------------------------


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding of ``payload`` with ``payload_type``.

    ``"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`` where LEN is the ASCII decimal
    byte length without leading zeros and the type is UTF-8 encoded.
    """
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(kind), kind, len(payload), payload)


def timestamp_imprint(signature: bytes) -> bytes:
    """SHA-256 of the raw envelope signature: what the RFC 3161 token must time-stamp."""
    return hashlib.sha256(signature).digest()


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _canonical(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


# --- readers ----------------------------------------------------------------------------------


class _Reader:
    """Typed field reads that raise :class:`InvalidInput` with the source and field path."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, path: str, message: str, *, hint: str | None = None) -> InvalidInput:
        return InvalidInput(message, file=self.source, field=path or None, hint=hint)

    def mapping(
        self, value: object, path: str, *, required: Sequence[str], optional: Sequence[str] = ()
    ) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(path, f"must be an object, got {_type_name(value)}")
        allowed = set(required) | set(optional)
        for key in value:
            if key not in allowed:
                raise self.fail(
                    _join(path, key),
                    f"unknown key {key[:40]!r}; expected {', '.join(sorted(allowed))}",
                )
        for key in required:
            if key not in value:
                raise self.fail(_join(path, key), "is missing")
        return value

    def text(self, value: object, path: str, *, max_len: int = MAX_TEXT) -> str:
        if not isinstance(value, str):
            raise self.fail(path, f"must be a string, got {_type_name(value)}")
        if len(value) > max_len:
            raise self.fail(path, f"is longer than {max_len} characters")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise self.fail(path, "contains a lone surrogate (not valid UTF-8)") from None
        return value

    def name(self, value: object, path: str) -> str:
        text = self.text(value, path)
        if not text.strip():
            raise self.fail(path, "must not be empty")
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
            raise self.fail(path, "must not contain control characters")
        return text

    def array(self, value: object, path: str, *, max_items: int) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(path, f"must be an array, got {_type_name(value)}")
        if not value:
            raise self.fail(path, "must not be empty")
        if len(value) > max_items:
            raise self.fail(path, f"has more than {max_items} entries")
        return value

    def b64(self, value: object, path: str, *, max_bytes: int) -> bytes:
        text = self.text(value, path, max_len=(max_bytes * 4) // 3 + 8)
        pattern = _B64_URL if ("-" in text or "_" in text) else _B64
        if not pattern.fullmatch(text) or len(text) % 4:
            raise self.fail(path, "is not valid padded base64 (standard or URL-safe alphabet)")
        try:
            if pattern is _B64_URL:
                return base64.urlsafe_b64decode(text)
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise self.fail(path, "is not valid base64") from None


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    return "number" if isinstance(value, int | float) else type(value).__name__


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


class _DuplicateKey(InvalidInput):
    """Internal: a JSON object repeats a key (caught in this module)."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _load_json(data: bytes, reader: _Reader, path: str, what: str) -> Any:
    """Parse JSON strictly: UTF-8, no duplicate keys, no NaN/Infinity, bounded nesting."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise reader.fail(path, f"{what} is not UTF-8 (byte {exc.start})") from None
    try:
        return json.loads(
            text, object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant
        )
    except _DuplicateKey as exc:
        raise reader.fail(path, f"{what} has the key {exc.key[:40]!r} twice") from None
    except json.JSONDecodeError as exc:
        if exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string"):
            raise InvalidInput(
                f"{what} is truncated: the JSON ends early ({exc.msg})",
                file=reader.source,
                line=exc.lineno,
                field=path or None,
            ) from None
        raise InvalidInput(
            f"{what} is not valid JSON: {exc.msg} at column {exc.colno}",
            file=reader.source,
            line=exc.lineno,
            field=path or None,
        ) from None
    except RecursionError:
        raise reader.fail(path, f"{what} is nested too deeply") from None
    except ValueError as exc:  # NaN/Infinity, integers beyond the digit limit
        raise reader.fail(path, f"{what} is not valid JSON: {str(exc)[:80]}") from None


# --- certificates -----------------------------------------------------------------------------


def load_certificate(data: bytes, *, source: str, field: str | None = None) -> x509.Certificate:
    """Load one X.509 certificate from PEM or DER bytes, fully decoded and checked.

    Every lazily parsed part a verifier touches (names, validity, extensions, serial) is
    decoded here, so a malformed certificate fails now as :class:`InvalidInput` instead of
    deep inside a verification step.
    """
    if len(data) > MAX_CERTIFICATE:
        raise InvalidInput(
            f"certificate is larger than {MAX_CERTIFICATE} bytes", file=source, field=field
        )
    is_pem = data.lstrip().startswith(b"-----")
    kind = "PEM" if is_pem else "DER"
    try:
        if is_pem:
            if data.count(_PEM_BEGIN) != 1:
                raise ValueError("expected exactly one CERTIFICATE block")
            cert = x509.load_pem_x509_certificate(data)
        else:
            cert = x509.load_der_x509_certificate(data)
        cert.subject.rfc4514_string()
        cert.issuer.rfc4514_string()
        _ = (cert.not_valid_before_utc, cert.not_valid_after_utc, cert.serial_number)
        for _extension in cert.extensions:
            pass
    except Exception as exc:  # cryptography raises ValueError and a few others on bad input
        raise InvalidInput(
            f"malformed {kind} certificate: {str(exc)[:120] or type(exc).__name__}",
            file=source,
            field=field,
        ) from None
    return cert


# --- statement --------------------------------------------------------------------------------


def _read_predicate(reader: _Reader, value: object, path: str) -> Predicate:
    raw = reader.mapping(value, path, required=("signer",), optional=("product", "version"))
    product = raw.get("product")
    version = raw.get("version")
    return Predicate(
        signer=reader.name(raw["signer"], _join(path, "signer")),
        product=None if product is None else reader.name(product, _join(path, "product")),
        version=None if version is None else reader.name(version, _join(path, "version")),
    )


def _read_statement(reader: _Reader, value: object, path: str) -> Statement:
    raw = reader.mapping(value, path, required=("_type", "subject", "predicateType", "predicate"))
    kind = reader.text(raw["_type"], _join(path, "_type"))
    if kind != STATEMENT_TYPE:
        raise reader.fail(_join(path, "_type"), f"must be {STATEMENT_TYPE!r}, got {kind[:80]!r}")
    predicate_type = reader.text(raw["predicateType"], _join(path, "predicateType"))
    if predicate_type != PREDICATE_TYPE:
        raise reader.fail(
            _join(path, "predicateType"),
            f"unsupported predicate type {predicate_type[:80]!r}; expected {PREDICATE_TYPE!r}",
        )
    subjects: list[Subject] = []
    items = reader.array(raw["subject"], _join(path, "subject"), max_items=MAX_SUBJECTS)
    for index, item in enumerate(items):
        where = f"{_join(path, 'subject')}[{index}]"
        entry = reader.mapping(item, where, required=("name", "digest"))
        digests = entry["digest"]
        if not isinstance(digests, dict) or not digests:
            raise reader.fail(_join(where, "digest"), "must be a non-empty object")
        for algorithm, hex_value in digests.items():
            reader.text(hex_value, f"{where}.digest.{algorithm[:20]}", max_len=256)
        if "sha256" not in digests:
            raise reader.fail(f"{where}.digest.sha256", "is missing")
        sha256 = digests["sha256"]
        if not _SHA256_HEX.fullmatch(sha256):
            raise reader.fail(f"{where}.digest.sha256", "must be 64 lower-case hex characters")
        subjects.append(Subject(reader.name(entry["name"], _join(where, "name")), sha256))
    predicate = _read_predicate(reader, raw["predicate"], _join(path, "predicate"))
    return Statement(tuple(subjects), predicate, predicate_type)


def statement_for(name: str, sha256_hex: str, predicate: Mapping[str, Any]) -> dict[str, Any]:
    """An in-toto v1 Statement (as a dict) saying that ``name`` with ``sha256_hex`` is signed.

    ``predicate`` holds ``signer`` (the leaf certificate's subject DN, RFC 4514) and,
    optionally, ``product`` and ``version``. Raises :class:`InvalidInput` for bad values.
    """
    statement = {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": name, "digest": {"sha256": str(sha256_hex).lower()}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": dict(predicate),
    }
    return _read_statement(_Reader("statement"), statement, "").to_dict()


# --- signing ----------------------------------------------------------------------------------


def sign_bundle(
    statement: Mapping[str, Any],
    signer: Callable[[bytes], bytes],
    chain: Sequence[x509.Certificate],
    keyid: str,
    timestamp_token: bytes | None = None,
    *,
    timestamper: Callable[[bytes], bytes] | None = None,
) -> bytes:
    """Sign ``statement`` and return the bundle as JSON bytes.

    1. Validate the statement (the same rules :func:`parse_bundle` applies) and check that
       its ``predicate.signer`` is the subject of ``chain[0]``, the leaf.
    2. Serialise the statement canonically (sorted keys, no spaces, UTF-8).
    3. Call ``signer`` on ``pae(PAYLOAD_TYPE, payload)``; it returns the raw signature
       (DER for ECDSA), typically made inside an HSM.
    4. Attach ``timestamp_token``, or the token ``timestamper`` returns for
       :func:`timestamp_imprint` of the signature (not both).
    5. Write the envelope and the chain (PEM, leaf first, no root).
    """
    reader = _Reader("statement")
    parsed = _read_statement(reader, dict(statement), "")
    if not chain:
        raise InvalidInput("the certificate chain is empty", field="chain")
    if len(chain) > MAX_CERTIFICATES:
        raise InvalidInput(f"more than {MAX_CERTIFICATES} certificates", field="chain")
    leaf_subject = chain[0].subject.rfc4514_string()
    if parsed.predicate.signer != leaf_subject:
        raise InvalidInput(
            f"predicate signer {parsed.predicate.signer!r} is not the leaf certificate's "
            f"subject {leaf_subject!r}",
            field="predicate.signer",
        )
    if timestamp_token is not None and timestamper is not None:
        raise InvalidInput("give a timestamp token or a timestamper, not both", field="timestamp")
    reader.text(keyid, "keyid", max_len=256)
    payload = _canonical(parsed.to_dict())
    signature = signer(pae(PAYLOAD_TYPE, payload))
    if timestamper is not None:
        timestamp_token = timestamper(timestamp_imprint(signature))
    material: dict[str, Any] = {
        "certificates": [c.public_bytes(Encoding.PEM).decode("ascii") for c in chain]
    }
    if timestamp_token is not None:
        material["timestamp"] = {"rfc3161": _b64encode(timestamp_token)}
    document = {
        "mediaType": BUNDLE_MEDIA_TYPE,
        "dsseEnvelope": {
            "payloadType": PAYLOAD_TYPE,
            "payload": _b64encode(payload),
            "signatures": [{"keyid": keyid, "sig": _b64encode(signature)}],
        },
        "verificationMaterial": material,
    }
    return json.dumps(document, indent=2, sort_keys=True).encode("utf-8") + b"\n"


def add_timestamp(bundle_json: bytes, token: bytes, *, source: str = "bundle") -> bytes:
    """The bundle with ``token`` as its RFC 3161 timestamp (replacing any present one)."""
    parse_bundle(bundle_json, source=source, max_bytes=max(len(bundle_json), 1))
    document = json.loads(bundle_json)
    document["verificationMaterial"]["timestamp"] = {"rfc3161": _b64encode(token)}
    return json.dumps(document, indent=2, sort_keys=True).encode("utf-8") + b"\n"


# --- parsing ----------------------------------------------------------------------------------


def parse_bundle(data: bytes, *, source: str, max_bytes: int) -> Bundle:
    """Parse and validate a signature bundle; nothing cryptographic is checked here.

    Raises :class:`~maat.errors.PayloadTooLarge` above ``max_bytes`` and
    :class:`~maat.errors.InvalidInput` (with the field path) for anything malformed or
    truncated. Signatures, chain and revocation are checked by :mod:`maat.signing.verify`.
    """
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"{source}: signature bundle is larger than {max_bytes} bytes")
    reader = _Reader(source)
    if not data.strip():
        raise reader.fail("", "signature bundle is empty (truncated?)")
    document = _load_json(data, reader, "", "signature bundle")
    top = reader.mapping(
        document, "", required=("mediaType", "dsseEnvelope", "verificationMaterial")
    )
    media_type = reader.text(top["mediaType"], "mediaType")
    if media_type != BUNDLE_MEDIA_TYPE:
        raise reader.fail("mediaType", f"must be {BUNDLE_MEDIA_TYPE!r}, got {media_type[:80]!r}")
    envelope = reader.mapping(
        top["dsseEnvelope"], "dsseEnvelope", required=("payloadType", "payload", "signatures")
    )
    payload_type = reader.text(envelope["payloadType"], "dsseEnvelope.payloadType")
    if payload_type != PAYLOAD_TYPE:
        raise reader.fail(
            "dsseEnvelope.payloadType", f"must be {PAYLOAD_TYPE!r}, got {payload_type[:80]!r}"
        )
    payload = reader.b64(envelope["payload"], "dsseEnvelope.payload", max_bytes=max_bytes)
    signatures = _read_signatures(reader, envelope["signatures"])
    statement = _read_statement(
        reader, _load_json(payload, reader, "dsseEnvelope.payload", "statement"), "payload"
    )
    certificates, token = _read_material(reader, top["verificationMaterial"])
    return Bundle(
        source=source,
        payload_type=payload_type,
        payload=payload,
        signatures=signatures,
        statement=statement,
        certificates=certificates,
        timestamp=token,
    )


def _read_signatures(reader: _Reader, value: object) -> tuple[EnvelopeSignature, ...]:
    path = "dsseEnvelope.signatures"
    items = reader.array(value, path, max_items=1)
    out: list[EnvelopeSignature] = []
    for index, item in enumerate(items):
        where = f"{path}[{index}]"
        entry = reader.mapping(item, where, required=("sig",), optional=("keyid",))
        keyid = reader.text(entry.get("keyid", ""), _join(where, "keyid"), max_len=256)
        sig = reader.b64(entry["sig"], _join(where, "sig"), max_bytes=MAX_SIGNATURE)
        if not sig:
            raise reader.fail(_join(where, "sig"), "is empty")
        out.append(EnvelopeSignature(keyid, sig))
    return tuple(out)


def _read_material(
    reader: _Reader, value: object
) -> tuple[tuple[x509.Certificate, ...], bytes | None]:
    path = "verificationMaterial"
    material = reader.mapping(value, path, required=("certificates",), optional=("timestamp",))
    items = reader.array(
        material["certificates"], f"{path}.certificates", max_items=MAX_CERTIFICATES
    )
    certificates: list[x509.Certificate] = []
    for index, item in enumerate(items):
        where = f"{path}.certificates[{index}]"
        text = reader.text(item, where, max_len=MAX_CERTIFICATE)
        if not text.lstrip().startswith("-----BEGIN CERTIFICATE-----"):
            raise reader.fail(where, "malformed PEM certificate: no BEGIN CERTIFICATE line")
        certificates.append(
            load_certificate(text.encode("utf-8"), source=reader.source, field=where)
        )
    token: bytes | None = None
    if "timestamp" in material:
        stamp = reader.mapping(material["timestamp"], f"{path}.timestamp", required=("rfc3161",))
        token = reader.b64(stamp["rfc3161"], f"{path}.timestamp.rfc3161", max_bytes=MAX_TOKEN)
        if not token:
            raise reader.fail(f"{path}.timestamp.rfc3161", "is empty")
    return tuple(certificates), token

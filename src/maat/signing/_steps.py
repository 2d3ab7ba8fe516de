"""Shared pieces of the verification steps: step names, results, and how certificates are named.

Used by :mod:`maat.signing.verify` (steps 0-2, 6, 7 and the procedure) and
:mod:`maat.signing.chain` (steps 3-5), so neither imports the other for them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from maat.core.decision import StepResult
from maat.errors import InvalidInput

MIN_RSA_BITS = 2048

# fmt: off
_NAMES = {0: "bundle", 1: "digest", 2: "envelope signature", 3: "chain",
          4: "extended key usage", 5: "validity", 6: "revocation", 7: "policy"}
# fmt: on


SignatureCheck = Callable[[bytes, bytes], "str | None"]
"""Checks ``(signature, message)``: ``None`` when the signature verifies, else why not."""

# The signature algorithm objects are immutable; built once, not per verification.
# fmt: off
_EC_ALGORITHMS: dict[str, ec.ECDSA] = {
    "secp256r1": ec.ECDSA(hashes.SHA256()), "secp384r1": ec.ECDSA(hashes.SHA384()),
}
# fmt: on
_BAD_SIGNATURE = "the signature does not verify with the leaf certificate's public key"


def signature_check(key: Any) -> SignatureCheck:
    """A :data:`SignatureCheck` for ``key``, whose type, curve and size are judged once here.

    Accepted: ECDSA P-256 with SHA-256, ECDSA P-384 with SHA-384 (DER signatures), RSA of at
    least 2048 bits with PKCS#1 v1.5 and SHA-256. Any other key gives a check that always
    answers why the key is refused.
    """
    if isinstance(key, ec.EllipticCurvePublicKey):
        algorithm = _EC_ALGORITHMS.get(key.curve.name)
        if algorithm is None:
            return _refusal(f"unsupported ECDSA curve {key.curve.name}; use P-256 or P-384")
        return _checker(lambda sig, msg: key.verify(sig, msg, algorithm))
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            return _refusal(f"RSA key of {key.key_size} bits is too weak (minimum {MIN_RSA_BITS})")
        scheme, digest = padding.PKCS1v15(), hashes.SHA256()
        return _checker(lambda sig, msg: key.verify(sig, msg, scheme, digest))
    return _refusal(f"unsupported key type {type(key).__name__}; use ECDSA P-256/P-384 or RSA")


def _checker(verify: Callable[[bytes, bytes], None]) -> SignatureCheck:
    def check(signature: bytes, message: bytes) -> str | None:
        try:
            verify(signature, message)
        except InvalidSignature:
            return _BAD_SIGNATURE
        except (ValueError, UnsupportedAlgorithm) as exc:
            return f"the signature cannot be checked: {exc}"
        return None

    return check


def _refusal(reason: str) -> SignatureCheck:
    return lambda signature, message: reason


def _ok(number: int, detail: str) -> StepResult:
    return StepResult(number, _NAMES[number], True, detail)


def _fail(number: int, detail: str) -> StepResult:
    return StepResult(number, _NAMES[number], False, detail)


@lru_cache(maxsize=4096)
def describe(cert: x509.Certificate) -> str:
    """``'CN=…,O=…' (serial 1a2b)`` — how details name a certificate (cached: certificates
    hash and compare by their DER, and formatting names is a large share of a verification)."""
    return f"{subject_text(cert)!r} (serial {cert.serial_number:x})"


@lru_cache(maxsize=4096)
def subject_text(cert: x509.Certificate) -> str:
    """The certificate's subject as RFC 4514 text (cached)."""
    return cert.subject.rfc4514_string()


def _aware(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise InvalidInput(f"{name} must be a timezone-aware datetime", field=name)
    return value


@lru_cache(maxsize=1024)  # details name the same few times ("now") over many verifications
def _iso(value: datetime) -> str:
    return value.isoformat(timespec="seconds")

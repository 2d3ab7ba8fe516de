"""Shared pieces of the verification steps: step names, results, and how certificates are named.

Used by :mod:`maat.signing.verify` (steps 0-2, 6, 7 and the procedure) and
:mod:`maat.signing.chain` (steps 3-5), so neither imports the other for them.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from cryptography import x509

from maat.core.decision import StepResult
from maat.errors import InvalidInput

MIN_RSA_BITS = 2048

# fmt: off
_NAMES = {0: "bundle", 1: "digest", 2: "envelope signature", 3: "chain",
          4: "extended key usage", 5: "validity", 6: "revocation", 7: "policy"}
# fmt: on


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


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="seconds")

"""RFC 6238 time-based one-time passwords with replay protection.

A code is accepted for time steps within ``valid_window`` of now, and only if its step is
later than the last step accepted for the same user: the same code (or an older one) cannot
be used twice, even within its validity window.
"""

from __future__ import annotations

import base64
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote, urlencode

import pyotp


@dataclass(frozen=True)
class TotpParams:
    """Digits, period and accepted clock drift (in steps)."""

    digits: int = 6
    period: int = 30
    valid_window: int = 1


@dataclass(frozen=True)
class TotpCheck:
    """The outcome of checking one code: ``step`` is set when it was accepted."""

    accepted: bool
    reason: str
    step: int | None = None


def new_secret() -> str:
    """A fresh 160-bit base32 secret (the size RFC 4226 recommends)."""
    return base64.b32encode(secrets.token_bytes(20)).decode("ascii")


def provisioning_uri(secret: str, *, account: str, issuer: str, params: TotpParams) -> str:
    """The ``otpauth://`` URI authenticator apps read from a QR code."""
    query = urlencode(
        {"secret": secret, "issuer": issuer, "digits": params.digits, "period": params.period}
    )
    return f"otpauth://totp/{quote(issuer)}:{quote(account)}?{query}"


def code_at(secret: str, step: int, params: TotpParams) -> str:
    """The code for time step ``step`` (used by tests and by the enrolment check)."""
    return str(pyotp.TOTP(secret, digits=params.digits, interval=params.period).generate_otp(step))


def current_step(now: datetime, params: TotpParams) -> int:
    """The RFC 6238 time step of ``now``."""
    return int(now.timestamp()) // params.period


def check_code(
    secret: str, code: str, *, now: datetime, last_step: int | None, params: TotpParams
) -> TotpCheck:
    """Check ``code`` against ``secret`` at ``now``.

    1. The code must be exactly ``digits`` decimal digits.
    2. It must equal the code of a step within the window around now (compared in
       constant time, every candidate step computed).
    3. Its step must be later than ``last_step``: a replay is refused.
    """
    code = code.strip().replace(" ", "")
    # isascii(): str.isdigit() also accepts other scripts' digits, which must not get further.
    if len(code) != params.digits or not (code.isascii() and code.isdigit()):
        return TotpCheck(False, f"code must be {params.digits} digits")
    now_step = current_step(now, params)
    matched: int | None = None
    for step in range(now_step - params.valid_window, now_step + params.valid_window + 1):
        if hmac.compare_digest(code_at(secret, step, params), code) and matched is None:
            matched = step
    if matched is None:
        return TotpCheck(False, "wrong code")
    if last_step is not None and matched <= last_step:
        return TotpCheck(False, "code already used (replay)")
    return TotpCheck(True, "ok", matched)

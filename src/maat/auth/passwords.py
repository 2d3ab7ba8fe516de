"""Password hashing (argon2id) and the password rules."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from maat.errors import InvalidInput

_HASHER = PasswordHasher()  # argon2id, library defaults (RFC 9106 low-memory profile)

# A valid hash of a random password: verifying against it when the user does not exist
# costs the same time as a real check, so response time does not reveal user names.
_DUMMY_HASH = _HASHER.hash("maat-dummy-password-for-timing")


def check_password_rules(password: str, *, min_length: int, max_length: int) -> None:
    """Reject passwords that are too short, too long or blank."""
    if len(password) > max_length:
        raise InvalidInput(f"password longer than {max_length} characters", field="password")
    if len(password) < min_length:
        raise InvalidInput(f"password shorter than {min_length} characters", field="password")
    if not password.strip():
        raise InvalidInput("password is blank", field="password")


def hash_password(password: str) -> str:
    """The argon2id hash of ``password``."""
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; constant work whether or not a hash is known."""
    try:
        return _HASHER.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash uses weaker parameters than today's defaults."""
    return _HASHER.check_needs_rehash(password_hash)

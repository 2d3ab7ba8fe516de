"""Bearer credentials: sessions and API tokens.

A credential is ``maat_<kind>_<id>_<secret>``. The id locates the stored row; only the
SHA-256 of the 256-bit random secret is stored, compared in constant time. (A slow hash is
unnecessary for secrets of that entropy and would make every API call cost milliseconds.)
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import StrEnum

from maat.errors import AuthenticationFailed


class CredentialKind(StrEnum):
    """What a bearer credential is."""

    SESSION = "s"
    API_TOKEN = "t"  # noqa: S105 - a kind tag, not a secret
    ENROLMENT = "e"


@dataclass(frozen=True)
class IssuedCredential:
    """A fresh credential: ``text`` goes to the user once, ``secret_hash`` to storage."""

    kind: CredentialKind
    id: str
    text: str
    secret_hash: str


@dataclass(frozen=True)
class PresentedCredential:
    """A credential as presented by a caller, split but not yet checked."""

    kind: CredentialKind
    id: str
    secret: str


def hash_secret(secret: str) -> str:
    """The stored form of a credential secret."""
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def issue(kind: CredentialKind, credential_id: str) -> IssuedCredential:
    """Create a credential for the row ``credential_id``."""
    secret = secrets.token_urlsafe(32).replace("_", "x").replace("-", "y")
    return IssuedCredential(
        kind=kind,
        id=credential_id,
        text=f"maat_{kind.value}_{credential_id}_{secret}",
        secret_hash=hash_secret(secret),
    )


def parse(text: str) -> PresentedCredential:
    """Split a presented credential; malformed text is an authentication failure."""
    text = text.strip()
    parts = text.split("_")
    # maat _ kind _ <prefix>_<ulid> _ secret  -> ids themselves contain one underscore.
    # Only ASCII letters and digits are accepted, so nothing odd reaches hashing or the store.
    if (
        len(text) > 512
        or len(parts) != 5
        or parts[0] != "maat"
        or not all(p.isascii() and p.isalnum() for p in parts)
    ):
        raise AuthenticationFailed("malformed credential")
    try:
        kind = CredentialKind(parts[1])
    except ValueError:
        raise AuthenticationFailed("malformed credential") from None
    return PresentedCredential(kind=kind, id=f"{parts[2]}_{parts[3]}", secret=parts[4])


def secret_matches(presented: PresentedCredential, stored_hash: str) -> bool:
    """Constant-time comparison of a presented secret with the stored hash."""
    return hmac.compare_digest(hash_secret(presented.secret), stored_hash)

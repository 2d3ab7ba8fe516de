"""Encryption at rest for secrets Maat must read back (TOTP seeds), and key derivation.

All keys derive from one 256-bit master secret by HKDF-SHA256 with a purpose label, so that
a key for one purpose reveals nothing about another.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from maat.errors import IntegrityError

MASTER_SECRET_BYTES = 32


def derive_key(master: bytes, purpose: str) -> bytes:
    """A 256-bit key for ``purpose`` derived from the master secret."""
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=f"maat/{purpose}".encode()
    ).derive(master)


class SecretBox:
    """AES-256-GCM with a random nonce; the purpose label is bound as associated data."""

    def __init__(self, master: bytes, purpose: str) -> None:
        self._purpose = purpose.encode()
        self._aead = AESGCM(derive_key(master, f"secretbox/{purpose}"))

    def seal(self, plaintext: bytes, *, context: str = "") -> bytes:
        """Encrypt; ``context`` (e.g. the user id) must be given again to open."""
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, plaintext, self._purpose + context.encode())

    def open(self, sealed: bytes, *, context: str = "") -> bytes:
        """Decrypt; fails on any change, a wrong key or a wrong context."""
        try:
            return self._aead.decrypt(sealed[:12], sealed[12:], self._purpose + context.encode())
        except (InvalidTag, ValueError):
            raise IntegrityError(
                "an encrypted secret cannot be decrypted",
                hint="the master secret file changed or the stored value was altered",
            ) from None

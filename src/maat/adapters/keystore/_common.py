"""What every key store adapter shares: algorithms, label rules, the key store error.

The port (:class:`maat.ports.KeyStore`) names keys by label and algorithms by the short names
below. Both adapters validate both the same way, so a label accepted by the development file
store is also accepted by the PKCS#11 store and the other way round.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes

from maat.errors import InvalidInput, MaatError

MAX_LABEL_LENGTH = 128
_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._:@+-]*")


class KeyStoreError(MaatError):
    """The key store cannot do what was asked (token locked or failing, files unreadable)."""

    status = 503
    slug = "keystore-unavailable"
    title = "Key store unavailable"


@dataclass(frozen=True)
class Algorithm:
    """One signing algorithm of the port: key type, size or curve, and the hash it signs with."""

    name: str
    kind: str  # "ec" | "rsa"
    curve: str  # "secp256r1" | "secp384r1" for EC, "" for RSA
    bits: int  # curve size or modulus size
    hash_name: str  # "sha256" | "sha384"

    def hash_algorithm(self) -> hashes.HashAlgorithm:
        """A fresh ``cryptography`` hash object for this algorithm."""
        return hashes.SHA384() if self.hash_name == "sha384" else hashes.SHA256()

    @property
    def coordinate_bytes(self) -> int:
        """Length of one EC coordinate (and of r and s in a raw signature)."""
        return (self.bits + 7) // 8


ALGORITHMS: dict[str, Algorithm] = {
    "ec-p256": Algorithm("ec-p256", "ec", "secp256r1", 256, "sha256"),
    "ec-p384": Algorithm("ec-p384", "ec", "secp384r1", 384, "sha384"),
    "rsa-3072": Algorithm("rsa-3072", "rsa", "", 3072, "sha256"),
}

# RSA keys found in a store (made elsewhere) are used with SHA-256 whatever their size.
MIN_RSA_BITS = 2048


def rsa_algorithm(bits: int) -> Algorithm:
    """The algorithm record for an RSA key of ``bits`` found in a store."""
    return (
        ALGORITHMS["rsa-3072"]
        if bits == 3072
        else Algorithm(f"rsa-{bits}", "rsa", "", bits, "sha256")
    )


def check_algorithm(algorithm: str) -> Algorithm:
    """The algorithm named ``algorithm``; ``InvalidInput`` naming the choices otherwise."""
    found = ALGORITHMS.get(algorithm)
    if found is None:
        raise InvalidInput(
            f"unknown key algorithm {algorithm!r}",
            field="algorithm",
            hint=f"use one of {', '.join(sorted(ALGORITHMS))}",
        )
    return found


def check_label(label: str) -> str:
    """``label`` if it is a usable key label; ``InvalidInput`` saying why not otherwise.

    A label starts with a letter or digit and continues with letters, digits, space and
    ``. _ : @ + -``, at most 128 characters: safe as a file name and as a PKCS#11 label.
    """
    if not isinstance(label, str) or not label:
        raise InvalidInput("a key label must not be empty", field="label")
    if len(label) > MAX_LABEL_LENGTH:
        raise InvalidInput(
            f"a key label is at most {MAX_LABEL_LENGTH} characters, this one has {len(label)}",
            field="label",
        )
    if not _LABEL.fullmatch(label):
        raise InvalidInput(
            f"key label {label!r} has characters that are not allowed",
            field="label",
            hint="start with a letter or digit; then use letters, digits, space and . _ : @ + -",
        )
    return label

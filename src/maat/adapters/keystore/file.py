"""A key store in a folder of encrypted PEM files. For development and demos only.

The private keys live on disk, not in an HSM: anyone who can read the folder and the master
secret can sign as Maat. Every construction therefore warns (``UnsafeOptionWarning``). Use the
PKCS#11 store (:mod:`maat.adapters.keystore.pkcs11`) anywhere that matters; SoftHSM2 is enough
for a small site.

Layout: one file ``<label>.pem`` per key, mode 0600, holding the PKCS#8 private key encrypted
with ``BestAvailableEncryption`` under a password derived from the master secret
(``derive_key(master, "file-keystore")``). The public key is computed from the private key
when asked for. A new key is written to a temporary file, synced, then linked to its final name,
so a crash never leaves a half-written key and two writers of the same label cannot both win.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from maat.adapters.keystore._common import (
    MIN_RSA_BITS,
    Algorithm,
    KeyStoreError,
    check_algorithm,
    check_label,
)
from maat.auth.secretbox import derive_key
from maat.errors import Conflict, IntegrityError, InvalidInput, NotFound, warn_unsafe

SUFFIX = ".pem"
MAX_KEY_FILE_BYTES = 64 * 1024
MIN_MASTER_BYTES = 16

_SigningKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


class UnsafeFileKeyStore:
    """Signing keys as encrypted PEM files in ``directory`` (development only).

    ``master`` is Maat's master secret; the PEM password is derived from it. Thread-safe: a
    lock serialises key generation, reads are independent.
    """

    def __init__(self, directory: Path, master: bytes) -> None:
        warn_unsafe("unsafe_file_keystore", "private keys live on disk, not in an HSM")
        if len(master) < MIN_MASTER_BYTES:
            raise InvalidInput(
                f"the master secret must be at least {MIN_MASTER_BYTES} bytes",
                field="master",
            )
        self._directory = Path(directory)
        self._password = derive_key(master, "file-keystore")
        self._lock = threading.Lock()
        try:
            self._directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise _os_error(exc, "create the key folder", self._directory) from None
        if not self._directory.is_dir():
            raise KeyStoreError(
                f"{self._directory} is not a folder",
                hint="point the file key store at a folder (it is created when missing)",
            )

    @property
    def directory(self) -> Path:
        """The folder holding the key files."""
        return self._directory

    def generate(self, label: str, algorithm: str) -> None:
        """Make a new key ``label``; ``Conflict`` if the label is taken."""
        check_label(label)
        chosen = check_algorithm(algorithm)
        key = _new_private_key(chosen)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(self._password),
        )
        target = self._path(label)
        with self._lock:
            try:
                fd, temporary = tempfile.mkstemp(prefix=".tmp-", dir=self._directory)
            except OSError as exc:
                raise _os_error(exc, "write a key file", self._directory) from None
            try:
                with os.fdopen(fd, "wb") as fh:  # mkstemp creates the file with mode 0600
                    fh.write(pem)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.link(temporary, target)  # fails if the label exists: never overwrites
            except FileExistsError:
                raise Conflict(
                    f"a key labelled {label!r} already exists",
                    hint="choose another label; keys are never overwritten",
                ) from None
            except OSError as exc:
                raise _os_error(exc, "write a key file", target) from None
            finally:
                _remove_quietly(Path(temporary))

    def public_key(self, label: str) -> PublicKeyTypes:
        """The public half of ``label``; ``NotFound`` if there is no such key."""
        return self._load(label).public_key()

    def sign(self, label: str, data: bytes) -> bytes:
        """Sign ``data`` with ``label``: ECDSA (DER) or RSA PKCS#1 v1.5, as ``cryptography`` does.

        P-256 and RSA sign with SHA-256, P-384 with SHA-384.
        """
        key = self._load(label)
        if isinstance(key, ec.EllipticCurvePrivateKey):
            chosen = _ec_algorithm(key.curve, self._path(label))
            return key.sign(data, ec.ECDSA(chosen.hash_algorithm()))
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())

    def labels(self) -> list[str]:
        """The labels of every key in the folder, sorted."""
        try:
            names = [p.name for p in self._directory.iterdir()]
        except OSError as exc:
            raise _os_error(exc, "list the key folder", self._directory) from None
        return sorted(
            n[: -len(SUFFIX)] for n in names if n.endswith(SUFFIX) and not n.startswith(".")
        )

    def close(self) -> None:
        """Nothing to release; present for the port."""

    def _path(self, label: str) -> Path:
        return self._directory / f"{check_label(label)}{SUFFIX}"

    def _load(self, label: str) -> _SigningKey:
        path = self._path(label)
        try:
            with path.open("rb") as fh:
                pem = fh.read(MAX_KEY_FILE_BYTES + 1)
        except FileNotFoundError:
            raise NotFound(
                f"no key labelled {label!r} in {self._directory}",
                hint="generate it first, or check the label",
            ) from None
        except OSError as exc:
            raise _os_error(exc, "read a key file", path) from None
        if len(pem) > MAX_KEY_FILE_BYTES:
            raise IntegrityError(f"key file {path} is larger than any key file Maat writes")
        try:
            key = serialization.load_pem_private_key(pem, password=self._password)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise IntegrityError(
                f"key file {path} cannot be decrypted or parsed",
                hint="the master secret changed since the key was made, or the file was altered",
            ) from None
        if isinstance(key, ec.EllipticCurvePrivateKey):
            _ec_algorithm(key.curve, path)
            return key
        if isinstance(key, rsa.RSAPrivateKey) and key.key_size >= MIN_RSA_BITS:
            return key
        raise IntegrityError(f"key file {path} holds a key type Maat does not sign with")


def _new_private_key(chosen: Algorithm) -> _SigningKey:
    if chosen.kind == "ec":
        curve: ec.EllipticCurve = ec.SECP384R1() if chosen.bits == 384 else ec.SECP256R1()
        return ec.generate_private_key(curve)
    return rsa.generate_private_key(public_exponent=65537, key_size=chosen.bits)


def _ec_algorithm(curve: ec.EllipticCurve, path: Path) -> Algorithm:
    if isinstance(curve, ec.SECP256R1):
        return check_algorithm("ec-p256")
    if isinstance(curve, ec.SECP384R1):
        return check_algorithm("ec-p384")
    raise IntegrityError(f"key file {path} holds a key on curve {curve.name}, not P-256 or P-384")


def _os_error(exc: OSError, doing: str, path: Path) -> KeyStoreError:
    """A key store error for an OS error met while ``doing`` on ``path``."""
    reason = exc.strerror or exc.__class__.__name__
    hint = "check the folder exists and belongs to the user running Maat (mode 0700)"
    if isinstance(exc, PermissionError):
        hint = f"the user running Maat needs read and write access to {path}"
    return KeyStoreError(f"cannot {doing}: {path}: {reason}", hint=hint)


def _remove_quietly(path: Path) -> None:
    # A stray temporary file is harmless: labels() ignores dot files.
    with contextlib.suppress(OSError):
        path.unlink()

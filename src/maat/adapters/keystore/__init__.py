"""Key store adapters for the :class:`maat.ports.KeyStore` port.

- :class:`~maat.adapters.keystore.pkcs11.Pkcs11KeyStore`: keys generated and used inside a
  PKCS#11 token (any HSM; SoftHSM2 for tests and small sites). The production choice.
- :class:`~maat.adapters.keystore.file.UnsafeFileKeyStore`: encrypted PEM files, for
  development only; every use warns.

:func:`from_settings` picks one from the configuration. The PKCS#11 adapter imports
``python-pkcs11`` only when it is chosen, so the file store works without it.
"""

from __future__ import annotations

import stat
from pathlib import Path
from typing import TYPE_CHECKING

from maat.adapters.keystore._common import (
    ALGORITHMS,
    Algorithm,
    KeyStoreError,
    check_algorithm,
    check_label,
)
from maat.adapters.keystore.file import UnsafeFileKeyStore
from maat.errors import ConfigError

if TYPE_CHECKING:
    from maat.config import Settings
    from maat.ports import KeyStore

__all__ = [
    "ALGORITHMS",
    "Algorithm",
    "KeyStoreError",
    "UnsafeFileKeyStore",
    "check_algorithm",
    "check_label",
    "file_keystore_directory",
    "from_settings",
    "read_pin",
]

MAX_PIN_FILE_BYTES = 4096


def file_keystore_directory(settings: Settings) -> Path:
    """Where the development file key store keeps its keys: ``<data_dir>/keys``."""
    return settings.data_dir / "keys"


def from_settings(settings: Settings, *, master: bytes | None = None) -> KeyStore:
    """The key store the settings ask for.

    ``signing.unsafe_file_keystore`` selects :class:`UnsafeFileKeyStore` in
    ``<data_dir>/keys`` (and warns); ``master`` is the master secret, read from the secret key
    file when not given. Otherwise the ``pkcs11`` section (module, token, and pin or pin_file)
    must be complete: a :class:`~maat.adapters.keystore.pkcs11.Pkcs11KeyStore` is returned,
    which opens the token on first use. Anything missing is a ``ConfigError`` saying how to
    configure it.
    """
    if settings.signing.unsafe_file_keystore:
        if master is None:
            # Imported here: services wire adapters, so this is the one upward reference,
            # and it keeps the master-secret rules (length, file mode) in one place.
            from maat.services.platform import read_master_secret

            master = read_master_secret(settings.effective_secret_key_file, create=False)
        return UnsafeFileKeyStore(file_keystore_directory(settings), master)

    p11 = settings.pkcs11
    missing = [
        variable
        for variable, value in (
            ("MAAT_PKCS11_MODULE", p11.module),
            ("MAAT_PKCS11_TOKEN", p11.token),
            ("MAAT_PKCS11_PIN (or MAAT_PKCS11_PIN_FILE)", p11.pin or p11.pin_file),
        )
        if not value
    ]
    if missing:
        raise ConfigError(
            "no key store is configured for signing"
            if len(missing) == 3
            else f"the PKCS#11 key store is not fully configured: {', '.join(missing)} missing",
            field="pkcs11",
            hint="set MAAT_PKCS11_MODULE (e.g. /usr/lib/softhsm/libsofthsm2.so), "
            "MAAT_PKCS11_TOKEN (the token label) and MAAT_PKCS11_PIN or MAAT_PKCS11_PIN_FILE "
            "(or the [pkcs11] section of maat.toml); for development only, "
            "signing.unsafe_file_keystore = true keeps keys in files instead",
        )
    pin = read_pin(p11.pin, p11.pin_file)
    try:
        from maat.adapters.keystore.pkcs11 import Pkcs11KeyStore
    except ImportError as exc:
        raise ConfigError(
            f"the PKCS#11 key store needs the python-pkcs11 package: {exc}",
            field="pkcs11.module",
            hint="pip install python-pkcs11",
        ) from None
    return Pkcs11KeyStore(p11.module, p11.token, pin)


def read_pin(pin: str, pin_file: str) -> str:
    """The user PIN: ``pin`` itself, or the first line of ``pin_file`` (mode 0600 or stricter).

    Setting both is an error: one of them would be silently ignored.
    """
    if pin and pin_file:
        raise ConfigError(
            "both pkcs11.pin and pkcs11.pin_file are set",
            field="pkcs11.pin",
            hint="keep only pin_file (MAAT_PKCS11_PIN_FILE); a PIN in a file stays out of "
            "the process environment",
        )
    if pin:
        return pin
    path = Path(pin_file)
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(
                "the PIN file is readable by other users",
                file=pin_file,
                hint=f"chmod 600 {pin_file}",
            )
        with path.open("rb") as fh:
            raw = fh.read(MAX_PIN_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(
            "the PIN file does not exist", file=pin_file, hint="create it or fix pkcs11.pin_file"
        ) from None
    except PermissionError:
        raise ConfigError(
            "the PIN file cannot be read",
            file=pin_file,
            hint="it must be readable by the user running Maat",
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"the PIN file cannot be read: {exc.strerror or exc}", file=pin_file
        ) from None
    if len(raw) > MAX_PIN_FILE_BYTES:
        raise ConfigError("the PIN file is too large to hold a PIN", file=pin_file)
    try:
        lines = raw.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        raise ConfigError("the PIN file is not UTF-8 text", file=pin_file) from None
    value = lines[0] if lines else ""  # the PIN as written: spaces may be part of it
    if not value:
        raise ConfigError("the PIN file is empty", file=pin_file, hint="write the user PIN in it")
    return value

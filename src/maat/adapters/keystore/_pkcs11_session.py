"""Shared PKCS#11 sessions for :mod:`maat.adapters.keystore.pkcs11`: one lock per module, one
logged-in session per token, and the cache of key handles found through it.

PKCS#11 logins belong to the whole process, so every key store naming the same module and token
shares one :class:`Token` (counted with :func:`attach` / :func:`detach`; the last to detach
closes the session, which logs out). Every call into a module holds its :class:`Module` lock,
because python-pkcs11 initialises modules with ``C_Initialize(NULL)`` (no concurrent calls).
:func:`is_stale` tells which errors mean the session died and may be reopened once. Logging
in itself (and translating its errors) stays with
:class:`~maat.adapters.keystore.pkcs11.Pkcs11KeyStore`, which owns the PIN and the settings
it reports against.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pkcs11 import exceptions as p11
from pkcs11.mechanisms import Mechanism
from pkcs11.types import Session, SignMixin

from maat.adapters.keystore._common import Algorithm

if TYPE_CHECKING:
    from pkcs11._pkcs11 import lib as library_type


@dataclass
class Key:
    """A private key handle found in the token, with the algorithm it signs with."""

    key: SignMixin
    algorithm: Algorithm


@dataclass
class Module:
    """One loaded PKCS#11 module: the lock serialising every call into it."""

    path: str
    lock: threading.RLock = field(default_factory=threading.RLock)
    tokens: dict[str, Token] = field(default_factory=dict)


@dataclass
class Token:
    """The logged-in session on one token, shared by every store of this process using it."""

    module: Module
    label: str
    users: int = 0
    session: Session | None = None
    library: library_type | None = None
    pin: bytes = b""
    mechanisms: frozenset[Mechanism] = frozenset()
    keys: dict[str, Key] = field(default_factory=dict)

    def alive(self) -> bool:
        """Whether the session may still be used: the module was not finalised meanwhile.

        Checked before every use because python-pkcs11 leaves a search it could not start
        half-open, to fail again when garbage-collected; better not to start one.
        """
        return self.session is not None and self.library is not None and self.library.initialized

    def drop(self) -> None:
        """Forget the session (closing it if still possible) and every cached key handle."""
        session, self.session = self.session, None
        alive = self.library is not None and self.library.initialized
        self.library = None
        self.keys.clear()
        self.pin = b""
        if session is not None and alive:
            with contextlib.suppress(p11.PKCS11Error):  # already dead: nothing to release
                session.close()


_REGISTRY_LOCK = threading.Lock()
_MODULES: dict[str, Module] = {}


def attach(module_path: str, token_label: str) -> Token:
    with _REGISTRY_LOCK:
        module = _MODULES.get(module_path)
        if module is None:
            module = _MODULES[module_path] = Module(module_path)
        token = module.tokens.get(token_label)
        if token is None:
            token = module.tokens[token_label] = Token(module, token_label)
        token.users += 1
        return token


def detach(token: Token) -> None:
    with token.module.lock:
        with _REGISTRY_LOCK:
            token.users -= 1
            if token.users > 0:
                return
            if token.module.tokens.get(token.label) is token:
                del token.module.tokens[token.label]
        token.drop()


def is_stale(exc: p11.PKCS11Error) -> bool:
    """True for errors that mean the session is gone and a fresh one may succeed."""
    if isinstance(
        exc,
        (
            p11.SessionHandleInvalid,
            p11.SessionClosed,
            p11.UserNotLoggedIn,
            p11.ObjectHandleInvalid,
            p11.KeyHandleInvalid,
            p11.DeviceRemoved,
            p11.TokenNotPresent,
        ),
    ):
        return True
    # CKR_CRYPTOKI_NOT_INITIALIZED (the module was finalised) has no class of its own.
    return type(exc) is p11.PKCS11Error and "not initialized" in str(exc)

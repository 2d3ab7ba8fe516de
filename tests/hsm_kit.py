"""Throw-away SoftHSM2 tokens for tests.

``with softhsm_token(tmp_path) as token:`` gives one initialised token in a private token
folder under ``tmp_path``; ``with softhsm(tmp_path) as hsm: hsm.add_token(...)`` gives several
in one folder. Both write a ``softhsm2.conf``, point ``SOFTHSM2_CONF`` at it for the duration
(restoring the previous value afterwards) and create tokens with ``softhsm2-util``.

How the module gets to see them: SoftHSM reads ``SOFTHSM2_CONF`` and scans its token folder in
``C_Initialize``, and python-pkcs11 keeps one initialised module per path for the whole process
(``pkcs11.lib`` caches it). A token made by ``softhsm2-util`` (another process) or a new
configuration is therefore invisible to an already initialised module. So after each token is
made, and again when the context ends, the kit calls ``C_Finalize`` on the cached module;
the next ``pkcs11.lib()`` call (the key store makes one when it opens a session) initialises it
afresh with the current configuration. The module is never unloaded (``dlclose`` under live
python-pkcs11 objects would crash), and the kit and the key store both use the module's real
path, so they share the one cached instance. Sessions open when the module is finalised die:
close key stores before leaving the context (a store left open reopens its session once).

If SoftHSM2 or python-pkcs11 is missing, ``maat_testkit.unavailable`` skips the test on a
developer machine and fails it in CI (``MAAT_TEST_REQUIRE_SERVICES=1``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from maat_testkit import unavailable

MODULE_CANDIDATES = (
    "/usr/lib/softhsm/libsofthsm2.so",  # Debian, Ubuntu
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib64/pkcs11/libsofthsm2.so",  # Fedora
    "/usr/local/lib/softhsm/libsofthsm2.so",  # built from source, Homebrew
)
DEFAULT_LABEL = "maat-test"
DEFAULT_PIN = "1234-user"
DEFAULT_SO_PIN = "5678-so"


@dataclass(frozen=True)
class TokenInfo:
    """An initialised SoftHSM token: what a key store needs to open it."""

    module: str
    label: str
    pin: str
    so_pin: str
    conf_path: Path


def find_module() -> str | None:
    """The SoftHSM2 module (``MAAT_TEST_SOFTHSM_MODULE`` first), by its real path."""
    override = os.environ.get("MAAT_TEST_SOFTHSM_MODULE")
    for candidate in (override,) if override else MODULE_CANDIDATES:
        if Path(candidate).is_file():
            return os.path.realpath(candidate)
    return None


def finalize_module(module: str) -> None:
    """``C_Finalize`` the process's cached instance of ``module`` so it rereads its config."""
    import pkcs11

    library = pkcs11.lib(module)  # the cached instance (initialised if it was not)
    library.finalize()


class SoftHsm:
    """One throw-away SoftHSM configuration with its own token folder."""

    def __init__(self, directory: Path, module: str, util: str) -> None:
        self.directory = directory
        self.module = module
        self.util = util
        self.token_dir = directory / "tokens"
        self.conf_path = directory / "softhsm2.conf"
        self.token_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.conf_path.write_text(
            f"directories.tokendir = {self.token_dir}\n"
            "objectstore.backend = file\n"
            "log.level = ERROR\n"
            "slots.removable = false\n"
            "slots.mechanisms = ALL\n"
            "library.reset_on_fork = false\n",
            encoding="utf-8",
        )

    def add_token(
        self, label: str = DEFAULT_LABEL, pin: str = DEFAULT_PIN, so_pin: str = DEFAULT_SO_PIN
    ) -> TokenInfo:
        """Initialise a new token in the first free slot and make the module see it."""
        command = [
            self.util,
            "--init-token",
            "--free",
            "--label",
            label,
            "--pin",
            pin,
            "--so-pin",
            so_pin,
        ]
        env = dict(os.environ, SOFTHSM2_CONF=str(self.conf_path))
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            pytest.fail(f"softhsm2-util --init-token failed: {done.stderr or done.stdout}")
        finalize_module(self.module)  # the next pkcs11.lib() call rescans the token folder
        return TokenInfo(self.module, label, pin, so_pin, self.conf_path)


@contextmanager
def softhsm(tmp_path: Path) -> Iterator[SoftHsm]:
    """A SoftHSM configuration under ``tmp_path``, active (``SOFTHSM2_CONF``) while open."""
    module = find_module()
    util = shutil.which("softhsm2-util")
    if module is None or util is None:
        unavailable("SoftHSM2 is not installed (Debian: apt install softhsm2)")
        raise AssertionError("unreachable")  # unavailable() skips or fails
    try:
        import pkcs11  # noqa: F401
    except ImportError:
        unavailable("python-pkcs11 is not installed (pip install python-pkcs11)")
    previous = os.environ.get("SOFTHSM2_CONF")
    hsm = SoftHsm(tmp_path / "softhsm", module, util)
    os.environ["SOFTHSM2_CONF"] = str(hsm.conf_path)
    try:
        finalize_module(module)  # forget any configuration an earlier test left loaded
        yield hsm
    finally:
        # Finalise while our configuration is still set (finalize_module may have to
        # initialise first), then restore: the next user initialises with its own.
        try:
            finalize_module(module)
        finally:
            if previous is None:
                os.environ.pop("SOFTHSM2_CONF", None)
            else:
                os.environ["SOFTHSM2_CONF"] = previous


@contextmanager
def softhsm_token(
    tmp_path: Path,
    *,
    label: str = DEFAULT_LABEL,
    pin: str = DEFAULT_PIN,
    so_pin: str = DEFAULT_SO_PIN,
) -> Iterator[TokenInfo]:
    """One initialised token in a throw-away SoftHSM configuration under ``tmp_path``."""
    with softhsm(tmp_path) as hsm:
        yield hsm.add_token(label, pin, so_pin)

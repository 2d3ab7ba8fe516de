"""The running platform: settings, state store, clock and keys, opened once per process."""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from maat.adapters.storage import SqlStore
from maat.audit.chain import AuditEntry
from maat.auth.secretbox import MASTER_SECRET_BYTES, SecretBox, derive_key
from maat.auth.throttle import RateLimiter
from maat.config import Settings
from maat.errors import ConfigError, StorageError
from maat.ports import Clock, SystemClock, UnitOfWork


def read_master_secret(path: Path, *, create: bool) -> bytes:
    """Read the master secret, creating it (mode 0600) when ``create`` and it is absent.

    1. An existing file must hold exactly 64 hex characters and be private to its owner.
    2. A missing file is an error unless ``create`` (``maat init``) is set.
    """
    if path.exists():
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(
                "the master secret is readable by other users",
                file=str(path),
                hint=f"chmod 600 {path}",
            )
        text = path.read_text(encoding="ascii", errors="replace").strip()
        try:
            value = bytes.fromhex(text)
        except ValueError:
            value = b""
        if len(value) != MASTER_SECRET_BYTES:
            raise ConfigError(
                f"the master secret must be {MASTER_SECRET_BYTES * 2} hex characters",
                file=str(path),
            )
        return value
    if not create:
        raise ConfigError(
            "the master secret does not exist", file=str(path), hint="run 'maat init' first"
        )
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    value = secrets.token_bytes(MASTER_SECRET_BYTES)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(value.hex() + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return value


@dataclass
class Platform:
    """Everything a use case needs. Build with :meth:`open`; close when done."""

    settings: Settings
    store: SqlStore
    clock: Clock
    totp_box: SecretBox
    login_limiter: RateLimiter
    _closed: bool = field(default=False, repr=False)

    @classmethod
    def open(
        cls, settings: Settings, *, create: bool = False, clock: Clock | None = None
    ) -> Platform:
        """Open the platform; ``create`` makes the data directory and master secret."""
        if create:
            settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        elif not settings.database_url and not (settings.data_dir / "maat.db").exists():
            raise StorageError(f"no Maat data in {settings.data_dir}", hint="run 'maat init' first")
        master = read_master_secret(settings.effective_secret_key_file, create=create)
        store = SqlStore(
            settings.effective_database_url,
            audit_key=derive_key(master, "audit-chain"),
            settings=settings.database,
        )
        return cls(
            settings=settings,
            store=store,
            clock=clock or SystemClock(),
            totp_box=SecretBox(master, "totp"),
            login_limiter=RateLimiter(
                rate_per_minute=settings.auth.login_rate_per_minute,
                burst=settings.auth.login_rate_burst,
            ),
        )

    def now(self) -> datetime:
        """The platform clock's current time."""
        return self.clock.now()

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[UnitOfWork]:
        """A unit of work on the state store."""
        with self.store.transaction(write=write) as uow:
            yield uow

    def audit(
        self,
        uow: UnitOfWork,
        actor: str,
        action: str,
        target: str,
        *,
        outcome: str = "success",
        **details: Any,
    ) -> None:
        """Append an audit record in the same transaction as the change it records."""
        uow.audit.append(
            AuditEntry(
                at=self.now(),
                actor=actor,
                action=action,
                target=target,
                outcome=outcome,
                details=details,
            )
        )

    def close(self) -> None:
        """Release the store's connections."""
        if not self._closed:
            self.store.close()
            self._closed = True

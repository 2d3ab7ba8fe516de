"""The running platform: settings, state store, clock and keys, opened once per process."""

from __future__ import annotations

import os
import secrets
import stat
import threading
from collections.abc import Iterator, Sequence
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

REFUSAL_AUDIT_INTERVAL = 60.0  # seconds between audit records for one refused credential


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
    _refusals: dict[str, tuple[float, int]] = field(default_factory=dict, repr=False)
    _refusal_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def open(
        cls, settings: Settings, *, create: bool = False, clock: Clock | None = None
    ) -> Platform:
        """Open the platform; ``create`` makes the data directory and master secret."""
        try:
            if create:
                settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            elif not settings.database_url and not (settings.data_dir / "maat.db").exists():
                raise StorageError(
                    f"no Maat data in {settings.data_dir}", hint="run 'maat init' first"
                )
            master = read_master_secret(settings.effective_secret_key_file, create=create)
        except OSError as exc:
            raise ConfigError(
                f"cannot use the data directory: {exc.strerror or exc}",
                file=str(exc.filename or settings.data_dir),
                hint="set MAAT_DATA_DIR to a directory this user may write",
            ) from None
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

    def refuse(
        self,
        actor: str,
        action: str,
        target: str,
        reason: str,
        *,
        throttle_key: str | None = None,
        **details: Any,
    ) -> None:
        """Audit a refusal in its own transaction (the refused request changes nothing else).

        With ``throttle_key`` (a credential id anyone may know), at most one record per key
        and minute is written, carrying the count of refusals it stands for, so that
        hammering a known id cannot flood the audit log.
        """
        self.refuse_many([(actor, action, target, reason, throttle_key, details)])

    def refuse_many(
        self, refusals: Sequence[tuple[str, str, str, str, str | None, dict[str, Any]]]
    ) -> int:
        """:meth:`refuse` for many ``(actor, action, target, reason, throttle_key,
        details)`` at once, in one transaction; returns how many records were written."""
        kept = []
        for actor, action, target, reason, throttle_key, details in refusals:
            if throttle_key is not None:
                now = self.now().timestamp()
                with self._refusal_lock:
                    last, skipped = self._refusals.get(throttle_key, (0.0, 0))
                    if now - last < REFUSAL_AUDIT_INTERVAL:
                        self._refusals[throttle_key] = (last, skipped + 1)
                        continue
                    self._refusals[throttle_key] = (now, 0)
                    if len(self._refusals) > 100_000:
                        self._refusals.clear()
                if skipped:
                    details = {**details, "refusals_not_recorded_before": skipped}
            kept.append((actor, action, target, reason, details))
        if kept:
            with self.transaction() as uow:
                for actor, action, target, reason, details in kept:
                    self.audit(uow, actor, action, target, outcome="refused", reason=reason,
                               **details)  # fmt: skip
        return len(kept)

    def close(self) -> None:
        """Release the store's connections."""
        if not self._closed:
            self.store.close()
            self._closed = True

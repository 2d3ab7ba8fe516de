"""The telemetry lake on a local file system: Parquet files plus a hash-chained manifest.

Layout under the root::

    manifest.jsonl                                    one HMAC-chained entry per line
    .lock                                             flock: one writer, many readers
    day=2024-03-01/module=windows/part-12-<uuid>.parquet

Durability order for a batch: each Parquet file is written under a temporary name, fsynced,
renamed, and its directory fsynced; only then are the manifest entries appended and the
manifest fsynced. A crash therefore leaves either files no entry lists (orphans, removed by
:meth:`ParquetLake.recover` at the next open) or complete entries; a torn last manifest line
is dropped by recovery. Queries read only the files the manifest lists.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from maat.adapters.lake import durable
from maat.adapters.lake.arrow import encode_batch, iso
from maat.adapters.lake.hunt import HuntLimits, run_hunt
from maat.adapters.lake.sidecar import NAMES as SIDECAR_NAMES
from maat.adapters.lake.sidecar import VerifiedFiles, clear_pending, read_pending, write_pending
from maat.errors import Conflict, IntegrityError, InvalidInput, MaatError, NotFound, Unavailable
from maat.lake import retention
from maat.lake.manifest import (
    LakeReport,
    LakeStats,
    ManifestEntry,
    ManifestState,
    compare,
    dump_entry,
    live_files,
    read_manifest,
    seal,
    summarise,
)
from maat.lake.retention import Hold, RetentionReport
from maat.lake.schema import QueryResult, check_read_only_sql

__all__ = ["MANIFEST_NAME", "ParquetLake", "RecoveryReport", "lake_key"]

MANIFEST_NAME = "manifest.jsonl"
LOCK_NAME = ".lock"
_LABEL = b"maat lake manifest v1"
_NOT_DATA = frozenset((MANIFEST_NAME, LOCK_NAME, *SIDECAR_NAMES))  # verify skips these
_TEMP = re.compile(r"\.part-\d+-[0-9a-f]{32}\.parquet\.tmp")


def lake_key(secret: bytes) -> bytes:
    """The manifest's HMAC key, derived from the master secret with its own label, so that it
    reveals nothing about the audit chain's key or any other key Maat derives."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_LABEL).derive(secret)


@dataclass(frozen=True, slots=True)
class RecoveryReport:
    """What :meth:`ParquetLake.recover` repaired."""

    dropped_torn_line: bool
    removed: tuple[str, ...]


class ParquetLake:
    """The :class:`maat.ports.Lake` adapter: Parquet (zstd) by day and module, a manifest,
    DuckDB for SQL. Opening it runs :meth:`recover` unless ``recover`` is false (read-only
    use: verify, query, stats must change nothing, not even to repair)."""

    def __init__(
        self,
        root: Path,
        *,
        key: bytes,
        batch_rows: int,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        recover: bool = True,
        limits: HuntLimits | None = None,
    ) -> None:
        if len(key) < 16:
            raise InvalidInput("the lake key must be at least 16 bytes", field="key")
        if batch_rows < 1:
            raise InvalidInput("batch_rows must be at least 1", field="telemetry.lake_batch_rows")
        self._key = key
        self._batch_rows = batch_rows
        self._now = now
        self._mutex = threading.RLock()
        self._entries: list[ManifestEntry] = []
        self._known_length = 0
        self._inode = 0
        self._torn = False
        try:
            root.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._root = root.resolve(strict=True)
            self._lock_fd = os.open(self._root / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise Unavailable(f"cannot open the lake at {root}: {durable.why(exc)}") from None
        self._manifest = self._root / MANIFEST_NAME
        self._limits = limits or HuntLimits()
        # Only a process that may change the lake records what it checked on disk.
        self._verified = VerifiedFiles(self._root, key, persist=recover)
        if recover:
            self.recover()

    # --- life cycle -------------------------------------------------------------------

    @property
    def root(self) -> Path:
        """The lake directory (resolved)."""
        return self._root

    def close(self) -> None:
        """Release the lock file."""
        with self._mutex:
            if self._lock_fd >= 0:
                os.close(self._lock_fd)
                self._lock_fd = -1

    def __enter__(self) -> ParquetLake:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @contextmanager
    def _locked(self, *, exclusive: bool) -> Iterator[None]:
        # flock serialises processes (the pipeline and `maat lake retain`); the mutex
        # serialises threads, which share this descriptor and so one flock.
        with self._mutex:
            if self._lock_fd < 0:
                raise Unavailable("the lake is closed")
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            try:
                yield
            finally:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    # --- manifest state ---------------------------------------------------------------

    def _read_manifest_bytes(self, offset: int = 0) -> bytes:
        try:
            with self._manifest.open("rb") as fh:
                fh.seek(offset)
                return fh.read()
        except FileNotFoundError:
            return b""
        except OSError as exc:
            raise Unavailable(f"cannot read the lake manifest: {durable.why(exc)}") from None

    def _refresh(self) -> None:
        """Bring the in-memory entries up to the manifest on disk (under the lock).

        Appends by another process are read incrementally; a manifest that shrank or was
        replaced is read again whole. An edit in place that keeps the size is caught by
        :meth:`verify` and at the next open, while this instance keeps serving the entries it
        verified. Any damage other than a torn last line raises ``IntegrityError``.
        """
        try:
            info = self._manifest.stat()
            size, inode = info.st_size, info.st_ino
        except FileNotFoundError:
            size, inode = 0, 0
        except OSError as exc:
            raise Unavailable(f"cannot read the lake manifest: {durable.why(exc)}") from None
        replaced = inode != self._inode
        self._inode = inode
        if size == self._known_length and not self._torn and not replaced:
            return
        if size > self._known_length and self._entries and not replaced:
            data = self._read_manifest_bytes(self._known_length)
            head = (self._entries[-1].seq, self._entries[-1].mac)
            state = read_manifest(data, self._key, after=head, first_line=len(self._entries) + 1)
            self._raise_if_damaged(state)
            self._entries.extend(state.entries)
            self._known_length += state.valid_length
        else:
            state = read_manifest(self._read_manifest_bytes(), self._key)
            self._raise_if_damaged(state)
            self._entries = list(state.entries)
            self._known_length = state.valid_length
        self._torn = state.torn

    def _raise_if_damaged(self, state: ManifestState) -> None:
        damaged = state.damaged
        if damaged:
            shown = "; ".join(str(f) for f in damaged[:5])
            more = f" (and {len(damaged) - 5} more)" if len(damaged) > 5 else ""
            raise IntegrityError(
                f"the lake manifest is damaged: {shown}{more}",
                hint="run 'maat lake verify' for every finding; nothing was written or read",
            )

    def _repair_torn_tail(self) -> bool:
        """Cut a torn last line off the manifest (under the exclusive lock)."""
        if not self._torn:
            return False
        try:
            fd = os.open(self._manifest, os.O_WRONLY)
            try:
                os.ftruncate(fd, self._known_length)
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise Unavailable(f"cannot repair the lake manifest: {durable.why(exc)}") from None
        self._torn = False
        return True

    def _head(self) -> tuple[int, str]:
        if not self._entries:
            return 0, "0" * 64
        return self._entries[-1].seq, self._entries[-1].mac

    def _append(self, entries: Sequence[ManifestEntry]) -> None:
        """Seal ``entries`` onto the chain and append them durably (exclusive lock held).

        On failure the manifest is cut back to its previous length, so nothing is half-listed.
        """
        seq, prev = self._head()
        sealed: list[ManifestEntry] = []
        for index, entry in enumerate(entries, start=1):
            seq += 1
            item = seal(self._key, replace(entry, seq=seq, last=index == len(entries)), prev)
            sealed.append(item)
            prev = item.mac
        data = b"".join(dump_entry(e) for e in sealed)
        created = not self._manifest.exists()
        try:
            fd = os.open(self._manifest, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        except OSError as exc:
            raise Unavailable(f"cannot write the lake manifest: {durable.why(exc)}") from None
        try:
            try:
                durable.write_all(fd, data)
                os.fsync(fd)
            except OSError as exc:
                durable.truncate_quietly(fd, self._known_length)
                raise Unavailable(f"cannot write the lake manifest: {durable.why(exc)}") from None
        finally:
            os.close(fd)
        if created:
            durable.fsync_dir_quietly(self._root)
        self._entries.extend(sealed)
        self._known_length += len(data)

    # --- the Lake port ------------------------------------------------------------------

    def write_batch(
        self,
        events: Sequence[Mapping[str, Any]],
        *,
        commit: Mapping[str, Any] | None = None,
        fields: Sequence[bytes | memoryview] | None = None,
    ) -> int:
        """Write ``events`` as Parquet files by day and module and list them in the manifest.

        1. Convert to columns and an Arrow table (outside the lock: CPU work); a malformed
           ``@timestamp`` or ``event.module`` is ``InvalidInput`` and nothing is written.
        2. Encode each partition in files of at most ``batch_rows`` rows (zstd) and hash them.
        3. Under the writer lock: record the files' names and the head they follow as pending
           (fsync), so that recovery may delete exactly these if the batch never completes.
        4. Write each file (temp name, fsync, rename, fsync dir).
        5. Append one manifest entry per file, the last carrying ``commit``, and fsync; then
           clear the pending record (no fsync: the manifest has moved past its head).
        6. On an I/O error (disk full) remove the files written: ``Unavailable``, nothing
           listed, nothing to acknowledge.

        An empty batch writes nothing and records no commit. ``fields``, when given, is each
        event's ``fields`` JSON as the bus carried it (:mod:`maat.telemetry.wire`).
        """
        if not events:
            return 0
        encoded = encode_batch(events, batch_rows=self._batch_rows, fields=fields)
        written: list[Path] = []
        with self._locked(exclusive=True):
            self._refresh()
            self._repair_torn_tail()
            head = seq = self._head()[0]
            names = [
                f"day={item.day}/module={item.module}/part-{head + n}-{uuid.uuid4().hex}.parquet"
                for n, item in enumerate(encoded, start=1)
            ]
            entries: list[ManifestEntry] = []
            written_at = iso(self._now())
            # A batch another process (or this one, interrupted) left half-written goes
            # first: its record is about to be replaced, and recovery could not find it.
            orphans = [self._root / rel for rel in self._crashed_batch()]
            durable.remove_quietly(orphans)
            try:
                write_pending(self._root, self._key, head, names)
                for item, rel in zip(encoded, names, strict=True):
                    seq += 1
                    path = self._root / rel
                    data = memoryview(item.data)  # the Arrow buffer itself, not a copy
                    digest = hashlib.sha256(data).hexdigest()
                    durable.write_durably(path, data)
                    written.append(path)
                    entries.append(
                        ManifestEntry(
                            seq=seq,
                            kind="file",
                            path=rel,
                            sha256=digest,
                            rows=item.rows,
                            bytes=data.nbytes,
                            day=item.day,
                            module=item.module,
                            min_ts=item.min_ts,
                            max_ts=item.max_ts,
                            written_at=written_at,
                        )
                    )
                if commit is not None:
                    entries[-1] = replace(entries[-1], commit=dict(commit))
                self._append(entries)
                clear_pending(self._root)
                for entry in entries:  # hashed again from the disk: what queries will read
                    self._verified.remember(entry.path, self._root / entry.path, entry.sha256)
                self._verified.compact()
            except OSError as exc:
                durable.remove_quietly(written)
                raise Unavailable(f"cannot write to the lake: {durable.why(exc)}") from None
            except MaatError:
                durable.remove_quietly(written)
                raise
        return sum(item.rows for item in encoded)

    def last_commit(self) -> Mapping[str, Any] | None:
        """The ``commit`` of the newest entry that has one: where the pipeline resumes."""
        with self._locked(exclusive=False):
            self._refresh()
            for entry in reversed(self._entries):
                if entry.commit is not None:
                    return entry.commit
        return None

    def verify(self, *, anchor: tuple[int, str] | None = None) -> LakeReport:
        """Check the manifest's chain and every file under the root against it.

        1. Read the whole manifest and verify its chain (and the ``anchor``, if given).
        2. Walk the directory without following links and hash every file.
        3. Name each listed file that is missing or changed, each unlisted file (inserted),
           each broken, forged or torn manifest line. Nothing is raised for findings.
        """
        with self._locked(exclusive=False):
            state = read_manifest(self._read_manifest_bytes(), self._key, anchor=anchor)
            present = durable.hash_tree(self._root, _NOT_DATA)
        return compare(state.entries, present, findings=state.findings, head=state.head)

    def query(
        self, sql: str, params: Sequence[Any] = (), *, max_rows: int | None = None
    ) -> QueryResult:
        """Run one read-only statement over the view ``events`` (the listed files only).

        1. Refuse anything but one SELECT-like statement (:func:`check_read_only_sql`).
        2. Check every live file against the manifest (:class:`VerifiedFiles`: a file changed
           since it was checked is hashed again): a changed or missing file is an
           ``IntegrityError`` and nothing is read, so a hunt never answers from doctored data.
        3. Run it in a locked-down DuckDB over exactly those files, within the hunt limits
           (:func:`~maat.adapters.lake.hunt.run_hunt`); at most ``max_rows`` rows.
        """
        check_read_only_sql(sql)
        if max_rows is not None and max_rows < 0:
            raise InvalidInput("max_rows must not be negative", field="max_rows")
        with self._locked(exclusive=False):
            self._refresh()
            live = live_files(self._entries)
            self._verified.check(live)
            files = [str(self._root / path) for path in live]
        return run_hunt(files, sql, params, max_rows=max_rows, limits=self._limits)

    # --- holds and retention ----------------------------------------------------------

    def holds(self) -> tuple[Hold, ...]:
        """The active legal holds."""
        with self._locked(exclusive=False):
            self._refresh()
            return retention.holds_of(self._entries)

    def hold(self, day_from: str, day_to: str, module: str | None, reason: str) -> Hold:
        """Place a legal hold on days ``day_from``..``day_to`` (one module or all).

        Retention never deletes held data, even when forced. Returns the hold with its id.
        """
        with self._locked(exclusive=True):
            self._refresh()
            self._repair_torn_tail()
            hold_id = f"hold-{self._head()[0] + 1}"
            record = retention.hold_record(hold_id, day_from, day_to, module, reason)
            self._append(
                [ManifestEntry(seq=0, kind="hold", hold=record, written_at=iso(self._now()))]
            )
        return Hold(hold_id, record["from"], record["to"], record["module"], record["reason"])

    def release(self, hold_id: str, *, reason: str = "released") -> Hold:
        """Release the legal hold ``hold_id``: ``NotFound`` if it never existed, ``Conflict``
        if it is already released."""
        with self._locked(exclusive=True):
            self._refresh()
            self._repair_torn_tail()
            active = {h.id: h for h in retention.holds_of(self._entries)}
            if hold_id not in active:
                ever = any(
                    e.kind == "hold" and e.hold is not None and e.hold.get("id") == hold_id
                    for e in self._entries
                )
                if ever:
                    raise Conflict(f"legal hold {hold_id} is already released")
                raise NotFound(f"no legal hold {hold_id!r}", hint="'maat lake stats' lists them")
            record = {"id": hold_id, "reason": reason.strip()[: retention.MAX_REASON]}
            self._append(
                [ManifestEntry(seq=0, kind="release", hold=record, written_at=iso(self._now()))]
            )
        return active[hold_id]

    def apply_retention(
        self, *, retention_days: int, force: bool = False, dry_run: bool = False
    ) -> RetentionReport:
        """Delete files past retention that no legal hold covers.

        1. Plan (:func:`maat.lake.retention.plan`): at least 180 days unless ``force``;
           held data is kept whatever ``force`` says.
        2. Append one ``retire`` entry per file and fsync, so verify expects them gone.
        3. Delete the files and empty partition directories; a file that cannot be deleted
           now is removed by the next :meth:`recover`.
        """
        with self._locked(exclusive=True):
            self._refresh()
            if not dry_run:
                self._repair_torn_tail()
            plan = retention.plan(
                self._entries, now=self._now(), retention_days=retention_days, force=force
            )
            if plan.delete and not dry_run:
                written_at = iso(self._now())
                self._append(
                    [
                        replace(e, seq=0, kind="retire", commit=None, written_at=written_at)
                        for e in plan.delete
                    ]
                )
                for entry in plan.delete:
                    durable.remove_quietly([self._root / entry.path])
                durable.remove_empty_dirs(self._root)
                self._verified.compact(live_files(self._entries))
        return RetentionReport(
            deleted=tuple(e.path for e in plan.delete),
            rows_deleted=sum(e.rows for e in plan.delete),
            bytes_deleted=sum(e.bytes for e in plan.delete),
            kept=plan.keep,
            effective_days=plan.effective_days,
            cutoff=plan.cutoff,
            notes=plan.notes,
            dry_run=dry_run,
        )

    def stats(self) -> LakeStats:
        """Files, rows, bytes, days, modules, holds and the head of the manifest."""
        with self._locked(exclusive=False):
            self._refresh()
            return summarise(self._entries)

    # --- recovery -----------------------------------------------------------------------

    def recover(self) -> RecoveryReport:
        """Repair what a crash can leave; refuse (``IntegrityError``) on anything else.

        1. A lake with data files but no manifest is refused: the manifest was deleted, and
           treating every file as an orphan would delete the lake. A new lake gets an empty
           manifest, so that this can be told apart from a crash during the first batch.
        2. Read and verify the whole manifest. Damage other than a torn end (a forged or
           broken entry) raises ``IntegrityError`` and nothing is deleted: with a wrong key
           or a tampered manifest every file would look orphaned.
        3. Cut a torn end off (an append that never completed).
        4. Remove files no entry lists that a crash explains: temporary files; retired files
           still present (retention stopped between its ``retire`` entries and the deletion);
           the files of the batch that was being written when the process stopped: those its
           keyed pending record names, when the manifest still ends at the head that batch
           followed (:mod:`~maat.adapters.lake.sidecar`). Any other unlisted file (a manifest
           cut or restored from a backup, whatever its time stamps; a torn line in the middle
           of an older append) is kept for verify to report as inserted, never deleted on a
           guess.
        """
        with self._locked(exclusive=True):
            self._ensure_manifest()
            self._known_length, self._entries, self._torn, self._inode = 0, [], False, 0
            self._refresh()
            dropped = self._repair_torn_tail()
            crashed = self._crashed_batch()
            live = live_files(self._entries)
            retired = {e.path for e in self._entries if e.kind == "retire"}
            removed: list[str] = []
            for rel, path in durable.partition_files(self._root):
                if rel not in live and (
                    rel in retired or _TEMP.fullmatch(path.name) is not None or rel in crashed
                ):
                    durable.remove_quietly([path])
                    removed.append(rel)
            if removed:
                durable.remove_empty_dirs(self._root)
            self._verified.compact(live)
        return RecoveryReport(dropped, tuple(removed))

    def _crashed_batch(self) -> frozenset[str]:
        """The files of the batch that stopped before its entries were appended: those the
        pending record names when the manifest still ends at the head it followed (the
        exclusive lock held, so no batch is being written now)."""
        pending = read_pending(self._root, self._key)
        if pending is None or pending.after != self._head()[0]:
            return frozenset()
        return pending.files - live_files(self._entries).keys()

    def _ensure_manifest(self) -> None:
        """Create an empty manifest for a new lake; refuse data files without a manifest."""
        try:
            self._manifest.stat()
            return
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise Unavailable(f"cannot read the lake manifest: {durable.why(exc)}") from None
        files = durable.partition_files(self._root)
        if files:
            raise IntegrityError(
                f"the lake manifest is missing but {len(files)} data files are present",
                hint="restore manifest.jsonl from a backup; 'maat lake verify' lists the files",
            )
        try:
            fd = os.open(self._manifest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.close(fd)
            durable.fsync_dir_quietly(self._root)
        except OSError as exc:
            raise Unavailable(f"cannot create the lake manifest: {durable.why(exc)}") from None

"""Two small files beside the manifest, each line keyed with the lake's HMAC key.

``.pending`` names the data files a batch is about to write, before it writes them, and the
manifest head the batch follows. Recovery deletes an unlisted data file only when the
pending record names it and the manifest (its torn end cut off) still ends at that head: a
batch that crashed before its entries were appended. Anything else unlisted (a manifest cut
or restored from a backup, a file planted by hand) is kept for verify to report: recovery
never deletes on a guess. A completed batch clears the record without an fsync: should the
clearing be lost, the manifest has durably moved past the record's head.

``.verified`` remembers the files whose SHA-256 was checked against the manifest, by their
stat signature (device, inode, size, modification and change times). A query checks every
file it reads against it and hashes again any file whose signature changed, so a hunt never
answers from a file replaced behind the manifest's back. The change time cannot be set
from user space, so a file rewritten and re-dated still differs. The writer records each
file it writes, hashed again from the disk; a read-only process keeps what it checks in
memory only, changing nothing. Not covered: writes through a shared memory map of a file
whose pages are already dirty (the kernel updates no time for them) and edits of the raw
disk; ``maat lake verify`` hashes every file and finds those.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import orjson

from maat.adapters.lake import durable
from maat.errors import IntegrityError, Unavailable
from maat.lake.manifest import ManifestEntry

__all__ = [
    "NAMES", "Pending", "VerifiedFiles", "clear_pending", "read_pending", "write_pending",
]  # fmt: skip

PENDING_NAME = ".pending"
VERIFIED_NAME = ".verified"
# Every name these files (and a compaction's temporary file) can have: verify skips them.
NAMES = frozenset((PENDING_NAME, VERIFIED_NAME, f".{VERIFIED_NAME}.tmp"))
_PENDING_LABEL = b"maat lake pending v1\n"
_VERIFIED_LABEL = b"maat lake verified v1\n"


def _mac(key: bytes, label: bytes, body: bytes) -> str:
    return hmac.new(key, label + body, hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class Pending:
    """The batch being written: the manifest head it follows and its files."""

    after: int
    files: frozenset[str]


def write_pending(root: Path, key: bytes, after: int, files: Iterable[str]) -> None:
    """Record, durably, that the files ``files`` are about to be written after head ``after``.

    Written in place (truncate, write, fsync): a crash while writing leaves a record that
    fails its MAC, which recovery reads as no record, and no data file exists yet then.
    """
    body = orjson.dumps({"after": after, "files": sorted(files)})
    line = body + b"\t" + _mac(key, _PENDING_LABEL, body).encode() + b"\n"
    path = root / PENDING_NAME
    created = not path.exists()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            durable.write_all(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise Unavailable(f"cannot write to the lake: {durable.why(exc)}") from None
    if created:
        durable.fsync_dir_quietly(root)


def clear_pending(root: Path) -> None:
    """The batch completed: no files are pending (a cache-grade write, no fsync)."""
    with contextlib.suppress(OSError):
        os.truncate(root / PENDING_NAME, 0)


def read_pending(root: Path, key: bytes) -> Pending | None:
    """The pending record, or ``None`` when there is none or it is torn or forged."""
    try:
        data = (root / PENDING_NAME).read_bytes()
    except OSError:
        return None
    body, _, mac = data.rstrip(b"\n").rpartition(b"\t")
    if not body or not hmac.compare_digest(mac, _mac(key, _PENDING_LABEL, body).encode()):
        return None
    try:
        record = orjson.loads(body)
        after, files = record["after"], record["files"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None
    if type(after) is not int or not isinstance(files, list):
        return None
    return Pending(after, frozenset(f for f in files if isinstance(f, str)))


def _signature(info: os.stat_result) -> str:
    return f"{info.st_dev}:{info.st_ino}:{info.st_size}:{info.st_mtime_ns}:{info.st_ctime_ns}"


class VerifiedFiles:
    """Which data files were checked against the manifest, by stat signature."""

    def __init__(self, root: Path, key: bytes, *, persist: bool) -> None:
        self._root = root
        self._key = key
        self._persist = persist
        self._path = root / VERIFIED_NAME
        self._known: dict[str, str] = {}
        self._offset = 0
        self._lines = 0  # lines in the file, for compaction

    def _load(self) -> None:
        """Read the lines appended since the last look; a line failing its MAC is ignored."""
        try:
            with self._path.open("rb") as fh:
                fh.seek(self._offset)
                data = fh.read()
        except OSError:
            return
        end = data.rfind(b"\n") + 1  # a line still being appended is read next time
        self._offset += end
        for line in data[:end].splitlines():
            self._lines += 1
            body, _, mac = line.rpartition(b"\t")
            if body and hmac.compare_digest(mac, _mac(self._key, _VERIFIED_LABEL, body).encode()):
                rel, _, signature = body.decode("utf-8", "replace").partition("\t")
                self._known[rel] = signature

    def remember(self, rel: str, path: Path, sha256: str) -> bool:
        """Record ``rel`` (at ``path``) as checked when its content has ``sha256`` and it
        did not change while it was hashed (the same signature before and after)."""
        try:
            before = os.stat(path, follow_symlinks=False)
            if not stat.S_ISREG(before.st_mode) or durable.sha256_of(path) != sha256:
                return False
            signature = _signature(os.stat(path, follow_symlinks=False))
        except (OSError, Unavailable):
            return False
        if signature != _signature(before):
            return False
        self._record(rel, signature)
        return True

    def _record(self, rel: str, signature: str) -> None:
        self._known[rel] = signature
        if not self._persist:
            return
        body = f"{rel}\t{signature}".encode()
        line = body + b"\t" + _mac(self._key, _VERIFIED_LABEL, body).encode() + b"\n"
        # A cache only: no fsync (a lost line means one more hash), one write per line so
        # concurrent appends do not interleave.
        with contextlib.suppress(OSError):
            fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)
                self._lines += 1
            finally:
                os.close(fd)

    def check(self, live: Mapping[str, ManifestEntry]) -> None:
        """Raise ``IntegrityError`` unless every live file is the one the manifest lists.

        1. A file whose signature is the one recorded when it was checked is taken as is.
        2. Any other file must be a regular file (not a link) of the listed size whose
           SHA-256 is the listed one, unchanged while it was hashed; then its new signature
           is recorded.
        """
        self._load()
        for rel, entry in live.items():
            path = self._root / rel
            try:
                info = os.stat(path, follow_symlinks=False)
            except FileNotFoundError:
                raise _changed(rel, "is missing") from None
            except OSError as exc:
                raise Unavailable(f"cannot read the lake file {rel}: {durable.why(exc)}") from None
            if self._known.get(rel) == _signature(info):
                continue
            if not stat.S_ISREG(info.st_mode):
                raise _changed(rel, "is not a regular file")
            if info.st_size != entry.bytes:
                listed = f"has {info.st_size:,} bytes, the manifest lists {entry.bytes:,}"
                raise _changed(rel, listed)
            if not self.remember(rel, path, entry.sha256):
                raise _changed(rel, "does not have the SHA-256 the manifest lists")

    def compact(self, live: Iterable[str] | None = None) -> None:
        """Rewrite the file with one line per live file, once it holds twice as many lines
        (files retired by retention and files checked again leave lines behind). Without
        ``live``, only repeated lines go (cheap enough for every batch)."""
        if not self._persist:
            return
        self._load()
        keep = set(live) if live is not None else set(self._known)
        if self._lines <= 2 * len(keep) + 64:
            return
        self._known = {rel: sig for rel, sig in self._known.items() if rel in keep}
        out = bytearray()
        for rel, signature in self._known.items():
            body = f"{rel}\t{signature}".encode()
            out += body + b"\t" + _mac(self._key, _VERIFIED_LABEL, body).encode() + b"\n"
        # Not durable.write_durably: its exclusive temp name, left by a crash, would stop
        # every later compaction. A cache needs no fsync either.
        temp = self._path.with_name(f".{VERIFIED_NAME}.tmp")
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                durable.write_all(fd, bytes(out))
            finally:
                os.close(fd)
            os.replace(temp, self._path)
        except OSError:
            return
        self._offset, self._lines = len(out), len(self._known)


def _changed(rel: str, why: str) -> IntegrityError:
    return IntegrityError(
        f"the lake file {rel} {why}: the query was not run",
        hint="run 'maat lake verify' to see every finding",
    )

"""The single-node event bus: an append-only spool of fsynced segment files.

Layout under the spool directory::

    LOCK                      held (flock) by the one process that owns the spool
    seg-<start>.log           segments; <start> is the global position of their first byte
    consumers/<name>.pos      the position each durable consumer has acknowledged

Frames are laid out as :mod:`~maat.adapters.bus.spool_frames` says. A message's
:attr:`BusMessage.position` is the global position just after its frame, so "resume after
position P" needs no further lookup.

Durability, as numbered steps of :meth:`SpoolBus.publish`:

1. refuse (``Unavailable``, nothing written) when the spool exceeds its size limit or the
   disk's free space is below its floor;
2. drop messages whose id is in the deduplication window (replays of acknowledged events);
3. append every frame of the batch and ``fdatasync`` once (directly to the device where the
   filesystem allows it: :mod:`~maat.adapters.bus.spool_writer`); on any write error cut the
   segment back to its size before the batch and raise ``Unavailable``: a batch is stored
   whole or not at all, and the caller acknowledges nothing;
4. only then remember the ids, keep the new messages in the tail this process's own
   consumers fetch them from (:mod:`~maat.adapters.bus.spool_tail`), and wake consumers.

At open, a torn frame at the end of the newest segment (a crash during step 3, never
acknowledged) is cut off, as are the zeros a direct write leaves after the last frame, and
the ids of the newest messages are read back so that a client re-sending an unacknowledged
batch after a crash is deduplicated.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import threading
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

from maat.adapters.bus.recent_ids import RecentIds
from maat.adapters.bus.spool_frames import HEAD, frame_parts, frame_size, read_frames
from maat.adapters.bus.spool_tail import SpoolTail
from maat.adapters.bus.spool_writer import SegmentWriter
from maat.errors import Conflict, IntegrityError, InvalidInput, Unavailable
from maat.ports import BusMessage

__all__ = ["SpoolBus"]

_PREFIX = "seg-"
_SUFFIX = ".log"
_CHUNK = 4 * 1024 * 1024  # bytes read at a time from a segment


class SpoolBus:
    """:class:`~maat.ports.EventBus` on local disk (single-node profile); see the module."""

    def __init__(
        self,
        root: Path,
        *,
        segment_bytes: int,
        max_bytes: int,
        min_free_bytes: int,
        dedupe_window: int,
        tail_bytes: int = 0,
        direct_io: bool = True,
        stage_bytes: int = 16 * 1024 * 1024,
    ) -> None:
        self.root = root
        self._direct_io = direct_io
        self._stage_bytes = stage_bytes
        self._segment_bytes = segment_bytes
        self._max_bytes = max_bytes
        self._min_free = min_free_bytes
        self._window = dedupe_window
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._recent = RecentIds(dedupe_window)
        self._cursors: dict[str, int] = {}
        # ids of the dedupe window per segment start, each where its newest copy is
        self._counts: dict[int, int] = {}
        self._broken: str | None = None
        self._closed = False
        self._tail = SpoolTail(tail_bytes)  # fetched without reading the segment back
        try:
            (root / "consumers").mkdir(parents=True, exist_ok=True)
            self._lock_fd = os.open(root / "LOCK", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise Unavailable(f"cannot open the spool at {root}: {exc.strerror}") from exc
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(self._lock_fd)
            raise Conflict(
                f"the spool at {root} is in use by another Maat process",
                hint="send events to the running server (POST /v1/events) or stop it first",
            ) from exc
        try:
            self._open_segments()
        except OSError as exc:
            os.close(self._lock_fd)
            raise Unavailable(f"cannot open the spool at {root}: {exc.strerror}") from exc
        except BaseException:
            os.close(self._lock_fd)
            raise

    def _open_segments(self) -> None:
        """Find the segments, check they follow each other, repair the tail, read back the
        dedupe window and open the newest segment for appending."""
        self._starts = sorted(self._segment_starts())
        if not self._starts:
            self._starts = [0]
            self._create_segment(0)
        self._check_contiguous()
        self._identity = self._read_identity()
        self._repair_tail()
        self._remember_recent()
        self._writer = SegmentWriter(
            self._path(self._starts[-1]), direct=self._direct_io, stage_bytes=self._stage_bytes
        )

    @property
    def direct_io(self) -> bool:
        """Whether batches are written to the device without the page cache."""
        return self._writer.direct

    @property
    def _size(self) -> int:
        """The bytes of durable frames in the newest segment."""
        return self._writer.size

    def _check_contiguous(self) -> None:
        """Each segment must start where the previous one ends. An empty stray segment (a
        rotation that failed after creating its file) is removed; any other gap or overlap
        means the spool was tampered with or damaged, and is refused."""
        kept: list[int] = []
        for index, start in enumerate(self._starts):
            size = self._path(start).stat().st_size
            if index and kept:
                previous = kept[-1]
                expected = previous + self._path(previous).stat().st_size
                if start != expected:
                    if size == 0:
                        self._path(start).unlink()
                        continue
                    raise IntegrityError(
                        f"spool segment {self._path(start).name} starts at {start} but the "
                        f"previous one ends at {expected}",
                        hint="restore the spool from a backup or move the segments aside",
                    )
            kept.append(start)
        self._starts = kept

    @property
    def identity(self) -> str:
        """``spool:<random id>``, made when the spool directory was first used."""
        return self._identity

    def _read_identity(self) -> str:
        path = self.root / "ID"
        try:
            if not path.exists():
                temp = path.with_suffix(".tmp")
                with temp.open("w") as fh:
                    fh.write(f"spool:{uuid.uuid4().hex}\n")
                    fh.flush()
                    os.fsync(fh.fileno())
                temp.replace(path)
                self._fsync_dir()
            return path.read_text().strip()
        except OSError as exc:
            raise Unavailable(f"cannot read the spool identity: {exc.strerror}") from exc

    # --- files ------------------------------------------------------------------------------

    def _path(self, start: int) -> Path:
        return self.root / f"{_PREFIX}{start:020d}{_SUFFIX}"

    def _segment_starts(self) -> Iterator[int]:
        for entry in self.root.iterdir():
            name = entry.name
            if name.startswith(_PREFIX) and name.endswith(_SUFFIX):
                digits = name[len(_PREFIX) : -len(_SUFFIX)]
                if digits.isdigit():
                    yield int(digits)

    def _create_segment(self, start: int) -> None:
        fd = os.open(self._path(start), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.fsync(fd)
        os.close(fd)
        self._fsync_dir()

    def _fsync_dir(self) -> None:
        fd = os.open(self.root, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _read_segment(self, start: int) -> bytes:
        try:
            return self._path(start).read_bytes()
        except OSError as exc:
            raise Unavailable(f"cannot read spool segment {start}: {exc.strerror}") from exc

    def _repair_tail(self) -> None:
        """Cut a torn frame off the newest segment (a crash mid-write, never acknowledged)."""
        start = self._starts[-1]
        blob = self._read_segment(start)
        good = 0
        for _, end, message in read_frames(blob, start):
            if message is None:
                break
            good = end
        if good < len(blob):
            os.truncate(self._path(start), good)

    def _remember_recent(self) -> None:
        """Read back the ids of the newest ``dedupe_window`` messages, oldest first.

        An id can be in the files twice (stored again once an older, smaller window had
        forgotten it): each counts once, in the segment of its newest copy. Compaction
        finds the oldest segment the window still needs from these counts, so counting a
        copy twice would delete a segment whose ids must still refuse replays."""
        if self._window <= 0:
            return
        newest_first: list[list[str]] = []
        seen: set[str] = set()
        for start in reversed(self._starts):
            ids = [m.msg_id for _, _, m in read_frames(self._read_segment(start), start) if m]
            # 1. this segment's ids by their newest copy, newest first, none seen later
            kept = [i for i in dict.fromkeys(reversed(ids)) if i not in seen]
            del kept[self._window - len(seen) :]  # 2. no more than the window still needs
            self._counts[start] = len(kept)
            seen.update(kept)
            newest_first.append(kept)
            if len(seen) >= self._window:
                break
        for ids in reversed(newest_first):  # 3. oldest first: generations age in order
            self._recent.add_new(reversed(ids))

    # --- EventBus ---------------------------------------------------------------------------

    def publish(self, subject: str, messages: Sequence[tuple[str, bytes]]) -> int:
        """Store ``messages`` durably (steps 1-4 of the module documentation); how many were
        new. Raises ``Unavailable`` when the spool is full or the disk fails or fills."""
        return len(self.publish_stored(subject, messages))

    def publish_stored(self, subject: str, messages: Sequence[tuple[str, bytes]]) -> set[str]:
        """As :meth:`publish`, returning the ids stored (the others were replays)."""
        with self._lock:
            self._check_open()
            self._check_capacity()
            recent = self._recent
            batch_ids = {msg_id for msg_id, _ in messages}
            fresh: list[tuple[str, bytes]] = list(messages)
            # Mostly every id is new and once in the batch: checked without a loop here
            if len(batch_ids) != len(fresh) or not recent.isdisjoint(batch_ids):
                fresh, batch_ids = [], set()
                for msg_id, data in messages:
                    if msg_id in recent or msg_id in batch_ids:
                        continue
                    batch_ids.add(msg_id)
                    fresh.append((msg_id, data))
            if not fresh:
                return batch_ids
            parts = frame_parts(subject, fresh)
            first = self._end()
            self._append(parts)
            self._tail.add(first, subject, fresh, parts)
            last = self._starts[-1]
            self._counts[last] = self._counts.get(last, 0) + len(fresh)
            recent.add_new(batch_ids)
            if self._size >= self._segment_bytes:
                self._rotate()
            self._changed.notify_all()
            return batch_ids

    def _check_open(self) -> None:
        if self._closed:
            raise Unavailable("the spool is closed")
        if self._broken is not None:
            raise Unavailable(f"the spool refuses writes until it is reopened: {self._broken}")

    def _check_capacity(self) -> None:
        used = self._end() - self._starts[0]
        if used >= self._max_bytes:
            raise Unavailable(
                f"the spool holds {used:,} bytes, its limit is {self._max_bytes:,} "
                "(telemetry.max_spool_bytes): consumers are behind",
                retry_after=10,
            )
        try:
            free = shutil.disk_usage(self.root).free
        except OSError as exc:
            raise Unavailable(f"cannot check free disk space: {exc.strerror}") from exc
        if free < self._min_free:
            raise Unavailable(
                f"only {free:,} bytes free on the spool's disk, below the floor of "
                f"{self._min_free:,} (telemetry.min_free_disk_bytes)",
                retry_after=30,
            )

    def _append(self, parts: list[bytes]) -> None:
        try:
            self._writer.append(parts)
        except OSError as exc:
            try:  # the batch is stored whole or not at all
                self._writer.cut()
            except OSError as cut:
                # The torn bytes stay: appending after them would put frames where the
                # positions say they are not. Refuse until a reopen repairs the tail.
                self._broken = f"a failed write could not be undone ({cut.strerror})"
            full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
            raise Unavailable(
                f"spool write failed: {'disk full' if full else exc.strerror}; nothing was "
                "acknowledged", retry_after=30,
            ) from exc  # fmt: skip

    def _rotate(self) -> None:
        start = self._end()
        try:
            # The zeros after the last frame go first: a sealed segment ends exactly where
            # the next one starts, which is how the segments are checked at open.
            self._writer.seal()
        except OSError:
            return  # the segment stays the newest; rotation is tried after the next batch
        try:
            self._create_segment(start)
            writer = self._writer.successor(self._path(start))
        except OSError:
            # The data is already durable in the old segment; keep appending to it, and
            # remove the new file so that no empty segment claims positions at open.
            try:
                self._path(start).unlink(missing_ok=True)
                self._fsync_dir()
            except OSError as cut:
                self._broken = f"a stray segment could not be removed ({cut.strerror})"
            return
        self._writer = writer
        self._starts.append(start)
        self._counts[start] = 0

    def _end(self) -> int:
        return self._starts[-1] + self._size

    def fetch(self, consumer: str, *, max_messages: int, timeout: float) -> list[BusMessage]:
        """The next messages ``consumer`` has not been handed since it last acknowledged (or
        since this process opened the spool), waiting up to ``timeout`` seconds."""
        _check_name(consumer)
        with self._lock:
            self._check_open()
            cursor = self._cursors.get(consumer)
            if cursor is None:
                cursor = max(self._committed(consumer), self._starts[0])
            if cursor >= self._end() and timeout > 0:
                self._changed.wait(timeout)
            end = self._end()
            starts = list(self._starts)
        out: list[BusMessage] = []
        while len(out) < max_messages and cursor < end:
            with self._lock:
                moved = self._tail.read(cursor, end, max_messages - len(out), out)
            if moved != cursor:
                cursor = moved
                continue
            start = max((s for s in starts if s <= cursor), default=None)
            if start is None:  # compaction does not wait for a consumer never registered
                raise IntegrityError(
                    f"consumer {consumer} is behind the oldest spool segment",
                    hint="register() consumers so that compaction waits for them",
                )
            following = [s for s in starts if s > start]
            limit = min(end, following[0]) if following else end
            if cursor >= limit:
                cursor = following[0] if following else end
                continue
            cursor = self._read_frames(start, cursor, limit, max_messages - len(out), out)
        with self._lock:
            self._cursors[consumer] = cursor
            # What every consumer of this process has had is not needed again (a seek
            # back reads the files).
            self._tail.drop_before(min(self._cursors.values()))
        return out

    def _read_frames(
        self, start: int, cursor: int, limit: int, wanted: int, out: list[BusMessage]
    ) -> int:
        """Append up to ``wanted`` messages of segment ``start`` from global ``cursor`` up to
        ``limit``, reading chunks of at least one whole frame; returns the new cursor."""
        name = self._path(start).name
        try:
            fd = os.open(self._path(start), os.O_RDONLY)
        except OSError as exc:
            raise Unavailable(f"cannot read spool segment {name}: {exc.strerror}") from exc
        try:
            while wanted > 0 and cursor < limit:
                size = frame_size(os.pread(fd, HEAD.size, cursor - start))
                if size == 0 or cursor + size > limit:
                    raise _corrupt(name, cursor - start)
                chunk = os.pread(fd, max(size, min(_CHUNK, limit - cursor)), cursor - start)
                for offset, _, message in read_frames(chunk, cursor):
                    if message is None:
                        if offset == 0:  # a whole frame was read: it is corrupt
                            raise _corrupt(name, cursor - start)
                        break  # a frame cut by the chunk's end: the next round reads it
                    out.append(message)
                    wanted -= 1
                    if wanted == 0:
                        break
                cursor = out[-1].position
        except OSError as exc:
            raise Unavailable(f"cannot read spool segment {name}: {exc.strerror}") from exc
        finally:
            os.close(fd)
        return cursor

    def ack(self, consumer: str, messages: Sequence[BusMessage]) -> None:
        """Record the newest position of ``messages`` as done for ``consumer`` (fsynced)."""
        _check_name(consumer)
        if not messages:
            return
        position = max(m.position for m in messages)
        if position > self._end():
            raise InvalidInput(f"position {position} is beyond the spool", field="position")
        self._write_position(consumer, max(position, self._committed(consumer)))

    def _write_position(self, consumer: str, position: int) -> None:
        path = self.root / "consumers" / f"{consumer}.pos"
        temp = path.with_suffix(".tmp")
        try:
            with temp.open("w") as fh:
                fh.write(f"{position}\n")
                fh.flush()
                os.fsync(fh.fileno())
            temp.replace(path)
            fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(fd)  # the rename itself must survive a power loss
            finally:
                os.close(fd)
        except OSError as exc:
            raise Unavailable(f"cannot record the consumer position: {exc.strerror}") from exc

    def seek(self, consumer: str, position: int) -> None:
        """Continue ``consumer`` after ``position`` (recorded, as an acknowledgement is)."""
        _check_name(consumer)
        if position < 0 or position > self._end():
            raise InvalidInput(f"position {position} is not in the spool", field="position")
        self._write_position(consumer, position)
        with self._lock:
            self._cursors[consumer] = max(position, self._starts[0])

    def register(self, consumer: str) -> None:
        """Make ``consumer`` known from the oldest stored message on, so that compaction
        waits for it (one with a position keeps it), and to the tail, which then keeps
        what it has not fetched yet even before its first fetch in this process."""
        _check_name(consumer)
        if not (self.root / "consumers" / f"{consumer}.pos").exists():
            self.seek(consumer, 0)
            return
        with self._lock:  # where its first fetch starts: the tail keeps what it has not had
            self._cursors.setdefault(consumer, max(self._committed(consumer), self._starts[0]))

    def _committed(self, consumer: str) -> int:
        path = self.root / "consumers" / f"{consumer}.pos"
        try:
            return int(path.read_text().strip() or 0)
        except FileNotFoundError:
            return 0
        except (OSError, ValueError) as exc:
            raise IntegrityError(f"unreadable consumer position {path}: {exc}") from exc

    def compact(self) -> int:
        """Delete sealed segments every consumer has acknowledged and that hold no id of the
        deduplication window; returns how many were deleted."""
        with self._lock:
            consumers = [p.stem for p in (self.root / "consumers").glob("*.pos")]
            if not consumers:
                return 0
            # Every consumer that ever acknowledged has a position file; the only consumer
            # today is the lake writer, which acknowledges before it compacts.
            done = min(self._committed(c) for c in consumers)
            oldest_recent = self._oldest_recent_start()
            deleted = 0
            while len(self._starts) > 1:
                start, following = self._starts[0], self._starts[1]
                if following > done or following > oldest_recent:
                    break
                self._path(start).unlink(missing_ok=True)
                self._starts.pop(0)
                deleted += 1
            self._tail.drop_before(self._starts[0])
            return deleted

    def _oldest_recent_start(self) -> int:
        """The start of the oldest segment still holding an id of the dedupe window (from
        the message counts kept per segment: no file is read)."""
        if not self._recent:
            return self._end()
        remaining = len(self._recent)
        for start in reversed(self._starts):
            # A segment never counted lies beyond what was read back at open: it is older
            # than the window.
            remaining -= self._counts.get(start, remaining)
            if remaining <= 0:
                return start
        return self._starts[0]

    def close(self) -> None:
        """Release the segment file and the spool lock; idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._tail.clear()
            self._changed.notify_all()
            self._writer.close()
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)

    def __enter__(self) -> SpoolBus:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _corrupt(segment: str, offset: int) -> IntegrityError:
    return IntegrityError(
        f"corrupt frame in spool segment {segment} at byte {offset}",
        hint="restore the spool from a backup or move the segment aside",
    )


def _check_name(consumer: str) -> None:
    if not consumer or not consumer.replace("-", "").replace("_", "").isalnum():
        raise InvalidInput(
            f"consumer names are letters, digits, '-' and '_', got {consumer!r}",
            field="consumer",
        )

"""How the spool puts a batch of frames on disk and makes it durable (ADR 0022).

Two ways, the same bytes on disk:

- **direct** (``O_DIRECT``, where the filesystem takes it): the frames are gathered into one
  page-aligned staging buffer, kept and handed on from segment to segment, and written from
  there to the device, in whole blocks. The kernel neither copies them into the page cache nor
  allocates page-cache pages for them. That copy and those allocations were half the
  spool's time (``bench/bench_ingest.py``): on a virtual machine whose host reclaims the
  memory the guest frees, every new page-cache page is also a fault on the host.
- **buffered**: ``writev`` appends through the page cache (tmpfs and other filesystems that
  refuse ``O_DIRECT``, or ``telemetry.spool_direct_io = false``).

Whole blocks mean a direct write ends in zeros up to the next block boundary, and the next
batch rewrites that last block, its first bytes unchanged, from where the valid frames end.
The file is therefore longer than its frames while it is being written; :attr:`size` is
where they end. :meth:`seal` cuts the zeros before the spool starts the next segment, so
that a sealed segment ends exactly where the following one starts, and :meth:`close` cuts
them too. After a crash they are still there: zeros are never a frame (no ``MF`` magic), so
the spool's repair at open cuts them as it cuts a torn frame.

A batch, as numbered steps of :meth:`SegmentWriter.append`:

1. write every byte of it after :attr:`size` (short writes are completed);
2. ``fdatasync``: the data and the size needed to read it are on the device;
3. only then move :attr:`size` past it and keep its last partial block. On an error neither
   moves; the caller undoes the partial write with :meth:`cut` so that no frame of a batch
   that was refused stays on disk.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import mmap
import os
from pathlib import Path

from maat.native import NATIVE

__all__ = ["SegmentWriter"]

log = logging.getLogger(__name__)

IOV_MAX = 1024  # buffers per writev call (Linux's IOV_MAX)
_O_DIRECT = getattr(os, "O_DIRECT", 0)
_DIRECT_ALIGN = 4096


def _gather_py(buffer: mmap.mmap, filled: int, parts: list[bytes], index: int) -> tuple[int, int]:
    """Copy ``parts[index:]`` into ``buffer`` from ``filled`` on, each whole, while the next
    is ``bytes`` and fits: ``(index of the first not copied, bytes filled)`` (the C twin's
    Python reference, which refuses the same positions)."""
    if not 0 <= filled <= len(buffer):
        raise ValueError("gather: filled is outside the buffer")
    if not 0 <= index <= len(parts):
        raise IndexError("gather: index out of range")
    for at in range(index, len(parts)):
        part = parts[at]
        if type(part) is not bytes or len(part) > len(buffer) - filled:
            return at, filled
        buffer[filled : filled + len(part)] = part
        filled += len(part)
    return len(parts), filled


_gather = _gather_py if NATIVE is None else NATIVE.gather


def _sync(fd: int) -> None:
    """Data and the size needed to read it, not the timestamps (cheaper than ``fsync``)."""
    (getattr(os, "fdatasync", None) or os.fsync)(fd)


class SegmentWriter:
    """Appends frames to one segment file, durably; see the module. Not thread-safe: the
    spool calls it under its lock."""

    def __init__(
        self, path: Path, *, direct: bool, stage_bytes: int, stage: mmap.mmap | None = None
    ) -> None:
        """Open ``path`` (which exists) to append after its current end, directly when
        ``direct`` and the filesystem allows it, gathering up to ``stage_bytes`` at a time
        (``stage``: a previous segment's staging buffer, taken over)."""
        self.path = path
        self._fd = -1
        self._stage: mmap.mmap | None = None
        self._stage_bytes = stage_bytes
        self._carry = b""  # the bytes of the last, partial block: rewritten by the next write
        self._block = 0
        self.size = 0
        if direct and _O_DIRECT:
            try:
                self._open_direct(stage)
                return
            except OSError as exc:  # tmpfs and others: EINVAL
                log.info("spool %s: no direct I/O here (%s); writing through the page cache",
                         path.parent, exc.strerror)  # fmt: skip
        self._open_buffered()

    @property
    def direct(self) -> bool:
        """Whether batches go to the device without the page cache."""
        return self._stage is not None

    def _open_direct(self, stage: mmap.mmap | None) -> None:
        fd = os.open(self.path, os.O_WRONLY | _O_DIRECT)
        try:
            size = os.fstat(fd).st_size
            # Direct I/O aligns to the device's logical sector (512 bytes or 4 KiB), not to the
            # filesystem's block, which can be far larger (and would be rewritten every batch).
            # A device that needs more refuses the first write (EINVAL): see append.
            block = _DIRECT_ALIGN
            carry = self._read_carry(size, block)
            capacity = max(block, self._stage_bytes - self._stage_bytes % block)
            if stage is None or len(stage) != capacity:
                # Page-aligned, as O_DIRECT needs; kept, so its pages are faulted in once
                stage = mmap.mmap(-1, capacity)
        except BaseException:
            os.close(fd)
            raise
        self._fd, self._stage, self._block, self._carry, self.size = fd, stage, block, carry, size

    def _read_carry(self, size: int, block: int) -> bytes:
        """The bytes of the file's last partial block (read through the page cache: a direct
        read would have to be aligned too)."""
        keep = size % block
        if not keep:
            return b""
        fd = os.open(self.path, os.O_RDONLY)
        try:
            carry = os.pread(fd, keep, size - keep)
        finally:
            os.close(fd)
        if len(carry) != keep:
            raise OSError(errno.EIO, f"{self.path.name} changed size while opened")
        return carry

    def _open_buffered(self) -> None:
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        self.size = os.fstat(self._fd).st_size

    # --- writing ------------------------------------------------------------------------------

    def append(self, parts: list[bytes]) -> None:
        """Steps 1-3 of the module documentation for the frames ``parts`` (heads and data, in
        order). Raises ``OSError``, having moved nothing, when the disk refuses."""
        carry = b""
        if self._stage is not None:
            try:
                written, carry = self._write_direct(parts)
            except OSError as exc:
                if exc.errno != errno.EINVAL:
                    raise
                # A filesystem that opens O_DIRECT but refuses the write: nothing of the batch
                # was written (EINVAL comes before any I/O). Go on through the page cache.
                log.warning("spool %s: direct write refused (%s); writing through the page "
                            "cache from now on", self.path.parent, exc.strerror)  # fmt: skip
                self._reopen_buffered()
                written = self._write_buffered(parts)
        else:
            written = self._write_buffered(parts)
        _sync(self._fd)
        # 3. Only now: a batch refused at any step leaves the size and the carried block as
        # they were, so that the next batch rewrites from the last durable frame.
        self.size += written
        self._carry = carry

    def _write_buffered(self, parts: list[bytes]) -> int:
        total = 0
        for first in range(0, len(parts), IOV_MAX):
            chunk = parts[first : first + IOV_MAX]
            size = sum(map(len, chunk))
            done = os.writev(self._fd, chunk)
            if done < size:  # a short write: the rest goes out the slow way
                view = memoryview(b"".join(chunk))[done:]
                while view:
                    view = view[os.write(self._fd, view) :]
            total += size
        return total

    def _write_direct(self, parts: list[bytes]) -> tuple[int, bytes]:
        """Gather the carried partial block and ``parts`` into the staging buffer and write it
        in whole blocks from the block the valid bytes end in; returns the bytes added and
        the new partial last block (the caller keeps it once the batch is durable)."""
        stage = self._stage
        assert stage is not None
        block, capacity = self._block, len(stage)
        offset = self.size - len(self._carry)  # a block boundary
        stage[: len(self._carry)] = self._carry
        filled = len(self._carry)
        total = sum(map(len, parts))
        index, count = 0, len(parts)
        while index < count:
            # Whole parts while they fit (one C call for the lot when the extension is built)
            index, filled = _gather(stage, filled, parts, index)
            if index == count:
                break
            view = memoryview(parts[index])  # one that does not fit (or is not bytes)
            index += 1
            while view:
                room = capacity - filled
                if room == 0:  # the stage is full: whole blocks out, start it again
                    self._write_at(stage, capacity, offset)
                    offset += capacity
                    filled, room = 0, capacity
                piece = view[:room]
                stage[filled : filled + len(piece)] = piece
                filled += len(piece)
                view = view[len(piece) :]
        whole = -(-filled // block) * block
        # Zeros, never stale bytes of an earlier batch, after the last frame: what follows the
        # valid frames must never read as a frame, even at a repair after a crash.
        stage[filled:whole] = bytes(whole - filled)
        self._write_at(stage, whole, offset)
        return total, bytes(stage[filled - filled % block : filled])

    def _write_at(self, stage: mmap.mmap, length: int, offset: int) -> None:
        with memoryview(stage) as view:
            start = 0
            while start < length:  # a short direct write ends on a block boundary: go on
                done = os.pwritev(self._fd, [view[start:length]], offset + start)
                if done <= 0 or done % self._block:
                    raise OSError(errno.EIO, f"a direct write of {self.path.name} stopped "
                                  f"after {done} bytes")  # fmt: skip
                start += done

    def _reopen_buffered(self) -> None:
        os.ftruncate(self._fd, self.size)  # appending must follow the frames, not the zeros
        fd, self._fd = self._fd, -1
        os.close(fd)
        # The buffer is let go, not closed: a view of it may live on in a traceback.
        self._stage, self._carry = None, b""
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)

    # --- undoing and ending -------------------------------------------------------------------

    def cut(self) -> None:
        """Cut the file back to :attr:`size` (the end of the last durable batch), durably:
        what a refused batch left, or a direct write's zeros. Raises ``OSError``."""
        os.ftruncate(self._fd, self.size)
        _sync(self._fd)

    def seal(self) -> None:
        """Cut the zeros after the last frame before the spool starts the next segment. Raises
        ``OSError`` (the segment then stays the newest)."""
        if os.fstat(self._fd).st_size != self.size:
            self.cut()

    def successor(self, path: Path) -> SegmentWriter:
        """A writer for the next segment ``path``, taking over this one's staging buffer;
        this one is closed. Raises ``OSError`` (this one then stays open)."""
        stage = self._stage
        writer = SegmentWriter(
            path, direct=stage is not None, stage_bytes=self._stage_bytes, stage=stage
        )
        if writer._stage is stage:
            self._stage = None  # the successor owns it now
        self.close()
        return writer

    def close(self) -> None:
        """Cut the zeros after the last frame (where that fails they stay, and the spool's
        repair at open cuts them) and close the file."""
        self._stage = None  # unmapped once no view of it is left
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                self.seal()
            fd, self._fd = self._fd, -1
            os.close(fd)

"""The spool's frames: how a message is laid out in a segment file, and read back.

A frame is ``b"MF" | u32 length | u32 crc32 | u16 id length | id | u16 subject length |
subject | data`` (little-endian); the CRC-32 (zlib's) covers everything after the head's
length and checksum. :func:`frame_parts` gives each frame's head, then its data, uncopied:
the buffers the spool's writer appends or gathers (:mod:`~maat.adapters.bus.spool_writer`).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator

from maat.native import NATIVE
from maat.ports import BusMessage

__all__ = ["HEAD", "MAGIC", "crc32", "frame_head", "frame_parts", "frame_size", "read_frames"]

MAGIC = b"MF"
HEAD = struct.Struct("<2sII")
_SHORT = struct.Struct("<H")


# zlib's CRC-32, by the C extension's carry-less multiply when it is built (17 GB/s against
# zlib 1.2's 2.5 on data in cache, twice its speed on data from memory); the same numbers
# either way, so either reads the other's frames.
crc32 = zlib.crc32 if NATIVE is None else NATIVE.crc32


def frame_parts(subject: str, messages: list[tuple[str, bytes]]) -> list[bytes]:
    """Each message's frame head, then its data (uncopied), in order: the buffers a
    ``writev`` appends. One C call for the batch when the extension is built (it declines
    what it is unsure of, which the Python loop then frames)."""
    exact = type(subject) is str and type(messages) is list  # what the C code reads
    parts = NATIVE.spool_parts(subject, messages) if NATIVE is not None and exact else None
    if parts is None:
        parts = []
        for msg_id, data in messages:
            parts.append(frame_head(msg_id, subject, data))
            parts.append(data)
    return parts


def frame_head(msg_id: str, subject: str, data: bytes) -> bytes:
    """Everything of a frame before its data: the data itself is written from the caller's
    buffer, never copied into a frame (at 4 KB an event, copies cost more than the disk)."""
    ident, subj = msg_id.encode(), subject.encode()
    prefix = b"".join((_SHORT.pack(len(ident)), ident, _SHORT.pack(len(subj)), subj))
    crc = crc32(data, crc32(prefix))
    return HEAD.pack(MAGIC, len(prefix) + len(data), crc) + prefix


def frame_size(head: bytes) -> int:
    """The whole size of the frame starting ``head`` (0 when the header is not readable)."""
    if len(head) < HEAD.size:
        return 0
    magic, length, _ = HEAD.unpack_from(head, 0)
    return HEAD.size + length if magic == MAGIC else 0


def read_frames(blob: bytes, base: int) -> Iterator[tuple[int, int, BusMessage | None]]:
    """``(start, end, message)`` per frame of ``blob``; ``message`` is None where the frame
    is torn or corrupt (and iteration stops there)."""
    offset, size = 0, len(blob)
    view = memoryview(blob)  # checksums and headers read in place: only the data is copied
    subjects: dict[bytes, str] = {}  # a chunk's frames mostly share one subject
    while offset < size:
        if size - offset < HEAD.size:
            yield offset, size, None
            return
        magic, length, crc = HEAD.unpack_from(blob, offset)
        start = offset + HEAD.size
        end = start + length
        if magic != MAGIC or length < 4 or end > size or crc32(view[start:end]) != crc:
            yield offset, size, None
            return
        (id_len,) = _SHORT.unpack_from(blob, start)
        subj_start = start + 4 + id_len
        if subj_start > end:  # lengths that leave the frame: corrupt, whatever the checksum
            yield offset, size, None
            return
        (subj_len,) = _SHORT.unpack_from(blob, subj_start - 2)
        if subj_start + subj_len > end:
            yield offset, size, None
            return
        try:
            ident = str(view[start + 2 : start + 2 + id_len], "utf-8")
        except UnicodeDecodeError:
            yield offset, size, None
            return
        raw_subject = blob[subj_start : subj_start + subj_len]
        subject = subjects.get(raw_subject)
        if subject is None:
            try:
                subject = subjects[raw_subject] = raw_subject.decode()
            except UnicodeDecodeError:
                yield offset, size, None
                return
        data = blob[subj_start + subj_len : end]
        yield offset, end, BusMessage(subject, ident, data, base + end)
        offset = end

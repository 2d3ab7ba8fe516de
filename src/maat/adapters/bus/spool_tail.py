"""The frames a spool appended lately, kept so that its own consumers need not read them back.

On the single-node profile the lake writer and the detector fetch, moments later and in the
same process, the frames :meth:`~maat.adapters.bus.spool.SpoolBus.publish` has just written:
reading them back from the page cache, checking their CRC and copying their data costs
about 5 µs an event, a tenth of the whole pipeline (``bench/bench_ingest.py``). A
:class:`SpoolTail` holds those messages, as the spool wrote them and only once they are
fsynced, by the position their frame starts at; a fetch whose cursor is not there (after a
restart, a seek, or once the tail has dropped them) reads the segment files as before.
"""

from __future__ import annotations

from collections import OrderedDict

from maat.ports import BusMessage

__all__ = ["SpoolTail"]


class SpoolTail:
    """Messages by the position their frame starts at, at most ``limit_bytes`` of data
    (oldest dropped first; 0 keeps none). Not thread-safe: the spool calls it under its
    lock."""

    def __init__(self, limit_bytes: int) -> None:
        self._limit = limit_bytes
        self._by_start: OrderedDict[int, BusMessage] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._by_start)

    def add(
        self, start: int, subject: str, fresh: list[tuple[str, bytes]], parts: list[bytes]
    ) -> None:
        """Keep the messages ``fresh`` of ``subject`` just made durable as ``parts`` (each
        frame's head, then its data), whose frames follow each other from ``start``."""
        if self._limit <= 0:
            return
        by_start = self._by_start
        for index, (msg_id, data) in enumerate(fresh):
            end = start + len(parts[2 * index]) + len(data)  # a position is the frame's end
            by_start[start] = BusMessage(subject, msg_id, data, end)
            self._bytes += len(data)
            start = end
        while self._bytes > self._limit and by_start:
            self._bytes -= len(by_start.popitem(last=False)[1].data)

    def read(self, cursor: int, end: int, wanted: int, out: list[BusMessage]) -> int:
        """Append to ``out`` up to ``wanted`` messages from ``cursor`` on, ending at most at
        ``end``, while the tail holds them; returns the new cursor (``cursor`` itself when
        it holds none from there)."""
        by_start = self._by_start
        while wanted > 0:
            message = by_start.get(cursor)
            if message is None or message.position > end:
                break
            out.append(message)
            cursor = message.position
            wanted -= 1
        return cursor

    def drop_before(self, position: int) -> None:
        """Forget the messages that start before ``position`` (their segment is deleted)."""
        by_start = self._by_start
        while by_start:
            start, message = next(iter(by_start.items()))
            if start >= position:
                return
            del by_start[start]
            self._bytes -= len(message.data)

    def clear(self) -> None:
        """Forget every message."""
        self._by_start.clear()
        self._bytes = 0

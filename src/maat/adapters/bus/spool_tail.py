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

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from itertools import accumulate, repeat

from maat.ports import BusMessage

__all__ = ["SpoolTail"]

_new = tuple.__new__


@dataclass(slots=True)
class _Batch:
    """The messages of one publish, in order, from ``head`` on (those before it are
    forgotten): ``starts[i]`` is where message ``i``'s frame starts, ``ends[i]`` (its
    position) where it ends, ``sums[i]`` the data bytes of the messages before it."""

    starts: list[int]
    ends: list[int]
    messages: list[BusMessage | None]
    sums: list[int]
    head: int = 0

    def trim(self, count: int) -> int:
        """Forget the next ``count`` messages (fewer when fewer are left); the data bytes
        let go. Costs the messages forgotten, not the batch."""
        new = min(self.head + count, len(self.messages))
        self.messages[self.head : new] = [None] * (new - self.head)  # their data can go
        freed = self.sums[new] - self.sums[self.head]
        self.head = new
        return freed

    @property
    def done(self) -> bool:
        return self.head == len(self.messages)


class SpoolTail:
    """Messages by the position their frame starts at, at most ``limit_bytes`` of data
    (oldest dropped first; 0 keeps none). Not thread-safe: the spool calls it under its
    lock.

    Kept a batch at a time, as published, and searched by bisection: adding, reading and
    dropping cost Python work per batch, not per message (they ran once a message).
    """

    def __init__(self, limit_bytes: int) -> None:
        self._limit = limit_bytes
        self._batches: list[_Batch] = []
        self._firsts: list[int] = []  # each batch's first start, for bisection
        self._bytes = 0

    def __len__(self) -> int:
        return sum(len(batch.messages) - batch.head for batch in self._batches)

    def add(
        self, start: int, subject: str, fresh: list[tuple[str, bytes]], parts: list[bytes]
    ) -> None:
        """Keep the messages ``fresh`` of ``subject`` just made durable as ``parts`` (each
        frame's head, then its data), whose frames follow each other from ``start``."""
        if self._limit <= 0 or not fresh:
            return
        bounds = list(accumulate(map(len, parts), initial=start))
        ends = bounds[2::2]  # a position is the frame's end
        sums = list(accumulate(map(len, parts[1::2]), initial=0))
        if len(ends) != len(fresh):
            raise ValueError("the frames do not match the messages")
        # Made by tuple.__new__ over zipped columns: no Python frame per message.
        ids, datas = zip(*fresh, strict=True)
        messages: list[BusMessage | None] = list(
            map(_new, repeat(BusMessage), zip(repeat(subject), ids, datas, ends))
        )
        self._batches.append(_Batch(bounds[0:-1:2], ends, messages, sums))
        self._firsts.append(start)
        self._bytes += sums[-1]
        while self._bytes > self._limit and self._batches:
            oldest = self._batches[0]
            # the fewest oldest messages whose data brings the tail back under its limit
            over = self._bytes - self._limit
            enough = bisect_left(oldest.sums, oldest.sums[oldest.head] + over, lo=oldest.head)
            self._bytes -= oldest.trim(enough - oldest.head)
            self._forget_done()

    def _forget_done(self) -> None:
        if self._batches and self._batches[0].done:
            del self._batches[0], self._firsts[0]
        elif self._batches:
            self._firsts[0] = self._batches[0].starts[self._batches[0].head]

    def read(self, cursor: int, end: int, wanted: int, out: list[BusMessage]) -> int:
        """Append to ``out`` up to ``wanted`` messages from ``cursor`` on, ending at most at
        ``end``, while the tail holds them; returns the new cursor (``cursor`` itself when
        it holds none from there)."""
        while wanted > 0:
            index = bisect_right(self._firsts, cursor) - 1
            if index < 0:
                break
            batch = self._batches[index]
            first = bisect_left(batch.starts, cursor, lo=batch.head)
            if first == len(batch.starts) or batch.starts[first] != cursor:
                break
            last = min(first + wanted, bisect_right(batch.ends, end))
            if last <= first:
                break
            out.extend(batch.messages[first:last])  # type: ignore[arg-type]  # from head on
            cursor = batch.ends[last - 1]
            wanted -= last - first
        return cursor

    def drop_before(self, position: int) -> None:
        """Forget the messages that start before ``position`` (their segment is deleted)."""
        while self._batches:
            oldest = self._batches[0]
            count = bisect_left(oldest.starts, position, lo=oldest.head) - oldest.head
            if count == 0:
                return
            self._bytes -= oldest.trim(count)
            self._forget_done()

    def clear(self) -> None:
        """Forget every message."""
        self._batches.clear()
        self._firsts.clear()
        self._bytes = 0

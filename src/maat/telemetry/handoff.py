"""Events this process just published, handed to its own consumers without decoding again.

On the single-node profile the lake writer and the detector run in the process that parsed
the events. Reading each message back from the bus is what makes them durable consumers, but
decoding each event again from its bytes costs as much as a tenth of the pipeline. A
:class:`Handoff` keeps the published events (bounded, oldest dropped first) and gives one to
a consumer only when the message it fetched holds exactly the bytes published with that
event: a replay of the same id with other content (another sender's stamp) can never stand
in for what the bus stored, and anything not found is decoded from the bus as before.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Collection, Iterable, Sequence
from typing import Any

from maat.ports import BusMessage

__all__ = ["Handoff"]


class Handoff:
    """Published events by message id, for ``consumers`` consumers, holding at most
    ``limit_bytes`` of message bytes (oldest dropped first; 0 turns it off).

    Use: :meth:`put` the batch before the bus stores it (a consumer can only fetch it
    after), then :meth:`settle` with the ids the bus stored, which drops the duplicates it
    refused (no consumer will ever fetch them), or with none when the bus failed.
    """

    def __init__(self, *, limit_bytes: int, consumers: int) -> None:
        self._limit = limit_bytes
        self._consumers = consumers
        self._entries: OrderedDict[str, list[Any]] = OrderedDict()  # id -> [event, data, left]
        self._bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def full(self) -> bool:
        """Whether more events would push the oldest out before their consumers took them."""
        return self._limit > 0 and self._bytes >= self._limit

    def put(self, published: Iterable[tuple[str, bytes, dict[str, Any]]]) -> list[str]:
        """Keep ``(message id, message bytes, event)`` of a batch about to be published;
        the ids added (an id kept already keeps its first event, as the bus keeps the first
        message of an id)."""
        if self._limit <= 0:
            return []
        added: list[str] = []
        consumers, size = self._consumers, 0
        with self._lock:
            entries = self._entries
            for msg_id, data, event in published:
                if msg_id not in entries:
                    entries[msg_id] = [event, data, consumers]
                    size += len(data)
                    added.append(msg_id)
            self._bytes += size
            while self._bytes > self._limit and entries:
                self._bytes -= len(entries.popitem(last=False)[1][1])
        return added

    def settle(self, added: Iterable[str], stored: Collection[str]) -> None:
        """Forget the ``added`` ids the bus did not store (duplicates, or all on failure)."""
        with self._lock:
            for msg_id in added:
                if msg_id not in stored:
                    self._forget(msg_id)

    def _forget(self, msg_id: str) -> None:
        entry = self._entries.pop(msg_id, None)
        if entry is not None:
            self._bytes -= len(entry[1])

    def take(self, messages: Sequence[BusMessage]) -> list[dict[str, Any] | None]:
        """The published event of each message, or ``None`` where there is none with these
        exact bytes (the caller decodes it). Each consumer takes an event once; it is
        forgotten when all have. The events are shared: nothing may change them once
        published."""
        if not self._entries:
            return [None] * len(messages)
        out: list[dict[str, Any] | None] = []
        append = out.append
        with self._lock:
            entries = self._entries
            get = entries.get
            freed = 0
            for message in messages:  # one pass, no call a message: this runs per event
                entry = get(message.msg_id)
                if entry is None or entry[1] != message.data:
                    append(None)
                    continue
                append(entry[0])
                entry[2] -= 1
                if entry[2] <= 0:
                    del entries[message.msg_id]
                    freed += len(entry[1])
            self._bytes -= freed
        return out

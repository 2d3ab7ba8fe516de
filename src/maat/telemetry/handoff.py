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
from collections.abc import Iterable, Sequence
from typing import Any

from maat.ports import BusMessage

__all__ = ["Handoff"]


class Handoff:
    """Published events by message id, for ``consumers`` consumers, at most ``limit``."""

    def __init__(self, *, limit: int, consumers: int) -> None:
        self._limit = limit
        self._consumers = consumers
        self._entries: OrderedDict[str, list[Any]] = OrderedDict()  # id -> [event, data, left]
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def full(self) -> bool:
        """Whether more events would push the oldest out before their consumers took them."""
        return self._limit > 0 and len(self._entries) >= self._limit

    def put(self, published: Iterable[tuple[str, bytes, dict[str, Any]]]) -> None:
        """Keep ``(message id, message bytes, event)`` of messages the bus accepted. An id
        kept already keeps its first event (the bus, too, keeps the first of an id)."""
        if self._limit <= 0:
            return
        with self._lock:
            entries = self._entries
            for msg_id, data, event in published:
                if msg_id not in entries:
                    entries[msg_id] = [event, data, self._consumers]
            while len(entries) > self._limit:
                entries.popitem(last=False)

    def take(self, messages: Sequence[BusMessage]) -> list[dict[str, Any] | None]:
        """The published event of each message, or ``None`` where there is none with these
        exact bytes (the caller decodes it). Each consumer takes an event once; it is
        forgotten when all have."""
        if not self._entries:
            return [None] * len(messages)
        out: list[dict[str, Any] | None] = []
        with self._lock:
            entries = self._entries
            for message in messages:
                entry = entries.get(message.msg_id)
                if entry is None or entry[1] != message.data:
                    out.append(None)
                    continue
                out.append(entry[0])
                entry[2] -= 1
                if entry[2] <= 0:
                    del entries[message.msg_id]
        return out

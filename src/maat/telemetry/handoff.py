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
from collections import OrderedDict, deque
from collections.abc import Collection, Iterable, Sequence
from itertools import repeat
from operator import add, attrgetter, itemgetter
from typing import Any

from maat.ports import BusMessage

__all__ = ["Handoff"]


class Handoff:
    """Published events by message id, for ``consumers`` consumers, holding at most
    ``limit_bytes`` of message bytes (oldest dropped first; 0 turns it off).

    Use: :meth:`put` the batch before the bus stores it (a consumer can only fetch it
    after), then :meth:`settle` with the ids the bus stored, which drops the duplicates it
    refused (no consumer will ever fetch them), or with none when the bus failed.

    A batch of new, distinct ids is put, and a fetch of messages all found with their exact
    bytes taken, by whole-list operations that run in C; anything else takes the loops,
    which decide the same way a message at a time.
    """

    def __init__(self, *, limit_bytes: int, consumers: int) -> None:
        self._limit = limit_bytes
        self._consumers = consumers
        self._entries: OrderedDict[str, tuple[dict[str, Any], bytes]] = OrderedDict()
        self._taken: dict[str, int] = {}  # id -> consumers that took it, while not all have
        self._bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def full(self) -> bool:
        """Whether more events would push the oldest out before their consumers took them."""
        return self._limit > 0 and self._bytes >= self._limit

    def put(self, published: Sequence[tuple[str, bytes, dict[str, Any]]]) -> list[str]:
        """Keep ``(message id, message bytes, event)`` of a batch about to be published;
        the ids added (an id kept already keeps its first event, as the bus keeps the first
        message of an id)."""
        if self._limit <= 0:
            return []
        ids = list(map(_first, published))
        datas = list(map(_second, published))
        with self._lock:
            entries = self._entries
            if len(set(ids)) == len(ids) and entries.keys().isdisjoint(ids):
                entries.update(
                    zip(ids, zip(map(_third, published), datas, strict=True), strict=True)
                )
                added = ids
                self._bytes += sum(map(len, datas))
            else:
                added = []
                for msg_id, data, event in published:
                    if msg_id not in entries:
                        entries[msg_id] = (event, data)
                        self._bytes += len(data)
                        added.append(msg_id)
            while self._bytes > self._limit and entries:
                msg_id, (_, data) = entries.popitem(last=False)
                self._taken.pop(msg_id, None)
                self._bytes -= len(data)
        return added

    def settle(self, added: Iterable[str], stored: Collection[str]) -> None:
        """Forget the ``added`` ids the bus did not store (duplicates, or all on failure)."""
        with self._lock:
            for msg_id in added:
                if msg_id not in stored:
                    self._forget(msg_id)

    def _forget(self, msg_id: str) -> None:
        entry = self._entries.pop(msg_id, None)
        self._taken.pop(msg_id, None)
        if entry is not None:
            self._bytes -= len(entry[1])

    def take(self, messages: Sequence[BusMessage]) -> list[dict[str, Any] | None]:
        """The published event of each message, or ``None`` where there is none with these
        exact bytes (the caller decodes it). Each consumer takes an event once; it is
        forgotten when all have. The events are shared: nothing may change them once
        published."""
        if not self._entries or not messages:
            return [None] * len(messages)
        ids = list(map(_msg_id, messages))
        datas = list(map(_data, messages))
        with self._lock:
            found: list[Any] = list(map(self._entries.get, ids))
            # 1. Every message found with its very bytes (list equality tries identity
            #    first: the spool's own consumers fetch the objects published), once each
            whole = None not in found and list(map(_second, found)) == datas
            if whole and len(set(ids)) == len(ids):
                # 2. How many consumers will have taken each: all or none done, mostly
                times = list(map(add, map(self._taken.get, ids, repeat(0)), repeat(1)))
                if min(times) >= self._consumers:
                    # Every one taken by its last consumer: all forgotten, in C loops (a
                    # Python call per id cost as much as the rest of the take)
                    deque(map(self._entries.pop, ids), maxlen=0)
                    if self._taken:
                        deque(map(self._taken.pop, ids, repeat(None)), maxlen=0)
                    self._bytes -= sum(map(len, datas))
                    return list(map(_first, found))
                if max(times) < self._consumers:
                    self._taken.update(zip(ids, times, strict=True))
                    return list(map(_first, found))
            return [self._take_one(msg_id, data) for msg_id, data in zip(ids, datas, strict=True)]

    def _take_one(self, msg_id: str, data: bytes) -> dict[str, Any] | None:
        entry = self._entries.get(msg_id)
        if entry is None or entry[1] != data:
            return None
        times = self._taken.get(msg_id, 0) + 1
        if times >= self._consumers:
            self._forget(msg_id)
        else:
            self._taken[msg_id] = times
        return entry[0]


_first, _second, _third = itemgetter(0), itemgetter(1), itemgetter(2)
_msg_id, _data = attrgetter("msg_id"), attrgetter("data")

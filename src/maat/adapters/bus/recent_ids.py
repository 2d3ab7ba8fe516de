"""The ids of the newest messages a spool stored, to refuse replays of them.

A spool remembers at least its newest ``window`` message ids. One ``OrderedDict`` entry a
message, inserted and later evicted one by one, cost Python work per event on the ingest
path. :class:`RecentIds` keeps them in generations (sets) of about an eighth of the window
instead: a batch joins the newest generation in one set operation, and the oldest
generation goes as a whole once the others hold the window without it. It so remembers
between ``window`` and ``window`` plus one generation plus one batch, never fewer.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

__all__ = ["RecentIds"]

_GENERATIONS = 8  # a generation holds about window / 8 ids: at most 1/8 more memory


class RecentIds:
    """The newest message ids stored, at least ``window`` of them (0 remembers none)."""

    def __init__(self, window: int) -> None:
        self._window = window
        self._size = max(1, window // _GENERATIONS)
        self._generations: deque[set[str]] = deque([set()])
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def __contains__(self, msg_id: object) -> bool:
        return any(msg_id in generation for generation in self._generations)

    def isdisjoint(self, ids: set[str]) -> bool:
        """Whether none of ``ids`` is remembered (one set operation a generation)."""
        return all(generation.isdisjoint(ids) for generation in self._generations)

    def clear(self) -> None:
        """Forget every id."""
        self._generations = deque([set()])
        self._count = 0

    def add(self, ids: Iterable[str]) -> None:
        """Remember ``ids``, some of which may be remembered already (a spool's segments
        read back at open can hold an id twice): those move to the newest generation and
        count once."""
        fresh = set(ids)
        for generation in list(self._generations)[:-1]:
            again = generation & fresh
            if again:
                generation -= again
                self._count -= len(again)
        self.add_new(fresh)

    def add_new(self, ids: Iterable[str]) -> None:
        """Remember ``ids``, none of which is remembered yet (the spool's publish checks
        that: one set operation a batch); an id twice among them counts once. Forgets the
        oldest generations the window no longer needs."""
        if self._window <= 0:
            return
        newest = self._generations[-1]
        before = len(newest)
        newest.update(ids)
        self._count += len(newest) - before
        if len(newest) >= self._size:
            self._generations.append(set())
        # Drop the oldest generation only when the others still hold the whole window
        while len(self._generations) > 1 and (
            self._count - len(self._generations[0]) >= self._window
        ):
            self._count -= len(self._generations.popleft())

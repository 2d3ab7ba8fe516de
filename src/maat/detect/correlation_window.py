"""The state one correlation group keeps: its hits in event-time order and the running
measures of its windows (see :mod:`maat.detect.correlation` for how they are used)."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["SCALE", "Entry", "Group", "Window", "entry_time", "number"]

Entry = tuple[float, str, str, Any]  # (event time, event id, base rule id, measured value)
NUMERIC = ("value_sum", "value_avg")
# Every finite float is an integer multiple of 2**-1074: numbers are kept as those integers,
# so sums are exact (no drift as hits come and go) and cheap (no Fraction arithmetic), and
# int / int division rounds the result correctly.
SCALE = 1 << 1074


def entry_time(entry: Entry) -> float:
    """The event time of ``entry`` (the sort key of a group's entries)."""
    return entry[0]


def number(value: Any) -> int | None:
    """A finite number as an exact multiple of ``1 / SCALE``, else None."""
    try:
        real = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    if not math.isfinite(real):
        return None  # "nan" or "inf" in a field must not poison a window
    numerator, denominator = real.as_integer_ratio()
    return numerator * (SCALE // denominator)


def _bump(counts: dict[Any, int], key: Any, step: int) -> None:
    left = counts.get(key, 0) + step
    if left:
        counts[key] = left
    else:
        del counts[key]


class Window:
    """Running measure of the entries of one window: what one entry adds or removes costs
    O(1), whatever the window's size."""

    __slots__ = ("events", "kind", "numbers", "positive", "rules", "total", "values")

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.events: dict[str, int] = {}  # event id -> entries (events are counted, not hits)
        self.values: dict[str, int] = {}
        self.rules: dict[str, int] = {}
        self.numbers: dict[str, list[Any]] = {}  # event id -> [its number, entries]
        self.total = 0
        self.positive = 0  # the sum of the positive numbers: no sub-window sums more

    def add(self, entry: Entry) -> None:
        """Count ``entry`` in."""
        self._step(entry, 1)

    def remove(self, entry: Entry) -> None:
        """Count ``entry`` out."""
        self._step(entry, -1)

    def _step(self, entry: Entry, step: int) -> None:
        kind = self.kind
        if kind == "event_count":
            _bump(self.events, entry[1], step)
        elif kind == "value_count":
            _bump(self.values, entry[3], step)
        elif kind == "temporal":
            _bump(self.rules, entry[2], step)
        elif kind in NUMERIC:
            held = self.numbers.get(entry[1])
            if held is None:  # an event's number counts once, however many rules it hit
                self.numbers[entry[1]] = [entry[3], 1]
                self.total += entry[3]
                if entry[3] > 0:
                    self.positive += entry[3]
            else:
                held[1] += step
                if not held[1]:
                    del self.numbers[entry[1]]
                    self.total -= held[0]
                    if held[0] > 0:
                        self.positive -= held[0]

    def measure(self) -> float | None:
        """The correlation's value over the window (temporal_ordered is not measured here)."""
        kind = self.kind
        if kind == "event_count":
            return float(len(self.events))
        if kind == "value_count":
            return float(len(self.values))
        if kind == "temporal":
            return float(len(self.rules))
        if not self.numbers:
            return None
        return _real(self.total, SCALE if kind == "value_sum" else SCALE * len(self.numbers))

    def bound(self) -> float | None:
        """What no window of these entries measures more than, when there is such a bound
        (counts only grow with the window; a sum is at most its positive part)."""
        if self.kind == "value_sum":
            return _real(self.positive, SCALE) if self.numbers else None
        if self.kind in ("event_count", "value_count", "temporal"):
            return self.measure()
        return None


def _real(numerator: int, denominator: int) -> float:
    try:
        return numerator / denominator
    except OverflowError:  # finite numbers whose sum a float cannot hold
        return math.copysign(math.inf, numerator)


class Group:
    """One group's entries in event-time order: ``entries[head:]`` are kept (back to
    ``floor``), ``entries[lo:]`` are the live window (within ``timespan`` of the newest)
    that ``live`` measures; ``kept`` measures every kept entry (a bound on any window).

    ``chain[k]`` is, for temporal_ordered, the latest start of the first ``k`` rules hit in
    order among the in-order entries; ``chained`` says whether it is up to date (a late hit
    can make a chain the in-order updates never saw)."""

    __slots__ = ("chain", "chained", "entries", "floor", "head", "kept", "live", "lo", "seen")

    def __init__(self, kind: str, steps: int = 0) -> None:
        self.entries: list[Entry] = []
        self.head = 0
        self.lo = 0
        self.floor = -math.inf
        self.seen: set[tuple[str, str]] = set()
        self.live = Window(kind)
        self.kept = Window(kind)
        self.chain: list[float | None] = [None] * (steps + 1)
        self.chained = True

    @property
    def size(self) -> int:
        """Entries kept."""
        return len(self.entries) - self.head

    def drop_oldest(self) -> None:
        """Let the oldest kept entry go (expired, or over the group's bound)."""
        gone = self.entries[self.head]
        self.kept.remove(gone)
        if self.head == self.lo:
            self.live.remove(gone)
            self.lo += 1
        self.seen.discard((gone[1], gone[2]))
        self.head += 1

    def compact(self) -> None:
        """Release the dropped prefix once it is half the list (amortised O(1) per entry)."""
        if self.head >= 64 and self.head * 2 >= len(self.entries):
            del self.entries[: self.head]
            self.lo -= self.head
            self.head = 0

    def clear(self) -> None:
        """Start again empty (after firing)."""
        self.entries.clear()
        self.head = self.lo = 0
        self.floor = -math.inf
        self.seen.clear()
        self.live = Window(self.live.kind)
        self.kept = Window(self.live.kind)
        self.chain = [None] * len(self.chain)
        self.chained = True

"""Sigma correlation rules over the hits of their base rules, on event time, bounded.

Supported types: ``event_count``, ``value_count``, ``value_sum``, ``value_avg`` (with the
conditions ``gt``, ``gte``, ``eq``, ``neq``), ``temporal`` and ``temporal_ordered``. Each
correlation keeps one state per group (the ``group-by`` values, through ``aliases`` when the
base rules name a field differently); a hit whose event lacks a ``group-by`` field belongs
to no group and is left out, as SIEM backends do (Splunk ``stats by``, Elastic ``terms``).
A correlation fires once its condition holds over a window of ``timespan`` that contains
the new hit, and its group starts again empty, so one burst raises one alert.

Event time is chosen by whoever sends the event, so it is never trusted to move time:

1. a hit dated more than ``max_skew`` ahead of the detector's clock is not admitted into
   correlation state (counted in :attr:`Correlator.future_hits`, logged): one event stamped
   2099 cannot push every real hit of its group out of the window;
2. a group keeps what falls inside ``timespan`` of its newest hit plus a ``lateness``
   allowance, so an event that arrives late is still judged over its own window
   (``[t - timespan, t + timespan]``); a hit later than that is counted in
   :attr:`Correlator.late_hits` and left out;
3. state is bounded three ways: ``MAX_GROUP_ENTRIES`` hits per group (oldest dropped),
   ``max_groups`` groups per correlation and ``max_entries`` hits over every group (the least
   recently seen groups evicted first);
4. sums and averages take finite numbers only: ``"nan"`` or ``"inf"`` in a field cannot
   poison a window.

In-order hits cost O(1) (running aggregates over the window); a late hit costs the hits
within one ``timespan`` either side of it, and nothing more when even every kept hit of its
group together does not meet a ``gt``/``gte`` condition.

What does not run is said when the rule loads: ``lt``/``lte`` (they need the end of a window,
which a stream without timers never sees), percentiles and medians, extended conditions,
correlations of correlations, and thresholds the bounded window can never reach.
"""

from __future__ import annotations

import bisect
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Any

from sigma.correlations import (
    SigmaCorrelationCondition,
    SigmaCorrelationConditionOperator,
    SigmaCorrelationRule,
    SigmaCorrelationType,
)

from maat.errors import InvalidInput

__all__ = ["CorrelationSpec", "Correlator", "Fired", "compile_correlation"]

log = logging.getLogger(__name__)

MAX_EVENT_IDS = 100  # event ids an alert lists (the count says how many there were)
MAX_GROUP_ENTRIES = 100_000  # hits one group keeps in its window at most (oldest dropped)
# Defaults of the [detect] settings the server applies through Correlator.configure.
DEFAULT_MAX_SKEW = 300.0
DEFAULT_LATENESS = 3600.0
DEFAULT_MAX_ENTRIES = 1_000_000

_GT = SigmaCorrelationConditionOperator.GT
_FIRING_OPS: dict[Any, Callable[[float, float], bool]] = {
    _GT: lambda a, b: a > b,
    SigmaCorrelationConditionOperator.GTE: lambda a, b: a >= b,
    SigmaCorrelationConditionOperator.EQ: lambda a, b: a == b,
    SigmaCorrelationConditionOperator.NEQ: lambda a, b: a != b,
}
_TYPES = {
    SigmaCorrelationType.EVENT_COUNT: "event_count",
    SigmaCorrelationType.VALUE_COUNT: "value_count",
    SigmaCorrelationType.VALUE_SUM: "value_sum",
    SigmaCorrelationType.VALUE_AVG: "value_avg",
    SigmaCorrelationType.TEMPORAL: "temporal",
    SigmaCorrelationType.TEMPORAL_ORDERED: "temporal_ordered",
}
_NUMERIC = ("value_sum", "value_avg")
# Measures that only grow with the window (a sub-window never measures more): under gt/gte,
# what every kept hit measures bounds every window, so a late hit's scan can be skipped.
_GROWING = ("event_count", "value_count", "temporal")
_AT_LEAST = (_FIRING_OPS[_GT], _FIRING_OPS[SigmaCorrelationConditionOperator.GTE])


@dataclass(frozen=True, slots=True)
class CorrelationSpec:
    """A correlation rule as the correlator runs it (base rules by id)."""

    kind: str
    refs: tuple[str, ...]
    seconds: float
    group_by: tuple[str, ...]
    aliases: Mapping[str, Mapping[str, str]]
    """``alias -> {base rule id: that rule's field}``."""
    op: Callable[[float, float], bool]
    threshold: float
    fieldref: str | None
    generate: bool


def compile_correlation(rule: SigmaCorrelationRule, ids: Mapping[str, str]) -> CorrelationSpec:
    """The spec of ``rule``; ``ids`` maps base rule names and ids to ids. ``InvalidInput``
    names what cannot run."""
    kind = _TYPES.get(rule.type)
    if kind is None:
        raise InvalidInput(f"correlation type {rule.type.name.lower()} is not supported")
    condition = rule.condition
    if not isinstance(condition, SigmaCorrelationCondition):
        raise InvalidInput("extended correlation conditions are not supported")
    op = _FIRING_OPS.get(condition.op)
    if op is None:
        raise InvalidInput(
            f"condition {condition.op.name.lower()} needs the end of a window; not supported"
        )
    refs = []
    for reference in rule.rules or ():
        ident = ids.get(reference.reference)
        if ident is None:
            raise InvalidInput(f"references rule {reference.reference!r}, which is not loaded")
        refs.append(ident)
    fieldref = condition.fieldref
    if isinstance(fieldref, list):
        if len(fieldref) != 1:
            raise InvalidInput("a condition over several fields is not supported")
        fieldref = fieldref[0]
    if kind in ("value_count", *_NUMERIC) and not fieldref:
        raise InvalidInput(f"{kind} needs condition.field")
    _check_reachable(rule, kind, condition, len(set(refs)))
    aliases: dict[str, dict[str, str]] = {}
    for name, alias in rule.aliases.aliases.items():
        aliases[name] = {}
        for reference, field_name in alias.mapping.items():
            ident = ids.get(reference.reference)
            if ident is not None:
                aliases[name][ident] = field_name
    return CorrelationSpec(
        kind=kind,
        refs=tuple(refs),
        seconds=float(rule.timespan.seconds),
        group_by=tuple(rule.group_by or ()),
        aliases=aliases,
        op=op,
        threshold=float(condition.count),
        fieldref=fieldref,
        generate=bool(rule.generate),
    )


def _check_reachable(
    rule: SigmaCorrelationRule, kind: str, condition: SigmaCorrelationCondition, rules: int
) -> None:
    """Refuse a threshold the measure can never reach: a count of a bounded window, or more
    base rules than the correlation names. Such a rule would load and stay silent."""
    if kind in _NUMERIC or condition.op == SigmaCorrelationConditionOperator.NEQ:
        return
    most = float(MAX_GROUP_ENTRIES if kind in ("event_count", "value_count") else rules)
    count = float(condition.count)
    if count > most or (condition.op == _GT and count >= most):
        name = rule.title or rule.name or str(rule.id)
        op = condition.op.name.lower()
        raise InvalidInput(
            f"correlation {name!r}: condition {op} {count:,.10g} can never be reached: "
            f"{kind} is at most {most:,.0f} (a group keeps at most {MAX_GROUP_ENTRIES:,} "
            f"hits and the rule names {rules} base rule(s))",
            field="condition",
            hint="lower the threshold, or shorten the timespan and count less",
        )


@dataclass(frozen=True, slots=True)
class Fired:
    """A correlation that fired: its group, the measured value and the events behind it."""

    index: int
    group: Mapping[str, str | None]
    value: float
    event_ids: tuple[str, ...]
    first: float
    last: float


def _epoch(stamp: Any) -> float | None:
    if not isinstance(stamp, str):
        return None
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _number(value: Any) -> Fraction | None:
    """A finite number (exact, so a running sum has no rounding drift), else None."""
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return Fraction(number) if math.isfinite(number) else None


Entry = tuple[float, str, str, Any]  # (event time, event id, base rule id, measured value)


def _time(entry: Entry) -> float:
    return entry[0]


def _bump(counts: dict[Any, int], key: Any, step: int) -> None:
    left = counts.get(key, 0) + step
    if left:
        counts[key] = left
    else:
        del counts[key]


class _Window:
    """Running measure of the entries of one window: what one entry adds or removes costs
    O(1), whatever the window's size."""

    __slots__ = ("events", "kind", "numbers", "rules", "total", "values")

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.events: dict[str, int] = {}  # event id -> entries (events are counted, not hits)
        self.values: dict[str, int] = {}
        self.rules: dict[str, int] = {}
        self.numbers: dict[str, list[Any]] = {}  # event id -> [its number, entries]
        self.total = Fraction(0)

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
        elif kind in _NUMERIC:
            held = self.numbers.get(entry[1])
            if held is None:  # an event's number counts once, however many rules it hit
                self.numbers[entry[1]] = [entry[3], 1]
                self.total += entry[3]
            else:
                held[1] += step
                if not held[1]:
                    del self.numbers[entry[1]]
                    self.total -= held[0]

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
        total = self.total if kind == "value_sum" else self.total / len(self.numbers)
        try:
            return float(total)
        except OverflowError:  # finite numbers whose sum a float cannot hold
            return math.copysign(math.inf, total)


class _Group:
    """One group's entries in event-time order: ``entries[head:]`` are kept (within
    ``timespan`` plus the lateness allowance of the newest), ``entries[lo:]`` are the live
    window (within ``timespan`` of the newest) that ``live`` measures; ``kept`` measures
    every kept entry (a bound on any window, for measures that only grow)."""

    __slots__ = ("entries", "head", "kept", "live", "lo", "seen")

    def __init__(self, kind: str) -> None:
        self.entries: list[Entry] = []
        self.head = 0
        self.lo = 0
        self.seen: set[tuple[str, str]] = set()
        self.live = _Window(kind)
        self.kept = _Window(kind)

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
        self.seen.clear()
        self.live = _Window(self.live.kind)
        self.kept = _Window(self.live.kind)


class Correlator:
    """State of every correlation; :meth:`feed` takes one event's base-rule hits.

    ``clock`` gives the detector's time in epoch seconds (the server passes its platform
    clock through :meth:`configure`); the other limits are described in the module."""

    def __init__(
        self, specs: Sequence[CorrelationSpec], *, max_groups: int = 100_000,
        max_entries: int = DEFAULT_MAX_ENTRIES, max_skew: float = DEFAULT_MAX_SKEW,
        lateness: float = DEFAULT_LATENESS, clock: Callable[[], float] = time.time,
    ) -> None:  # fmt: skip
        self.specs = list(specs)
        self.max_groups, self.max_entries = max_groups, max_entries
        self.max_skew, self.lateness, self.clock = max_skew, lateness, clock
        self._states: list[OrderedDict[tuple[Any, ...], _Group]] = [OrderedDict() for _ in specs]
        self._recent: OrderedDict[tuple[int, tuple[Any, ...]], None] = OrderedDict()
        self.entries = 0
        """Hits kept over every group of every correlation."""
        self.future_hits = 0
        """Hits left out for being dated more than ``max_skew`` ahead of the clock."""
        self.late_hits = 0
        """Hits left out for arriving later than ``timespan`` + ``lateness`` behind."""
        self.ungrouped_hits = 0
        """Hits left out for lacking a ``group-by`` field (or the condition's field)."""
        self._by_ref: dict[str, list[int]] = {}
        for index, spec in enumerate(self.specs):
            for ref in dict.fromkeys(spec.refs):
                self._by_ref.setdefault(ref, []).append(index)

    def configure(
        self, *, max_groups: int, max_entries: int, max_skew: float, lateness: float,
        clock: Callable[[], float],
    ) -> None:  # fmt: skip
        """Apply the ``[detect]`` limits and the detector's clock."""
        self.max_groups, self.max_entries = max_groups, max_entries
        self.max_skew, self.lateness, self.clock = max_skew, lateness, clock

    def feed(
        self,
        event: Mapping[str, Any],
        hits: Sequence[tuple[str, Callable[[str], str]]],
    ) -> list[Fired]:
        """``hits`` are ``(base rule id, field resolver of its route)`` for this event."""
        when = _epoch(event.get("@timestamp"))
        if when is None or not any(rule_id in self._by_ref for rule_id, _ in hits):
            return []
        event_id = str(event.get("event.id", ""))
        if when > self.clock() + self.max_skew:
            # Step 1: the sender picks event time; a future one must not become the newest.
            self.future_hits += 1
            if self.future_hits == 1 or self.future_hits % 10_000 == 0:
                log.warning(
                    "event %.100r dated %.40r, more than %gs ahead of the clock, left out of "
                    "correlation (%d so far)", event_id, event.get("@timestamp"),
                    self.max_skew, self.future_hits,
                )  # fmt: skip
            return []
        fired: list[Fired] = []
        for rule_id, resolve in hits:
            for index in self._by_ref.get(rule_id, ()):
                result = self._step(index, rule_id, resolve, event, event_id, when)
                if result is not None:
                    fired.append(result)
        return fired

    def _group(
        self, spec: CorrelationSpec, rule_id: str, resolve: Callable[[str], str],
        event: Mapping[str, Any],
    ) -> dict[str, str | None] | None:  # fmt: skip
        group: dict[str, str | None] = {}
        for name in spec.group_by:
            field_name = spec.aliases.get(name, {}).get(rule_id, name)
            value = event.get(resolve(field_name))
            if value is None:
                return None  # in no group: pooling such events would forge a burst
            group[name] = str(value)
        return group

    def _measured(
        self, spec: CorrelationSpec, resolve: Callable[[str], str], event: Mapping[str, Any]
    ) -> tuple[bool, Any]:
        """Whether the hit counts, and its value for the condition's field."""
        if spec.fieldref is None:
            return True, None
        value = event.get(resolve(spec.fieldref))
        if value is None:
            return False, None
        if spec.kind in _NUMERIC:
            number = _number(value)
            return number is not None, number  # "nan", "inf", text: nothing to add
        return True, str(value)

    def _step(
        self, index: int, rule_id: str, resolve: Callable[[str], str],
        event: Mapping[str, Any], event_id: str, when: float,
    ) -> Fired | None:  # fmt: skip
        spec = self.specs[index]
        group = self._group(spec, rule_id, resolve, event)
        counts, measured = self._measured(spec, resolve, event)
        if group is None or not counts:
            self.ungrouped_hits += 1
            return None
        key = tuple(group.values())
        state = self._touch(index, key, spec.kind)
        # One entry per (event, base rule): a redelivered event counts once.
        if (event_id, rule_id) in state.seen:
            return None
        before = state.size
        try:
            window = self._insert(spec, state, (when, event_id, rule_id, measured))
            if window is None:
                return None
            start, stop, value = window
            entries = state.entries
            ids = tuple(dict.fromkeys(entries[i][1] for i in range(start, stop)))
            first, last = entries[start][0], entries[stop - 1][0]
            state.clear()
            return Fired(index, group, value, ids[:MAX_EVENT_IDS], first, last)
        finally:
            state.compact()
            self.entries += state.size - before
            self._bound()

    def _touch(self, index: int, key: tuple[Any, ...], kind: str) -> _Group:
        """The group's state, now the most recently seen (created when new)."""
        states = self._states[index]
        state = states.get(key)
        if state is None:
            state = states[key] = _Group(kind)
            if len(states) > self.max_groups:
                self._evict(index, next(iter(states)))  # the least recently seen group
        else:
            states.move_to_end(key)
        self._recent[(index, key)] = None
        self._recent.move_to_end((index, key))
        return state

    def _evict(self, index: int, key: tuple[Any, ...]) -> None:
        state = self._states[index].pop(key)
        del self._recent[(index, key)]
        self.entries -= state.size

    def _bound(self) -> None:
        """Step 3: evict the least recently seen groups while every group's hits together
        exceed ``max_entries`` (the group just fed is the most recent, so it stays)."""
        while self.entries > self.max_entries and len(self._recent) > 1:
            index, key = next(iter(self._recent))
            self._evict(index, key)

    def _insert(
        self, spec: CorrelationSpec, state: _Group, entry: Entry
    ) -> tuple[int, int, float] | None:
        """Add ``entry`` to ``state``; the window ``entries[start:stop]`` and its value when
        the condition holds over a window containing it."""
        entries, span, when = state.entries, spec.seconds, entry[0]
        cap = max(1, min(MAX_GROUP_ENTRIES, self.max_entries))
        if state.size and when < entries[-1][0]:
            newest = entries[-1][0]
            if when < newest - span - self.lateness:
                self.late_hits += 1  # its window was let go (step 2)
                return None
            at = bisect.bisect_right(entries, when, lo=state.head, key=_time)
            entries.insert(at, entry)
            state.seen.add((entry[1], entry[2]))
            state.kept.add(entry)
            if when >= newest - span:
                state.live.add(entry)
            else:
                state.lo += 1
            while state.size > cap:
                state.drop_oldest()
            if at < state.head:
                return None  # it was the oldest of a full group
            if spec.kind in _GROWING and spec.op in _AT_LEAST:
                bound = state.kept.measure()
                if bound is None or not spec.op(bound, spec.threshold):
                    return None  # no window of these hits can hold: nothing to scan
            return self._around(spec, state, at)
        # In event-time order (the usual case): the live window slides, O(1) amortised.
        entries.append(entry)
        state.seen.add((entry[1], entry[2]))
        state.live.add(entry)
        state.kept.add(entry)
        live_from, keep_from = when - span, when - span - self.lateness
        while entries[state.lo][0] < live_from:
            state.live.remove(entries[state.lo])
            state.lo += 1
        while state.size > cap or entries[state.head][0] < keep_from:
            state.drop_oldest()
        stop = len(entries)
        if spec.kind == "temporal_ordered":
            return _ordered(spec, entries, state.lo, stop, when)
        value = state.live.measure()
        if value is None or not spec.op(value, spec.threshold):
            return None
        return state.lo, stop, value

    @staticmethod
    def _around(spec: CorrelationSpec, state: _Group, at: int) -> tuple[int, int, float] | None:
        """Step 2: the first window of ``timespan`` containing ``entries[at]`` (a late hit)
        over which the condition holds, sliding over the hits within one span of it."""
        entries, span, when = state.entries, spec.seconds, state.entries[at][0]
        low = bisect.bisect_left(entries, when - span, lo=state.head, key=_time)
        high = bisect.bisect_right(entries, when + span, lo=at, key=_time)
        if spec.kind == "temporal_ordered":
            return _ordered(spec, entries, low, high, when)
        window = _Window(spec.kind)
        stop = low
        for start in range(low, at + 1):  # windows [entries[start], + span] hold ``when``
            while stop < high and entries[stop][0] <= entries[start][0] + span:
                window.add(entries[stop])
                stop += 1
            value = window.measure()
            if value is not None and spec.op(value, spec.threshold):
                return start, stop, value
            window.remove(entries[start])
        return None


def _ordered(
    spec: CorrelationSpec, entries: list[Entry], low: int, high: int, when: float
) -> tuple[int, int, float] | None:
    """temporal_ordered: the referenced rules hit in this order of event time, first to last
    within ``timespan``, in a window that also holds ``when``. One pass keeps, for each
    prefix of the sequence, the chain that started latest (the one most likely to fit)."""
    refs, span = spec.refs, spec.seconds
    best: list[int | None] = [None] * (len(refs) + 1)  # prefix length -> index of its start
    for index in range(low, high):
        moment, _, rule_id, _ = entries[index]
        for step in range(len(refs) - 1, -1, -1):  # backwards: one hit advances one step
            if refs[step] != rule_id:
                continue
            start = index if step == 0 else best[step]
            if start is None or moment - entries[start][0] > span:
                continue
            best[step + 1] = start
            if step + 1 == len(refs):
                first = min(entries[start][0], when)
                if max(moment, when) - first <= span:
                    stop = max(index + 1, bisect.bisect_right(entries, when, lo=low, key=_time))
                    begin = min(start, bisect.bisect_left(entries, when, lo=low, key=_time))
                    value = float(len(refs))
                    return (begin, stop, value) if spec.op(value, spec.threshold) else None
    return None

"""Sigma correlation rules over the hits of their base rules, on event time, bounded.

Supported types: ``event_count``, ``value_count``, ``value_sum``, ``value_avg`` (with the
conditions ``gt``, ``gte``, ``eq``, ``neq``), ``temporal`` and ``temporal_ordered``. Each
correlation keeps one state per group (the ``group-by`` values, through ``aliases`` when the
base rules name a field differently); a hit whose event lacks a ``group-by`` field belongs
to no group and is left out, as SIEM backends do (Splunk ``stats by``, Elastic ``terms``).
The windows judged are the ``timespan`` ending at a hit, ``[e - timespan, e]``: a hit in
event-time order is judged over the window ending at it, a late hit over every such window
that contains it (the windows in-order delivery would have judged it in), so what fires does
not depend on the order the hits arrive in. A correlation that fires starts its group again
empty, so one burst raises one alert.

Event time is chosen by whoever sends the event, so it is never trusted to move time:

1. a hit dated more than ``max_skew`` ahead of the detector's clock is not admitted into
   correlation state (counted in :attr:`Correlator.future_hits`, logged): one event stamped
   2099 cannot push every real hit of its group out of the window;
2. lateness is measured from the group's newest hit or the clock, whichever is earlier (a
   hit just within ``max_skew`` cannot make the real ones late): a hit up to ``timespan`` +
   ``lateness`` behind is judged over its windows, so a group keeps ``2 * timespan +
   lateness``; a hit later than that is counted in :attr:`Correlator.late_hits`;
3. state is bounded three ways: ``MAX_GROUP_ENTRIES`` hits per group (oldest dropped),
   ``max_groups`` groups per correlation and ``max_entries`` hits over every group (the least
   recently seen groups evicted first); a threshold above what a group can then hold is
   listed in :attr:`Correlator.problems` and logged;
4. sums and averages take finite numbers only: ``"nan"`` or ``"inf"`` in a field cannot
   poison a window.

In-order hits cost O(1) (running aggregates, and temporal_ordered's chains, kept as the
window slides); a late hit costs the hits within one ``timespan`` either side of it, at most
``max_scan`` of them (past that it is judged over the hits nearest it, counted in
:attr:`Correlator.truncated_scans` and logged), and nothing when even every kept hit of its
group together cannot meet a ``gt``/``gte`` condition. :attr:`Correlator.scanned` counts the
entries examined.

What does not run is said when the rule loads: ``lt``/``lte`` (they need the end of a window,
which a stream without timers never sees), percentiles and medians, extended conditions,
correlations of correlations, and thresholds the bounded window can never reach.
"""

from __future__ import annotations

import bisect
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sigma.correlations import (
    SigmaCorrelationCondition,
    SigmaCorrelationConditionOperator,
    SigmaCorrelationRule,
    SigmaCorrelationType,
)

from maat.detect.correlation_window import Entry, Group, Window, entry_time, number
from maat.errors import InvalidInput

__all__ = ["CorrelationSpec", "Correlator", "Fired", "compile_correlation"]

log = logging.getLogger(__name__)

MAX_EVENT_IDS = 100  # event ids an alert lists (the count says how many there were)
MAX_GROUP_ENTRIES = 100_000  # hits one group keeps in its window at most (oldest dropped)
# Defaults of the [detect] settings the server applies through Correlator.configure.
DEFAULT_MAX_SKEW = 300.0
DEFAULT_LATENESS = 3600.0
DEFAULT_MAX_ENTRIES = 1_000_000
DEFAULT_MAX_SCAN = 1_000  # entries one late hit may examine (about 3 ms of Python each 1,000)

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
_NEQ = SigmaCorrelationConditionOperator.NEQ
# Under gt/gte, a bound on what any window of the kept hits measures (Window.bound) that
# does not meet the threshold means a late hit's scan can be skipped.
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
    title: str = ""


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
        title=str(rule.title or rule.name or rule.id),
    )


def _check_reachable(
    rule: SigmaCorrelationRule, kind: str, condition: SigmaCorrelationCondition, rules: int
) -> None:
    """Refuse a threshold the measure can never reach: a count of a bounded window, or more
    base rules than the correlation names. Such a rule would load and stay silent."""
    op = _FIRING_OPS[condition.op]
    reason = _unreachable(kind, op, float(condition.count), rules, MAX_GROUP_ENTRIES)
    if reason is not None:
        name = rule.title or rule.name or str(rule.id)
        raise InvalidInput(
            f"correlation {name!r}: {reason}",
            field="condition",
            hint="lower the threshold, or shorten the timespan and count less",
        )


def _unreachable(
    kind: str, op: Callable[[float, float], bool], threshold: float, rules: int, cap: int
) -> str | None:
    """Why a group holding at most ``cap`` hits can never meet the condition, or None."""
    if kind in _NUMERIC or op is _FIRING_OPS[_NEQ]:
        return None
    most = float(cap if kind in ("event_count", "value_count") else rules)
    if threshold > most or (op is _FIRING_OPS[_GT] and threshold >= most):
        name = next(o.name.lower() for o, f in _FIRING_OPS.items() if f is op)
        return (
            f"condition {name} {threshold:,.10g} can never be reached: {kind} is at most "
            f"{most:,.0f} (a group keeps at most {cap:,} hits and the rule names {rules} "
            "base rule(s))"
        )
    return None


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


class Correlator:
    """State of every correlation; :meth:`feed` takes one event's base-rule hits.

    ``clock`` gives the detector's time in epoch seconds (the server passes its platform
    clock through :meth:`configure`); the other limits are described in the module."""

    def __init__(
        self, specs: Sequence[CorrelationSpec], *, max_groups: int = 100_000,
        max_entries: int = DEFAULT_MAX_ENTRIES, max_skew: float = DEFAULT_MAX_SKEW,
        lateness: float = DEFAULT_LATENESS, clock: Callable[[], float] = time.time,
        max_scan: int = DEFAULT_MAX_SCAN,
    ) -> None:  # fmt: skip
        self.specs = list(specs)
        self._states: list[OrderedDict[tuple[Any, ...], Group]] = [OrderedDict() for _ in specs]
        self._recent: OrderedDict[tuple[int, tuple[Any, ...]], None] = OrderedDict()
        self.entries = 0
        """Hits kept over every group of every correlation."""
        self.future_hits = 0
        """Hits left out for being dated more than ``max_skew`` ahead of the clock."""
        self.late_hits = 0
        """Hits left out for arriving later than ``timespan`` + ``lateness`` behind."""
        self.ungrouped_hits = 0
        """Hits left out for lacking a ``group-by`` field (or the condition's field)."""
        self.scanned = 0
        """Entries examined to judge late hits (and to rebuild ordered chains after them)."""
        self.truncated_scans = 0
        """Late hits judged over only the ``max_scan`` entries nearest them."""
        self.problems: list[str] = []
        """Correlations whose threshold the configured bounds make unreachable."""
        self._by_ref: dict[str, list[int]] = {}
        for index, spec in enumerate(self.specs):
            for ref in dict.fromkeys(spec.refs):
                self._by_ref.setdefault(ref, []).append(index)
        self._apply(max_groups, max_entries, max_skew, lateness, clock, max_scan)

    def configure(
        self, *, max_groups: int, max_entries: int, max_skew: float, lateness: float,
        clock: Callable[[], float], max_scan: int = DEFAULT_MAX_SCAN,
    ) -> None:  # fmt: skip
        """Apply the ``[detect]`` limits and the detector's clock; a correlation whose
        threshold ``max_entries`` puts out of reach is logged and listed in ``problems``."""
        self._apply(max_groups, max_entries, max_skew, lateness, clock, max_scan)
        for problem in self.problems:
            log.warning("%s; raise detect.max_correlation_entries or lower it", problem)

    def _apply(
        self, max_groups: int, max_entries: int, max_skew: float, lateness: float,
        clock: Callable[[], float], max_scan: int,
    ) -> None:  # fmt: skip
        self.max_groups, self.max_entries = max_groups, max_entries
        self.max_skew, self.lateness, self.clock = max_skew, lateness, clock
        self.max_scan = max(1, max_scan)
        # A group holds at most this many hits: a count above it is never reached.
        self.cap = max(1, min(MAX_GROUP_ENTRIES, max_entries))
        self.problems = []
        for spec in self.specs:
            refs = len(set(spec.refs))
            reason = _unreachable(spec.kind, spec.op, spec.threshold, refs, self.cap)
            if reason is not None:
                self.problems.append(f"correlation {spec.title!r} never fires: {reason}")

    def feed(
        self,
        event: Mapping[str, Any],
        hits: Sequence[tuple[str, Callable[[str], str]]],
        failed: list[Exception] | None = None,
    ) -> list[Fired]:
        """``hits`` are ``(base rule id, field resolver of its route)`` for this event.
        With ``failed``, a correlation that cannot read the event (a value without text)
        puts its error there and the others still run: one that fired has cleared its group,
        and raising would lose its alert for good."""
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
                try:
                    result = self._step(index, rule_id, resolve, event, event_id, when)
                except MemoryError:
                    raise
                except Exception as exc:
                    if failed is None:
                        raise
                    failed.append(exc)
                    continue
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
            measured = number(value)
            return measured is not None, measured  # "nan", "inf", text: nothing to add
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
        state = self._touch(index, key, spec)
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

    def _touch(self, index: int, key: tuple[Any, ...], spec: CorrelationSpec) -> Group:
        """The group's state, now the most recently seen (created when new)."""
        states = self._states[index]
        state = states.get(key)
        if state is None:
            state = states[key] = Group(spec.kind, len(spec.refs))
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
        self, spec: CorrelationSpec, state: Group, entry: Entry
    ) -> tuple[int, int, float] | None:
        """Add ``entry`` to ``state``; the window ``entries[start:stop]`` and its value when
        the condition holds over a window containing it."""
        entries, span, when = state.entries, spec.seconds, entry[0]
        if state.size and when < entries[-1][0]:
            return self._insert_late(spec, state, entry)
        # In event-time order (the usual case): the live window slides, O(1) amortised.
        entries.append(entry)
        state.seen.add((entry[1], entry[2]))
        state.live.add(entry)
        state.kept.add(entry)
        while entries[state.lo][0] < when - span:
            state.live.remove(entries[state.lo])
            state.lo += 1
        # Step 2: from the newest or the clock, whichever is earlier, a late hit may be up
        # to timespan + lateness behind and its windows reach one timespan further back.
        state.floor = max(state.floor, min(when, self.clock()) - 2 * span - self.lateness)
        while state.size > self.cap or entries[state.head][0] < state.floor:
            state.drop_oldest()
        if spec.kind == "temporal_ordered":
            return self._chain(spec, state, entry)
        value = state.live.measure()
        if value is None or not spec.op(value, spec.threshold):
            return None
        return state.lo, len(entries), value

    def _insert_late(
        self, spec: CorrelationSpec, state: Group, entry: Entry
    ) -> tuple[int, int, float] | None:
        """Step 2: a hit older than the group's newest, judged over the windows ending at a
        kept hit that contain it."""
        entries, span, when = state.entries, spec.seconds, entry[0]
        if when - span < state.floor:
            self.late_hits += 1  # part of its window was let go
            return None
        at = bisect.bisect_right(entries, when, lo=state.head, key=entry_time)
        entries.insert(at, entry)
        state.seen.add((entry[1], entry[2]))
        state.kept.add(entry)
        state.chained = False  # it may complete a chain the in-order updates never saw
        if when >= entries[-1][0] - span:
            state.live.add(entry)
        else:
            state.lo += 1
        while state.size > self.cap:
            state.drop_oldest()
        if at < state.head:
            return None  # it was the oldest of a full group
        if spec.op in _AT_LEAST:
            bound = state.kept.bound()
            if bound is not None and not spec.op(bound, spec.threshold):
                return None  # no window of these hits can hold: nothing to scan
        low, high = self._scanned(state, at, span)
        if spec.kind == "temporal_ordered":
            self.scanned += high - low
            return _ordered(spec, entries, low, high, when)
        return self._trailing(spec, entries, low, at, high)

    def _scanned(self, state: Group, at: int, span: float) -> tuple[int, int]:
        """The entries within one timespan either side of ``entries[at]``; past ``max_scan``
        of them, the ``max_scan`` nearest it (about as many before as after)."""
        entries, when = state.entries, state.entries[at][0]
        low = bisect.bisect_left(entries, when - span, lo=state.head, hi=at, key=entry_time)
        high = bisect.bisect_right(entries, when + span, lo=at, key=entry_time)
        budget = self.max_scan
        if high - low <= budget:
            return low, high
        self.truncated_scans += 1
        if self.truncated_scans == 1 or self.truncated_scans % 10_000 == 0:
            log.warning(
                "a late hit has %d hits within a timespan of it; judged over the %d nearest "
                "(detect.correlation_max_scan; %d such hits so far)",
                high - low, budget, self.truncated_scans,
            )  # fmt: skip
        start = max(low, at + 1 - max(1, budget // 2))
        stop = min(high, start + budget)
        return max(low, stop - budget), stop

    def _trailing(
        self, spec: CorrelationSpec, entries: list[Entry], low: int, at: int, high: int
    ) -> tuple[int, int, float] | None:
        """The first window ``[e - timespan, e]``, ``e`` a hit in ``entries[at:high]``, over
        which the condition holds (each holds ``entries[at]``, as ``low`` is at most one
        timespan before it): what in-order delivery would have judged."""
        span, op, threshold = spec.seconds, spec.op, spec.threshold
        window = Window(spec.kind)
        add, remove, measure = window.add, window.remove, window.measure
        for index in range(low, at + 1):
            add(entries[index])
        left = low
        for right in range(at, high):
            end = entries[right][0]
            if right > at:
                add(entries[right])
                while entries[left][0] < end - span:
                    remove(entries[left])
                    left += 1
            if right + 1 < high and entries[right + 1][0] == end:
                continue  # a window holds every hit of its last moment
            value = measure()
            if value is not None and op(value, threshold):
                self.scanned += right + 1 - low
                return left, right + 1, value
        self.scanned += high - low
        return None

    def _chain(
        self, spec: CorrelationSpec, state: Group, entry: Entry
    ) -> tuple[int, int, float] | None:
        """temporal_ordered for an in-order hit: the chains are carried forward by this hit
        alone (O(rules)), rebuilt from the live window after a late hit changed them."""
        entries, span, when = state.entries, spec.seconds, entry[0]
        if state.chained:
            _advance(spec.refs, state.chain, entry)
        else:
            state.chain = [None] * (len(spec.refs) + 1)
            start = max(state.lo, len(entries) - self.max_scan)
            for index in range(start, len(entries)):
                _advance(spec.refs, state.chain, entries[index])
            self.scanned += len(entries) - start
            state.chained = True
        first = state.chain[-1]
        value = float(len(spec.refs))
        if first is None or first < when - span or not spec.op(value, spec.threshold):
            return None
        begin = bisect.bisect_left(entries, first, lo=state.head, key=entry_time)
        return begin, len(entries), value


def _advance(refs: Sequence[str], chain: list[float | None], entry: Entry) -> None:
    """Carry the latest start of each prefix of ``refs`` forward by one hit (backwards over
    the steps: one hit advances one step)."""
    moment, rule_id = entry[0], entry[2]
    for step in range(len(refs) - 1, -1, -1):
        if refs[step] != rule_id:
            continue
        start = moment if step == 0 else chain[step]
        if start is not None:
            held = chain[step + 1]
            chain[step + 1] = start if held is None else max(held, start)


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
                    stop = max(
                        index + 1, bisect.bisect_right(entries, when, lo=low, key=entry_time)
                    )
                    begin = min(start, bisect.bisect_left(entries, when, lo=low, key=entry_time))
                    value = float(len(refs))
                    return (begin, stop, value) if spec.op(value, spec.threshold) else None
    return None

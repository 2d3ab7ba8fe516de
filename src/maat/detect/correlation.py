"""Sigma correlation rules over the hits of their base rules, on event time, bounded.

Supported types: ``event_count``, ``value_count``, ``value_sum``, ``value_avg`` (with the
conditions ``gt``, ``gte``, ``eq``, ``neq``), ``temporal`` and ``temporal_ordered``. Each
correlation keeps one state per group (the ``group-by`` values, through ``aliases`` when the
base rules name a field differently), holding only what falls inside ``timespan`` of the
newest event of that group; groups beyond ``max_groups`` are evicted least recently seen
first, so state cannot grow without bound. A correlation fires once its condition holds and
its group starts again empty, so one burst raises one alert.

What does not run is said when the rule loads: ``lt``/``lte`` (they need the end of a window,
which a stream without timers never sees), percentiles and medians, extended conditions,
and correlations of correlations.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sigma.correlations import (
    SigmaCorrelationCondition,
    SigmaCorrelationConditionOperator,
    SigmaCorrelationRule,
    SigmaCorrelationType,
)

from maat.errors import InvalidInput

__all__ = ["CorrelationSpec", "Correlator", "Fired", "compile_correlation"]

MAX_EVENT_IDS = 100  # event ids an alert lists (the count says how many there were)
MAX_GROUP_ENTRIES = 100_000  # hits one group keeps in its window at most (oldest dropped)

_FIRING_OPS: dict[Any, Callable[[float, float], bool]] = {
    SigmaCorrelationConditionOperator.GT: lambda a, b: a > b,
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
    if kind in ("value_count", "value_sum", "value_avg") and not fieldref:
        raise InvalidInput(f"{kind} needs condition.field")
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
    """State of every correlation; :meth:`feed` takes one event's base-rule hits."""

    def __init__(self, specs: Sequence[CorrelationSpec], *, max_groups: int = 100_000) -> None:
        self.specs = list(specs)
        self.max_groups = max_groups
        self._states: list[OrderedDict[tuple[Any, ...], Any]] = [OrderedDict() for _ in specs]
        self._by_ref: dict[str, list[int]] = {}
        for index, spec in enumerate(self.specs):
            for ref in dict.fromkeys(spec.refs):
                self._by_ref.setdefault(ref, []).append(index)

    def feed(
        self,
        event: Mapping[str, Any],
        hits: Sequence[tuple[str, Callable[[str], str]]],
    ) -> list[Fired]:
        """``hits`` are ``(base rule id, field resolver of its route)`` for this event."""
        when = _epoch(event.get("@timestamp"))
        if when is None or not hits:
            return []
        event_id = str(event.get("event.id", ""))
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
    ) -> dict[str, str | None]:  # fmt: skip
        group: dict[str, str | None] = {}
        for name in spec.group_by:
            field_name = spec.aliases.get(name, {}).get(rule_id, name)
            value = event.get(resolve(field_name))
            group[name] = None if value is None else str(value)
        return group

    def _step(
        self, index: int, rule_id: str, resolve: Callable[[str], str],
        event: Mapping[str, Any], event_id: str, when: float,
    ) -> Fired | None:  # fmt: skip
        spec = self.specs[index]
        group = self._group(spec, rule_id, resolve, event)
        key = tuple(group.values())
        states = self._states[index]
        state = states.get(key)
        if state is None:
            state = _Group()
            states[key] = state
            if len(states) > self.max_groups:
                states.popitem(last=False)  # the least recently seen group
        else:
            states.move_to_end(key)
        measured: Any = None
        if spec.fieldref is not None:
            measured = event.get(resolve(spec.fieldref))
            if measured is None:
                return None
        # One entry per (event, base rule), kept in event-time order: a redelivered event
        # counts once, and events arriving out of order are windowed by their own time.
        if (event_id, rule_id) in state.seen:
            return None
        state.seen.add((event_id, rule_id))
        bisect.insort(state.entries, (when, event_id, rule_id, measured), key=_time)
        newest = state.entries[-1][0]
        while state.entries and (
            newest - state.entries[0][0] > spec.seconds or len(state.entries) > MAX_GROUP_ENTRIES
        ):
            gone = state.entries.pop(0)
            state.seen.discard((gone[1], gone[2]))
        value = _measure(spec, state.entries)
        if value is None or not spec.op(value, spec.threshold):
            return None
        ids = tuple(dict.fromkeys(entry[1] for entry in state.entries))[:MAX_EVENT_IDS]
        first = state.entries[0][0]
        state.entries.clear()
        state.seen.clear()
        return Fired(index, group, value, ids, first, newest)


Entry = tuple[float, str, str, Any]  # (event time, event id, base rule id, measured value)


def _time(entry: Entry) -> float:
    return entry[0]


@dataclass
class _Group:
    """One group's entries inside the window, in event-time order."""

    entries: list[Entry] = field(default_factory=list)
    seen: set[tuple[str, str]] = field(default_factory=set)


def _measure(spec: CorrelationSpec, entries: list[Entry]) -> float | None:
    kind = spec.kind
    if kind == "event_count":
        return float(len({entry[1] for entry in entries}))  # events, not rule hits
    if kind == "value_count":
        return float(len({str(entry[3]) for entry in entries}))
    if kind in ("value_sum", "value_avg"):
        numbers: dict[str, float] = {}
        for entry in entries:
            try:
                numbers[entry[1]] = float(entry[3])
            except (TypeError, ValueError):
                continue
        if not numbers:
            return None
        total = sum(numbers.values())
        return total if kind == "value_sum" else total / len(numbers)
    if kind == "temporal":
        return float(len({entry[2] for entry in entries}))
    # temporal_ordered: the referenced rules seen in this order of event time.
    position = 0
    for entry in entries:
        if position < len(spec.refs) and entry[2] == spec.refs[position]:
            position += 1
    return float(position) if position == len(spec.refs) else None

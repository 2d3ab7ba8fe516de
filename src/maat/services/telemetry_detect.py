"""The detection step of the telemetry service: a batch from the bus, matched, its alerts
recorded, and what a failure leaves to be done on the next turn.

A batch is handled in two stages, each done once:

1. matching (rules, indicators, segmentation): in memory, and it feeds the correlator, so
   it is never run twice over the same events: matched again after its alerts could not be
   stored, a correlation group that fired would count its events twice;
2. recording the alert lines in the state store, in one transaction for the whole batch.

A stage that fails keeps the batch (:class:`Pending`) for the next turn. A server-side
failure (status 5xx: the store is locked or down) retries it whole. A refusal of the data
(4xx, such as a value the database cannot store) may be one event's doing: the retry goes
event by event (line by line once matched), and what fails alone is passed over, logged and
counted, so that one bad event can neither stop detection for good nor, by holding the
detector's spool position, fill the spool until ingest is refused.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from maat.errors import InvalidInput, MaatError
from maat.ports import BusMessage
from maat.telemetry.wire import decode_event

__all__ = ["DetectorLike", "Pending", "decodable", "detect_pending"]

log = logging.getLogger(__name__)

_T = TypeVar("_T")


PassedOver = Callable[[str, MaatError], None]
"""Told what was passed over (an event id or alert rule) and why."""


class DetectorLike(Protocol):
    """Matches events into alert lines and records them (:class:`maat.services.alerts.
    Detector`; a protocol here because that module builds on the telemetry service)."""

    def lines(
        self, events: list[dict[str, Any]], *, passed_over: PassedOver | None = None
    ) -> list[dict[str, Any]]: ...

    def record(self, lines: list[dict[str, Any]]) -> object: ...


@dataclass
class Pending:
    """A fetched batch not yet acknowledged: its events until matched, then its lines."""

    messages: list[BusMessage]
    events: list[dict[str, Any]] | None
    lines: list[dict[str, Any]] | None = None
    alone: bool = False
    """Retry one event (or line) at a time: the last failure was a refusal of the data."""
    done: int = 0
    """Lines already recorded (or passed over) one at a time."""


def _refused(exc: MaatError) -> bool:
    """Whether ``exc`` refuses the data (4xx), rather than a service failing (5xx)."""
    return exc.status < 500


def _attempt(pending: Pending, run: Callable[[], _T]) -> _T:
    """Run one stage over the whole batch; a refusal makes the retry go one at a time."""
    try:
        return run()
    except MaatError as exc:
        pending.alone = _refused(exc)
        raise


def _match(detector: DetectorLike, pending: Pending, passed_over: PassedOver) -> None:
    """Stage 1: ``pending.lines`` from its events, which are then let go."""
    events = pending.events or []
    if not pending.alone:
        pending.lines = _attempt(pending, lambda: detector.lines(events, passed_over=passed_over))
    else:
        lines: list[dict[str, Any]] = []
        for event in events:
            try:
                lines.extend(detector.lines([event], passed_over=passed_over))
            except MaatError as exc:
                if not _refused(exc):
                    raise  # matched again from the start: the correlator drops repeats
                passed_over(f"event {str(event.get('event.id'))[:100]}", exc)
        pending.lines = lines
    pending.events, pending.alone = None, False


def _record(detector: DetectorLike, pending: Pending, passed_over: PassedOver) -> None:
    """Stage 2: ``pending.lines`` into the store, whole, or one at a time after a refusal."""
    lines = pending.lines or []
    if not pending.alone:
        _attempt(pending, lambda: detector.record(lines))
        return
    while pending.done < len(lines):
        line = lines[pending.done]
        try:
            detector.record([line])
        except MaatError as exc:
            if not _refused(exc):
                raise  # this line and the rest wait for the store
            rule, event_id = str(line.get("rule.id"))[:100], str(line.get("event.id"))[:100]
            passed_over(f"alert of rule {rule} on event {event_id}", exc)
        pending.done += 1


def detect_pending(detector: DetectorLike, pending: Pending, passed_over: PassedOver) -> None:
    """Match and record ``pending``; on failure raises, keeping in it what is left to do."""
    if pending.lines is None:
        _match(detector, pending, passed_over)
    _record(detector, pending, passed_over)


def decodable(
    messages: Iterable[BusMessage], handed: Iterable[dict[str, Any] | None]
) -> Iterator[dict[str, Any]]:
    """The events of ``messages`` (those ``handed`` over as they are, the others decoded);
    one that is not an event is passed over here (the lake writer puts it in the
    dead-letter folder with the reason)."""
    for message, event in zip(messages, handed, strict=True):
        if event is not None:
            yield event
            continue
        try:
            yield decode_event(message.data)
        except InvalidInput:
            continue


def log_passed_over(what: str, exc: MaatError) -> None:
    """Log something detection passed over (an error: events went unexamined)."""
    log.error("%s not detected, passed over: %s", what, exc.diagnostics())

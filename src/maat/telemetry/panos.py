"""Palo Alto Networks GlobalProtect appliance logs (PAN-OS), named by the sender.

SigmaHQ's rules for CVE-2024-3400 (command injection through the GlobalProtect session
cookie) search two of the appliance's own logs: ``gpsvc.log``, JSON lines
(``{"level": "error", "task": "1393-22", "time": "2024-04-16T06:28:45.128393+00:00",
"message": "failed to unmarshal session(...) map , EOF"}``), and ``mp-log`` text lines
(``2024-04-16 06:30:01.123 -0700 debug: ...``). Neither has a shape Maat could tell from
any other log, so the sender names them with ``--source paloalto.globalprotect``; each line
becomes an event of dataset ``paloalto.globalprotect`` whose ``message`` keyword rules
search, with its time and level when the line has them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from maat.errors import InvalidInput
from maat.telemetry.model import Event, iso_utc

__all__ = ["DATASET", "TEXT_SOURCES", "GlobalProtectLog"]

DATASET = "paloalto.globalprotect"
# mp-log: "2024-04-16 06:30:01.123 -0700 debug: ..." (the zone after a space, or none).
_TIME = re.compile(
    r"(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d)(?:[.,](\d{1,9}))?(?:\s?(Z|[+-]\d\d:?\d\d))?\s+"
)
_LEVEL = re.compile(r"(emergency|alert|critical|error|warning|notice|info|debug):?\s", re.I)


def _json_line(record: dict[str, Any], text: str) -> Event:
    """A ``gpsvc.log`` record: its message (the line itself when it has none), level,
    task and time."""
    message = record.get("message")
    out: Event = {"event.dataset": DATASET,
                  "message": message if isinstance(message, str) else text}  # fmt: skip
    level = record.get("level")
    if isinstance(level, str) and level:
        out["log.level"] = level.lower()
    task = record.get("task")
    if isinstance(task, str) and task:
        out["paloalto.task"] = task
    stamp = record.get("time")
    if stamp is not None:
        out["@timestamp"] = iso_utc(stamp)
    return out


def _text_line(text: str) -> Event:
    """An ``mp-log`` line: a leading time (its zone, when written, kept) and level."""
    out: Event = {"event.dataset": DATASET, "message": text}
    stamp = _TIME.match(text)
    if stamp is None:
        return out
    day, clock, fraction, zone = stamp.groups()
    zone = zone or "Z"
    if zone != "Z" and ":" not in zone:
        zone = f"{zone[:3]}:{zone[3:]}"
    out["@timestamp"] = iso_utc(f"{day}T{clock}{'.' + fraction[:6] if fraction else ''}{zone}")
    level = _LEVEL.match(text, stamp.end())
    if level is not None:
        out["log.level"] = level.group(1).lower()
    return out


def parse_line(text: str) -> Event:
    """The event of one line of either log. Raises ``InvalidInput`` for a JSON line that is
    not an object or holds an unreadable time."""
    if text.startswith("{"):
        try:
            record = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise InvalidInput(f"not valid JSON: {exc}") from None
        if not isinstance(record, dict):
            raise InvalidInput("a JSON object was expected")
        return _json_line(record, text)
    return _text_line(text)


class GlobalProtectLog:
    """``gpsvc.log`` and ``mp-log`` lines (see the module); chosen by name only."""

    name = DATASET

    def sniff(self, first_line: bytes) -> bool:
        """Never: the appliance's logs are named by their sender."""
        return False

    def parse_lines(
        self, lines: Iterable[tuple[int, bytes]], *, received: str = ""
    ) -> Iterator[tuple[int, Event | str, bytes]]:
        """One event per line, or the reason a line cannot be read."""
        for number, line in lines:
            text = line.decode("utf-8", "replace").rstrip("\r\n")
            try:
                yield number, parse_line(text), line
            except InvalidInput as exc:
                yield number, exc.message, line
            except Exception as exc:  # a parser's bug must cost this line only, and be said
                yield number, f"the parser failed on this line ({type(exc).__name__})", line


TEXT_SOURCES: tuple[GlobalProtectLog, ...] = (GlobalProtectLog(),)

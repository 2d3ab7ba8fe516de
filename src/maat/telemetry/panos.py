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

import contextlib
import re
from typing import Any

import orjson

from maat.errors import InvalidInput
from maat.telemetry.app_log import NamedLog, line_event
from maat.telemetry.model import Event, iso_utc

__all__ = ["DATASET", "TEXT_SOURCES", "parse_line"]

DATASET = "paloalto.globalprotect"
_READ = frozenset(("message", "level", "time"))
_LEVEL = re.compile(r"(emergency|alert|critical|error|warning|notice|info|debug):?\s", re.I)


def _json_line(record: dict[str, Any], text: str) -> Event:
    """A ``gpsvc.log`` record: its message (the line itself when it has none), level and
    time, and every other text or number as ``paloalto.<key>`` (keyword rules search them
    all). An unreadable time leaves the receive time: the line is still searched."""
    message = record.get("message")
    out: Event = {"event.dataset": DATASET,
                  "message": message if isinstance(message, str) else text}  # fmt: skip
    level = record.get("level")
    if isinstance(level, str) and level:
        out["log.level"] = level.lower()
    for key, value in record.items():
        if key not in _READ and isinstance(value, str | int | float):
            out[f"paloalto.{key}"] = value
    stamp = record.get("time")
    if stamp is not None:
        with contextlib.suppress(InvalidInput):
            out["@timestamp"] = iso_utc(stamp)
    return out


def parse_line(text: str) -> Event:
    """The event of one line of either log: a JSON object as gpsvc.log writes it, any
    other line (a torn JSON line included) as text, so every line is searched."""
    if text.startswith("{"):
        try:
            record = orjson.loads(text)
        except orjson.JSONDecodeError:
            record = None
        if isinstance(record, dict):
            return _json_line(record, text)
    return line_event(text, DATASET, _LEVEL)  # mp-log: a leading time, its zone kept


TEXT_SOURCES: tuple[NamedLog, ...] = (NamedLog(DATASET, parse_line),)

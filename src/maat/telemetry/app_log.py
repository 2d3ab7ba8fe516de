"""Application logs, named by the sender: one event a line, searched by keyword rules.

An application's own log (a Java service's ``catalina.out``, a Django or Rails error log,
a database's query log) has no format Maat could recognise on its own, and SigmaHQ's rules
for them are keyword searches (``JNDI``, ``You have an error in your SQL syntax``). So these
sources are never sniffed: the sender names the application with ``--source app.<name>``
(``maat ingest``) or ``?source=app.<name>`` (``POST /v1/events``), and each line becomes an
event of dataset ``application.<name>`` with the line as ``message``. A leading ISO 8601
time (``2026-11-26 09:00:00,123``, optionally in brackets, with or without a zone; without
one it is read as UTC) becomes ``@timestamp``; otherwise the receive time stands. A leading
level word (``ERROR``, ``WARN``…) becomes ``log.level``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator

from maat.errors import InvalidInput
from maat.telemetry.model import Event, iso_utc

__all__ = [
    "APPLICATIONS",
    "TEXT_SOURCES",
    "NamedLog",
    "leading_time",
    "line_event",
    "parse_line",
]

APPLICATIONS = ("jvm", "spring", "django", "python", "ruby_on_rails", "nodejs", "sql",
                "velocity", "database")  # fmt: skip
"""The applications SigmaHQ has rules for (``database`` is its ``category: database``)."""

_TIME = re.compile(
    r"\[?(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d)(?:[.,](\d{1,9}))?"
    r"(?:\s?(Z|[+-]\d\d:?\d\d))?\]?(?:\s+|\Z)"  # the zone may end the line
)
_LEVEL = re.compile(r"\[?(TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|SEVERE|FATAL|CRITICAL)\]?\b")


def leading_time(text: str) -> tuple[str | None, int]:
    """The ISO UTC time a line starts with (``2026-11-26 09:00:00,123``, in brackets or
    not, its zone attached or after a space, none read as UTC) and where the rest starts;
    ``(None, 0)`` without one, or when it names no real moment (the line is kept)."""
    stamp = _TIME.match(text)
    if stamp is None:
        return None, 0
    day, clock, fraction, zone = stamp.groups()
    if zone and zone != "Z" and ":" not in zone:
        zone = f"{zone[:3]}:{zone[3:]}"
    iso = f"{day}T{clock}{'.' + fraction[:6] if fraction else ''}{zone or 'Z'}"
    try:
        return iso_utc(iso), stamp.end()
    except InvalidInput:
        return None, stamp.end()


def parse_line(text: str, application: str) -> Event:
    """The event of one line of ``application``'s log."""
    return line_event(text, f"application.{application}", _LEVEL)


def line_event(text: str, dataset: str, levels: re.Pattern[str]) -> Event:
    """A line as an event of ``dataset``: the line as ``message``, its leading time as
    ``@timestamp`` and the level word after it (``levels``' first group) as ``log.level``."""
    out: Event = {"event.dataset": dataset, "message": text}
    stamp, rest = leading_time(text)
    if stamp is not None:
        out["@timestamp"] = stamp
    level = levels.match(text, rest)
    if level is not None:
        out["log.level"] = level.group(1).lower()
    return out


class NamedLog:
    """A log named by its sender, never sniffed: each line one event, read by ``parse``
    (an ``InvalidInput`` costs that line only, reported with its number)."""

    def __init__(self, name: str, parse: Callable[[str], Event]) -> None:
        self.name = name
        self._parse = parse

    def sniff(self, first_line: bytes) -> bool:
        """Never: such a log is named by its sender."""
        return False

    def parse_lines(
        self, lines: Iterable[tuple[int, bytes]], *, received: str = ""
    ) -> Iterator[tuple[int, Event | str, bytes]]:
        """One event per line, or the reason a line cannot be read."""
        for number, line in lines:
            text = line.decode("utf-8", "replace").rstrip("\r\n")
            try:
                yield number, self._parse(text), line
            except InvalidInput as exc:
                yield number, exc.message, line
            except Exception as exc:  # a parser's bug must cost this line only, and be said
                yield number, f"the parser failed on this line ({type(exc).__name__})", line


def _application(name: str) -> NamedLog:
    return NamedLog(f"app.{name}", lambda text: parse_line(text, name))


TEXT_SOURCES: tuple[NamedLog, ...] = tuple(_application(name) for name in APPLICATIONS)

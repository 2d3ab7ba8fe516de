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

import contextlib
import re
from collections.abc import Iterable, Iterator

from maat.errors import InvalidInput
from maat.telemetry.model import Event, iso_utc

__all__ = ["APPLICATIONS", "TEXT_SOURCES", "AppLog"]

APPLICATIONS = ("jvm", "spring", "django", "python", "ruby_on_rails", "nodejs", "sql",
                "velocity", "database")  # fmt: skip
"""The applications SigmaHQ has rules for (``database`` is its ``category: database``)."""

_TIME = re.compile(
    r"\[?(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d)(?:[.,](\d{1,9}))?(Z|[+-]\d\d:?\d\d)?\]?\s+"
)
_LEVEL = re.compile(r"\[?(TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|SEVERE|FATAL|CRITICAL)\]?\b")


def parse_line(text: str, application: str) -> Event:
    """The event of one line of ``application``'s log."""
    out: Event = {"event.dataset": f"application.{application}", "message": text}
    stamp = _TIME.match(text)
    rest = text
    if stamp is not None:
        day, clock, fraction, zone = stamp.groups()
        iso = f"{day}T{clock}{'.' + fraction[:6] if fraction else ''}{zone or 'Z'}"
        with contextlib.suppress(InvalidInput):  # not a real moment: kept, received now
            out["@timestamp"] = iso_utc(iso)
        rest = text[stamp.end() :]
    level = _LEVEL.match(rest)
    if level is not None:
        out["log.level"] = level.group(1).lower()
    return out


class AppLog:
    """The log of one named application (see the module); chosen by name only."""

    def __init__(self, application: str) -> None:
        self.application = application
        self.name = f"app.{application}"

    def sniff(self, first_line: bytes) -> bool:
        """Never: an application's log is named by its sender."""
        return False

    def parse_lines(
        self, lines: Iterable[tuple[int, bytes]], *, received: str = ""
    ) -> Iterator[tuple[int, Event | str, bytes]]:
        """One event per line."""
        for number, line in lines:
            text = line.decode("utf-8", "replace").rstrip("\r\n")
            yield number, parse_line(text, self.application), line


TEXT_SOURCES: tuple[AppLog, ...] = tuple(AppLog(name) for name in APPLICATIONS)

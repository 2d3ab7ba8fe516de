"""Web servers' error logs: Apache httpd ``error.log`` and nginx ``error.log``.

A web shell or an exploit against the server that fronts a supplier's ERP leaves crashes
and odd errors there, which SigmaHQ's ``apache`` and ``nginx`` keyword rules look for. One
line is one event (module ``web_error``, dataset ``apache.error`` or ``nginx.error``) with
``log.level``, ``process.pid``, the client address where Apache names it, and the text as
``message``. Both servers write local time without a zone; it is read as UTC.

Apache 2.4: ``[Wed Oct 11 14:32:52.123456 2000] [core:error] [pid 35708:tid 43] [client
72.15.99.187:4321] AH00128: File does not exist: …`` (2.2 has no module and no pid).
nginx: ``2026/11/25 10:00:00 [alert] 1234#0: *5 worker process 5678 exited on signal 6``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from maat.telemetry.model import Event, iso_utc
from maat.telemetry.syslog import MONTHS

__all__ = ["TEXT_SOURCES", "WebErrorLog", "parse_line"]

_APACHE = re.compile(
    r"\[(?:[A-Z][a-z]{2} )?([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?"
    r" (\d{4})\] \[(?:([\w-]{1,64}):)?(\w{1,16})\] ?(.*)"
)
_APACHE_PID = re.compile(r"\[pid (\d{1,10})(?::tid \d+)?\] ?")
_APACHE_CLIENT = re.compile(r"\[(?:client|remote) ([0-9A-Fa-f:.\[\]]{2,55})\] ?")
_NGINX = re.compile(
    r"(\d{4})/(\d\d)/(\d\d) (\d\d):(\d\d):(\d\d) \[(\w{1,16})\] (\d{1,10})#\d+: (.*)"
)


def _moment(year: str, month: int, day: str, clock: tuple[str, str, str], micro: str) -> str:
    hour, minute, second = (int(part) for part in clock)
    return iso_utc(datetime(int(year), month, int(day), hour, minute, second,
                            int(micro.ljust(6, "0")), tzinfo=UTC))  # fmt: skip


def _address(text: str) -> str | None:
    """The address of ``1.2.3.4``, ``1.2.3.4:5050``, ``2001:db8::1`` or ``[2001:db8::1]:5050``
    (Apache writes the port after the address, IPv6 included)."""
    stem, _, port = text.rpartition(":")
    # Apache 2.4 always writes the port, without brackets around an IPv6 address.
    candidates = (stem, text) if port.isascii() and port.isdigit() and len(port) <= 5 else (text,)
    for candidate in candidates:
        candidate = candidate.strip("[]")
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            continue
    return None


def parse_line(text: str) -> Event | str:
    """The event of one error-log line, or why it is not one."""
    apache = _APACHE.match(text)
    if apache is not None:
        month, day, hour, minute, second, micro, year, module, level, rest = apache.groups()
        out: Event = {"event.dataset": "apache.error", "log.level": level.lower()}
        if module:
            out["apache.error.module"] = module
        found = _APACHE_PID.match(rest)
        if found is not None:
            out["process.pid"] = int(found.group(1))
            rest = rest[found.end() :]
        client = _APACHE_CLIENT.match(rest)
        if client is not None:
            address = _address(client.group(1))
            if address is not None:
                out["source.ip"] = address
            rest = rest[client.end() :]
        out["message"] = rest
        try:
            out["@timestamp"] = _moment(year, MONTHS[month], day, (hour, minute, second),
                                        micro or "0")  # fmt: skip
        except ValueError:
            return f"not a valid time: {text[:40]!r}"
        return out
    nginx = _NGINX.match(text)
    if nginx is not None:
        year, month, day, hour, minute, second, level, pid, rest = nginx.groups()
        try:
            stamp = _moment(year, int(month), day, (hour, minute, second), "0")
        except ValueError:
            return f"not a valid time: {text[:40]!r}"
        return {"event.dataset": "nginx.error", "log.level": level, "process.pid": int(pid),
                "message": rest, "@timestamp": stamp}  # fmt: skip
    return "not an Apache or nginx error log line"


class WebErrorLog:
    """Apache and nginx error logs, one event a line."""

    name = "web_error"

    def sniff(self, first_line: bytes) -> bool:
        """A first line in either server's error-log form."""
        text = first_line[:300].decode("utf-8", "replace")
        return bool(_APACHE.match(text) or _NGINX.match(text))

    def parse_lines(
        self, lines: Iterable[tuple[int, bytes]], *, received: str = ""
    ) -> Iterator[tuple[int, Event | str, bytes]]:
        """One event per line. A line in neither form (a stack trace, a PHP message's next
        line) is kept with the server of the line before, received now; before any
        server's line it is an error."""
        dataset = ""
        for number, line in lines:
            text = line.decode("utf-8", "replace").rstrip("\r\n")
            try:
                event = parse_line(text)
            except Exception as exc:  # a parser's bug must cost this line only, and be said
                event = f"the parser failed on this line ({type(exc).__name__})"
            if isinstance(event, dict):
                dataset = event["event.dataset"]
            elif dataset and event.startswith("not an"):
                event = {"event.dataset": dataset, "message": text}
            yield number, event, line


TEXT_SOURCES: tuple[WebErrorLog, ...] = (WebErrorLog(),)

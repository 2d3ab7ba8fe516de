"""The normalised event: a flat ``dict`` keyed by ECS field names, and the parser contracts.

An event is ``{"@timestamp": "2020-10-21T09:40:38.926Z", "event.id": "…", "event.module":
"windows", "event.kind": "event", "event.code": "1", "process.executable": "C:\\…", …,
"event.original": "<the record as received>"}``. Keys are ECS names written flat with dots,
never nested; values are ``str``, ``int``, ``float``, ``bool`` or lists of ``str``.
Flat dicts, not objects: at 50,000 events/s per core an object per event and a nested
structure cost more than the parsing itself (ADR 0007).

Every event carries the keys in :data:`REQUIRED`, set by :func:`finish`:

- ``@timestamp`` — ISO 8601 in UTC ending in ``Z`` (source time; the receive time when the
  source has none, with ``event.ingested`` beside it);
- ``event.id`` — deterministic: BLAKE2b-128 of the module and the original record, so a
  replayed record gets the same id and is deduplicated;
- ``event.module`` — the parser that read it (``windows``, ``sysmon_linux``, ``auditd``,
  ``osquery``, ``falco``, ``zeek``, ``access_log``, ``unknown``);
- ``event.kind`` — ``event`` or ``alert``; ``unknown`` for records no parser understands (kept,
  never dropped);
- ``event.original`` — the original record text.

Parsers come in two shapes. A :class:`JsonSource` judges one decoded JSON object at a time
(agents mix sources in one stream). A :class:`TextSource` reads the lines of a text format
that needs state across lines (Zeek TSV headers, auditd records that span several lines).
Both return ECS fields and report a bad record by raising :class:`~maat.errors.InvalidInput`
(naming the field), which the pipeline turns into a located :class:`ParseError`.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Protocol

from maat.errors import InvalidInput

__all__ = [
    "REQUIRED",
    "Event",
    "JsonSource",
    "ParseError",
    "TextSource",
    "event_id",
    "finish",
    "id_parameters",
    "iso_utc",
    "set_url_path",
]

Event = dict[str, Any]
"""One normalised event (see the module documentation for its keys)."""

REQUIRED = ("@timestamp", "event.id", "event.module", "event.kind", "event.original")


@dataclass(frozen=True, slots=True)
class ParseError:
    """One record that could not be read: where it is and why. The other records are kept."""

    path: str
    line: int
    reason: str

    def as_dict(self) -> dict[str, Any]:
        """The JSON form used by ``maat ingest --format json`` and ``POST /v1/events``."""
        return {"path": self.path, "line": self.line, "reason": self.reason}


class JsonSource(Protocol):
    """A parser for one kind of JSON record (Windows event, osquery result, Falco alert, …)."""

    name: str
    """The ``event.module`` value of the events it makes."""

    def accepts(self, record: dict[str, Any]) -> bool:
        """Whether ``record`` is of this source's kind (cheap: a few key lookups)."""
        ...

    def normalise(self, record: dict[str, Any]) -> Event | list[Event]:
        """ECS fields for ``record``; raises ``InvalidInput`` naming the field at fault.

        The result needs no ``event.id``, ``event.module`` or ``event.original``;
        ``@timestamp`` may be any form :func:`iso_utc` reads, or absent. A record that holds
        several events (an osquery snapshot) gives a list, one dict per event; each then gets
        its own id from the record and its index, and should carry as ``event.original``
        its own part of the record (else the whole record is each one's original: a record
        of N rows would be stored N times over).
        """
        ...


class TextSource(Protocol):
    """A parser for a line-oriented text format (Zeek TSV, raw auditd, …)."""

    name: str

    def sniff(self, first_line: bytes) -> bool:
        """Whether a file whose first non-empty line is ``first_line`` is in this format."""
        ...

    def parse_lines(
        self, lines: Iterable[tuple[int, bytes]], *, received: str = ""
    ) -> Iterator[tuple[int, Event | str, bytes]]:
        """Events from numbered lines: ``(first line number, fields or error reason, raw)``.
        ``received`` (ISO UTC) is when the lines arrived, for formats whose times lack a
        part (syslog's BSD times have no year).

        ``raw`` is the original text of the event (several lines joined by ``\\n`` when the
        format spreads one event over several).
        """
        ...


def set_url_path(out: Event, path: str) -> None:
    """``url.path`` and, when its last segment has one, ``url.extension`` (ECS: without the
    dot, as written; what proxy rules call ``c-uri-extension``)."""
    out["url.path"] = path
    name = path.rsplit("/", 1)[-1]
    stem, dot, extension = name.rpartition(".")
    if dot and stem and extension and len(extension) <= 16 and extension.isalnum():
        out["url.extension"] = extension


def event_id(module: str, raw: bytes) -> str:
    """The deterministic id of the record ``raw`` read by ``module`` (32 hex characters)."""
    return hashlib.blake2b(raw, digest_size=_ID_BYTES, person=module.encode()[:16]).hexdigest()


def id_parameters(module: str) -> tuple[int, bytes]:
    """``(digest_size, person)`` of :func:`event_id`'s BLAKE2b for ``module``: for the C
    hot path, which hashes with its own BLAKE2b (:mod:`maat.telemetry.native`)."""
    return _ID_BYTES, module.encode()[:16]


_ID_BYTES = 16


def sender_event_id(record_id: str, sender: str) -> str:
    """The id of an event a known device sent: its record's id scoped to that sender, so
    that only the sender's own replays collapse into it. Another agent sending the same
    record first cannot take it over (and drop the device's own copy as a replay)."""
    data = f"{record_id}\x00{sender}".encode("utf-8", "surrogatepass")
    return hashlib.blake2b(data, digest_size=16, person=b"maat.sender").hexdigest()


def iso_utc(value: object) -> str:
    """``value`` as ISO 8601 UTC text ending in ``Z``.

    Accepts ISO 8601 text (with ``Z``, an offset, or no zone, read as UTC; a space instead of
    ``T``; fractions to nanoseconds, cut to microseconds), epoch seconds (int or float) and
    aware ``datetime`` objects. Raises ``InvalidInput`` for anything else.
    """
    if isinstance(value, str):
        if value is _last_canonical[0]:
            return value  # just returned by this function (the parser's, then finish()'s call)
        # What most sources send already (2020-10-21T09:40:38.926Z) is kept as it is, but
        # only in exactly that form: Python also reads week dates, comma fractions and
        # compact times, which the lake's reader (Arrow) refuses.
        if _CANONICAL.match(value):
            try:
                datetime.fromisoformat(value)  # the digits must name a real moment
            except ValueError as exc:
                raise InvalidInput(f"not a valid time: {value!r}", field="@timestamp") from exc
            _last_canonical[0] = value
            return value
        try:
            moment = datetime.fromisoformat(value.strip())
            if moment.tzinfo is None:
                return _format(moment)
            return _format(moment.astimezone(UTC))
        except (ValueError, OverflowError) as exc:
            raise InvalidInput(f"not an ISO 8601 time: {value[:80]!r}", field="@timestamp") from exc
    if isinstance(value, bool):
        raise InvalidInput(f"not a timestamp: {value!r}", field="@timestamp")
    if isinstance(value, int | float):
        try:
            moment = datetime.fromtimestamp(float(value), UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise InvalidInput(f"epoch time out of range: {value!r}", field="@timestamp") from exc
        return _format(moment)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise InvalidInput("timestamp without a time zone", field="@timestamp")
        try:
            return _format(value.astimezone(UTC))
        except OverflowError as exc:
            raise InvalidInput(f"time out of range: {value!r}", field="@timestamp") from exc
    raise InvalidInput(f"not a timestamp: {str(value)[:80]!r}", field="@timestamp")


# The last text found canonical, compared by identity; it starts as a text no input can be
# (an empty input is the shared empty string object).
_last_canonical: list[str] = ["\x00 no time yet"]
_CANONICAL = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?Z\Z")


LAST_SECOND = 253402300799  # 9999-12-31T23:59:59Z


@lru_cache(maxsize=4096)
def utc_second(seconds: int) -> str:
    """``YYYY-MM-DDTHH:MM:SS`` of whole epoch ``seconds`` (0..LAST_SECOND), cached: records
    arrive in time order, so most seconds repeat."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


def epoch_utc(value: float) -> str:
    """Epoch seconds as :func:`iso_utc` writes them, without a strftime per call."""
    if not 0 <= value <= LAST_SECOND:  # also NaN: iso_utc says what is wrong
        return iso_utc(value)
    seconds = int(value)
    micro = round((value - seconds) * 1_000_000)
    if micro == 1_000_000:
        seconds, micro = seconds + 1, 0
    return f"{utc_second(seconds)}.{micro:06d}Z"


def _format(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}Z"


def finish(fields: Event, *, module: str, raw: bytes, received: str) -> Event:
    """Complete ``fields`` into an event: the :data:`REQUIRED` keys, timestamps in UTC.

    ``received`` is the ISO UTC receive time, used for ``@timestamp`` when the source has
    none (``event.ingested`` then says so). Raises ``InvalidInput`` for an unreadable time.
    """
    stamp = fields.get("@timestamp")
    if stamp is None or stamp == "":
        fields["@timestamp"] = received
        fields["event.ingested"] = received
    else:
        fields["@timestamp"] = iso_utc(stamp)
    fields["event.id"] = event_id(module, raw)
    fields["event.module"] = module
    fields.setdefault("event.kind", "event")
    fields["event.original"] = raw.decode("utf-8", "replace")
    return fields

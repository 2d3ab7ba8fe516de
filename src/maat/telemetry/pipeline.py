"""Bytes in, events and located errors out: the parse and normalise stage of ingest.

:func:`parse_bytes` reads one file or one request body:

1. lines longer than ``max_event_bytes`` are rejected with their size (never parsed);
2. a body starting with ``[`` that is one JSON array is read as a list of records;
   otherwise a body whose first non-empty line starts with ``{`` is JSON lines, and any other
   text is offered to the text formats (Zeek TSV, raw auditd) by its first line;
3. each JSON record goes to the source :class:`~maat.telemetry.dispatch.JsonDispatcher` picks;
   text lines go to the sniffed :class:`~maat.telemetry.model.TextSource`; lines of a text
   file no format claims are kept one event each, ``event.kind: unknown``;
   binary input (a packet capture, an archive) is skipped whole, with the reason;
4. every event is completed by :func:`~maat.telemetry.model.finish` (id, module, original,
   UTC timestamp).

A bad record becomes a :class:`~maat.telemetry.model.ParseError` with its line number and the
reason; the other records are kept. Nothing here raises for bad input.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from maat.errors import InvalidInput, PayloadTooLarge
from maat.telemetry.dispatch import JSON_SOURCES, UNKNOWN, JsonDispatcher, text_source
from maat.telemetry.model import Event, ParseError, event_id, finish
from maat.telemetry.native import FLAT_WINDOWS_LINES
from maat.telemetry.windows import FLAT

__all__ = ["MAX_KEPT_ERRORS", "ParseErrors", "ParseOutcome", "parse_bytes", "parse_records"]


MAX_KEPT_ERRORS = 10_000  # errors kept in full per input; the rest are counted


class ParseErrors(list[ParseError]):
    """The first :data:`MAX_KEPT_ERRORS` errors of an input; later ones are only counted
    (``dropped``), so that a body of bad lines costs no memory in proportion to its lines
    (no more than a thousand are reported anyway)."""

    def __init__(self, errors: Iterable[ParseError] = ()) -> None:
        super().__init__()
        self.dropped = 0
        self.extend(errors)

    @property
    def full(self) -> bool:
        """Whether a further error would only be counted."""
        return len(self) >= MAX_KEPT_ERRORS

    @property
    def total(self) -> int:
        """Every error, kept or counted."""
        return len(self) + self.dropped

    def append(self, error: ParseError) -> None:
        """Keep ``error``, or count it once the list is full."""
        if self.full:
            self.dropped += 1
        else:
            super().append(error)

    def extend(self, errors: Iterable[ParseError]) -> None:
        """Append each of ``errors`` (and count those another list only counted)."""
        for error in errors:
            self.append(error)
        self.dropped += getattr(errors, "dropped", 0)


@dataclass
class ParseOutcome:
    """The events read from one input and the records that could not be read."""

    events: list[Event] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    """Beside each event, the line (or record number) it was read from."""
    errors: ParseErrors = field(default_factory=ParseErrors)
    skipped: str | None = None
    """Why the whole input was not read (it is not an event log, e.g. a packet capture)."""
    max_events: int = 1 << 62
    """Beyond this many events the input is refused whole (``PayloadTooLarge``)."""

    def extend(self, other: ParseOutcome) -> None:
        """Append ``other``'s events and errors."""
        self.events.extend(other.events)
        self.lines.extend(other.lines)
        self.errors.extend(other.errors)


def _reason(exc: InvalidInput) -> str:
    where = exc.location.field
    return f"{exc.message} (field {where!r})" if where else exc.message


def _numbered(data: bytes) -> Iterator[tuple[int, bytes]]:
    number = 0
    start = 0
    end = len(data)
    while start <= end:
        # one line at a time: the first is sniffed alone, and a body the C hot path reads
        # is not split twice
        stop = data.find(b"\n", start)
        if stop < 0:
            stop = end
        number += 1
        line = data[start:stop]
        start = stop + 1
        if line.endswith(b"\r"):
            line = line[:-1]
        if line.strip():
            yield number, line


def parse_bytes(
    data: bytes,
    *,
    path: str,
    received: str,
    max_event_bytes: int,
    source: str = "auto",
    max_events: int | None = None,
) -> ParseOutcome:
    """Events and located errors from ``data`` (a file's or a request body's bytes).

    ``path`` names the input in errors; ``received`` (ISO UTC) stands in for a missing
    source time; ``source`` forces one parser by name (``auto`` detects). Two things raise,
    as they are the caller's to fix, not the data's: an unknown forced name
    (``InvalidInput``) and more than ``max_events`` events (``PayloadTooLarge``, raised as
    soon as the limit is passed, so a huge input costs no more than the limit).
    """
    out = ParseOutcome(max_events=max_events if max_events is not None else 1 << 62)
    dispatcher = JsonDispatcher(source) if source == "auto" or _is_json_source(source) else None
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    binary = _binary_kind(data[:4096])
    if binary is not None:
        out.skipped = f"{binary}, not an event log: nothing was read from it"
        return out
    head = data[:4096].lstrip()
    if dispatcher is not None and head.startswith(b"["):
        records = _json_array(data)
        if isinstance(records, list):
            return _parse_records(out, records, dispatcher, path, received, max_event_bytes)
        if head[1:].lstrip().startswith(b"{"):
            # An array of objects that does not parse: say where, rather than read it as
            # text ("[2020-10-21 09:40] message" logs fall through to the text formats).
            out.errors.append(ParseError(path, records, "not a valid JSON array"))
            return out
    if dispatcher is not None and head.startswith(b"{") and _spans_lines(data):
        # Pretty-printed objects (EVTX-to-JSON tools, the Sigma regression cases).
        documents = _json_documents(data)
        if documents is not None:
            numbers, records = documents
            return _parse_records(out, records, dispatcher, path, received, max_event_bytes,
                                  numbers=numbers)  # fmt: skip
    lines = _numbered(data)
    first = next(lines, None)
    if first is None:
        return out
    if dispatcher is not None and _looks_like_json_lines(first[1], data):
        if FLAT_WINDOWS_LINES is not None and (source == "auto" or source == FLAT.name):
            return _parse_json_lines_native(out, data, dispatcher, path, received,
                                            max_event_bytes)  # fmt: skip
        return _parse_json_lines(out, first, lines, dispatcher, path, received, max_event_bytes)
    text = text_source(first[1], source)
    if text is None and source not in ("auto", UNKNOWN.name):
        raise InvalidInput(f"no parser is named {source!r}", field="source")
    return _parse_text(out, first, lines, text, path, received, max_event_bytes)


_BOM = b"\xef\xbb\xbf"


def _looks_like_json_lines(first: bytes, data: bytes) -> bool:
    """JSON lines when the first line is an object, or when it is not but most of the next
    lines are objects: a bad or banner first line must be reported, not turn the file to
    text, even when a text format would claim that one line."""
    if first.lstrip().startswith(b"{"):
        return True
    # The lines after the first non-empty one (the data may start with blank lines).
    sample = [line.lstrip() for line in data[:65536].lstrip().split(b"\n")[1:9] if line.strip()]
    return bool(sample) and sum(line.startswith(b"{") for line in sample) * 2 > len(sample)


def parse_records(
    records: Iterable[tuple[int, object]],
    *,
    path: str,
    received: str,
    max_event_bytes: int,
    source: str = "auto",
    max_events: int | None = None,
) -> ParseOutcome:
    """Events from already decoded records (an EVTX file's), each with its record number.

    A record given as an :class:`~maat.errors.InvalidInput` (the reader could not decode
    it) becomes an error at that number; the others are read as JSON records are.
    """
    dispatcher = JsonDispatcher(source)
    out = ParseOutcome(max_events=max_events if max_events is not None else 1 << 62)
    for number, record in records:
        if isinstance(record, InvalidInput):
            out.errors.append(ParseError(path, number, _reason(record)))
            continue
        raw = orjson.dumps(record)
        problem = _too_big(raw, max_event_bytes)
        if problem is not None:
            out.errors.append(ParseError(path, number, problem))
            continue
        _emit(out, dispatcher, record, raw, number, path, received)
    return out


_MAGIC = {
    b"\xd4\xc3\xb2\xa1": "a pcap capture (Maat reads Zeek's logs of a capture)",
    b"\xa1\xb2\xc3\xd4": "a pcap capture (Maat reads Zeek's logs of a capture)",
    b"\x0a\x0d\x0d\x0a": "a pcapng capture (Maat reads Zeek's logs of a capture)",
    b"ElfF": "an EVTX file (read it with maat ingest, which decodes EVTX)",
    b"PK\x03\x04": "a zip archive (unpack it first)",
}


def _binary_kind(head: bytes) -> str | None:
    """What binary data ``head`` starts (``None`` for text): such input is refused whole
    rather than kept as thousands of meaningless "unknown" lines."""
    kind = _MAGIC.get(head[:4])
    if kind is not None:
        return kind
    if b"\x00" in head:
        return "binary data"
    return None


def _is_json_source(name: str) -> bool:
    return any(s.name == name for s in JSON_SOURCES)


def _json_array(data: bytes) -> list[Any] | int:
    """The records of a JSON array, or the line where it stops being valid JSON."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        return int(getattr(exc, "lineno", 1) or 1)
    return value if isinstance(value, list) else 1


def _spans_lines(data: bytes) -> bool:
    """Whether the first object of ``data`` continues past its first line."""
    stripped = data.lstrip()
    end = stripped.find(b"\n")  # not split(): that would copy the whole body after the line
    first = stripped if end < 0 else stripped[:end]
    try:
        return not isinstance(orjson.loads(first), dict)
    except orjson.JSONDecodeError:
        return True


def _json_documents(data: bytes) -> tuple[list[int], list[Any]] | None:
    """The objects of a file of pretty-printed JSON values one after another, with the
    line each starts on; None when it is not that (it is then read line by line, which
    reports each broken line)."""
    try:
        value = orjson.loads(data)
        return [data[: len(data) - len(data.lstrip())].count(b"\n") + 1], [value]
    except orjson.JSONDecodeError:
        pass
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    decoder = json.JSONDecoder()
    numbers: list[int] = []
    records: list[Any] = []
    position, line = 0, 1
    while True:
        start = position
        while position < len(text) and text[position].isspace():
            position += 1
        line += text.count("\n", start, position)
        if position >= len(text):
            return (numbers, records) if records else None
        try:
            record, end = decoder.raw_decode(text, position)
        except (ValueError, RecursionError):  # nesting deeper than Python's stack: not this
            return None
        numbers.append(line)
        records.append(record)
        line += text.count("\n", position, end)
        position = end


def _too_big(line: bytes, limit: int) -> str | None:
    if len(line) > limit:
        return (
            f"event of {len(line):,} bytes exceeds the limit of {limit:,} bytes "
            "(telemetry.max_event_bytes)"
        )
    return None


def _check_count(out: ParseOutcome) -> None:
    if len(out.events) > out.max_events:
        raise PayloadTooLarge(
            f"more than {out.max_events:,} events in one input (telemetry.max_batch_events): "
            "send smaller batches"
        )


def _emit(
    out: ParseOutcome,
    dispatcher: JsonDispatcher,
    record: object,
    raw: bytes,
    number: int,
    path: str,
    received: str,
) -> None:
    if not isinstance(record, dict):
        kind = type(record).__name__
        out.errors.append(ParseError(path, number, f"a JSON object was expected, not {kind}"))
        return
    try:
        reader = dispatcher.source_for(record)
        fields = reader.normalise(record)
        if isinstance(fields, list):
            made = []
            for index, one in enumerate(fields):
                own = one.pop("event.original", None)  # the event's own part of the record
                part = own.encode("utf-8", "surrogatepass") if isinstance(own, str) else raw
                event = finish(one, module=reader.name, raw=part, received=received)
                event["event.id"] = event_id(reader.name, raw + b"#%d" % index)
                made.append(event)
            out.events.extend(made)  # all of the record's events, or none
            out.lines.extend([number] * len(made))
        else:
            out.events.append(finish(fields, module=reader.name, raw=raw, received=received))
            out.lines.append(number)
        _check_count(out)
    except InvalidInput as exc:
        out.errors.append(ParseError(path, number, _reason(exc)))
    except PayloadTooLarge:
        raise
    except Exception as exc:  # a parser's bug must cost this record only, and be reported
        reason = f"the parser failed on this record ({type(exc).__name__}: {exc})"
        out.errors.append(ParseError(path, number, reason))


def _parse_json_lines(
    out: ParseOutcome,
    first: tuple[int, bytes],
    rest: Iterator[tuple[int, bytes]],
    dispatcher: JsonDispatcher,
    path: str,
    received: str,
    limit: int,
) -> ParseOutcome:
    for number, line in _chain(first, rest):
        _json_line(out, number, line, dispatcher, path, received, limit)
    return out


def _parse_json_lines_native(
    out: ParseOutcome,
    data: bytes,
    dispatcher: JsonDispatcher,
    path: str,
    received: str,
    limit: int,
) -> ParseOutcome:
    """:func:`_parse_json_lines` with the C hot path (ADR 0020): the same events and errors.

    A line the C path made is taken only when the Python dispatcher would give it to the
    same reader (the previous record's was :data:`FLAT`); every other line, and every line
    the C path declined, is read by :func:`_json_line`.
    """
    assert FLAT_WINDOWS_LINES is not None
    events, lines = out.events, out.lines
    offset, counted, end = 0, 0, len(data)
    while offset <= end:  # a bounded number of lines at a time
        numbers, payloads, slow, offset, counted = FLAT_WINDOWS_LINES(
            data, received, limit, offset, counted, NATIVE_CHUNK_LINES
        )
        slow.append(len(payloads))  # a stop after the last line
        at = 0
        for stop in slow:
            # payloads[at:stop] are events the C path made; payloads[stop], a line it did not
            while at < stop:
                if dispatcher.last is FLAT:
                    events.extend(payloads[at:stop])
                    lines.extend(numbers[at:stop])
                    _check_count(out)
                    at = stop
                    break
                line = payloads[at]["event.original"].encode()  # another reader's turn first
                _json_line(out, numbers[at], line, dispatcher, path, received, limit)
                at += 1
            if stop < len(payloads):
                _json_line(out, numbers[stop], payloads[stop], dispatcher, path, received, limit)
                at = stop + 1
    return out


NATIVE_CHUNK_LINES = 1024
"""Lines the C hot path reads per call: a body of bad lines is then held a chunk at a time."""


def _json_line(
    out: ParseOutcome,
    number: int,
    line: bytes,
    dispatcher: JsonDispatcher,
    path: str,
    received: str,
    limit: int,
) -> None:
    """Read one line of a JSON lines input into ``out``."""
    # A log file in an envelope (CloudTrail's one-line {"Records": [...]}) is bounded
    # per record, not as one line.
    envelope = line.startswith(_ENVELOPE) and len(line) <= MAX_ENVELOPE_BYTES
    if len(line) > limit and not envelope:
        out.errors.append(ParseError(path, number, _too_big(line, limit) or "too big"))
        return
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        if out.errors.full:  # counted only: do not format what will not be kept
            out.errors.dropped += 1
        else:
            out.errors.append(ParseError(path, number, f"not valid JSON: {exc}"))
        return
    records = _enveloped(record)
    if records is not None:
        _parse_records(out, records, dispatcher, path, received, limit,
                       numbers=[number] * len(records))  # fmt: skip
        return
    if len(line) > limit:
        out.errors.append(ParseError(path, number, _too_big(line, limit) or "too big"))
        return
    _emit(out, dispatcher, record, line, number, path, received)


_ENVELOPE = b'{"Records":'
MAX_ENVELOPE_BYTES = 256 << 20  # a CloudTrail log file holds up to a few thousand records


def _enveloped(record: object) -> list[Any] | None:
    """The records of ``{"Records": [...]}`` (a CloudTrail log file), read one by one."""
    if type(record) is dict and len(record) == 1:
        records = record.get("Records")
        if isinstance(records, list):
            return records
    return None


def _chain(
    first: tuple[int, bytes], rest: Iterator[tuple[int, bytes]]
) -> Iterator[tuple[int, bytes]]:
    yield first
    yield from rest


def _parse_records(
    out: ParseOutcome,
    records: list[Any],
    dispatcher: JsonDispatcher,
    path: str,
    received: str,
    limit: int,
    *,
    numbers: list[int] | None = None,
) -> ParseOutcome:
    # "line" is the record's position in an array, or the line a document starts on.
    for index, record in enumerate(records):
        number = numbers[index] if numbers is not None else index + 1
        inner = _enveloped(record)
        if inner is not None:
            _parse_records(out, inner, dispatcher, path, received, limit,
                           numbers=[number] * len(inner))  # fmt: skip
            continue
        try:
            raw = orjson.dumps(record)
        except (orjson.JSONEncodeError, TypeError) as exc:  # e.g. an integer beyond 64 bits
            out.errors.append(ParseError(path, number, f"cannot be read: {exc}"))
            continue
        problem = _too_big(raw, limit)
        if problem is not None:
            out.errors.append(ParseError(path, number, problem))
            continue
        _emit(out, dispatcher, record, raw, number, path, received)
    return out  # the same steps as parse_records, without its error records


def _parse_text(
    out: ParseOutcome,
    first: tuple[int, bytes],
    rest: Iterator[tuple[int, bytes]],
    text: Any,
    path: str,
    received: str,
    limit: int,
) -> ParseOutcome:
    oversized: list[ParseError] = []

    def bounded() -> Iterator[tuple[int, bytes]]:
        for number, line in _chain(first, rest):
            problem = _too_big(line, limit)
            if problem is None:
                yield number, line
            else:
                oversized.append(ParseError(path, number, problem))

    if text is None:
        for number, text_line in bounded():
            fields: Event = {"event.kind": "unknown"}
            out.events.append(finish(fields, module=UNKNOWN.name, raw=text_line, received=received))
            out.lines.append(number)
            _check_count(out)
        out.errors.extend(oversized)
        return out
    try:
        for number, result, raw in text.parse_lines(bounded(), received=received):
            if isinstance(result, str):
                out.errors.append(ParseError(path, number, result))
                continue
            try:
                out.events.append(finish(result, module=text.name, raw=raw, received=received))
                out.lines.append(number)
                _check_count(out)
            except InvalidInput as exc:
                out.errors.append(ParseError(path, number, _reason(exc)))
    except InvalidInput as exc:  # the format itself broke (e.g. a TSV body without #fields)
        out.errors.append(ParseError(path, exc.location.line or 0, _reason(exc)))
    out.errors.extend(oversized)
    out.errors.sort(key=lambda e: e.line)
    return out

"""One normalised event as the bytes of a bus message, and back.

A message is ``MAGIC | u32 fields length | u8 has original | fields | original``:
``fields`` is the event without ``event.original`` as JSON (exactly the lake's ``fields``
column), ``original`` the original record as UTF-8, unescaped. Two parts rather than one
JSON object because the original is the largest value of an event and, inside JSON, would be
escaped on the way in and unescaped on every read, and because the lake writer can then
store ``fields`` as it is instead of serialising the event a second time (ADR 0015).

A message that does not start with :data:`MAGIC` is read as one JSON object: that is how an
older Maat wrote events, and spools or streams written by it are still read.
"""

from __future__ import annotations

from typing import Any

import orjson

from maat.errors import InvalidInput
from maat.native import NATIVE

__all__ = [
    "MAGIC",
    "WireParts",
    "decode_event",
    "encode_event",
    "encode_events",
    "fields_of",
    "fields_of_many",
    "read_event",
    "split_event",
]

MAGIC = b"\x00MW1"  # no JSON text starts with NUL
_HEAD = len(MAGIC) + 5
_ORIGINAL = "event.original"
_ABSENT = object()  # no event.original key at all (None is a value, and refused)

WireParts = tuple[memoryview | bytes, memoryview | bytes | None]
"""``(fields JSON, original UTF-8 or None)`` of one message."""


def encode_event(event: dict[str, Any]) -> bytes:
    """The message bytes of ``event``. Raises ``InvalidInput`` for a value JSON cannot hold
    (an integer beyond 64 bits, a lone surrogate); ``event`` is left as it was, except
    that ``event.original`` becomes its last key."""
    original = event.pop(_ORIGINAL, _ABSENT)
    try:
        fields = orjson.dumps(event)
        raw = original.encode("utf-8") if isinstance(original, str) else b""
    except (orjson.JSONEncodeError, TypeError, UnicodeEncodeError) as exc:
        raise InvalidInput(f"the event cannot be stored: {exc}") from None
    finally:
        if original is not _ABSENT:
            event[_ORIGINAL] = original
    if original is not _ABSENT and not isinstance(original, str):
        raise InvalidInput("event.original is not text", field=_ORIGINAL)
    flag = b"\x00" if original is _ABSENT else b"\x01"
    return b"".join((MAGIC, len(fields).to_bytes(4, "little"), flag, fields, raw))


def encode_events(events: list[dict[str, Any]]) -> list[bytes | InvalidInput]:
    """:func:`encode_event` of each event, its ``InvalidInput`` in its place where it has
    none; one C call for the batch when the extension is built (ADR 0020), which leaves
    what it is unsure of to :func:`encode_event`."""
    made = [None] * len(events) if NATIVE is None else NATIVE.wire_events(events, orjson.dumps)
    out: list[bytes | InvalidInput] = []
    for event, data in zip(events, made, strict=True):
        if data is None:
            try:
                data = encode_event(event)
            except InvalidInput as exc:
                out.append(exc)
                continue
        out.append(data)
    return out


def split_event(data: bytes) -> WireParts | None:
    """``(fields, original)`` of a message without decoding either; ``None`` for a message
    in the older one-object form. Raises ``InvalidInput`` when the lengths do not fit."""
    if not data.startswith(MAGIC):
        return None
    if len(data) < _HEAD:
        raise InvalidInput("a truncated event message")
    size = int.from_bytes(data[len(MAGIC) : len(MAGIC) + 4], "little")
    end = _HEAD + size
    if end > len(data):
        raise InvalidInput("a truncated event message")
    view = memoryview(data)
    has_original = data[_HEAD - 1]
    if has_original not in (0, 1) or (has_original == 0 and end != len(data)):
        raise InvalidInput("a malformed event message")
    return view[_HEAD:end], view[end:] if has_original else None


def fields_of(data: bytes) -> memoryview | bytes | None:
    """The ``fields`` JSON a message carries (``None`` for the older one-object form)."""
    parts = split_event(data)
    return None if parts is None else parts[0]


def fields_of_many(messages: list[bytes]) -> list[memoryview | bytes | None]:
    """:func:`fields_of` of each message (``InvalidInput`` for the first that is not one);
    one C call for the batch when the extension is built, which leaves the messages it
    cannot split to :func:`fields_of`."""
    if NATIVE is None:
        return [fields_of(data) for data in messages]
    views: list[memoryview | bytes | None] = list(NATIVE.wire_fields(messages))
    for index, view in enumerate(views):
        if view is None:
            views[index] = fields_of(messages[index])
    return views


def decode_event(data: bytes) -> dict[str, Any]:
    """The event of a message (either form). Raises ``InvalidInput`` when it is not one."""
    return read_event(data)[0]


def read_event(data: bytes) -> tuple[dict[str, Any], memoryview | bytes | None]:
    """The event of a message and its ``fields`` JSON as carried (``None`` for the older
    one-object form). Raises ``InvalidInput`` when the message is not an event."""
    parts = split_event(data)
    try:
        event = orjson.loads(data if parts is None else parts[0])
        if not isinstance(event, dict):
            raise InvalidInput("an event message does not hold a JSON object")
        if parts is not None and parts[1] is not None:
            event[_ORIGINAL] = str(parts[1], "utf-8")
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"an event message is not valid JSON: {exc}") from None
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"an event message's original is not UTF-8: {exc}") from None
    return event, None if parts is None else parts[0]

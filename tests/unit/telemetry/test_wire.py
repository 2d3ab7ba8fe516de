"""The bus message of an event: round trips, the older one-object form, and bad messages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from maat.errors import InvalidInput
from maat.lake.schema import fields_json
from maat.telemetry.dispatch import JSON_SOURCES
from maat.telemetry.pipeline import parse_bytes
from maat.telemetry.wire import (
    MAGIC,
    decode_event,
    encode_event,
    fields_of,
    read_event,
    split_event,
)
from telemetry_kit import MORDOR, SIGMA_REGRESSION, sibling

EVENT: dict[str, Any] = {
    "@timestamp": "2026-11-25T10:00:00.000Z", "event.id": "ab" * 16, "event.module": "windows",
    "event.kind": "event", "event.code": "1", "winlog.event_id": 1, "host.name": "WS1",
    "event.category": ["process"], "process.pid": 4242, "score": 0.5, "flag": True,
    "process.command_line": 'cmd.exe /c "echo ünïcödé \\ \u2603"',
    "event.original": '{"EventID": 1, "CommandLine": "cmd.exe /c \\"echo ünïcödé\\""}',
}  # fmt: skip


def test_an_event_round_trips_with_its_types_and_its_original_unescaped() -> None:
    data = encode_event(dict(EVENT))
    assert data.startswith(MAGIC)
    assert EVENT["event.original"].encode() in data  # stored as it came, not as JSON text
    assert decode_event(data) == EVENT


def test_the_fields_part_is_exactly_the_lakes_fields_column() -> None:
    data = encode_event(dict(EVENT))
    assert bytes(fields_of(data) or b"") == fields_json(EVENT)
    event, fields = read_event(data)
    assert event == EVENT and bytes(fields or b"") == fields_json(EVENT)


def test_an_event_without_an_original_round_trips_without_one() -> None:
    event = {k: v for k, v in EVENT.items() if k != "event.original"}
    assert decode_event(encode_event(dict(event))) == event
    parts = split_event(encode_event(dict(event)))
    assert parts is not None and parts[1] is None


def test_an_original_of_none_is_refused_and_kept_in_the_event() -> None:
    event = {**EVENT, "event.original": None}
    with pytest.raises(InvalidInput, match="not text"):
        encode_event(event)
    assert "event.original" in event and event["event.original"] is None


def test_a_message_written_by_an_older_maat_is_still_read() -> None:
    old = orjson.dumps(EVENT)  # one JSON object, as earlier versions published it
    assert split_event(old) is None and fields_of(old) is None
    assert decode_event(old) == EVENT
    assert read_event(old) == (EVENT, None)


@pytest.mark.parametrize(
    "value", [2**70, "lone \ud800 surrogate"], ids=["int-beyond-64-bits", "lone-surrogate"]
)
def test_a_value_json_cannot_hold_is_refused_and_the_event_left_intact(value: object) -> None:
    event = {**EVENT, "odd": value}
    with pytest.raises(InvalidInput, match="cannot be stored"):
        encode_event(event)
    assert event == {**EVENT, "odd": value}


def test_an_original_that_is_not_text_is_refused() -> None:
    with pytest.raises(InvalidInput, match="not text"):
        encode_event({**EVENT, "event.original": b"bytes"})


def _framed(fields: bytes, flag: int, original: bytes = b"") -> bytes:
    return MAGIC + len(fields).to_bytes(4, "little") + bytes([flag]) + fields + original


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (MAGIC + b"\x01", "truncated"),
        (MAGIC + (999).to_bytes(4, "little") + b"\x01{}", "truncated"),
        (_framed(b"{}", 7), "malformed"),
        (_framed(b"{}", 0, b"trailing bytes without an original flag"), "malformed"),
        (_framed(b"[1, 2]", 0), "JSON object"),
        (_framed(b"{broken", 0), "not valid JSON"),
        (_framed(b"{}", 1, b"\xff\xfe"), "not UTF-8"),
        (b"not json at all", "not valid JSON"),
        (b"", "not valid JSON"),
    ],
    ids=[
        "short-head",
        "length-beyond-data",
        "bad-flag",
        "stray-tail",
        "array",
        "broken-json",
        "bad-utf8-original",
        "garbage",
        "empty",
    ],
)
def test_a_damaged_message_is_invalid_input_never_a_foreign_exception(
    data: bytes, reason: str
) -> None:
    with pytest.raises(InvalidInput, match=reason):
        decode_event(data)


def _parsed(data: bytes) -> list[dict[str, Any]]:
    return parse_bytes(data, path="t", received="2026-11-25T00:00:00Z",
                       max_event_bytes=1 << 20).events  # fmt: skip


def _every_source_sample() -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for name in ("test_access_log", "test_auditd", "test_azure_monitor", "test_falco",
                 "test_osquery", "test_zeek"):  # fmt: skip
        for record in sibling(name).SAMPLES:
            events.extend(_parsed(orjson.dumps(record)))
    for text in (
        b"<86>Nov 26 09:00:02 erp01 sudo: alice : TTY=pts/0 ; USER=root ; COMMAND=/bin/id",
        b'date=2026-11-26 time=10:05:00 devname="FGT" devid="F1" logid="01" action="Add"',
        b"2026/11/26 09:06:02 [alert] 900#0: worker process 901 exited on signal 6",
        b'{"txid": "t", "event_type": "authentication", "factor": "bypass_code", "timestamp": 1}',
        b'{"id": 1, "account_id": 9, "event_type_id": 3, "created_at": "2026-11-26T09:12:00Z"}',
        b'date=2026-11-26 time=1:00:00 devid="F" logid="1" type="traffic" dstport=21 action=deny',
    ):
        events.extend(_parsed(text))
    return events


def _real_files() -> list[Path]:
    files: list[Path] = []
    for root in (MORDOR, SIGMA_REGRESSION):
        if root.exists():
            files.extend(p for p in sorted(root.rglob("*")) if p.suffix in (".json", ".log"))
    return files


def test_every_parser_makes_events_the_message_gives_back_unchanged() -> None:
    """The lake writer and the detector take an event either as published (the hand-off)
    or decoded from the bus: both must be the same event, type for type."""
    events = _every_source_sample()
    for path in _real_files():
        events.extend(_parsed(path.read_bytes()))
    modules = {e["event.module"] for e in events}
    assert len(events) > 100 and len(modules) >= 8, modules
    for event in events:
        decoded = decode_event(encode_event(dict(event)))
        assert decoded == event
        assert [type(v) for v in decoded.values()] == [type(event[k]) for k in decoded]
    assert {s.name for s in JSON_SOURCES} >= {"windows", "zeek", "osquery", "falco"}

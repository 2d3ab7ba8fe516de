"""Pretty-printed JSON objects one after another (EVTX-to-JSON tools, the Sigma regression
cases) are read as records, each numbered by the line it starts on."""

from __future__ import annotations

import orjson

from maat.telemetry.pipeline import parse_bytes

RECORD = {
    "Event": {
        "System": {
            "Provider": {"#attributes": {"Name": "Microsoft-Windows-Sysmon"}},
            "EventID": 1,
            "TimeCreated": {"#attributes": {"SystemTime": "2026-11-25T10:00:00.000000Z"}},
            "Channel": "Microsoft-Windows-Sysmon/Operational",
            "Computer": "ENG-WS7",
        },
        "EventData": {"Image": "C:\\Windows\\System32\\cmd.exe"},
    }
}


def parse(data: bytes):  # type: ignore[no-untyped-def]
    return parse_bytes(
        data, path="doc.json", received="2026-11-25T00:00:00Z", max_event_bytes=1 << 20
    )


def test_one_pretty_printed_object_is_one_event_at_line_1() -> None:
    out = parse(orjson.dumps(RECORD, option=orjson.OPT_INDENT_2))
    assert not out.errors and len(out.events) == 1 and out.lines == [1]
    assert out.events[0]["host.name"] == "ENG-WS7"


def test_objects_in_a_row_are_numbered_by_their_first_line() -> None:
    one = orjson.dumps(RECORD, option=orjson.OPT_INDENT_2)
    data = one + b"\n" + one + b"\n\n" + one
    out = parse(data)
    height = one.count(b"\n") + 1
    assert out.lines == [1, height + 1, 2 * height + 2]
    assert not out.errors


def test_json_lines_keep_one_line_number_per_event() -> None:
    line = orjson.dumps(RECORD)
    out = parse(b"\n".join([line, b"{broken", line]))
    assert out.lines == [1, 3] and [e.line for e in out.errors] == [2]

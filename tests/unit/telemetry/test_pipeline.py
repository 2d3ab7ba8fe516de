"""Bytes to events: one bad line is reported where it is and costs nothing else."""

from __future__ import annotations

import json
import tracemalloc

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maat.errors import InvalidInput
from maat.telemetry.model import REQUIRED, ParseError, event_id, iso_utc
from maat.telemetry.pipeline import MAX_KEPT_ERRORS, ParseErrors, parse_bytes, parse_records

RECEIVED = "2026-11-25T12:00:00.000000Z"
LIMIT = 256 * 1024


def sysmon(n: int) -> dict[str, object]:
    return {
        "@timestamp": "2020-10-21T09:40:38.926Z",
        "EventID": 1,
        "Channel": "Microsoft-Windows-Sysmon/Operational",
        "SourceName": "Microsoft-Windows-Sysmon",
        "Hostname": "WORKSTATION5",
        "Image": "C:\\Windows\\System32\\cmd.exe",
        "CommandLine": f"cmd.exe /c echo {n}",
        "ProcessId": str(4000 + n),
    }


def lines(records: list[object]) -> bytes:
    return b"\n".join(orjson.dumps(r) for r in records)


def parse(data: bytes, **options: object) -> tuple[list[dict[str, object]], list[tuple[int, str]]]:
    out = parse_bytes(data, path="batch.ndjson", received=RECEIVED, max_event_bytes=LIMIT,
                      **options)  # type: ignore[arg-type]  # fmt: skip
    return out.events, [(e.line, e.reason) for e in out.errors]


def test_one_malformed_line_in_ten_thousand_is_reported_and_the_rest_kept() -> None:
    records = [orjson.dumps(sysmon(n)) for n in range(10_000)]
    records[4321] = b'{"EventID": 1, "Image": "C:\\\\x.exe"'  # truncated JSON
    events, errors = parse(b"\n".join(records))
    assert len(events) == 9_999
    assert [line for line, _ in errors] == [4322]
    assert "not valid JSON" in errors[0][1]
    assert {e["event.module"] for e in events} == {"windows"}


def test_every_event_carries_the_required_keys_and_utc_time() -> None:
    events, errors = parse(lines([sysmon(1)]))
    assert errors == []
    [event] = events
    assert all(key in event for key in REQUIRED)
    assert event["@timestamp"] == "2020-10-21T09:40:38.926Z"
    assert event["event.original"] == orjson.dumps(sysmon(1)).decode()
    assert event["event.id"] == event_id("windows", orjson.dumps(sysmon(1)))


def test_a_replayed_record_gets_the_same_event_id() -> None:
    first, _ = parse(lines([sysmon(7)]))
    again, _ = parse(lines([sysmon(7)]))
    other, _ = parse(lines([sysmon(8)]))
    assert first[0]["event.id"] == again[0]["event.id"] != other[0]["event.id"]


def test_oversized_event_is_rejected_with_its_size_and_the_limit() -> None:
    big = sysmon(1) | {"CommandLine": "A" * 5000}
    out = parse_bytes(lines([sysmon(0), big, sysmon(2)]), path="b", received=RECEIVED,
                      max_event_bytes=2000)  # fmt: skip
    assert len(out.events) == 2
    [error] = out.errors
    assert error.line == 2 and "exceeds the limit of 2,000 bytes" in error.reason
    assert "telemetry.max_event_bytes" in error.reason


def test_unknown_json_records_are_kept_as_kind_unknown() -> None:
    events, errors = parse(lines([{"weird": True, "time": "2026-01-02T03:04:05Z"}]))
    assert errors == []
    [event] = events
    assert event["event.kind"] == "unknown" and event["event.module"] == "unknown"
    assert event["@timestamp"] == "2026-01-02T03:04:05Z"  # already ISO UTC: kept as sent


def test_record_without_time_gets_the_receive_time_and_says_so() -> None:
    events, _ = parse(lines([{"something": 1}]))
    assert events[0]["@timestamp"] == RECEIVED == events[0]["event.ingested"]


def test_unknown_text_lines_are_kept_one_event_each() -> None:
    events, errors = parse(b"hello world\n\nsecond line\r\n")
    assert errors == []
    assert [e["event.original"] for e in events] == ["hello world", "second line"]
    assert {e["event.kind"] for e in events} == {"unknown"}


def test_a_json_array_body_is_read_record_by_record() -> None:
    events, errors = parse(json.dumps([sysmon(1), "not an object", sysmon(2)]).encode())
    assert len(events) == 2
    assert errors == [(2, "a JSON object was expected, not str")]


def test_records_a_reader_could_not_decode_are_errors_at_their_number() -> None:
    out = parse_records(
        [(1, sysmon(1)), (2, InvalidInput("corrupt chunk", field="record")), (3, sysmon(3))],
        path="x.evtx", received=RECEIVED, max_event_bytes=LIMIT,
    )  # fmt: skip
    assert len(out.events) == 2
    assert [(e.path, e.line) for e in out.errors] == [("x.evtx", 2)]


def test_a_bad_field_is_named_in_the_error() -> None:
    events, errors = parse(lines([sysmon(1) | {"@timestamp": "yesterday"}]))
    assert events == []
    [(line, reason)] = errors
    assert line == 1 and "@timestamp" in reason


def test_forcing_a_parser_that_does_not_exist_is_refused() -> None:
    with pytest.raises(InvalidInput, match=r"no .*parser is named"):
        parse(lines([sysmon(1)]), source="no_such_source")


def test_empty_input_gives_nothing() -> None:
    assert parse(b"") == ([], [])
    assert parse(b"\n\n  \n") == ([], [])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2020-10-21T09:40:38.926Z", "2020-10-21T09:40:38.926Z"),
        ("2022-05-11T18:10:20.399931000Z", "2022-05-11T18:10:20.399931Z"),
        ("2020-10-21 09:40:38+02:00", "2020-10-21T07:40:38.000000Z"),
        ("2020-10-21T09:40:38", "2020-10-21T09:40:38.000000Z"),
        (1652292621.5, "2022-05-11T18:10:21.500000Z"),
    ],
)
def test_times_are_normalised_to_utc(value: object, expected: str) -> None:
    assert iso_utc(value) == expected


@pytest.mark.parametrize("value", ["2020-99-21T09:40:38Z", "", True, None, 1e300])
def test_unreadable_times_are_refused(value: object) -> None:
    with pytest.raises(InvalidInput):
        iso_utc(value)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    out = parse_bytes(data, path="fuzz", received=RECEIVED, max_event_bytes=LIMIT)
    for event in out.events:
        assert all(key in event for key in REQUIRED)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.dictionaries(st.text(max_size=12), st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), st.text(max_size=30),
    st.lists(st.text(max_size=5), max_size=3)), max_size=8), max_size=5))  # fmt: skip
def test_arbitrary_json_records_never_raise(records: list[dict[str, object]]) -> None:
    out = parse_bytes(lines(records), path="fuzz", received=RECEIVED, max_event_bytes=LIMIT)
    assert len(out.events) + len(out.errors) >= len(records)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2020-W43-3T09:40:38Z", "2020-10-21T09:40:38.000000Z"),
        ("2020-10-21T09:40:38,926Z", "2020-10-21T09:40:38.926000Z"),
        ("2020-10-21T094038.926Z", "2020-10-21T09:40:38.926000Z"),
    ],
)
def test_odd_iso_forms_are_rewritten_so_the_lake_can_read_them(value: str, expected: str) -> None:
    assert iso_utc(value) == expected


@pytest.mark.parametrize("value", ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"])
def test_times_at_the_edge_of_the_calendar_are_refused_not_crashing(value: str) -> None:
    with pytest.raises(InvalidInput):
        iso_utc(value)
    events, errors = parse(lines([sysmon(1), {"@timestamp": value, "x": 1}, sysmon(2)]))
    assert len(events) == 2 and [line for line, _ in errors] == [2]


def test_a_utf8_bom_does_not_turn_json_lines_into_text() -> None:
    events, errors = parse(b"\xef\xbb\xbf" + lines([sysmon(1), sysmon(2)]))
    assert [e["event.module"] for e in events] == ["windows", "windows"] and errors == []


def test_a_bad_first_line_is_reported_and_the_json_lines_still_read() -> None:
    events, errors = parse(b"oops\n" + lines([sysmon(1), sysmon(2), sysmon(3)]))
    assert len(events) == 3 and [line for line, _ in errors] == [1]


def test_a_broken_json_array_is_reported_where_it_breaks() -> None:
    text = json.dumps([sysmon(1), sysmon(2)], indent=1).replace('"EventID": 1', '"EventID": 1,,', 1)
    events, errors = parse(text.encode())
    assert events == []
    [(line, reason)] = errors
    assert line > 1 and "not a valid JSON array" in reason


def test_more_events_than_allowed_are_refused_early() -> None:
    from maat.errors import PayloadTooLarge

    with pytest.raises(PayloadTooLarge, match="max_batch_events"):
        parse_bytes(json.dumps([sysmon(n) for n in range(50)]).encode(), path="b",
                    received=RECEIVED, max_event_bytes=LIMIT, max_events=10)  # fmt: skip


def test_a_body_of_bad_lines_is_counted_not_kept_line_by_line() -> None:
    """Every rejected line once kept its error until the request ended (8 MiB of '{' lines
    held about 1 GB); past MAX_KEPT_ERRORS they are counted, and every one still is."""
    body = b"{\n" * (MAX_KEPT_ERRORS * 3)
    tracemalloc.start()
    try:
        outcome = parse_bytes(body, path="p", received="2026-01-01T00:00:00Z",
                              max_event_bytes=1 << 18)  # fmt: skip
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(outcome.errors) == MAX_KEPT_ERRORS
    assert outcome.errors.total == MAX_KEPT_ERRORS * 3
    assert [e.line for e in outcome.errors[:3]] == [1, 2, 3]
    assert peak < 40 * len(body), f"{peak / 1e6:.0f} MB for a {len(body) / 1e3:.0f} KB body"


def test_parse_errors_merged_keep_the_count_of_those_only_counted() -> None:
    full = ParseErrors(ParseError("a", n, "bad") for n in range(MAX_KEPT_ERRORS + 5))
    merged = ParseErrors([ParseError("b", 1, "bad")])
    merged.extend(full)
    assert len(merged) == MAX_KEPT_ERRORS and merged.total == MAX_KEPT_ERRORS + 6

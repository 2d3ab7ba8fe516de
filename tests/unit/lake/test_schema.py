"""The lake's column plan: event dicts to columns, partition keys, the read-only SQL guard."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maat.errors import InvalidInput
from maat.lake.schema import (
    COLUMN_NAMES,
    as_int,
    as_text,
    check_read_only_sql,
    empty_select,
    fields_buffer,
    fields_json,
    partition_of,
    to_columns,
    valid_day,
    valid_module,
    view_sql,
)

SYSMON: dict[str, Any] = {
    "@timestamp": "2020-10-21T09:40:38.926Z",
    "event.id": "0" * 32,
    "event.module": "windows",
    "event.kind": "event",
    "event.code": "1",
    "event.category": ["process", "host"],
    "event.action": "process-created",
    "event.provider": "Microsoft-Windows-Sysmon",
    "host.name": "WORKSTATION5",
    "process.executable": "C:\\Windows\\System32\\cmd.exe",
    "process.pid": 4242,
    "destination.port": 443,
    "winlog.event_data.IntegrityLevel": "High",
    "event.original": '{"EventID":1,"Image":"C:\\\\Windows\\\\System32\\\\cmd.exe"}',
}


def test_columns_follow_the_plan_and_keep_every_field_outside_original() -> None:
    columns = to_columns([SYSMON, {"@timestamp": "2020-10-21T10:00:00Z", "event.module": "x"}])
    assert tuple(columns) == COLUMN_NAMES
    assert columns["timestamp"] == ["2020-10-21T09:40:38.926Z", "2020-10-21T10:00:00Z"]
    assert columns["category"] == ["process", None]  # first of event.category
    assert columns["process_pid"] == [4242, None]
    assert columns["host_name"] == ["WORKSTATION5", None]
    assert columns["original"] == [SYSMON["event.original"], None]
    kept = orjson.loads(columns["fields"][0])
    assert "event.original" not in kept
    assert kept == {k: v for k, v in SYSMON.items() if k != "event.original"}


def test_fields_buffer_is_the_concatenation_of_each_events_json() -> None:
    events = [SYSMON, {"a": 1}, {"event.original": "only"}]
    buffer, offsets = fields_buffer(events)
    assert offsets[0] == 0 and len(offsets) == 4
    pieces = [bytes(buffer[offsets[i] : offsets[i + 1]]) for i in range(3)]
    assert pieces == [fields_json(e) for e in events]
    assert orjson.loads(pieces[2]) == {}


def test_an_event_orjson_refuses_is_still_kept_as_json() -> None:
    odd = {"@timestamp": "2020-01-01T00:00:00Z", "big": 2**70, "text": "a\ud800b"}
    text = fields_json(odd)
    assert json.loads(text) == odd  # standard library escapes keep it readable and exact
    buffer, offsets = fields_buffer([odd])
    assert bytes(buffer) == text and list(offsets) == [0, len(text)]


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(
        st.text(min_size=1, max_size=20),
        st.one_of(
            st.text(max_size=40),
            st.integers(min_value=-(2**63), max_value=2**63 - 1),
            st.booleans(),
            st.lists(st.text(max_size=10), max_size=3),
        ),
        max_size=12,
    )
)
def test_fields_json_round_trips_any_flat_event(event: dict[str, Any]) -> None:
    expected = {k: v for k, v in event.items() if k != "event.original"}
    assert json.loads(fields_json(event)) == expected


def test_coercion_writes_odd_text_values_out_instead_of_failing() -> None:
    assert as_text(["x", None, 5, 1.5, True, ["one"], ["a", "b"], "bad\udc80"]) == [
        "x",
        None,
        "5",
        "1.5",
        "true",
        "one",
        '["a", "b"]',
        "bad?",
    ]


def test_coercion_reads_numbers_in_text_and_nulls_the_rest() -> None:
    assert as_int([7, "42", "0x1a", " 9 ", "pid", True, 3.0, 2.5, 2**64, None]) == [
        7,
        42,
        26,
        9,
        None,
        None,
        3,
        None,
        None,
        None,
    ]


def test_partition_is_the_utc_day_and_the_module() -> None:
    assert partition_of(SYSMON) == ("2020-10-21", "windows")
    late = {"@timestamp": "2020-10-21T23:30:00-05:00", "event.module": "zeek"}
    assert partition_of(late) == ("2020-10-22", "zeek")


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"event.module": "windows"}, "@timestamp"),
        ({"@timestamp": "yesterday", "event.module": "windows"}, "@timestamp"),
        ({"@timestamp": "2020-10-21T09:40:38", "event.module": "windows"}, "@timestamp"),
        ({"@timestamp": "2020-10-21T09:40:38Z", "event.module": "../../etc"}, "event.module"),
        ({"@timestamp": "2020-10-21T09:40:38Z"}, "event.module"),
    ],
)
def test_an_event_without_a_usable_partition_is_refused(event: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        partition_of(event)
    assert caught.value.location.field == field


@pytest.mark.parametrize("module", ["../x", "a/b", ".hidden", "-x", "", "x" * 65, "é", 5])
def test_a_module_that_could_escape_its_directory_is_refused(module: Any) -> None:
    with pytest.raises(InvalidInput):
        valid_module(module)


def test_days_must_be_real_dates() -> None:
    assert valid_day("2024-02-29") == "2024-02-29"
    for bad in ("2023-02-29", "2024-1-01", "20240101", "2024-01-01T00:00"):
        with pytest.raises(InvalidInput):
            valid_day(bad)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT host_name, count(*) FROM events GROUP BY 1",
        "with p as (select * from events where code = '1') select count(*) from p",
        "FROM events LIMIT 5",
        "EXPLAIN SELECT * FROM events",
        "DESCRIBE events",
        "SUMMARIZE events",
        "SELECT 'copy; drop table x; attach' AS text",  # keywords inside a literal
        'SELECT "set" FROM (SELECT 1 AS "set")',  # a quoted identifier
        "SELECT 1; ",
        "-- a note\nSELECT 1 /* ; ATTACH */",
        "SELECT E'it\\'s; COPY' AS a, $$ ; ATTACH $$ AS b, $t$ ' $t$ AS c",
    ],
)
def test_read_only_statements_pass_the_guard(sql: str) -> None:
    assert check_read_only_sql(sql) == sql


@pytest.mark.parametrize(
    "sql",
    [
        "COPY (SELECT * FROM events) TO '/tmp/out.csv'",
        "ATTACH '/tmp/other.db' AS other",
        "INSTALL httpfs",
        "LOAD httpfs",
        "CREATE TABLE t AS SELECT 1",
        "INSERT INTO t VALUES (1)",
        "UPDATE t SET a = 1",
        "DELETE FROM t",
        "DROP VIEW events",
        "SET enable_external_access = true",
        "PRAGMA version",
        "EXPORT DATABASE '/tmp/x'",
        "IMPORT DATABASE '/tmp/x'",
        "CALL pragma_version()",
        "SELECT 1; SELECT 2",
        "SELECT 1; DROP VIEW events",
        "SELECT 1 -- harmless\n; ATTACH 'x'",
        "WITH x AS (SELECT 1) SELECT * FROM x; COPY x TO 'y'",
        "SELECT * FROM events WHERE 1 = 1 UNION SELECT * FROM (FROM events) /* */; SET a=1",
        "",
        "   ",
        "SELECT 1\x00",
        # EXPLAIN ANALYZE runs what it explains; an escaped string E'\'' once hid the COPY
        "EXPLAIN ANALYZE COPY (SELECT * FROM events) TO '/tmp/out.csv'",
        "EXPLAIN (ANALYZE E'\\'') COPY (SELECT * FROM events) TO '/tmp/out.csv' --'",
        "SELECT E'\\'' AS a; COPY events TO '/tmp/out.csv' --'",
        "SELECT $$ ' $$ AS a; COPY events TO '/tmp/out.csv' --'",
        "SELECT $q$ ' $q$ AS a; COPY events TO '/tmp/out.csv' --'",
        "EXPLAIN --\rANALYZE COPY (SELECT 1) TO '/tmp/out.parquet'",  # DuckDB ends -- at \r
    ],
)
def test_writing_configuring_and_stacked_statements_are_refused(sql: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_read_only_sql(sql)
    assert caught.value.location.field == "sql"


def test_an_overlong_query_is_refused() -> None:
    with pytest.raises(InvalidInput, match="longer than"):
        check_read_only_sql("SELECT " + "1+" * 60_000 + "1")


def test_the_view_lists_exactly_the_given_files_with_quotes_escaped() -> None:
    sql = view_sql(["/lake/a.parquet", "/la'ke/b.parquet"])
    assert "['/lake/a.parquet', '/la''ke/b.parquet']" in sql
    assert "hive_partitioning = false" in sql and "union_by_name = true" in sql
    assert "timestamp, event_id" in sql
    assert view_sql([]) == f"CREATE VIEW events AS {empty_select()}"

"""The C path's lake columns (maat._native.lake_columns) are Arrow's: for any list of event
dicts, ``to_table(events, native=True)`` is the table (or the error) of ``native=False``.

The C path declines (None) whatever it is unsure of, so an odd value must reach Arrow's
conversion and give the same table; a well-typed batch must be taken by C, or these tests
would compare the Python path with itself."""

from __future__ import annotations

import gc
import sys
import tracemalloc
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maat.adapters.lake import arrow
from maat.adapters.lake.arrow import partitions, to_table
from maat.errors import InvalidInput
from maat.lake.schema import COLUMNS
from maat.native import NATIVE
from native_kit import require_native
from telemetry_kit import MORDOR, needs


@pytest.fixture(autouse=True)
def _native() -> None:
    require_native()


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
TS = "2024-03-05T10:11:12.123456Z"
SOURCES = {c.source: c.kind for c in COLUMNS if c.kind not in ("json", "timestamp")}
UNICODE = ["", "é", "𝄞", "中文字", "a\x00b", "ÿ" * 70, "x" * 5000, "\u2028", "\ufeff"]


class DictSub(dict):  # type: ignore[type-arg]
    pass


class StrSub(str):
    __slots__ = ()


class IntSub(int):
    pass


def declined(events: list[dict[str, Any]]) -> bool:
    assert NATIVE is not None
    return NATIVE.lake_columns(list(events), arrow._NATIVE_PLAN) is None


def outcome(events: Any, native: bool, **options: Any) -> Any:
    """The table, or the (class, message) of the error, of one path."""
    try:
        table = to_table(events, native=native, **options)
    except Exception as exc:  # compared below: both paths must raise the same
        return type(exc), str(exc)
    if native:
        table.validate(full=True)  # offsets, validity bits and UTF-8 of the C buffers
    return table


def assert_same(events: Any, **options: Any) -> Any:
    fast, reference = outcome(events, True, **options), outcome(events, False, **options)
    if isinstance(fast, tuple) or isinstance(reference, tuple):
        assert fast == reference
        return fast
    assert fast.schema.equals(reference.schema, check_metadata=True)
    differ = [n for n in fast.column_names if not fast[n].equals(reference[n])]
    assert fast.equals(reference), f"columns {differ} differ"
    return fast


def event(n: int = 0, **values: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "@timestamp": TS, "event.module": "sysmon", "event.id": f"id-{n}", "event.code": "1",
        "event.category": ["process"], "host.name": "WS-é", "process.pid": n,
        "destination.port": 443, "event.original": '{"EventID": 1}',
    }  # fmt: skip
    base.update(values)
    return base


# --- real events ------------------------------------------------------------------------------


@needs(MORDOR)
def test_real_mordor_events_are_taken_by_c_and_give_arrow_s_table() -> None:
    from maat.telemetry.pipeline import parse_bytes

    files = sorted(MORDOR.rglob("*.json"))
    if not files:
        pytest.skip(f"no Mordor JSON files under {MORDOR}")
    for path in files:
        parsed = parse_bytes(path.read_bytes(), path=str(path),
                             received="2026-11-25T00:00:00Z", max_event_bytes=1 << 20)  # fmt: skip
        events = parsed.events
        assert events, path
        assert not declined(events), f"C declined the real events of {path.name}"
        assert_same(events)
        assert_same(events[7:1000], first_row=7)  # a chunk, as encode_batch converts them


# --- generated events -------------------------------------------------------------------------

TEXT = st.text(st.characters(codec="utf-8"), max_size=12) | st.sampled_from(UNICODE)
TIMESTAMPS = st.sampled_from([TS, "2024-02-29T23:59:59.999999+02:00", "1999-12-31T00:00:00Z"])


def _typed(kind: str) -> st.SearchStrategy[Any]:
    if kind == "int":
        bounds = st.sampled_from([INT64_MIN, INT64_MAX])
        return st.none() | st.integers(INT64_MIN, INT64_MAX) | bounds
    if kind == "first":
        return st.none() | st.lists(st.none() | TEXT, min_size=1, max_size=3)
    return st.none() | TEXT


TYPED = st.fixed_dictionaries(
    {"@timestamp": TIMESTAMPS, "event.module": st.sampled_from(["sysmon", "windows"])},
    optional={
        **{k: _typed(kind) for k, kind in SOURCES.items() if k != "event.module"},
        "winlog.event_data": st.dictionaries(TEXT, TEXT | st.integers(), max_size=2),
    },
)
ODD = st.one_of(
    st.none(),
    st.text(st.characters(codec=None), max_size=6),  # lone surrogates included
    st.integers(-(2**70), 2**70),
    st.sampled_from([INT64_MIN - 1, INT64_MAX + 1, True, False, 0.0, 3.0, 1.5, float("nan")]),
    st.lists(st.none() | TEXT | st.integers() | st.booleans(), max_size=3),
    st.tuples(TEXT),
    st.dictionaries(TEXT, TEXT, max_size=2),
    st.builds(StrSub, TEXT),
    st.builds(IntSub, st.integers(-5, 5)),
)


@st.composite
def odd_events(draw: st.DrawFn) -> dict[str, Any]:
    typed = draw(TYPED)
    for key in draw(st.lists(st.sampled_from(sorted(SOURCES)), max_size=3)):
        typed[key] = draw(ODD)
    return DictSub(typed) if draw(st.integers(0, 9)) == 0 else typed


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(TYPED, max_size=40))
def test_a_well_typed_batch_is_taken_by_c_and_holds_each_value_as_it_is(
    events: list[dict[str, Any]],
) -> None:
    assert not declined(events)
    table = assert_same(events)
    for column in COLUMNS:
        if column.kind in ("json", "timestamp"):
            continue
        values = [e.get(column.source) for e in events]
        if column.kind == "first":
            values = [v[0] if v else None for v in values]
        assert table.column(column.name).to_pylist() == values, column.name


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(TYPED, max_size=8), st.lists(odd_events(), min_size=1, max_size=3), st.data())
def test_a_batch_with_odd_values_gives_the_same_table_or_error_by_either_path(
    typed: list[dict[str, Any]], odd: list[dict[str, Any]], data: st.DataObject
) -> None:
    events = list(typed)
    for item in odd:
        events.insert(data.draw(st.integers(0, len(events))), item)
    assert_same(events)


ODD_VALUES = [  # one value each that C must decline (a bool is an int to Python, not here)
    ("process.pid", True), ("process.pid", 3.0), ("process.pid", "1234"),
    ("process.pid", INT64_MAX + 1), ("process.pid", INT64_MIN - 1), ("process.pid", 2**200),
    ("process.pid", IntSub(7)), ("destination.port", float("nan")), ("event.code", 4624),
    ("event.code", False), ("host.name", StrSub("ws")), ("host.name", "ws\udc80"),
    ("event.original", "\ud800 alone"), ("user.name", ["alice"]), ("user.name", {"n": "a"}),
    ("event.category", []), ("event.category", "process"), ("event.category", ("process",)),
    ("event.category", ["process", 1]), ("event.category", [7, "process"]),
    ("event.category", [StrSub("process")]), ("event.category", [["nested"]]),
    ("@timestamp", StrSub(TS)),
    ("@timestamp", "x\udc80"),  # UnicodeEncodeError, not InvalidInput, by either path: the same
]  # fmt: skip


@pytest.mark.parametrize(("key", "value"), ODD_VALUES, ids=repr)
def test_a_value_of_another_type_falls_back_to_arrow_and_gives_the_same_table(
    key: str, value: Any
) -> None:
    events = [event(n) for n in range(300)]
    events[150][key] = value  # one odd event in a batch C would otherwise take
    assert not declined(events[:150] + events[151:])
    assert declined(events)
    assert_same(events)


def test_a_later_category_arrow_cannot_encode_leaves_the_first_the_same() -> None:
    events = [event(n) for n in range(5)]
    events[2]["event.category"] = ["network", "a\udc80"]  # only the first is a column
    table = assert_same(events)
    assert table.column("category").to_pylist()[1:3] == ["process", "network"]


def test_a_dict_subclass_among_the_events_falls_back_to_arrow() -> None:
    events: list[dict[str, Any]] = [event(n) for n in range(20)]
    events[19] = DictSub(events[19])
    assert declined(events)
    assert_same(events)


@pytest.mark.parametrize("value", [INT64_MIN, INT64_MIN + 1, -1, 0, 1, INT64_MAX - 1, INT64_MAX])
def test_ints_up_to_the_int64_bounds_are_kept_by_c(value: int) -> None:
    events = [event(0, **{"process.pid": value, "destination.port": -value - 1 if value else 0})]
    assert not declined(events)
    assert assert_same(events).column("process_pid").to_pylist() == [value]


@pytest.mark.parametrize("text", UNICODE)
def test_text_of_any_plane_is_the_same_utf_8_in_every_text_column(text: str) -> None:
    values = {k: ([text] if kind == "first" else text) for k, kind in SOURCES.items()
              if kind != "int" and k != "event.module"}  # fmt: skip
    events = [event(0, **values), event(1), event(2, **values)]
    assert not declined(events)
    table = assert_same(events)
    assert table.column("host_name").to_pylist() == [text, "WS-é", text]
    assert table.column("original").to_pylist() == [text, '{"EventID": 1}', text]


@pytest.mark.parametrize("rows", [0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 1000, 1001])
def test_the_validity_bits_are_right_at_every_row_count(rows: int) -> None:
    """Nulls at both ends and in the middle; the bitmap's last byte is partly used."""
    events = [event(n) for n in range(rows)]
    for n in {0, rows // 2, rows - 1} if rows else set():
        for key in SOURCES:
            if key != "event.module":
                events[n][key] = None
        events[n].pop("host.name")
    assert not declined(events)
    assert assert_same(events).num_rows == rows


BAD_STAMPS = [None, "", "nope", "2024-03-05T10:11:12", "2024-13-05T10:11:12Z", 1709633472, ...]


@pytest.mark.parametrize("stamp", BAD_STAMPS, ids=repr)
@pytest.mark.parametrize("row", [0, 5, 9])
def test_a_bad_timestamp_raises_the_same_invalid_input_by_either_path(stamp: Any, row: int) -> None:
    """``...``: no @timestamp at all."""
    events = [event(n) for n in range(10)]
    events[row]["@timestamp"] = stamp
    if stamp is ...:
        del events[row]["@timestamp"]
    for native in (True, False):
        with pytest.raises(InvalidInput, match=f"event {100 + row} has no readable @timestamp"):
            to_table(events, native=native, first_row=100)
    assert_same(events, first_row=100)


def test_a_huge_batch_is_the_same_table() -> None:
    events = [event(n, **{"user.name": f"ü{n}" if n % 3 else None}) for n in range(150_000)]
    assert not declined(events)
    assert assert_same(events).num_rows == 150_000
    events[-1]["process.pid"] = True  # the very last value declines the whole batch
    assert declined(events)
    assert_same(events)


def test_an_empty_batch_is_the_same_empty_table() -> None:
    assert not declined([])
    assert assert_same([]).num_rows == 0


def test_keys_that_are_not_text_are_the_same_by_either_path() -> None:
    assert_same([event(0, **{"x": 1}) | {1: "one", None: "none"}])
    assert_same([event(0) | {b"host.name": "bytes"}])  # Arrow reads str keys: the same
    assert_same([{b"@timestamp": TS, b"event.module": "m"}])
    # Arrow may read every event by bytes keys from what it finds in the first: any key
    # that is not text there declines, not just the first one (found by review)
    odd_first = [{"x": 1, b"@timestamp": TS, b"event.module": "sysmon", b"host.name": "h"}]
    assert declined(odd_first)
    assert_same(odd_first, fields=[b"{}"])


def test_a_list_subclass_of_events_takes_arrow_s_path_rather_than_failing() -> None:
    class Events(list):  # type: ignore[type-arg]
        pass

    events = Events([event(0), event(1)])
    assert to_table(events, native=True).equals(to_table(events, native=False))


def test_a_bad_plan_or_arguments_are_refused_not_read_past() -> None:
    assert NATIVE is not None
    with pytest.raises(ValueError, match="plan entry"):
        NATIVE.lake_columns([event()], (("host.name", 9),))
    with pytest.raises(ValueError, match="plan entry"):
        NATIVE.lake_columns([event()], (("host.name",),))
    with pytest.raises(TypeError):
        NATIVE.lake_columns((event(),), arrow._NATIVE_PLAN)
    with pytest.raises(TypeError):
        NATIVE.lake_columns([event()])


# --- safety: a key's __eq__ runs Python code in the middle of the C loop ---------------------


def keyed(events: list[dict[str, Any]], key: type[str], value: str) -> list[dict[str, Any]]:
    """``events`` with ``host.name`` under a str-subclass key but the first (whose keys must
    be plain text, or the C path declines the batch): its ``__eq__`` runs on each lookup of
    ``host.name``, in the middle of the C loop."""
    for item in events[1:]:  # the plain key out first, or the dict keeps it (keys are equal)
        item.pop("host.name")
        item[key("host.name")] = value
    return events


def test_a_key_whose_eq_grows_the_callers_list_gives_arrow_s_table() -> None:
    """C reads a copy of the list: the table must have the rows it was given, as Arrow's."""

    def batch() -> list[dict[str, Any]]:
        class Grow(str):
            __hash__ = str.__hash__

            def __eq__(self, other: object) -> bool:
                if len(events) < 100:
                    events.extend(event(n) for n in range(100))
                return str.__eq__(self, other)

        events = keyed([event(n) for n in range(3)], Grow, "grown")
        return events

    fast, reference = outcome(batch(), True), outcome(batch(), False)
    assert not isinstance(reference, tuple) and reference.num_rows == 3
    assert not isinstance(fast, tuple), fast
    assert fast.equals(reference)


def test_a_key_whose_eq_empties_every_event_cannot_crash_the_c_path() -> None:
    class Clear(str):
        __hash__ = str.__hash__

        def __eq__(self, other: object) -> bool:
            for item in list(events):
                item.clear()
            events.clear()
            return str.__eq__(self, other)

    events = keyed([event(n) for n in range(50)], Clear, "h" * 100)
    assert NATIVE is not None
    built = NATIVE.lake_columns(events, arrow._NATIVE_PLAN)
    gc.collect()
    assert built is not None and events == []
    for arrow_type, (bits, nulls, offsets, data) in zip(arrow._NATIVE_TYPES, built, strict=True):
        buffers = [None if bits is None else pa.py_buffer(bits), pa.py_buffer(offsets)]
        buffers += [] if data is None else [pa.py_buffer(data)]
        pa.Array.from_buffers(arrow_type, 50, buffers, null_count=nulls).validate(full=True)
    assert built[0][1] == 48  # the first two events' @timestamp were read before the clear


def test_the_c_path_keeps_no_reference_and_leaks_nothing() -> None:
    shared = "ÿ" * 100 + "é"  # non-ASCII: C makes a temporary UTF-8 copy of it
    good = [event(n, **{"host.name": shared, "event.category": [shared]}) for n in range(500)]
    bad = [*good, event(0, **{"process.pid": 2**64})]
    before = (sys.getrefcount(shared), sys.getrefcount(good[0]))
    assert NATIVE is not None
    for _ in range(3):  # warm up
        NATIVE.lake_columns(good, arrow._NATIVE_PLAN)
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        for _ in range(100):
            assert NATIVE.lake_columns(good, arrow._NATIVE_PLAN) is not None
            assert NATIVE.lake_columns(bad, arrow._NATIVE_PLAN) is None
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - start
    finally:
        tracemalloc.stop()
    assert grown < 256 * 1024, f"{grown} bytes kept after 200 calls"
    assert (sys.getrefcount(shared), sys.getrefcount(good[0])) == before


# --- partitions: runs sliced, or interleaved rows grouped ------------------------------------

DAY_STAMPS = [  # (timestamp, its UTC day), offsets that move some into the next or last day
    "2024-03-05T10:00:00Z", "2024-03-05T23:30:00-02:00", "2024-03-06T00:30:00+02:00",
    "2024-03-07T00:00:00.000001Z", "2024-03-04T23:59:59.999999Z",
]  # fmt: skip
MODULES = ["sysmon", "windows", "m.1", "a-b_c"]


def _day(stamp: str) -> str:
    return datetime.fromisoformat(stamp).astimezone(UTC).date().isoformat()


def _check_partitions(keys: list[tuple[int, int]]) -> int:
    """Partition events with these (stamp, module) indices; the rows of each (day, module),
    concatenated, must be its events in order. Returns how many parts were yielded."""
    events = [
        event(n, **{"@timestamp": DAY_STAMPS[s], "event.module": MODULES[m]})
        for n, (s, m) in enumerate(keys)
    ]
    expected: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for e in events:
        expected.setdefault((_day(e["@timestamp"]), e["event.module"]), []).append(e)
    got: dict[tuple[str, str], list[Any]] = {}
    parts = list(partitions(to_table(events, native=True), first_row=0))
    for day, module, part in parts:
        got.setdefault((day, module), []).append(part)
    assert set(got) == set(expected)
    for key, tables in got.items():
        rows = pa.concat_tables(tables)
        assert rows.column("event_id").to_pylist() == [e["event.id"] for e in expected[key]]
        assert rows.equals(to_table(expected[key], native=False)), key
    return len(parts)


def test_partitions_of_runs_are_slices_with_every_row_once() -> None:
    runs = [(0, 0)] * 30 + [(1, 0)] * 5 + [(0, 1)] * 7 + [(0, 0)] * 3 + [(3, 2)] * 1
    # five runs, two of them the same (day, module): yielded as two slices
    assert _check_partitions(runs) == 5


def test_partitions_of_interleaved_rows_are_grouped_with_every_row_once() -> None:
    interleaved = [(n % len(DAY_STAMPS), n % 3) for n in range(3 * arrow._MAX_RUNS)]
    assert _check_partitions(interleaved) == len({(_day(DAY_STAMPS[s]), m) for s, m in interleaved})


@settings(max_examples=120, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 3), st.integers(1, 12)), min_size=1, max_size=120))  # fmt: skip
def test_partitions_give_each_day_and_module_its_rows_whatever_the_layout(
    runs: list[tuple[int, int, int]],
) -> None:
    _check_partitions([(s, m) for s, m, length in runs for _ in range(length)])


def test_partitions_of_an_empty_table_yield_nothing() -> None:
    assert list(partitions(to_table([], native=True))) == []


def test_a_short_run_is_copied_so_it_cannot_keep_its_whole_chunk_alive() -> None:
    """A rare partition's few rows wait for their row group; as a slice they would hold
    every column of the chunk they came from (found by review: 1.4 GB against 0.4)."""
    events = [event(n, **{"event.original": "x" * 2000}) for n in range(4_000)]
    events[1_500]["event.module"] = "rare"
    table = to_table(events, native=True)
    parts = {module: part for _, module, part in partitions(table)}
    rare = parts["rare"]
    assert rare.num_rows == 1
    assert rare.get_total_buffer_size() < table.get_total_buffer_size() // 100
    assert rare.column("event_id").to_pylist() == ["id-1500"]
    assert sum(p.num_rows for _, m, p in partitions(table) if m == "sysmon") == 3_999

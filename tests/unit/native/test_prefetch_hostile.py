"""The prefetch, release and gather C paths against hostile input: callbacks and __del__
that change the batch being read, odd dicts and buffers, and leaks.

Run under AddressSanitizer (with PYTHONMALLOC=malloc so that object frees are visible) to
catch a read of freed memory; the crash cases run in a subprocess so that one crash does not
take the session down."""

from __future__ import annotations

import array
import contextlib
import gc
import mmap
import os
import subprocess
import sys
import textwrap
import tracemalloc
from typing import Any

import orjson
import pytest

from maat.adapters.bus.spool_writer import _gather_py
from maat.adapters.lake import arrow
from maat.native import NATIVE
from maat.telemetry.wire import MAGIC
from native_kit import require_native


@pytest.fixture(autouse=True)
def _native() -> None:
    require_native()


# --- helpers --------------------------------------------------------------------------------


def wire_py(events: list[Any], dumps: Any) -> list[Any]:
    """What wire_events does, event by event, in Python (the same order of calls)."""
    out: list[Any] = []
    for event in list(events):
        if type(event) is not dict:
            out.append(None)
            continue
        had = "event.original" in event
        original = event.pop("event.original", None)
        try:
            fields = dumps(event)
        except Exception:
            fields = None
        if had:
            event["event.original"] = original
        if fields is None or (had and type(original) is not str) or type(fields) is not bytes:
            out.append(None)
            continue
        raw = original.encode() if had else b""
        out.append(MAGIC + len(fields).to_bytes(4, "little") + bytes([had]) + fields + raw)
    return out


class Slotted:
    def __init__(self, n: int) -> None:
        self.a, self.b, self.c = n, str(n), [n]


def mixed(n: int) -> list[Any]:
    """Dicts of every shape among non-dicts: exact, subclass, empty, huge (> 100 keys, far
    beyond the 1 KiB the keys prefetch reads), split tables (an instance __dict__), None."""

    class Sub(dict):  # type: ignore[type-arg]
        pass

    out: list[Any] = []
    for i in range(n):
        kind = i % 8
        if kind == 0:
            out.append({"event.id": str(i), "event.original": f"line {i}", "x": i})
        elif kind == 1:
            out.append(Sub(a=i))
        elif kind == 2:
            out.append({})
        elif kind == 3:
            out.append({f"k{j}": "v" * j for j in range(400)})
        elif kind == 4:
            out.append(Slotted(i).__dict__)  # a split-table dict
        elif kind == 5:
            out.append(None)
        elif kind == 6:
            out.append(f"not a dict {i}")
        else:
            out.append({i: i, (i,): [i], "event.original": 5})
    return out


def run_isolated(code: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip


# --- wire_events with a dumps that changes the batch under the prefetcher --------------------


@pytest.mark.parametrize("action", ["clear", "delete", "grow", "replace_values", "swap_in_list"])
def test_wire_events_dumps_mutating_later_dicts(action: str) -> None:
    assert NATIVE is not None

    def make() -> list[Any]:
        return [
            {"event.id": str(i), "event.original": f"o{i}", **{f"k{j}": j for j in range(i % 40)}}
            for i in range(200)
        ]

    def dumps_for(events: list[Any]) -> Any:
        state = {"at": 0}

        def dumps(event: dict[str, Any]) -> bytes:
            at = state["at"]
            state["at"] += 1
            for ahead in (1, 4, 8, 12):
                if at + ahead < len(events):
                    later = events[at + ahead]
                    if action == "clear":
                        later.clear()
                    elif action == "delete":
                        later.pop("event.original", None)
                        later.pop(f"k{ahead}", None)
                    elif action == "grow":  # a new (bigger) keys table; the old one freed
                        later.update({f"g{at}_{j}": "x" * j for j in range(60)})
                    elif action == "replace_values":  # the values prefetched ahead freed
                        for key in list(later):
                            later[key] = "".join([str(key), str(at)])
                    else:  # the caller's list: wire_events reads its own copy
                        events[at + ahead] = {"event.id": "swapped"}
            gc.collect(0)
            return orjson.dumps(event, default=repr)

        return dumps

    a, b = make(), make()
    got = NATIVE.wire_events(a, dumps_for(a))
    want = wire_py(b, dumps_for(b))
    assert got == want
    assert a == b


def test_wire_events_dumps_that_reenters_wire_events_and_release() -> None:
    assert NATIVE is not None
    events = mixed(64)
    inner: list[Any] = []

    def dumps(event: dict[str, Any]) -> bytes:
        copy = list(events)
        inner.append(NATIVE.wire_events(copy, lambda e: orjson.dumps(e, default=repr)))
        NATIVE.release(copy)
        return orjson.dumps(event, default=repr)

    out = NATIVE.wire_events(events, dumps)
    assert len(out) == 64 and len(inner) == sum(type(e) is dict for e in mixed(64))


# --- release / lake_columns on lists of mixed objects ---------------------------------------


def test_release_on_mixed_objects_and_refcounts() -> None:
    assert NATIVE is not None
    items = mixed(500)
    kept = list(items)
    own = [x for x in kept if x is not None]
    counts = [sys.getrefcount(x) for x in own]
    NATIVE.release(items)
    assert items == []
    assert [sys.getrefcount(x) for x in own] == [c - 1 for c in counts]


def test_release_on_a_list_containing_itself() -> None:
    assert NATIVE is not None
    items: list[Any] = [{"a": 1}, None]
    items.append(items)
    items.extend(mixed(20))
    items.append(items)
    before = sys.getrefcount(items)
    NATIVE.release(items)
    assert items == [] and sys.getrefcount(items) == before - 2


def test_release_where_each_del_mutates_later_items_and_the_list() -> None:
    """A __del__ emptying, growing and replacing the values of the dicts the prefetcher is
    about to walk (4, 8, 12 ahead), and appending to the caller's list."""
    assert NATIVE is not None
    freed: list[int] = []

    class Item:
        def __init__(self, n: int, batch: list[Any]) -> None:
            self.n, self.batch = n, batch

        def __del__(self) -> None:
            freed.append(self.n)
            for d in others:
                if d:
                    d.clear()
                else:
                    d.update({f"k{j}": object() for j in range(200)})
            self.batch.append(self.n)

    items: list[Any] = []
    others: list[dict[str, Any]] = [{f"k{j}": object() for j in range(50)} for _ in range(40)]
    for n in range(40):
        items.append(Item(n, items))
        items.append(others[n])
    NATIVE.release(items)
    last_first = list(range(39, -1, -1))  # as list.clear frees them
    assert freed == last_first and items == last_first


def test_lake_columns_on_mixed_objects_declines_without_reading_past() -> None:
    assert NATIVE is not None
    for start in range(8):
        batch = mixed(64)[start:]
        assert NATIVE.lake_columns(batch, arrow._NATIVE_PLAN) is None


def test_lake_columns_with_split_table_and_huge_dicts_ahead() -> None:
    """Well-formed events, but every few is a split-table dict or a dict of 400 keys: the
    same table as Arrow's."""
    from maat.adapters.lake.arrow import to_table

    def event(n: int) -> dict[str, Any]:
        return {
            "@timestamp": "2024-03-05T10:11:12.123456Z", "event.module": "sysmon",
            "event.id": f"id-{n}", "event.code": "1", "event.category": ["process"],
            "host.name": "WS-é", "process.pid": n, "destination.port": 443,
            "event.original": '{"EventID": 1}',
        }  # fmt: skip

    def outcome(events: Any, native: bool) -> Any:
        try:
            table = to_table(events, native=native)
        except Exception as exc:
            return type(exc), str(exc)
        if native:
            table.validate(full=True)
        return table

    class Holder:
        pass

    events: list[Any] = []
    for n in range(60):
        e = event(n)
        if n % 3 == 0:
            h = Holder()
            h.__dict__.update(e)
            e = h.__dict__
        elif n % 3 == 1:
            e.update({f"extra.{j}": j for j in range(400)})
        events.append(e)
    fast, reference = outcome(list(events), True), outcome(list(events), False)
    assert not isinstance(reference, tuple), reference
    assert not isinstance(fast, tuple), fast
    assert fast.equals(reference)
    assert NATIVE.lake_columns(list(events), arrow._NATIVE_PLAN) is not None  # C took it


# --- private copies reachable from Python through gc -----------------------------------------

_FIND_AND_EMPTY = """
import gc
from maat.native import NATIVE
assert NATIVE is not None and NATIVE.__file__

def empty_lists_holding(obj, mine):
    for ref in gc.get_referrers(obj):
        if type(ref) is list and all(ref is not m for m in mine):
            ref.clear()
"""


def test_release_private_copy_is_reachable_through_gc_and_can_be_emptied() -> None:
    """release's `held` is a GC-tracked list: gc.get_referrers from a __del__ finds it, and
    emptying it leaves release's loop reading PyList_GET_ITEM past the end (NULL ob_item)."""
    result = run_isolated(
        _FIND_AND_EMPTY
        + """
later = {"marker": 1}
class Item:
    def __del__(self):
        empty_lists_holding(later, [])
items = [Item(), None, None, later, None]
NATIVE.release(items)
print("survived", items)
"""
    )
    assert result.returncode == 0, (result.returncode, result.stderr[-3000:])


def test_release_private_copy_shifted_through_gc_frees_an_item_twice() -> None:
    """Deleting one item of `held` (not emptying it) shifts the rest down: the loop, still
    bound by the old n, reads the stale last slot and drops the last item's reference a second
    time (a use after free; under ASan with PYTHONMALLOC=malloc, heap-use-after-free)."""
    result = run_isolated(
        _FIND_AND_EMPTY
        + """
later = {"marker": 1}
done = []
class Last:  # an instance, not a list: lists go to a free list and hide the second free
    pass
class Item:
    def __del__(self):
        if done:
            return
        done.append(1)
        for ref in gc.get_referrers(later):
            if type(ref) is list and ref is not done:
                del ref[-2]
items = [Item(), None, later, Last(), Last()]
NATIVE.release(items)
print("survived", items)
"""
    )
    assert result.returncode == 0, (result.returncode, result.stderr[-3000:])


def test_lake_columns_private_copy_is_reachable_through_gc_and_can_be_emptied() -> None:
    """The same for lake_columns' `batch`, from a key's __eq__ (pre-existing)."""
    result = run_isolated(
        _FIND_AND_EMPTY
        + """
from maat.adapters.lake import arrow
class Key(str):
    __hash__ = str.__hash__
    def __eq__(self, other):
        empty_lists_holding(events[-1], [events])
        return str.__eq__(self, other)
events = [{"@timestamp": "2024-03-05T10:11:12Z", "host.name": "h"} for i in range(30)]
for e in events[1:]:
    del e["host.name"]
    e[Key("host.name")] = "h"
print("survived", NATIVE.lake_columns(events, arrow._NATIVE_PLAN))
"""
    )
    assert result.returncode == 0, (result.returncode, result.stderr[-3000:])


def test_wire_events_private_copy_is_reachable_through_gc_and_can_be_emptied() -> None:
    """The same for wire_events' `events` copy, from a dumps (pre-existing; the prefetch now
    reads it as well)."""
    result = run_isolated(
        _FIND_AND_EMPTY
        + """
import orjson
events = [{"n": i} for i in range(30)]
last = events[-1]
def dumps(event):
    empty_lists_holding(last, [events])
    return orjson.dumps(event)
print("survived", len(NATIVE.wire_events(events, dumps)))
"""
    )
    assert result.returncode == 0, (result.returncode, result.stderr[-3000:])


# --- gather -------------------------------------------------------------------------------


def both_gather(make_buffer: Any, filled: int, parts: list[Any], index: int) -> tuple[Any, Any]:
    assert NATIVE is not None
    outcomes = []
    for gather in (NATIVE.gather, _gather_py):
        buffer = make_buffer()
        try:
            result = gather(buffer, filled, parts, index)
            outcomes.append((result, bytes(buffer)))
        except Exception as exc:
            outcomes.append((type(exc).__name__,))
    return outcomes[0], outcomes[1]


PARTS = [b"abc", b"", b"defgh", bytearray(b"xy"), b"z" * 7, b"q"]


@pytest.mark.parametrize(
    "make_buffer",
    [
        lambda: bytearray(16),
        lambda: memoryview(bytearray(32))[8:24],
        lambda: mmap.mmap(-1, 4096),
    ],
    ids=["bytearray", "memoryview-slice", "mmap"],
)
@pytest.mark.parametrize("filled", [0, 3, 15, 16])
@pytest.mark.parametrize("index", [0, 1, 3, 4, 6])
def test_gather_matches_its_python_twin(make_buffer: Any, filled: int, index: int) -> None:
    fast, slow = both_gather(make_buffer, filled, PARTS, index)
    assert fast == slow


@pytest.mark.parametrize(
    "make_buffer",
    [
        lambda: b"\0" * 16,
        lambda: memoryview(bytearray(32))[::2],
        lambda: memoryview(bytes(16)),
    ],
    ids=["bytes", "strided", "readonly-view"],
)
def test_gather_refuses_what_it_cannot_write(make_buffer: Any) -> None:
    assert NATIVE is not None
    with pytest.raises((BufferError, TypeError)):
        NATIVE.gather(make_buffer(), 0, [b"ab"], 0)


def test_gather_holds_the_buffer_export_so_a_bytearray_cannot_resize_meanwhile() -> None:
    """No Python code runs inside gather, so nothing can resize the buffer during the copy;
    after it, the export is released (the bytearray can be resized again)."""
    assert NATIVE is not None
    buffer = bytearray(8)
    assert NATIVE.gather(buffer, 0, [b"abcd", b"efgh", b"i"], 0) == (2, 8)
    buffer.extend(b"more")  # the export was released
    with memoryview(buffer) as held:
        assert NATIVE.gather(held, 0, [b"Z"], 0) == (1, 1)
        with pytest.raises(BufferError):
            buffer.extend(b"x")
    assert buffer[:1] == b"Z"


@pytest.mark.parametrize(("filled", "index"), [(-1, 0), (17, 0), (0, -1), (0, 7), (2**70, 0)])
def test_gather_bad_positions(filled: int, index: int) -> None:
    assert NATIVE is not None
    with pytest.raises((ValueError, IndexError, OverflowError)):
        NATIVE.gather(bytearray(16), filled, PARTS, index)


@pytest.mark.parametrize(
    ("filled", "index", "error"),
    [(17, 0, ValueError), (-1, 0, ValueError), (0, 7, IndexError), (0, -1, IndexError)],
)
def test_gather_and_its_python_twin_refuse_the_same_bad_positions(
    filled: int, index: int, error: type
) -> None:
    assert NATIVE is not None
    with pytest.raises(error):
        NATIVE.gather(bytearray(16), filled, PARTS, index)
    with pytest.raises(error):
        _gather_py(bytearray(16), filled, PARTS, index)  # type: ignore[arg-type]


def test_gather_into_a_view_of_wider_items_copies_bytes() -> None:
    """A memoryview of 4-byte items: C copies bytes into its 4 * len bytes; the twin counts
    len() in items and fails on the format — the twin is only for mmap buffers."""
    assert NATIVE is not None
    buf = array.array("I", [0] * 4)
    assert NATIVE.gather(memoryview(buf), 0, [b"abcdefgh"], 0) == (1, 8)
    assert buf.tobytes()[:8] == b"abcdefgh"


# --- leaks --------------------------------------------------------------------------------


def test_no_leak_over_10000_calls() -> None:
    assert NATIVE is not None
    events = mixed(40)
    plan = arrow._NATIVE_PLAN

    def once() -> None:
        batch = list(events)
        NATIVE.wire_events(batch, lambda e: orjson.dumps(e, default=repr))
        NATIVE.lake_columns(batch, plan)
        NATIVE.release(batch)
        NATIVE.gather(bytearray(64), 0, [b"abc", b"de" * 40], 0)
        with contextlib.suppress(BufferError):
            NATIVE.gather(bytes(4), 0, [b"a"], 0)
        with contextlib.suppress(TypeError):
            NATIVE.release((1,))  # type: ignore[arg-type]

    for _ in range(500):
        once()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(10_000):
            once()
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert after - before < 64 * 1024, after - before

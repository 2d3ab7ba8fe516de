"""maat._native.release: list.clear, reading ahead of the events it lets go of. The same
outcome as ``clear`` for any list, whatever its items do when they are freed."""

from __future__ import annotations

import gc
import sys
import weakref
from typing import Any

import pytest

from maat.native import NATIVE
from native_kit import require_native


@pytest.fixture(autouse=True)
def _native() -> None:
    require_native()


class Tracked:
    """An item that records when it is freed, and may act on the list then."""

    freed: list[int]

    def __init__(self, n: int, log: list[int], on_free: Any = None) -> None:
        self.n, self.log, self.on_free = n, log, on_free

    def __del__(self) -> None:
        self.log.append(self.n)
        if self.on_free is not None:
            self.on_free()


def test_release_empties_the_list_and_frees_its_items_last_first_as_clear_does() -> None:
    assert NATIVE is not None
    logs: list[list[int]] = []
    for release in (NATIVE.release, list.clear):
        log: list[int] = []
        items: list[Any] = [Tracked(n, log) for n in range(50)]
        release(items)
        assert items == []
        logs.append(log)
    assert logs[0] == logs[1] == list(range(49, -1, -1))


def test_release_drops_exactly_one_reference_of_each_event() -> None:
    assert NATIVE is not None
    events: list[Any] = [{"a": f"value {n}", "b": n, "c": [n]} for n in range(100)]
    kept = list(events)  # a second owner: nothing may be freed, nor leaked
    counts = [sys.getrefcount(e) for e in kept]
    NATIVE.release(events)
    assert events == []
    assert [sys.getrefcount(e) for e in kept] == [c - 1 for c in counts]
    assert kept[7] == {"a": "value 7", "b": 7, "c": [7]}


def test_release_frees_events_nobody_else_holds() -> None:
    assert NATIVE is not None

    class Value(str):
        pass

    values = [Value(f"v{n}") for n in range(30)]
    refs = [weakref.ref(v) for v in values]
    events: list[Any] = [{"k": v, "n": None} for v in values]
    del values
    NATIVE.release(events)
    gc.collect()
    assert all(r() is None for r in refs)


def test_a_free_that_changes_the_callers_list_cannot_upset_release() -> None:
    """An item's __del__ appending to and cutting the list being released: every original
    item is freed once, in clear()'s order, and the list ends as it does under clear()."""
    assert NATIVE is not None
    outcomes = []
    for release in (NATIVE.release, list.clear):
        log: list[int] = []
        items: list[Any] = []

        def meddle(items: list[Any] = items) -> None:
            items.append("added while releasing")
            items.extend(range(3))
            del items[:2]

        items.extend(Tracked(n, log, meddle if n % 7 == 0 else None) for n in range(30))
        release(items)
        outcomes.append((log, items))
    assert outcomes[0][0] == outcomes[1][0] == list(range(29, -1, -1))
    assert outcomes[0][1] == outcomes[1][1] and len(outcomes[0][1]) == 10


@pytest.mark.parametrize("items", [[], [None, 1, "x", b"y", (1,), {"a": 1}, [[]]]])
def test_release_takes_any_list(items: list[Any]) -> None:
    assert NATIVE is not None
    NATIVE.release(items)
    assert items == []


@pytest.mark.parametrize("arg", [(1, 2), {"a": 1}, None, "abc"])
def test_release_refuses_what_is_not_a_list(arg: Any) -> None:
    assert NATIVE is not None
    with pytest.raises(TypeError, match="release"):
        NATIVE.release(arg)

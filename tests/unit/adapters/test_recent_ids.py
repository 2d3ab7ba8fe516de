"""The spool's dedupe window (ids kept in generations of sets) against a reference model.

The contract: at least the newest ``window`` distinct ids ever added are remembered (never
fewer), at most ``window`` + one generation + one batch; ``len()`` counts the distinct ids
remembered; a window of 0 remembers nothing; re-adding a remembered id does not count twice.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maat.adapters.bus.recent_ids import RecentIds
from maat.adapters.bus.spool import SpoolBus

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class NewestIds:
    """The reference: every id ever added, by the time it was last added."""

    def __init__(self) -> None:
        self._order: dict[str, None] = {}  # oldest first, an id moved to the end when re-added

    def add(self, ids: list[str]) -> None:
        for ident in ids:
            self._order.pop(ident, None)
            self._order[ident] = None

    def newest(self, window: int) -> list[str]:
        if window <= 0:
            return []
        return list(self._order)[-window:]

    @property
    def ever(self) -> list[str]:
        return list(self._order)


def generation(window: int) -> int:
    return max(1, window // 8)


def check_against_model(
    recent: RecentIds, model: NewestIds, window: int, biggest: int, *, length: bool = True
) -> None:
    missing = [ident for ident in model.newest(window) if ident not in recent]
    assert missing == [], f"forgot {missing} of the newest {window}"
    remembered = [ident for ident in model.ever if ident in recent]
    if length:
        assert len(recent) == len(remembered), "len() is not the count of distinct ids"
    assert len(remembered) <= window + generation(window) + biggest
    newest = set(model.newest(window))
    assert recent.isdisjoint(set(model.ever) - set(remembered))
    if newest:
        assert not recent.isdisjoint(newest)


# --- small cases ------------------------------------------------------------------------------


def test_a_window_of_zero_remembers_nothing() -> None:
    recent = RecentIds(0)
    recent.add_new(["a", "b", "c"])
    recent.add_new({"d"})
    assert len(recent) == 0
    assert "a" not in recent and "d" not in recent
    assert recent.isdisjoint({"a", "b", "c", "d"})


def test_a_fresh_window_remembers_nothing_yet() -> None:
    recent = RecentIds(100)
    assert len(recent) == 0
    assert "a" not in recent
    assert recent.isdisjoint({"a"}) and recent.isdisjoint(set())


def test_a_batch_is_remembered_whole_and_counted_once_each() -> None:
    recent = RecentIds(100)
    recent.add_new(["a", "b", "c"])
    assert len(recent) == 3
    assert all(ident in recent for ident in "abc")
    assert "d" not in recent
    assert not recent.isdisjoint({"x", "b"})
    assert recent.isdisjoint({"x", "y"})


def test_an_id_twice_in_one_batch_counts_once() -> None:
    recent = RecentIds(100)
    recent.add_new(["a", "a", "b"])
    assert len(recent) == 2


def test_re_adding_an_id_of_the_newest_generation_does_not_count_twice() -> None:
    recent = RecentIds(100)  # generations of 12: all of these stay in the first one
    recent.add_new(["a", "b"])
    recent.add(["a"])
    assert len(recent) == 2


def test_re_adding_an_id_of_an_older_generation_does_not_count_twice() -> None:
    recent = RecentIds(16)  # generations of 2: "a" and "b" fill the first one
    recent.add_new(["a", "b"])
    recent.add(["a"])
    assert len(recent) == 2


def test_re_adding_a_remembered_id_never_pushes_out_one_of_the_newest_window() -> None:
    """Counting the re-added "b" twice makes the window look full with one id in it: "a",
    one of the newest two, is forgotten and its replay would be stored again."""
    recent = RecentIds(2)
    recent.add_new(["a"])
    recent.add_new(["b"])
    recent.add(["b"])
    assert "a" in recent and "b" in recent
    assert len(recent) == 2


def test_clear_forgets_every_id_and_the_window_keeps_working() -> None:
    recent = RecentIds(4)
    for ident in "abcdefgh":
        recent.add_new([ident])
    recent.clear()
    assert len(recent) == 0
    assert all(ident not in recent for ident in "abcdefgh")
    assert recent.isdisjoint(set("abcdefgh"))
    recent.add_new(["x", "y"])
    assert len(recent) == 2 and "x" in recent and "a" not in recent


def test_one_id_at_a_time_keeps_the_newest_window_and_bounded_memory() -> None:
    window = 64
    recent = RecentIds(window)
    for n in range(5000):
        recent.add_new([f"id-{n}"])
        newest = range(max(0, n - window + 1), n + 1)
        assert all(f"id-{i}" in recent for i in newest)
        assert window <= len(recent) + max(0, window - n - 1)
        assert len(recent) <= window + generation(window) + 1
    remembered = sum(f"id-{n}" in recent for n in range(5000))
    assert remembered == len(recent)
    assert "id-0" not in recent  # long gone: memory is bounded


def test_a_batch_larger_than_the_window_keeps_at_least_the_window() -> None:
    recent = RecentIds(10)
    recent.add_new([f"a{n}" for n in range(5)])
    recent.add_new([f"b{n}" for n in range(50)])
    assert all(f"b{n}" in recent for n in range(50))  # one batch: remembered whole
    recent.add_new(["c"])
    assert "c" in recent and len(recent) >= 10
    assert len(recent) <= 10 + generation(10) + 50


def test_an_id_the_window_forgot_can_be_added_again() -> None:
    recent = RecentIds(3)
    recent.add_new(["a"])
    for ident in "bcdefghij":
        recent.add_new([ident])
    assert "a" not in recent
    recent.add_new(["a"])
    assert "a" in recent
    assert len(recent) == sum(ident in recent for ident in "abcdefghij")


# --- against the model ------------------------------------------------------------------------

windows = st.integers(min_value=0, max_value=40)


@SETTINGS
@given(
    window=windows,
    sizes=st.lists(st.integers(min_value=0, max_value=30), min_size=1, max_size=60),
)
def test_fresh_batches_as_the_spool_adds_them_keep_the_newest_window(
    window: int, sizes: list[int]
) -> None:
    """The spool adds only ids it has not remembered (it just stored them as new)."""
    recent, model = RecentIds(window), NewestIds()
    counter, biggest = 0, 0
    for size in sizes:
        batch = [f"m{counter + i}" for i in range(size)]
        counter += size
        biggest = max(biggest, size)
        recent.add_new(set(batch) if size % 2 else batch)
        model.add(batch)
        check_against_model(recent, model, window, biggest)


repeating_batches = st.lists(
    st.lists(st.integers(min_value=0, max_value=60).map(lambda n: f"i{n}"), max_size=12),
    min_size=1,
    max_size=60,
)


def add_and_check(window: int, batches: list[list[str]], *, length: bool) -> None:
    """Add ``batches`` (which may repeat remembered ids) and check against the model after
    each one."""
    recent, model = RecentIds(window), NewestIds()
    biggest = 0
    for batch in batches:
        biggest = max(biggest, len(set(batch)))
        recent.add(batch)
        model.add(batch)
        check_against_model(recent, model, window, biggest, length=length)


@SETTINGS
@given(window=windows, batches=repeating_batches)
def test_batches_repeating_remembered_ids_never_forget_one_of_the_newest_window(
    window: int, batches: list[list[str]]
) -> None:
    """At open the spool reads the ids of whole segments back, and they may hold an id
    twice (one the window had forgotten, stored again): repeats must not shrink the window."""
    add_and_check(window, batches, length=False)


@SETTINGS
@given(window=windows, batches=repeating_batches)
def test_batches_repeating_remembered_ids_count_each_id_once(
    window: int, batches: list[list[str]]
) -> None:
    add_and_check(window, batches, length=True)


@pytest.mark.parametrize("seed", range(8))
def test_random_long_runs_keep_the_newest_window(seed: int) -> None:
    rng = random.Random(seed)
    window = rng.choice([1, 7, 8, 9, 100, 333])
    recent, model = RecentIds(window), NewestIds()
    counter, biggest = 0, 0
    for _ in range(400):
        size = rng.choice([1, 1, 2, 5, window // 3 + 1, window + 3])
        batch = [f"m{counter + i}" for i in range(size)]
        counter += size
        biggest = max(biggest, size)
        recent.add(batch)
        model.add(batch)
    check_against_model(recent, model, window, biggest)


# --- through the spool ------------------------------------------------------------------------


def open_spool(root: Path, window: int, *, segment_bytes: int = 600) -> SpoolBus:
    return SpoolBus(
        root,
        segment_bytes=segment_bytes,  # a few messages a segment: the window spans many
        max_bytes=1 << 30,
        min_free_bytes=0,
        dedupe_window=window,
        tail_bytes=1 << 20,
    )


def publish_random_batches(bus: SpoolBus, rng: random.Random, stored: NewestIds, n: int) -> None:
    start = len(stored.ever)
    for _ in range(n):
        size = rng.choice([1, 1, 2, 3, 7, 15])
        batch = [(f"ev-{start + i}", f"event {start + i}".encode()) for i in range(size)]
        start += size
        assert bus.publish("events", batch) == size
        stored.add([ident for ident, _ in batch])


def assert_replays_refused(bus: SpoolBus, ids: list[str]) -> None:
    for ident in ids:
        assert bus.publish("events", [(ident, b"a replay with other content")]) == 0, ident
    # and all at once, as a client re-sending an unacknowledged batch does
    assert bus.publish("events", [(ident, b"again") for ident in ids]) == 0


@pytest.mark.parametrize("seed", range(3))
def test_a_replay_of_any_of_the_newest_window_ids_is_refused_also_after_reopen(
    tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    window = 40
    stored = NewestIds()
    with open_spool(tmp_path, window) as bus:
        publish_random_batches(bus, rng, stored, 30)
        assert_replays_refused(bus, stored.newest(window))
    with open_spool(tmp_path, window) as bus:  # the window is read back from the segments
        assert_replays_refused(bus, stored.newest(window))
        publish_random_batches(bus, rng, stored, 10)
        assert_replays_refused(bus, stored.newest(window))
    with open_spool(tmp_path, window) as bus:
        assert_replays_refused(bus, stored.newest(window))


def test_replays_are_refused_after_compaction_and_reopen(tmp_path: Path) -> None:
    """Compaction keeps the segments holding the window (it counts the ids remembered)."""
    rng = random.Random(7)
    window = 30
    stored = NewestIds()
    with open_spool(tmp_path, window) as bus:
        bus.register("lake")
        publish_random_batches(bus, rng, stored, 40)
        while messages := bus.fetch("lake", max_messages=50, timeout=0):
            bus.ack("lake", messages)
        assert bus.compact() > 0
        assert_replays_refused(bus, stored.newest(window))
    with open_spool(tmp_path, window) as bus:
        assert_replays_refused(bus, stored.newest(window))


def test_an_id_stored_again_after_the_window_forgot_it_is_stored_once_more(
    tmp_path: Path,
) -> None:
    with open_spool(tmp_path, 2, segment_bytes=1 << 20) as bus:
        for ident in ["p", "a", "b", "c", "d"]:
            assert bus.publish("events", [(ident, ident.encode())]) == 1
        assert bus.publish("events", [("p", b"p again")]) == 1  # beyond the window


def test_a_window_raised_at_reopen_refuses_replays_of_the_newest_ids(tmp_path: Path) -> None:
    """A segment a message: with a window of 2, "a" is forgotten and stored again, so the
    ids read back at open hold it twice. With the window raised to 5, the newest five
    distinct ids stored are q, a, c, b and p: a replay of "p" must be refused (the spool
    before the generations refused it)."""
    with open_spool(tmp_path, 2, segment_bytes=1) as bus:
        for ident in ["p", "a", "b", "c", "a"]:
            assert bus.publish("events", [(ident, ident.encode())]) == 1
    with open_spool(tmp_path, 5, segment_bytes=1) as bus:
        assert bus.publish("events", [("q", b"q")]) == 1
        assert_replays_refused(bus, ["q", "a", "c", "b", "p"])


def test_compaction_after_a_raised_window_keeps_the_segments_replays_must_still_hit(
    tmp_path: Path,
) -> None:
    """Counting "a" in both segments that hold a copy made compaction think the window
    ended a segment later than it does: the segment of "p" was deleted, and after the next
    restart a replay of "p" was stored again."""
    with open_spool(tmp_path, 2, segment_bytes=1) as bus:
        for ident in ["p", "a", "b", "c", "a"]:
            assert bus.publish("events", [(ident, ident.encode())]) == 1
    with open_spool(tmp_path, 5, segment_bytes=1) as bus:
        bus.register("lake")
        assert bus.publish("events", [("q", b"q")]) == 1
        while messages := bus.fetch("lake", max_messages=50, timeout=0):
            bus.ack("lake", messages)
        bus.compact()
    with open_spool(tmp_path, 5, segment_bytes=1) as bus:
        assert_replays_refused(bus, ["q", "a", "c", "b", "p"])


def test_the_window_read_back_at_open_is_no_larger_than_the_window(tmp_path: Path) -> None:
    """One large segment used to come back whole: every id of it remembered at open."""
    with open_spool(tmp_path, 1_000_000, segment_bytes=1 << 30) as bus:
        bus.publish("events", [(f"id{n}", b"x") for n in range(5_000)])
    with open_spool(tmp_path, 100, segment_bytes=1 << 30) as bus:
        assert len(bus._recent) == 100  # type: ignore[attr-defined]
        assert_replays_refused(bus, [f"id{n}" for n in range(4_900, 5_000)])

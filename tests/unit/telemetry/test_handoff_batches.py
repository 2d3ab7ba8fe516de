"""The hand-off's whole-batch paths decide as its one-message-at-a-time semantics do.

A reference model of the documented behaviour (an id keeps its first event; settle forgets
what the bus did not store; a take answers only for equal bytes, once a consumer, and the
entry goes when ``consumers`` takes happened; the oldest go beyond the byte limit) is run
beside :class:`Handoff` over random interleavings that hit both its fast paths and its loops.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maat.ports import BusMessage
from maat.telemetry.handoff import Handoff

Item = tuple[str, bytes, dict[str, Any]]


class ModelHandoff:
    """The documented semantics, one message at a time."""

    def __init__(self, *, limit_bytes: int, consumers: int) -> None:
        self.limit = limit_bytes
        self.consumers = consumers
        self.entries: OrderedDict[str, list[Any]] = OrderedDict()  # id -> [event, data, takes]

    @property
    def bytes(self) -> int:
        return sum(len(entry[1]) for entry in self.entries.values())

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def full(self) -> bool:
        return self.limit > 0 and self.bytes >= self.limit

    def put(self, items: list[Item]) -> list[str]:
        if self.limit <= 0:
            return []
        added = []
        for msg_id, data, event in items:
            if msg_id not in self.entries:
                self.entries[msg_id] = [event, data, 0]
                added.append(msg_id)
        while self.bytes > self.limit and self.entries:
            self.entries.popitem(last=False)
        return added

    def settle(self, added: list[str], stored: set[str]) -> None:
        for msg_id in added:
            if msg_id not in stored:
                self.entries.pop(msg_id, None)

    def take(self, messages: list[BusMessage]) -> list[dict[str, Any] | None]:
        out: list[dict[str, Any] | None] = []
        for message in messages:
            entry = self.entries.get(message.msg_id)
            if entry is None or entry[1] != message.data:
                out.append(None)
                continue
            entry[2] += 1
            if entry[2] >= self.consumers:
                del self.entries[message.msg_id]
            out.append(entry[0])
        return out


def same_events(got: list[Any], expected: list[Any]) -> bool:
    """The very objects (events are handed over, never copied or decoded)."""
    return len(got) == len(expected) and all(a is b for a, b in zip(got, expected, strict=True))


def message(msg_id: str, data: bytes, position: int = 0) -> BusMessage:
    return BusMessage("events", msg_id, data, position)


def copy_of(data: bytes) -> bytes:
    """Equal bytes in another object (as read back from a segment file)."""
    copied = bytes(bytearray(data))
    assert copied == data and (copied is not data or not data)
    return copied


class Pair:
    """The hand-off and its model, driven together and compared after every step."""

    def __init__(self, *, limit_bytes: int, consumers: int) -> None:
        self.real = Handoff(limit_bytes=limit_bytes, consumers=consumers)
        self.model = ModelHandoff(limit_bytes=limit_bytes, consumers=consumers)
        self.kept: dict[str, bytes] = {}  # the bytes last put for an id (to fetch them)

    def check(self) -> None:
        assert len(self.real) == len(self.model)
        assert self.real.full == self.model.full

    def put(self, items: list[Item], stored: set[str] | None = None) -> list[str]:
        added = self.real.put(items)
        assert added == self.model.put(items)
        self.check()
        for msg_id, data, _ in items:
            self.kept.setdefault(msg_id, data)
        if stored is not None:
            self.settle(added, stored)
        return added

    def settle(self, added: list[str], stored: set[str]) -> None:
        self.real.settle(added, stored)
        self.model.settle(added, stored)
        self.check()

    def take(self, messages: list[BusMessage]) -> list[dict[str, Any] | None]:
        got = self.real.take(messages)
        expected = self.model.take(messages)
        assert same_events(got, expected), (got, expected)
        self.check()
        return got


# --- the differential run ---------------------------------------------------------------------


def random_run(rng: random.Random, consumers: int, limit: int, steps: int) -> None:
    pair = Pair(limit_bytes=limit, consumers=consumers)
    pool = [f"id{n}" for n in range(40)]
    fresh = iter(range(10**9))
    published: list[tuple[str, bytes]] = []  # what the bus stored, to fetch again
    for _ in range(steps):
        action = rng.random()
        if action < 0.35:
            # a batch: new distinct ids (the fast path), or ids of the pool with repeats
            size = rng.randint(1, 12)
            if rng.random() < 0.5:
                ids = [f"new{next(fresh)}" for _ in range(size)]
            else:
                ids = [rng.choice(pool) for _ in range(size)]
            items = [
                (ident, f"{ident}:{rng.randint(0, 3)}:{'x' * rng.randint(0, 30)}".encode(), {})
                for ident in ids
            ]
            added = pair.put(items)
            chance = rng.random()
            if chance < 0.7:
                stored = set(added)  # the bus stored them all
            elif chance < 0.85:
                stored = {ident for ident in added if rng.random() < 0.5}  # some replays
            else:
                stored = set()  # the bus failed
            pair.settle(added, stored)
            published.extend((ident, data) for ident, data, _ in items if ident in stored)
        elif published:
            # a fetch: a range of what was stored (overlapping earlier ones), with equal
            # bytes as the same or another object, other bytes, repeats, unknown ids
            first = rng.randrange(len(published))
            chunk = published[first : first + rng.randint(1, 15)]
            messages = []
            for ident, data in chunk:
                kind = rng.random()
                if kind < 0.6:
                    messages.append(message(ident, data))
                elif kind < 0.8:
                    messages.append(message(ident, copy_of(data)))
                elif kind < 0.9:
                    messages.append(message(ident, data + b"-replayed by another device"))
                else:
                    messages.append(message(ident, data))
                    messages.append(message(ident, data))  # the same id twice in a fetch
            if rng.random() < 0.1:
                messages.append(message("never-put", b"x"))
            if rng.random() < 0.1:
                rng.shuffle(messages)
            pair.take(messages)


@pytest.mark.parametrize("consumers", [1, 2, 3])
@pytest.mark.parametrize("limit", [0, 60, 400, 1 << 20])
@pytest.mark.parametrize("seed", range(12))
def test_random_interleavings_decide_as_the_one_message_model(
    consumers: int, limit: int, seed: int
) -> None:
    random_run(random.Random(f"{seed}-{consumers}-{limit}"), consumers, limit, 250)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    consumers=st.sampled_from([1, 2, 3]),
    limit=st.sampled_from([10, 50, 1000]),
    ops=st.lists(
        st.one_of(
            st.tuples(
                st.just("put"),
                st.lists(st.tuples(st.sampled_from("abcdef"), st.sampled_from([b"1", b"22"]))),
                st.sampled_from(["all", "none", "half"]),
            ),
            st.tuples(
                st.just("take"),
                st.lists(
                    st.tuples(
                        st.sampled_from("abcdefg"),
                        st.sampled_from(["same", "copy", "other"]),
                    ),
                    min_size=1,  # an empty take: its own test below
                ),
                st.just(""),
            ),
        ),
        max_size=40,
    ),
)
def test_any_sequence_of_puts_and_takes_decides_as_the_model(
    consumers: int, limit: int, ops: list[tuple[str, list[tuple[str, Any]], str]]
) -> None:
    pair = Pair(limit_bytes=limit, consumers=consumers)
    for op, args, how in ops:
        if op == "put":
            items = [(ident, data, {"id": ident}) for ident, data in args]
            added = pair.put(items)
            stored = {"all": set(added), "none": set(), "half": set(added[::2])}[how]
            pair.settle(added, stored)
        else:
            messages = []
            for ident, kind in args:
                data = pair.kept.get(ident, b"1")
                if kind == "copy":
                    data = copy_of(data)
                elif kind == "other":
                    data = data + b"!"
                messages.append(message(ident, data))
            pair.take(messages)


# --- the cases by name ------------------------------------------------------------------------


def items_of(ids: list[str], tag: str = "") -> list[Item]:
    return [(ident, f"data-{ident}{tag}".encode(), {"id": ident, "tag": tag}) for ident in ids]


def fetched(items: list[Item]) -> list[BusMessage]:
    return [message(ident, data, n) for n, (ident, data, _) in enumerate(items)]


@pytest.mark.parametrize("consumers", [1, 2, 3])
def test_each_consumer_takes_a_whole_batch_once_then_it_is_forgotten(consumers: int) -> None:
    pair = Pair(limit_bytes=1 << 20, consumers=consumers)
    items = items_of([f"e{n}" for n in range(10)])
    pair.put(items, {ident for ident, _, _ in items})
    for taken in range(consumers):
        got = pair.take(fetched(items))
        assert same_events(got, [event for _, _, event in items])
        assert len(pair.real) == (10 if taken < consumers - 1 else 0)
    assert pair.take(fetched(items)) == [None] * 10  # a further take: decoded from the bus


@pytest.mark.parametrize("consumers", [2, 3])
def test_a_batch_half_taken_then_overlapping_ranges_count_per_message(consumers: int) -> None:
    """Consumer A took the first half; B takes all, then A the rest and more: mixed take
    counts in one fetch go message by message."""
    pair = Pair(limit_bytes=1 << 20, consumers=consumers)
    items = items_of([f"e{n}" for n in range(10)])
    pair.put(items, {ident for ident, _, _ in items})
    pair.take(fetched(items[:5]))
    pair.take(fetched(items))
    pair.take(fetched(items[3:]))
    pair.take(fetched(items[5:8]))
    pair.take(fetched(items[::-1]))
    assert len(pair.real) == 0


def test_equal_bytes_in_another_object_are_enough() -> None:
    pair = Pair(limit_bytes=1 << 20, consumers=1)
    items = items_of(["a", "b", "c"])
    pair.put(items, {"a", "b", "c"})
    got = pair.take([message(ident, copy_of(data)) for ident, data, _ in items])
    assert same_events(got, [event for _, _, event in items])


def test_a_replay_with_other_content_never_gets_the_kept_event_even_among_exact_ones() -> None:
    """One message in a fetch with another sender's bytes for a kept id: it gets no event,
    and it does not count as a take (the real message still gets it)."""
    pair = Pair(limit_bytes=1 << 20, consumers=1)
    items = items_of(["a", "b", "c"], tag="-vendor")
    pair.put(items, {"a", "b", "c"})
    replay = message("b", b"data-b-attacker")
    got = pair.take([message("a", items[0][1]), replay, message("c", items[2][1])])
    assert got[0] is items[0][2] and got[1] is None and got[2] is items[2][2]
    assert pair.take([replay]) == [None]
    assert pair.take([message("b", items[1][1])])[0] is items[1][2]


def test_a_put_of_a_kept_id_with_other_content_keeps_the_first_event() -> None:
    pair = Pair(limit_bytes=1 << 20, consumers=1)
    first = items_of(["a", "b"], tag="-first")
    pair.put(first, {"a", "b"})
    again = items_of(["c", "a"], tag="-second")
    assert pair.put(again, {"c"}) == ["c"]
    assert pair.take([message("a", again[1][1])]) == [None]
    assert pair.take([message("a", first[0][1])])[0] is first[0][2]


def test_an_id_twice_in_one_put_keeps_its_first_event() -> None:
    pair = Pair(limit_bytes=1 << 20, consumers=1)
    items = [("a", b"one", {"n": 1}), ("b", b"two", {"n": 2}), ("a", b"three", {"n": 3})]
    assert pair.put(items, {"a", "b"}) == ["a", "b"]
    assert pair.take([message("a", b"three")]) == [None]
    assert pair.take([message("a", b"one")])[0] is items[0][2]


@pytest.mark.parametrize("consumers", [1, 2, 3])
def test_an_id_twice_in_one_take_counts_as_two_takes(consumers: int) -> None:
    pair = Pair(limit_bytes=1 << 20, consumers=consumers)
    items = items_of(["a", "b"])
    pair.put(items, {"a", "b"})
    pair.take(fetched(items) + fetched(items[:1]))
    pair.take(fetched(items))


def test_settle_forgets_what_the_bus_refused_and_a_put_again_starts_afresh() -> None:
    pair = Pair(limit_bytes=1 << 20, consumers=2)
    items = items_of(["a", "b", "c"])
    added = pair.put(items)
    pair.settle(added, {"a"})  # b and c were replays the bus refused
    assert len(pair.real) == 1
    assert pair.take(fetched(items))[1:] == [None, None]
    again = items_of(["b"], tag="-2")
    pair.put(again, {"b"})
    pair.take(fetched(again))
    assert len(pair.real) == 2  # "a" and the new "b", each taken once of twice: kept


def test_a_failed_publish_forgets_the_whole_batch() -> None:
    pair = Pair(limit_bytes=1 << 20, consumers=1)
    items = items_of([f"e{n}" for n in range(5)])
    pair.put(items, set())
    assert len(pair.real) == 0 and not pair.real.full
    assert pair.take(fetched(items)) == [None] * 5


def test_the_byte_limit_drops_the_oldest_and_their_take_counts() -> None:
    """An event taken by one of two consumers, then dropped by the limit, then put again:
    the new entry needs both consumers' takes (no count left over from the old one)."""
    pair = Pair(limit_bytes=40, consumers=2)
    old = [("a", b"0123456789", {"v": "old"})]
    pair.put(old, {"a"})
    pair.take(fetched(old))
    filler = [(f"f{n}", b"0123456789", {"n": n}) for n in range(4)]
    pair.put(filler, {ident for ident, _, _ in filler})  # 50 bytes > 40: "a" goes
    assert pair.real.full
    new = [("a", b"0123456789", {"v": "new"})]
    pair.put(new, {"a"})  # and "f0" goes
    got = pair.take(fetched(new))
    assert got[0] is new[0][2]
    assert pair.take(fetched(new))[0] is new[0][2]


def test_the_limit_is_full_at_its_bytes_not_before() -> None:
    pair = Pair(limit_bytes=30, consumers=1)
    pair.put([("a", b"x" * 10, {})], {"a"})
    assert not pair.real.full
    pair.put([("b", b"x" * 20, {})], {"b"})
    assert pair.real.full and len(pair.real) == 2
    pair.put([("c", b"x", {})], {"c"})
    assert len(pair.real) == 2  # "a" dropped: 21 bytes
    assert not pair.real.full


def test_a_batch_larger_than_the_limit_keeps_only_its_newest() -> None:
    pair = Pair(limit_bytes=25, consumers=1)
    items = [(f"e{n}", b"0123456789", {"n": n}) for n in range(6)]
    pair.put(items, {ident for ident, _, _ in items})
    assert len(pair.real) == 2
    got = pair.take(fetched(items))
    assert got[:4] == [None] * 4 and got[4] is items[4][2] and got[5] is items[5][2]


def test_a_limit_of_zero_keeps_nothing() -> None:
    pair = Pair(limit_bytes=0, consumers=1)
    items = items_of(["a"])
    assert pair.put(items, {"a"}) == []
    assert pair.take(fetched(items)) == [None]
    assert not pair.real.full and len(pair.real) == 0


def test_an_empty_put_changes_nothing() -> None:
    pair = Pair(limit_bytes=100, consumers=1)
    assert pair.put([], set()) == []
    items = items_of(["a"])
    pair.put(items, {"a"})
    assert pair.put([], set()) == []
    assert len(pair.real) == 1


def test_an_empty_take_while_events_are_kept_answers_nothing() -> None:
    """The loop it replaced answered ``[]``; ``min()`` of no take counts must not raise."""
    pair = Pair(limit_bytes=100, consumers=1)
    assert pair.take([]) == []  # nothing kept: answered before the fast path
    items = items_of(["a"])
    pair.put(items, {"a"})
    assert pair.take([]) == []
    assert len(pair.real) == 1

"""The hand-off of just-published events to this process's consumers."""

from __future__ import annotations

from typing import Any

from maat.ports import BusMessage
from maat.telemetry.handoff import Handoff


def message(msg_id: str, data: bytes, position: int = 1) -> BusMessage:
    return BusMessage("events", msg_id, data, position)


def published(n: int, tag: str = "") -> list[tuple[str, bytes, dict[str, Any]]]:
    return [(f"id{i}", f"data{i}{tag}".encode(), {"n": i, "tag": tag}) for i in range(n)]


def stored(handoff: Handoff, items: list[tuple[str, bytes, dict[str, Any]]]) -> None:
    """Put and settle as a bus that stored every message would."""
    handoff.settle(handoff.put(items), {msg_id for msg_id, _, _ in items})


def test_a_consumer_gets_the_published_event_for_the_exact_bytes_it_fetched() -> None:
    handoff = Handoff(limit_bytes=1000, consumers=1)
    items = published(3)
    stored(handoff, items)
    got = handoff.take([message("id1", b"data1"), message("id2", b"data2")])
    assert got == [items[1][2], items[2][2]]
    assert got[0] is items[1][2]  # the object itself: nothing decoded
    assert len(handoff) == 1  # taken by its only consumer: forgotten


def test_a_replay_with_other_content_never_stands_in_for_what_the_bus_stored() -> None:
    """An attacker replays a stored event's id with another sender stamp: the bus keeps the
    first message, and so must the hand-off, and a fetched message whose bytes differ from
    the kept ones is decoded from the bus, never answered from memory."""
    handoff = Handoff(limit_bytes=1000, consumers=1)
    first = published(1, "-from-vendor-host")
    stored(handoff, first)
    assert handoff.put(published(1, "-from-attacker")) == []  # same id: the first stays
    assert handoff.take([message("id0", b"data0-from-attacker")]) == [None]
    assert handoff.take([message("id0", b"data0-from-vendor-host")]) == [first[0][2]]


def test_replays_the_bus_refused_and_failed_publishes_are_not_kept() -> None:
    """A re-sent batch is refused by the bus as duplicates: no consumer will ever fetch it,
    so keeping it would only fill memory (and a bus failure stores nothing at all)."""
    handoff = Handoff(limit_bytes=1000, consumers=1)
    added = handoff.put(published(4))
    handoff.settle(added, {"id0", "id2"})  # the bus had id1 and id3 already
    assert len(handoff) == 2
    assert handoff.take([message("id1", b"data1")]) == [None]
    failed = handoff.put(published(6, "-again"))
    assert failed == ["id1", "id3", "id4", "id5"]
    handoff.settle(failed, set())  # Unavailable: nothing stored
    assert len(handoff) == 2


def test_every_consumer_takes_each_event_once_before_it_is_forgotten() -> None:
    handoff = Handoff(limit_bytes=1000, consumers=2)
    items = published(2)
    stored(handoff, items)
    fetched = [message("id0", b"data0"), message("id1", b"data1")]
    assert handoff.take(fetched) == [items[0][2], items[1][2]]  # the lake writer
    assert len(handoff) == 2
    assert handoff.take(fetched) == [items[0][2], items[1][2]]  # the detector
    assert len(handoff) == 0
    assert handoff.take(fetched) == [None, None]  # a re-read after a seek decodes


def test_it_holds_at_most_its_limit_in_bytes_dropping_the_oldest() -> None:
    handoff = Handoff(limit_bytes=15, consumers=1)  # three 5-byte messages
    stored(handoff, published(5))
    assert len(handoff) == 3 and handoff.full
    got = handoff.take([message(f"id{i}", f"data{i}".encode()) for i in range(5)])
    assert [g is not None for g in got] == [False, False, True, True, True]
    assert not handoff.full


def test_a_limit_of_zero_turns_it_off() -> None:
    handoff = Handoff(limit_bytes=0, consumers=1)
    assert handoff.put(published(3)) == []
    assert len(handoff) == 0 and not handoff.full
    assert handoff.take([message("id0", b"data0")]) == [None]

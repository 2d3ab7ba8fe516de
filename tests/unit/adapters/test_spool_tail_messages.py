"""Messages handed out from the spool's tail: real ``BusMessage`` named tuples, field by field.

:class:`SpoolTail` builds them with ``tuple.__new__`` over zipped columns (no ``__new__`` of
the named tuple runs): the fields must still land where their names say, for every batch.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from maat.adapters.bus import spool as spool_module
from maat.adapters.bus.spool import SpoolBus
from maat.adapters.bus.spool_frames import frame_head, frame_parts
from maat.adapters.bus.spool_tail import SpoolTail
from maat.ports import BusMessage


def open_spool(root: Path, *, tail_bytes: int, segment_bytes: int = 1 << 20) -> SpoolBus:
    return SpoolBus(
        root,
        segment_bytes=segment_bytes,
        max_bytes=1 << 30,
        min_free_bytes=0,
        dedupe_window=1000,
        tail_bytes=tail_bytes,
    )


def frame_size(subject: str, msg_id: str, data: bytes) -> int:
    return len(frame_head(msg_id, subject, data)) + len(data)


def no_reading(*args: object) -> bytes:
    raise AssertionError("read back from disk: not from the tail")


def assert_is_message(message: object, subject: str, msg_id: str, data: bytes, pos: int) -> None:
    assert type(message) is BusMessage
    assert isinstance(message, BusMessage) and isinstance(message, tuple)
    assert len(message) == 4
    assert message.subject == subject and message[0] == subject
    assert message.msg_id == msg_id and message[1] == msg_id
    assert message.data == data and message[2] == data
    assert message.position == pos and message[3] == pos
    assert message == BusMessage(subject, msg_id, data, pos)
    assert message._asdict() == {
        "subject": subject,
        "msg_id": msg_id,
        "data": data,
        "position": pos,
    }


def test_messages_from_the_tail_are_bus_messages_with_their_fields_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    batches = [
        ("events", [(f"a{n}", f"event a{n}".encode()) for n in range(5)]),
        ("other", [("b0", b"")]),  # empty data
        ("events", [(f"c{n}", bytes([n]) * (n * 37 + 1)) for n in range(40)]),
        ("sub.ject-\u00e9", [("d\u00e9", "donn\u00e9es".encode())]),  # non-ASCII id, subject
    ]
    expected: list[tuple[str, str, bytes, int]] = []
    position = 0
    with open_spool(tmp_path, tail_bytes=1 << 20, segment_bytes=512) as bus:  # rotates
        for subject, messages in batches:
            assert bus.publish(subject, messages) == len(messages)
            for msg_id, data in messages:
                position += frame_size(subject, msg_id, data)
                expected.append((subject, msg_id, data, position))
        monkeypatch.setattr(spool_module.os, "pread", no_reading)
        fetched = [m for _ in range(20) for m in bus.fetch("lake", max_messages=9, timeout=0)]
        monkeypatch.undo()
    assert len(fetched) == len(expected)
    published = [data for _, messages in batches for _, data in messages]
    for message, (subject, msg_id, data, pos), original in zip(
        fetched, expected, published, strict=True
    ):
        assert_is_message(message, subject, msg_id, data, pos)
        assert message.data is original  # the published object itself: no copy
    with open_spool(tmp_path, tail_bytes=0) as bus:  # the same messages read from the files
        stored = bus.fetch("lake", max_messages=1000, timeout=0)
    assert [type(m) for m in stored] == [BusMessage] * len(expected)
    assert [tuple(m) for m in stored] == [tuple(m) for m in fetched]


def test_a_batch_with_replays_keeps_the_first_messages_fields_in_the_tail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch that repeats an id takes the spool's loop: the tail gets only what was
    stored, each field still in its place."""
    with open_spool(tmp_path, tail_bytes=1 << 20) as bus:
        first = [("x", b"first x"), ("y", b"first y")]
        bus.publish("events", first)
        second = [("y", b"replayed y"), ("z", b"z once"), ("z", b"z twice"), ("w", b"w")]
        assert bus.publish("events", second) == 2
        monkeypatch.setattr(spool_module.os, "pread", no_reading)
        fetched = bus.fetch("lake", max_messages=100, timeout=0)
    assert [(m.msg_id, m.data) for m in fetched] == [
        ("x", b"first x"),
        ("y", b"first y"),
        ("z", b"z once"),
        ("w", b"w"),
    ]
    assert fetched[2].data is second[1][1] and fetched[3].data is second[3][1]
    assert all(type(m) is BusMessage and m.subject == "events" for m in fetched)
    positions = [m.position for m in fetched]
    assert positions == sorted(positions) and len(set(positions)) == 4


def tail_with(batches: list[tuple[str, list[tuple[str, bytes]]]]) -> tuple[SpoolTail, int]:
    tail = SpoolTail(1 << 20)
    start = 1000  # a tail may begin anywhere in the stream
    first = start
    for subject, fresh in batches:
        parts = frame_parts(subject, fresh)
        tail.add(start, subject, fresh, parts)
        start += sum(map(len, parts))
    return tail, first


def test_the_tail_builds_each_batchs_messages_at_their_frame_ends() -> None:
    batches = [
        ("events", [("a", b"1"), ("b", b"22"), ("c", b"333")]),
        ("alerts", [("d", b"4444")]),
        ("events", [(f"e{n}", b"5" * n) for n in range(10)]),
    ]
    tail, cursor = tail_with(batches)
    out: list[BusMessage] = []
    end = tail.read(cursor, 1 << 40, 1000, out)
    position = cursor
    expected = []
    for subject, fresh in batches:
        for msg_id, data in fresh:
            position += frame_size(subject, msg_id, data)
            expected.append((subject, msg_id, data, position))
    assert end == position and len(out) == len(expected) == len(tail)
    for message, (subject, msg_id, data, pos) in zip(out, expected, strict=True):
        assert_is_message(message, subject, msg_id, data, pos)


def test_a_message_from_the_tail_cannot_be_changed() -> None:
    tail, cursor = tail_with([("events", [("a", b"1")])])
    out: list[BusMessage] = []
    tail.read(cursor, 1 << 40, 1, out)
    with pytest.raises(AttributeError):
        out[0].data = b"other"  # type: ignore[misc]
    assert out[0]._replace(data=b"other") == BusMessage("events", "a", b"other", out[0].position)
    assert out[0].data == b"1"


@pytest.mark.parametrize(
    ("fresh", "framed"),
    [
        ([("a", b"1"), ("b", b"2")], [("a", b"1")]),  # fewer frames than messages
        ([("a", b"1")], [("a", b"1"), ("b", b"2")]),  # more frames than messages
        ([("a", b"1"), ("b", b"2"), ("c", b"3")], []),  # none at all
    ],
    ids=["fewer-frames", "more-frames", "no-frames"],
)
def test_add_with_frames_that_do_not_match_the_messages_raises_and_keeps_nothing(
    fresh: list[tuple[str, bytes]], framed: list[tuple[str, bytes]]
) -> None:
    tail, cursor = tail_with([("events", [("kept", b"before")])])
    after = cursor + frame_size("events", "kept", b"before")
    with pytest.raises(ValueError, match=r"frames do not match|zip\(\) argument"):  # or the old zip
        tail.add(after, "events", fresh, frame_parts("events", framed) if framed else [])
    assert len(tail) == 1
    out: list[BusMessage] = []
    assert tail.read(cursor, 1 << 40, 100, out) == after
    assert [(m.msg_id, m.data) for m in out] == [("kept", b"before")]
    assert tail.read(after, 1 << 40, 100, []) == after  # nothing was kept from there


def test_a_tail_of_no_bytes_keeps_nothing_and_checks_nothing() -> None:
    tail = SpoolTail(0)
    tail.add(0, "events", [("a", b"1")], frame_parts("events", [("a", b"1")]))
    assert len(tail) == 0
    assert tail.read(0, 1 << 40, 10, []) == 0

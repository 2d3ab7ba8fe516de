"""The single-node spool: durable, deduplicating, crash-tolerant, refusing rather than losing."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

import spool_kit
from maat.adapters.bus import spool as spool_module
from maat.adapters.bus.spool import SpoolBus
from maat.errors import Conflict, IntegrityError, InvalidInput, Unavailable

TAIL_BYTES = [0]  # set per run by the fixtures below
DIRECT_IO = [False]
BLOCK = 4096


@pytest.fixture(autouse=True, params=[0, 1 << 20], ids=["no-tail", "tail"])
def tail_bytes(request: pytest.FixtureRequest) -> int:
    """Every test runs with and without the tail of just-written frames: fetching from it
    must give exactly what reading the segments back gives."""
    TAIL_BYTES[0] = request.param
    return int(request.param)


@pytest.fixture(autouse=True, params=[False, True], ids=["buffered", "direct"])
def direct_io(request: pytest.FixtureRequest) -> bool:
    """Every test runs with batches written through the page cache and straight to the
    device (O_DIRECT, whole blocks, zeros after the last frame): the same behaviour."""
    DIRECT_IO[0] = request.param
    return bool(request.param)


def open_spool(root: Path, **overrides: int) -> SpoolBus:
    options = {"tail_bytes": TAIL_BYTES[0], **overrides}
    return spool_kit.open_spool(root, direct=DIRECT_IO[0], **options)


Step = int | tuple[int, int]


def scripted_writes(monkeypatch: pytest.MonkeyPatch, *steps: Step) -> None:
    """The spool's next data writes (``writev`` and ``write`` through the page cache,
    ``pwritev`` when direct) each take the next step: ``n`` puts the first ``n`` bytes on
    disk (whole blocks when direct) and returns that; ``(n, errno)`` puts them there, then
    fails. Once the steps are used up, writes are real again."""
    real_write, real_writev, real_pwritev = os.write, os.writev, os.pwritev
    queue = list(steps)

    def step(fd: int, buffers: list[bytes | memoryview], offset: int | None) -> int:
        if not queue:
            if offset is None:
                return real_writev(fd, buffers)
            return real_pwritev(fd, buffers, offset)
        count, error = (queue.pop(0), 0) if not isinstance(queue[0], tuple) else queue.pop(0)  # type: ignore[misc]
        data = b"".join(bytes(b) for b in buffers)
        count = min(count, len(data))
        if offset is None:
            count = real_write(fd, data[:count]) if count else 0
        else:  # direct: from the aligned buffer itself, whole blocks
            count -= count % BLOCK
            if count:
                count = real_pwritev(fd, [memoryview(buffers[0])[:count]], offset)
        if error:
            raise OSError(error, os.strerror(error))
        return count

    monkeypatch.setattr(spool_module.os, "writev", lambda fd, buffers: step(fd, buffers, None))
    monkeypatch.setattr(spool_module.os, "write", lambda fd, data: step(fd, [data], None))
    monkeypatch.setattr(spool_module.os, "pwritev", step)


def batch(first: int, count: int) -> list[tuple[str, bytes]]:
    return [(f"id-{i}", f"event {i}".encode()) for i in range(first, first + count)]


def drain(bus: SpoolBus, consumer: str = "lake", *, ack: bool = True) -> list[bytes]:
    seen: list[bytes] = []
    while True:
        messages = bus.fetch(consumer, max_messages=7, timeout=0)
        if not messages:
            return seen
        seen.extend(m.data for m in messages)
        if ack:
            bus.ack(consumer, messages)


def test_published_events_come_out_once_in_order(tmp_path: Path) -> None:
    with open_spool(tmp_path) as bus:
        assert bus.publish("events", batch(0, 20)) == 20
        messages = bus.fetch("lake", max_messages=100, timeout=0)
        assert [m.data for m in messages] == [f"event {i}".encode() for i in range(20)]
        assert [m.msg_id for m in messages][:2] == ["id-0", "id-1"]
        positions = [m.position for m in messages]
        assert positions == sorted(positions) and len(set(positions)) == 20
        assert bus.fetch("lake", max_messages=100, timeout=0) == []


def test_replayed_batch_is_stored_once_even_after_a_restart(tmp_path: Path) -> None:
    with open_spool(tmp_path) as bus:
        assert bus.publish("events", batch(0, 10)) == 10
        assert bus.publish("events", batch(5, 10)) == 5  # ids 5-9 are replays
    with open_spool(tmp_path) as bus:  # the window is read back from disk
        assert bus.publish("events", batch(0, 15)) == 0
        assert len(drain(bus)) == 15


def test_unacknowledged_events_are_delivered_again_after_a_restart(tmp_path: Path) -> None:
    with open_spool(tmp_path) as bus:
        bus.publish("events", batch(0, 10))
        first = bus.fetch("lake", max_messages=4, timeout=0)
        bus.ack("lake", first)
        bus.fetch("lake", max_messages=4, timeout=0)  # handed out, never acknowledged
    with open_spool(tmp_path) as bus:
        assert drain(bus) == [f"event {i}".encode() for i in range(4, 10)]


def test_each_consumer_gets_every_event(tmp_path: Path) -> None:
    with open_spool(tmp_path) as bus:
        bus.publish("events", batch(0, 9))
        assert len(drain(bus, "lake")) == 9
        assert len(drain(bus, "detect")) == 9


def test_crash_mid_write_leaves_a_torn_frame_that_is_cut_at_open(tmp_path: Path) -> None:
    with open_spool(tmp_path) as bus:
        bus.publish("events", batch(0, 3))
    [segment] = tmp_path.glob("seg-*.log")
    with segment.open("ab") as fh:  # half a frame, as a crash during write() leaves it
        fh.write(b"MF\x40\x00\x00\x00garbage")
    with open_spool(tmp_path) as bus:
        assert bus.publish("events", batch(3, 2)) == 2
        assert drain(bus) == [f"event {i}".encode() for i in range(5)]


def test_segments_rotate_and_reading_crosses_them(tmp_path: Path) -> None:
    with open_spool(tmp_path, segment_bytes=4096) as bus:
        for start in range(0, 600, 50):
            bus.publish("events", [(f"id-{i}", b"x" * 100) for i in range(start, start + 50)])
        assert len(list(tmp_path.glob("seg-*.log"))) > 3
        assert len(drain(bus)) == 600


def test_consumed_segments_are_compacted_but_the_dedupe_window_is_kept(tmp_path: Path) -> None:
    with open_spool(tmp_path, segment_bytes=4096, dedupe_window=50) as bus:
        for start in range(0, 600, 50):
            bus.publish("events", [(f"id-{i}", b"x" * 100) for i in range(start, start + 50)])
        assert bus.compact() == 0  # nobody has consumed anything
        drain(bus)
        before = len(list(tmp_path.glob("seg-*.log")))
        assert bus.compact() > 0
        assert len(list(tmp_path.glob("seg-*.log"))) < before
    with open_spool(tmp_path, segment_bytes=4096, dedupe_window=50) as bus:
        assert bus.publish("events", [(f"id-{i}", b"x") for i in range(550, 600)]) == 0


def test_a_second_process_cannot_open_the_same_spool(tmp_path: Path) -> None:
    with open_spool(tmp_path), pytest.raises(Conflict, match="in use"):
        open_spool(tmp_path)


def test_full_spool_refuses_with_503_instead_of_dropping(tmp_path: Path) -> None:
    with open_spool(tmp_path, max_bytes=5000) as bus:
        bus.publish("events", [(f"id-{i}", b"x" * 100) for i in range(60)])
        with pytest.raises(Unavailable, match="max_spool_bytes") as caught:
            bus.publish("events", batch(100, 1))
        assert caught.value.status == 503


def test_low_disk_space_refuses_with_503(tmp_path: Path) -> None:
    with (
        open_spool(tmp_path, min_free_bytes=1 << 62) as bus,
        pytest.raises(Unavailable, match="min_free_disk_bytes"),
    ):
        bus.publish("events", batch(0, 1))


def test_disk_full_during_write_stores_nothing_and_refuses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_spool(tmp_path) as bus:
        bus.publish("events", batch(0, 2))
        # part of the batch (a block and a bit) reaches the disk, then the disk is full
        scripted_writes(monkeypatch, BLOCK + 10, (0, errno.ENOSPC))
        with pytest.raises(Unavailable, match="disk full"):
            bus.publish("events", batch(2, 300))
        monkeypatch.undo()
        assert bus.publish("events", batch(2, 300)) == 300  # the failed ids were not remembered
        assert drain(bus) == [f"event {i}".encode() for i in range(302)]
    with open_spool(tmp_path) as bus:  # and nothing of the refused batch is on disk either
        assert drain(bus, "from-disk") == [f"event {i}".encode() for i in range(302)]


def test_corrupted_stored_frame_is_reported_not_skipped(tmp_path: Path) -> None:
    # Read from the segment: a process's tail holds what it wrote, not what is on disk.
    with open_spool(tmp_path, tail_bytes=0) as bus:
        bus.publish("events", batch(0, 3))
        [segment] = tmp_path.glob("seg-*.log")
        blob = bytearray(segment.read_bytes())
        blob[20] ^= 0xFF  # flip a byte inside the first frame
        segment.write_bytes(bytes(blob))
        with pytest.raises(IntegrityError, match="corrupt frame"):
            bus.fetch("lake", max_messages=10, timeout=0)


@pytest.mark.parametrize(
    ("id_len", "subject_len", "ident"),
    [(500, 6, b"id"), (2, 500, b"id"), (2, 6, b"\xff\xfe")],
    ids=["id-length-beyond-frame", "subject-length-beyond-frame", "id-not-utf8"],
)
def test_a_frame_with_a_valid_checksum_but_impossible_contents_is_corrupt(
    tmp_path: Path, id_len: int, subject_len: int, ident: bytes
) -> None:
    """A frame forged or damaged consistently with its CRC must not give a message with a
    wrong id or data read from the next frame, nor a foreign exception."""
    import struct
    import zlib

    with open_spool(tmp_path) as bus:
        bus.publish("events", batch(0, 1))
        [segment] = tmp_path.glob("seg-*.log")
        body = (struct.pack("<H", id_len) + ident + struct.pack("<H", subject_len) + b"events"
                + b"payload")  # fmt: skip
        frame = struct.pack("<2sII", b"MF", len(body), zlib.crc32(body)) + body
        segment.write_bytes(segment.read_bytes() + frame)
    with open_spool(tmp_path) as bus:  # the tail is cut at open, or the fetch refuses it
        try:
            got = bus.fetch("lake", max_messages=10, timeout=0)
        except IntegrityError:
            return
        assert [m.data for m in got] == [b"event 0"]


def test_bad_consumer_names_are_refused(tmp_path: Path) -> None:
    with open_spool(tmp_path) as bus, pytest.raises(InvalidInput):
        bus.fetch("../etc", max_messages=1, timeout=0)


def test_closed_spool_refuses(tmp_path: Path) -> None:
    bus = open_spool(tmp_path)
    bus.close()
    bus.close()
    with pytest.raises(Unavailable):
        bus.publish("events", batch(0, 1))


def test_seek_continues_a_consumer_exactly_after_a_recorded_position(tmp_path: Path) -> None:
    with open_spool(tmp_path) as bus:
        bus.publish("events", batch(0, 10))
        messages = bus.fetch("lake", max_messages=4, timeout=0)
        identity = bus.identity
    with open_spool(tmp_path) as bus:
        assert bus.identity == identity  # the same spool keeps its identity
        bus.seek("lake", messages[-1].position)
        assert drain(bus) == [f"event {i}".encode() for i in range(4, 10)]
        with pytest.raises(InvalidInput):
            bus.seek("lake", 10**12)


def test_a_new_spool_has_a_new_identity(tmp_path: Path) -> None:
    with open_spool(tmp_path / "a") as first, open_spool(tmp_path / "b") as second:
        assert first.identity != second.identity
        assert first.identity.startswith("spool:")


def test_an_empty_segment_left_by_a_failed_rotation_is_removed_at_open(tmp_path: Path) -> None:
    with open_spool(tmp_path) as bus:
        bus.publish("events", batch(0, 3))
        end = bus.fetch("lake", max_messages=10, timeout=0)[-1].position
    (tmp_path / f"seg-{end - 10:020d}.log").write_bytes(b"")  # claims positions it lacks
    with open_spool(tmp_path) as bus:
        assert drain(bus) == [f"event {i}".encode() for i in range(3)]
    assert len(list(tmp_path.glob("seg-*.log"))) == 1


def test_a_segment_that_does_not_follow_on_is_refused(tmp_path: Path) -> None:
    with open_spool(tmp_path) as bus:
        bus.publish("events", batch(0, 3))
    (tmp_path / f"seg-{10**9:020d}.log").write_bytes(b"MFjunk")
    with pytest.raises(IntegrityError, match="starts at"):
        open_spool(tmp_path)


def test_a_write_that_cannot_be_undone_stops_the_spool_until_reopened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_spool(tmp_path) as bus:
        bus.publish("events", batch(0, 2))

        def stuck(fd: int, size: int) -> None:
            raise OSError(errno.EIO, "I/O error")

        scripted_writes(monkeypatch, (BLOCK + 10, errno.EIO))  # torn mid-frame
        monkeypatch.setattr(spool_module.os, "ftruncate", stuck)
        with pytest.raises(Unavailable):
            bus.publish("events", batch(2, 300))
        monkeypatch.undo()
        with pytest.raises(Unavailable, match="reopened"):
            bus.publish("events", batch(2, 2))
    with open_spool(tmp_path) as bus:  # the torn frame is cut at open
        # The whole frames the torn write left were never acknowledged: sent again, they
        # are stored once, and every event comes out once, in order.
        bus.publish("events", batch(2, 300))
        assert drain(bus) == [f"event {i}".encode() for i in range(302)]


def test_a_short_write_is_completed_not_torn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_spool(tmp_path) as bus:
        scripted_writes(monkeypatch, 2 * BLOCK + 100)  # about half of the batch
        assert bus.publish("events", batch(0, 300)) == 300
        monkeypatch.undo()
        assert drain(bus) == [f"event {i}".encode() for i in range(300)]
    with open_spool(tmp_path) as bus:
        assert drain(bus, "from-disk") == [f"event {i}".encode() for i in range(300)]


def test_this_process_fetches_from_the_tail_exactly_what_the_segments_hold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_reading(*args: object) -> bytes:
        raise AssertionError("read back from disk")

    with open_spool(tmp_path, tail_bytes=1 << 20, segment_bytes=4096) as bus:
        bus.publish("events", batch(0, 300))  # rotates: the tail spans segments
        bus.publish("other", batch(300, 5))
        monkeypatch.setattr(spool_module.os, "pread", no_reading)
        fetched = [m for _ in range(50) for m in bus.fetch("lake", max_messages=7, timeout=0)]
        monkeypatch.undo()
    with open_spool(tmp_path, tail_bytes=0) as bus:  # the same spool read from its files
        stored = bus.fetch("lake", max_messages=1000, timeout=0)
    assert len(fetched) == 305
    assert fetched == stored  # subject, id, data and position of every message


def test_a_tail_smaller_than_a_batch_hands_out_every_message_once_in_order(
    tmp_path: Path,
) -> None:
    with open_spool(tmp_path, tail_bytes=60) as bus:  # the newest few messages only
        bus.publish("events", batch(0, 40))
        assert drain(bus) == [f"event {i}".encode() for i in range(40)]
        bus.publish("events", batch(40, 3))
        bus.seek("lake", 0)  # back before what the tail holds
        assert drain(bus) == [f"event {i}".encode() for i in range(43)]


def test_a_batch_the_disk_refused_is_never_fetched_from_the_tail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_spool(tmp_path, tail_bytes=1 << 20) as bus:
        bus.publish("events", batch(0, 2))
        scripted_writes(monkeypatch, (0, errno.ENOSPC))
        with pytest.raises(Unavailable, match="disk full"):
            bus.publish("events", batch(2, 5))
        monkeypatch.undo()
        assert drain(bus) == [b"event 0", b"event 1"]


def test_compaction_forgets_the_tail_of_deleted_segments(tmp_path: Path) -> None:
    with open_spool(tmp_path, tail_bytes=1 << 20, segment_bytes=200, dedupe_window=0) as bus:
        bus.publish("events", batch(0, 30))
        bus.fetch("slow", max_messages=1, timeout=0)  # unacknowledged: keeps the tail
        assert len(drain(bus)) == 30
        held = len(bus._tail)
        assert bus.compact() > 0
        assert len(bus._tail) < held
        bus.publish("events", batch(30, 2))
        assert drain(bus) == [b"event 30", b"event 31"]


def test_the_tail_lets_go_of_what_every_consumer_has_had(tmp_path: Path) -> None:
    with open_spool(tmp_path, tail_bytes=1 << 20) as bus:
        bus.publish("events", batch(0, 10))
        assert len(drain(bus, "lake")) == 10
        assert len(bus._tail) == 0  # the only consumer so far has had them all
        bus.publish("events", batch(10, 10))
        bus.fetch("detector", max_messages=3, timeout=0)  # a second consumer, from the start
        assert len(drain(bus, "lake")) == 10
        assert len(bus._tail) == 10  # the detector has not had these yet
        assert len(drain(bus, "detector")) == 17
        assert len(bus._tail) == 0


def test_after_a_restart_the_tail_keeps_what_a_registered_consumer_has_not_fetched_yet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The detector registers at open but, after a restart, fetches only once the lake
    writer has drained: the tail must not let go of what the detector has not had."""
    with open_spool(tmp_path, tail_bytes=1 << 20) as bus:
        bus.register("detect")
        bus.publish("events", batch(0, 5))
        drain(bus, "lake")
        drain(bus, "detect")
    with open_spool(tmp_path, tail_bytes=1 << 20) as bus:  # both have positions now
        bus.register("detect")
        bus.publish("events", batch(5, 10))
        assert len(drain(bus, "lake")) == 10

        def no_reading(*args: object) -> bytes:
            raise AssertionError("read back from disk")

        monkeypatch.setattr(spool_module.os, "pread", no_reading)
        assert drain(bus, "detect") == [f"event {i}".encode() for i in range(5, 15)]


def test_a_consumer_compaction_left_behind_is_told_so_not_a_crash(tmp_path: Path) -> None:
    with open_spool(tmp_path, segment_bytes=200, dedupe_window=0) as bus:
        bus.publish("events", batch(0, 30))
        bus.fetch("stray", max_messages=1, timeout=0)  # never registered, never acknowledged
        assert len(drain(bus)) == 30
        assert bus.compact() > 0
        with pytest.raises(IntegrityError, match="stray is behind the oldest spool segment"):
            bus.fetch("stray", max_messages=5, timeout=0)

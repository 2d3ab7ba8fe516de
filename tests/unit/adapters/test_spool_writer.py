"""Direct (O_DIRECT) spool writes: the same frames on disk as through the page cache, zeros
only after the last frame, cut at open and before a rotation, and a fall back to the page
cache wherever the filesystem refuses."""

from __future__ import annotations

import errno
import os
import random
from pathlib import Path

import pytest

from maat.adapters.bus import spool as spool_module
from maat.adapters.bus import spool_writer
from maat.adapters.bus.spool import SpoolBus
from spool_kit import open_spool

BLOCK = 4096


def segments(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(root.glob("seg-*.log"))}


def batches(seed: int) -> list[list[tuple[str, bytes]]]:
    """Batches of every size around the block and stage sizes, with data of any length."""
    rng = random.Random(seed)
    out, serial = [], 0
    for count in (1, 2, 7, 40, 300, 1, 90, 5):
        batch = []
        for _ in range(count):
            size = rng.choice([0, 1, 50, 700, 4095, 4096, 4097, 9000, 70_000])
            batch.append((f"id-{serial}", rng.randbytes(size)))
            serial += 1
        out.append(batch)
    return out


def publish_all(bus: SpoolBus, all_batches: list[list[tuple[str, bytes]]]) -> None:
    for batch in all_batches:
        assert bus.publish("events", batch) == len(batch)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_direct_writes_store_exactly_the_frames_buffered_writes_store(
    tmp_path: Path, seed: int
) -> None:
    """Batches smaller and larger than a block and than the staging buffer (written in
    pieces), across rotations: after a reopen the segment files are byte for byte the
    ones the page cache path writes, and every message comes back with its position."""
    fetched = {}
    for direct in (False, True):
        root = tmp_path / ("direct" if direct else "buffered")
        with open_spool(root, direct=direct, segment_bytes=200_000) as bus:
            publish_all(bus, batches(seed))
            fetched[direct] = bus.fetch("lake", max_messages=10_000, timeout=0)
        with open_spool(root, direct=direct, segment_bytes=200_000) as bus:
            again = bus.fetch("other", max_messages=10_000, timeout=0)
            assert again == fetched[direct]
    assert fetched[True] == fetched[False]
    assert len(fetched[True]) == sum(map(len, batches(seed)))
    assert segments(tmp_path / "direct") == segments(tmp_path / "buffered")
    assert len(segments(tmp_path / "direct")) > 3  # rotated


def test_a_direct_segment_ends_in_zeros_to_its_block_until_closed(tmp_path: Path) -> None:
    with open_spool(tmp_path, direct=True) as bus:
        bus.publish("events", [("a", b"x" * 100)])
        end = bus.fetch("lake", max_messages=1, timeout=0)[0].position
        [blob] = segments(tmp_path).values()
        assert len(blob) == BLOCK and blob[end:] == bytes(BLOCK - end)
    assert len(next(iter(segments(tmp_path).values()))) == end  # closing cut the zeros
    with open_spool(tmp_path, direct=True) as bus:
        bus.publish("events", [("b", b"y" * 5000)])  # rewrites the partial block, then more
        assert [m.data for m in bus.fetch("x", max_messages=5, timeout=0)] == [
            b"x" * 100, b"y" * 5000,
        ]  # fmt: skip


def test_a_sealed_segment_has_no_zeros_so_the_next_one_follows_on(tmp_path: Path) -> None:
    with open_spool(tmp_path, direct=True, segment_bytes=BLOCK) as bus:
        for n in range(6):
            bus.publish("events", [(f"id-{n}", b"z" * 1500)] * 1)
        names = sorted(segments(tmp_path))
        sizes = [len(b) for b in segments(tmp_path).values()]
        starts = [int(name[4:-4]) for name in names]
        # every sealed segment ends exactly where the next starts
        assert [a + s for a, s in zip(starts, sizes, strict=False)][:-1] == starts[1:]
    with open_spool(tmp_path, direct=True, segment_bytes=BLOCK) as bus:
        assert len(bus.fetch("lake", max_messages=10, timeout=0)) == 6


def test_a_refused_direct_write_moves_on_through_the_page_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A filesystem that opens O_DIRECT but refuses the write (EINVAL, before any I/O):
    the batch is stored through the page cache, right after the frames, not the zeros."""
    with open_spool(tmp_path, direct=True) as bus:
        bus.publish("events", [("a", b"first")])

        def refuse(fd: int, buffers: list[memoryview], offset: int) -> int:
            raise OSError(errno.EINVAL, "Invalid argument")

        monkeypatch.setattr(spool_module.os, "pwritev", refuse)
        assert bus.publish("events", [("b", b"second")]) == 1
        assert not bus.direct_io
        monkeypatch.undo()
        bus.publish("events", [("c", b"third")])
        assert [m.data for m in bus.fetch("lake", max_messages=5, timeout=0)] == [
            b"first", b"second", b"third",
        ]  # fmt: skip
        end = bus.fetch("x", max_messages=5, timeout=0)[-1].position
    [blob] = segments(tmp_path).values()
    assert len(blob) == end  # no zeros were left between the frames


def test_a_filesystem_without_o_direct_is_written_through_the_page_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_open = os.open

    def no_direct(path: object, flags: int, *args: int) -> int:
        if flags & spool_writer._O_DIRECT:
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_open(path, flags, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(spool_writer.os, "open", no_direct)
    with SpoolBus(tmp_path, segment_bytes=1 << 20, max_bytes=1 << 30, min_free_bytes=0,
                  dedupe_window=10, direct_io=True) as bus:  # fmt: skip
        assert not bus.direct_io
        bus.publish("events", [("a", b"x")])
        assert [m.data for m in bus.fetch("lake", max_messages=5, timeout=0)] == [b"x"]


def test_direct_io_can_be_turned_off(tmp_path: Path) -> None:
    with open_spool(tmp_path, direct=False) as bus:
        assert not bus.direct_io
        bus.publish("events", [("a", b"x" * 10)])
        end = bus.fetch("lake", max_messages=1, timeout=0)[0].position
    assert [len(b) for b in segments(tmp_path).values()] == [end]


def test_a_crash_after_a_direct_write_keeps_every_acknowledged_frame(tmp_path: Path) -> None:
    """A process killed after a batch was acknowledged (its file descriptors closed by the
    kernel, no cleanup, the zeros left): the frames are there at open, the zeros cut."""
    pid = os.fork()
    if pid == 0:  # the child publishes, then dies without closing anything
        try:
            bus = open_spool(tmp_path, direct=True)
            for n in range(3):
                bus.publish("events", [(f"id-{n}-{i}", os.urandom(777)) for i in range(50)])
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    [blob] = segments(tmp_path).values()
    assert len(blob) % BLOCK == 0 and blob.endswith(b"\0")  # as the crash left it
    with open_spool(tmp_path, direct=True) as bus:
        got = bus.fetch("lake", max_messages=1000, timeout=0)
        assert [m.msg_id for m in got] == [f"id-{n}-{i}" for n in range(3) for i in range(50)]
        assert bus.publish("events", [("id-0-0", b"again")]) == 0  # the window was read back

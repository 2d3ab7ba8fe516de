"""The spool's direct (O_DIRECT) write path under crashes and refusals (ADR 0022): a kill at
every write, sync, truncate and open, the error paths, the carried partial block, and
reading while writing, with the page-cache path as the reference."""

from __future__ import annotations

import errno
import os
import random
import threading
from pathlib import Path

import pytest

import spool_kit
from maat.adapters.bus import spool_writer
from maat.adapters.bus.spool import SpoolBus
from maat.errors import InvalidInput, Unavailable
from maat.ports import BusMessage

BLOCK = 4096
SUBJECT = "events"


def frame_size(msg_id: str, data: bytes) -> int:
    return 10 + 2 + len(msg_id.encode()) + 2 + len(SUBJECT) + len(data)


def open_spool(root: Path, *, direct: bool = True, **overrides: int) -> SpoolBus:
    options = {
        "max_bytes": 1 << 34,
        "dedupe_window": 100_000,
        "tail_bytes": 0,  # read the files back: the tail would hide what is on disk
    }
    return spool_kit.open_spool(root, direct=direct, **{**options, **overrides})


def drain(bus: SpoolBus, consumer: str) -> list[BusMessage]:
    out: list[BusMessage] = []
    while messages := bus.fetch(consumer, max_messages=97, timeout=0):
        out.extend(messages)
    return out


def summary(messages: list[BusMessage]) -> list[tuple[str, bytes, int]]:
    return [(m.msg_id, bytes(m.data), m.position) for m in messages]


class FailOnce:
    """``os.<name>`` raises ``err`` on its ``nth`` call, then is real again."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, name: str, err: int, nth: int = 1):
        self.real = getattr(os, name)
        self.calls = 0
        self.nth, self.err = nth, err
        monkeypatch.setattr(os, name, self)

    def __call__(self, *args: object) -> object:
        self.calls += 1
        if self.calls == self.nth:
            raise OSError(self.err, os.strerror(self.err))
        return self.real(*args)


# --- DEFECT: a failed fdatasync leaves the next batch's carried block stale -----------------


def test_a_failed_fdatasync_leaves_a_stale_carry_that_corrupts_acknowledged_frames(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``_write_direct`` replaces ``_carry`` with the refused batch's last partial block
    before ``append`` calls ``fdatasync``; when that fails, ``size`` stays but ``_carry`` does
    not. With a refused batch of whole blocks the stale carry has the old carry's length, so
    the next batch is written (aligned, no EINVAL) over the acknowledged frames of that block
    with the refused batch's bytes: acknowledged events become a corrupt frame, and the repair
    at open cuts them and everything after them."""
    with open_spool(tmp_path) as bus:
        bus.publish(SUBJECT, [("a", b"x" * 100)])  # acknowledged; ends mid-block
        refused = ("b", b"y" * (BLOCK - frame_size("b", b"")))  # exactly one block of frames
        FailOnce(monkeypatch, "fdatasync", errno.EIO)
        with pytest.raises(Unavailable):
            bus.publish(SUBJECT, [refused])
        monkeypatch.undo()
        assert bus.publish(SUBJECT, [("c", b"z" * 10)]) == 1  # acknowledged
        expected = [("a", b"x" * 100, frame_size("a", b"x" * 100))]
        expected.append(("c", b"z" * 10, expected[0][2] + frame_size("c", b"z" * 10)))
        try:
            got = summary(drain(bus, "lake"))
        except Exception as exc:
            got = [("raised", repr(exc).encode(), 0)]
        assert got == expected
    with open_spool(tmp_path) as bus:  # and after a restart: both were acknowledged
        assert summary(drain(bus, "after-restart")) == expected


def test_a_transient_fdatasync_failure_switches_direct_io_off_for_good(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same stale carry, when its length differs from the old one, puts the next write
    at an offset that is not block-aligned (or negative): the kernel's EINVAL is taken for a
    filesystem that refuses O_DIRECT, and the spool goes through the page cache from then on
    (logging a false reason), after a single transient disk error."""
    with open_spool(tmp_path) as bus:
        bus.publish(SUBJECT, [("a", b"x" * 100)])
        FailOnce(monkeypatch, "fdatasync", errno.EIO)
        with pytest.raises(Unavailable):
            bus.publish(SUBJECT, [("b", b"y" * 300)])
        monkeypatch.undo()
        offsets: list[int] = []
        real_pwritev = os.pwritev

        def spy(fd: int, buffers: list[memoryview], offset: int) -> int:
            offsets.append(offset)
            return real_pwritev(fd, buffers, offset)

        monkeypatch.setattr(os, "pwritev", spy)
        assert bus.publish(SUBJECT, [("c", b"z" * 10)]) == 1
        assert all(o >= 0 and o % BLOCK == 0 for o in offsets), offsets
        assert bus.direct_io  # a write error is not a filesystem without O_DIRECT


# --- crash consistency: kill the writer at every step ---------------------------------------

CRASH_OPTIONS = {"segment_bytes": 150_000, "stage_bytes": 8192}  # rotations, stage overflows
WRAPPED = ("pwritev", "writev", "write", "fdatasync", "fsync", "ftruncate", "truncate",
           "open", "unlink")  # fmt: skip


def crash_workload() -> list[list[tuple[str, bytes]]]:
    """Batches of exactly one block, of tiny and of large frames, crossing the stage size."""
    rng = random.Random(7)
    out: list[list[tuple[str, bytes]]] = []
    serial = 0
    for number in range(14):
        if number % 4 == 0:
            msg_id = f"e{serial}"
            out.append([(msg_id, b"q" * (BLOCK - frame_size(msg_id, b"")))])
            serial += 1
            continue
        batch = []
        for _ in range(rng.choice([1, 3, 20, 60])):
            size = rng.choice([0, 1, 100, 3000, 5000, 9000])
            batch.append((f"e{serial}", rng.randbytes(size)))
            serial += 1
        out.append(batch)
    return out


def run_child(
    root: Path, direct: bool, kill_at: int, when: str, fail: tuple[str, int, int, bool] | None
) -> list[tuple[int, int]]:
    """Fork a child that publishes the workload, dying (``os._exit``) ``when`` its
    ``kill_at``-th file system call happens, with ``fail`` = (call, nth, errno, sticky)
    injected; returns (batch, end position) of each acknowledged batch."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(read_end)
            counter = [0]
            per_name: dict[str, int] = {}
            for name in WRAPPED:
                real = getattr(os, name)

                def wrapper(*args: object, _real=real, _name=name) -> object:  # type: ignore[no-untyped-def]
                    counter[0] += 1
                    if counter[0] == kill_at and when == "before":
                        os._exit(3)
                    per_name[_name] = per_name.get(_name, 0) + 1
                    nth = per_name[_name]
                    if (
                        fail
                        and _name == fail[0]
                        and (nth == fail[1] or (fail[3] and nth > fail[1]))
                    ):
                        raise OSError(fail[2], os.strerror(fail[2]))
                    result = _real(*args)
                    if counter[0] == kill_at and when == "after":
                        os._exit(3)
                    return result

                setattr(os, name, wrapper)
            bus = SpoolBus(root, direct_io=direct, max_bytes=1 << 34, min_free_bytes=0,
                           dedupe_window=100_000, tail_bytes=0, **CRASH_OPTIONS)  # fmt: skip
            for number, batch in enumerate(crash_workload()):
                try:
                    bus.publish(SUBJECT, batch)
                except Unavailable:
                    continue
                os.write(write_end, f"{number} {bus._end()}\n".encode())
            bus.close()
            os.write(write_end, b"-1 0\n")  # ran to the end, closed
        finally:
            os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)
    report = b""
    while chunk := os.read(read_end, 65536):
        report += chunk
    os.close(read_end)
    rows = [(int(a), int(b)) for a, b in (line.split() for line in report.decode().splitlines())]
    FINISHED[0] = (-1, 0) in rows
    return [row for row in rows if row[0] >= 0]


FINISHED = [False]


def check_after_crash(root: Path, direct: bool, acked: list[tuple[int, int]]) -> None:
    workload = crash_workload()
    expected: dict[str, int] = {}  # every acknowledged id -> its position
    for number, end in acked:
        position = end - sum(frame_size(i, d) for i, d in workload[number])
        for msg_id, data in workload[number]:
            position += frame_size(msg_id, data)
            expected[msg_id] = position
    with SpoolBus(root, direct_io=direct, max_bytes=1 << 34, min_free_bytes=0,
                  dedupe_window=100_000, tail_bytes=0, **CRASH_OPTIONS) as bus:  # fmt: skip
        got = drain(bus, "after")
        ids = [m.msg_id for m in got]
        assert len(set(ids)) == len(ids), "a message is there twice"
        positions = [m.position for m in got]
        assert positions == sorted(positions)
        have = {m.msg_id: m.position for m in got}
        assert [i for i in expected if i not in have] == [], "acknowledged events lost"
        assert {i: have[i] for i in expected} == expected, "acknowledged events moved"
        assert [i for i in ids if i in expected] == list(expected), "out of order"
        data = {i: d for batch in workload for i, d in batch}
        assert all(bytes(m.data) == data[m.msg_id] for m in got)
        # everything re-sent: what is stored is deduplicated, the rest stored once
        stored = sum(bus.publish(SUBJECT, batch) for batch in workload)
        assert stored == len(data) - len(got)
        missing = [i for b in workload for i, _ in b if i not in have]
        assert [m.msg_id for m in drain(bus, "all")] == ids + missing


@pytest.mark.parametrize("direct", [True, False], ids=["direct", "buffered"])
@pytest.mark.parametrize("when", ["before", "after"])
def test_a_kill_at_any_file_system_call_loses_nothing_acknowledged(
    tmp_path: Path, direct: bool, when: str
) -> None:
    """Killed before or after each write, sync, truncate, open or unlink (mid-batch between
    stage flushes, between pwritev and fdatasync, between seal and the next segment...):
    at open every acknowledged event is there once, in order, at its position."""
    if direct and not spool_writer._O_DIRECT:
        pytest.skip("no O_DIRECT")
    for kill_at in range(1, 400):
        root = tmp_path / f"{when}-{kill_at}"
        root.mkdir()
        acked = run_child(root, direct, kill_at, when, None)
        check_after_crash(root, direct, acked)
        if FINISHED[0]:  # killed past the last call: every point was tried
            break
    assert FINISHED[0]


@pytest.mark.parametrize(
    "fail",
    [
        ("pwritev", errno.ENOSPC, False),
        ("pwritev", errno.EIO, False),
        ("pwritev", errno.EINVAL, False),  # the fall back to the page cache, at any batch
        ("ftruncate", errno.EIO, False),  # a cut, a seal or the fall back's truncate fails
        ("ftruncate", errno.EIO, True),  # ... and keeps failing: refused until reopened
        ("open", errno.EMFILE, False),  # a rotation's successor (or a read) fails
        ("fsync", errno.EIO, False),  # creating the next segment fails
    ],
    ids=lambda f: (
        f"{f[0]}-{errno.errorcode[f[1]]}{'-sticky' if f[2] else ''}"
        if isinstance(f, tuple)
        else str(f)
    ),
)
def test_a_refused_write_then_a_kill_loses_nothing_acknowledged(
    tmp_path: Path, fail: tuple[str, int, bool]
) -> None:
    name, err, sticky = fail
    for nth in range(1, 16):
        for kill_at in (0, 60, 90, 120, 150, 180):
            root = tmp_path / f"{nth}-{kill_at}"
            root.mkdir()
            acked = run_child(root, True, kill_at, "before", (name, nth, err, sticky))
            check_after_crash(root, True, acked)


def test_a_failed_fdatasync_then_a_restart_loses_acknowledged_events(tmp_path: Path) -> None:
    """The stale-carry defect, end to end in a child process: one fdatasync fails (the batch
    is refused, as it should be), the child goes on and closes cleanly; at open acknowledged
    events are missing or a sealed segment is corrupt."""
    problems = []
    for nth in range(1, 16):
        root = tmp_path / str(nth)
        root.mkdir()
        acked = run_child(root, True, 0, "before", ("fdatasync", nth, errno.EIO, False))
        try:
            check_after_crash(root, True, acked)
        except Exception as exc:
            problems.append((nth, repr(exc)[:160]))
    assert problems == []


# --- the carried block, odd parts, tiny stages, mixed modes: the page-cache bytes ------------


def mixed_batches() -> list[list[tuple[str, bytes]]]:
    rng = random.Random(3)
    out: list[list[tuple[str, bytes]]] = []
    serial = 0
    for _ in range(45):
        batch = []
        for _ in range(rng.choice([1, 2, 3, 9, 40])):
            data = rng.randbytes(rng.choice([0, 0, 1, 4075, 4096, 4097, 9000, 20000]))
            kind = rng.choice([bytes, bytearray, memoryview])
            batch.append((f"i{serial}", kind(data)))  # type: ignore[arg-type]
            serial += 1
        out.append(batch)
    for n in range(3):  # frames ending exactly on block boundaries, twice in a row
        msg_id = f"block{n}"
        out.append([(msg_id, b"b" * (BLOCK - frame_size(msg_id, b"")))])
    return out


def write_in_sessions(root: Path, modes: list[bool], **options: int) -> list[tuple]:
    batches = mixed_batches()
    per = -(-len(batches) // len(modes))
    for session, direct in enumerate(modes):
        with open_spool(root, direct=direct, **options) as bus:
            for batch in batches[session * per : (session + 1) * per]:
                assert bus.publish(SUBJECT, batch) == len(batch)
            drain(bus, f"during-{session}")
    with open_spool(root, direct=False, **options) as bus:
        return summary(drain(bus, "all"))


def segment_files(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(root.glob("seg-*.log"))}


@pytest.mark.parametrize(
    ("stage", "segment", "modes", "python_gather"),
    [
        (1, 1 << 22, [True], False),  # a one-block stage: every batch flushes mid-way
        (1, 1 << 22, [True], True),  # the same with the Python twin of the C gather
        (8192, 50_000, [True, True, True], False),
        (4096, 50_000, [True, False, True], False),
        (4096, 50_000, [False, True, False], False),
        (65536, 4096, [True, True], False),  # a rotation after every batch
    ],
)
def test_direct_sessions_store_the_bytes_the_page_cache_stores(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    stage: int,
    segment: int,
    modes: list[bool],
    python_gather: bool,
) -> None:
    reference = write_in_sessions(tmp_path / "ref", [False] * len(modes),
                                  stage_bytes=stage, segment_bytes=segment)  # fmt: skip
    if python_gather:
        monkeypatch.setattr(spool_writer, "_gather", spool_writer._gather_py)
    got = write_in_sessions(tmp_path / "dut", modes, stage_bytes=stage, segment_bytes=segment)
    assert got == reference
    assert segment_files(tmp_path / "dut") == segment_files(tmp_path / "ref")


def test_einval_after_a_stage_flush_mid_batch_leaves_no_zeros_between_frames(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first stage flush of a batch lands, the second is refused with EINVAL: the batch
    goes through the page cache right after the durable frames, and the files equal the
    page-cache path's."""
    batches = [[(f"a{i}", b"a" * 700) for i in range(3)], [(f"b{i}", b"b" * 3000) for i in range(9)],
               [(f"c{i}", b"c" * 5) for i in range(4)]]  # fmt: skip
    with open_spool(tmp_path / "ref", direct=False, stage_bytes=8192) as bus:
        for batch in batches:
            bus.publish(SUBJECT, batch)
    with open_spool(tmp_path / "dut", stage_bytes=8192) as bus:
        bus.publish(SUBJECT, batches[0])
        FailOnce(monkeypatch, "pwritev", errno.EINVAL, nth=2)
        assert bus.publish(SUBJECT, batches[1]) == 9
        assert not bus.direct_io
        monkeypatch.undo()
        bus.publish(SUBJECT, batches[2])
        live = summary(drain(bus, "lake"))
    assert segment_files(tmp_path / "dut") == segment_files(tmp_path / "ref")
    with open_spool(tmp_path / "dut", direct=False) as bus:
        assert summary(drain(bus, "again")) == live


def test_a_seal_that_fails_at_rotation_is_retried_and_segments_stay_contiguous(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_spool(tmp_path, segment_bytes=3 * BLOCK) as bus:
        bus.publish(SUBJECT, [("a", b"a" * 5000)])
        FailOnce(monkeypatch, "ftruncate", errno.EIO)  # the seal after the next batch
        bus.publish(SUBJECT, [("b", b"b" * 9000)])
        assert len(segment_files(tmp_path)) == 1  # not rotated: it stays the newest
        monkeypatch.undo()
        bus.publish(SUBJECT, [("c", b"c" * 10)])  # rotates now
        bus.publish(SUBJECT, [("d", b"d" * 10)])
        live = summary(drain(bus, "lake"))
    files = segment_files(tmp_path)
    starts = [int(name[4:-4]) for name in files]
    assert len(files) == 2
    assert starts[0] + len(files[next(iter(files))]) == starts[1]
    with open_spool(tmp_path) as bus:
        assert summary(drain(bus, "again")) == live
        assert [m[0] for m in live] == ["a", "b", "c", "d"]


def test_a_close_whose_cut_fails_leaves_zeros_that_the_next_open_cuts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bus = open_spool(tmp_path)
    bus.publish(SUBJECT, [("a", b"a" * 100)])
    live = summary(drain(bus, "lake"))

    def refuse(fd: int, size: int) -> None:
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(os, "ftruncate", refuse)
    bus.close()
    monkeypatch.undo()
    [blob] = segment_files(tmp_path).values()
    assert len(blob) == BLOCK
    with open_spool(tmp_path) as bus:
        assert summary(drain(bus, "again")) == live
        bus.publish(SUBJECT, [("b", b"b")])
        assert [m.msg_id for m in drain(bus, "third")] == ["a", "b"]


# --- reading while writing ------------------------------------------------------------------


def test_consumers_reading_the_files_while_batches_are_written_see_every_byte(
    tmp_path: Path,
) -> None:
    """The carried block is rewritten by O_DIRECT while other threads read it through the
    page cache (no tail): every consumer gets every message, intact, in order."""
    rng = random.Random(1)
    messages = [(f"m{i}", bytes([i % 251]) * rng.choice([0, 1, 30, 200, 1000, 4075]))
                for i in range(8000)]  # fmt: skip
    errors: list[str] = []
    with open_spool(tmp_path, stage_bytes=16384, segment_bytes=300_000) as bus:

        def publish() -> None:
            at = 0
            while at < len(messages):
                step = rng.choice([1, 2, 5, 17])
                bus.publish(SUBJECT, messages[at : at + step])
                at += step

        def consume(name: str) -> None:
            got: list[BusMessage] = []
            try:
                while len(got) < len(messages):
                    got.extend(bus.fetch(name, max_messages=50, timeout=0.01))
                assert [(m.msg_id, bytes(m.data)) for m in got] == messages
            except Exception as exc:
                errors.append(f"{name}: {exc!r}"[:300])

        threads = [threading.Thread(target=publish)]
        threads += [threading.Thread(target=consume, args=(f"c{n}",)) for n in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []


def test_seek_back_a_second_consumer_and_compaction_while_the_newest_segment_has_zeros(
    tmp_path: Path,
) -> None:
    with open_spool(tmp_path, segment_bytes=2 * BLOCK, dedupe_window=0) as bus:
        bus.register("lake")
        for n in range(12):
            bus.publish(SUBJECT, [(f"id-{n}", b"v" * 1500)])
        first = drain(bus, "lake")
        assert [m.msg_id for m in first] == [f"id-{n}" for n in range(12)]
        end = first[-1].position
        blob = (tmp_path / sorted(p.name for p in tmp_path.glob("seg-*"))[-1]).read_bytes()
        assert len(blob) % BLOCK == 0  # the newest is longer than its frames: zeros
        bus.ack("lake", first[:8])
        assert bus.compact() > 0
        bus.seek("other", first[7].position)
        assert summary(drain(bus, "other")) == summary(first[8:])
        bus.seek("lake", end)  # exactly at the end of the frames, not of the file
        with pytest.raises(InvalidInput):
            bus.seek("lake", end + 1)
        bus.publish(SUBJECT, [("late", b"l")])
        assert [m.msg_id for m in drain(bus, "lake")] == ["late"]
    with open_spool(tmp_path, segment_bytes=2 * BLOCK, dedupe_window=0) as bus:
        again = drain(bus, "third")
        assert [m.msg_id for m in again][-5:] == ["id-8", "id-9", "id-10", "id-11", "late"]

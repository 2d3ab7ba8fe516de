"""The C path's spool frames: maat._native.crc32 is zlib.crc32, and spool_parts frames a batch
as the spool's documented format does, or declines it (None) for the Python loop to frame.

The reference here is built from zlib and struct alone (the spool's own ``frame_head`` takes
its CRC from the C extension when it is built, so it cannot be the judge of it)."""

from __future__ import annotations

import random
import struct
import sys
import zlib
from array import array
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maat.adapters.bus import spool_frames
from maat.adapters.bus.spool import SpoolBus
from maat.adapters.bus.spool_frames import frame_head, frame_parts
from maat.native import NATIVE
from native_kit import require_native


@pytest.fixture(autouse=True)
def _native() -> None:
    require_native()


STARTS = [0, 1, 0xFFFFFFFF, 0x80000000, 0x12345678]


class StrSub(str):
    __slots__ = ()


class BytesSub(bytes):
    pass


def crc32(data: Any, value: int = 0, *, portable: bool = False) -> int:
    assert NATIVE is not None
    return int(NATIVE.crc32(data, value, portable))


def reference_parts(subject: str, messages: list[tuple[str, Any]]) -> list[Any]:
    """The documented frame: b"MF" | u32 length | u32 CRC-32 of the rest | u16 id length |
    id | u16 subject length | subject, then the data, all little-endian; one zlib pass."""
    parts: list[Any] = []
    for msg_id, data in messages:
        ident, subj = msg_id.encode(), subject.encode()
        prefix = struct.pack("<H", len(ident)) + ident + struct.pack("<H", len(subj)) + subj
        crc = zlib.crc32(prefix + bytes(data))
        parts += [b"MF" + struct.pack("<II", len(prefix) + len(data), crc) + prefix, data]
    return parts


def python_loop(subject: str, messages: list[Any]) -> list[Any]:
    """The spool's Python framing, as frame_parts runs it when C declines."""
    parts: list[Any] = []
    for msg_id, data in messages:
        parts += [frame_head(msg_id, subject, data), data]
    return parts


def result(function: Any, *args: Any) -> Any:
    try:
        return function(*args)
    except Exception as exc:  # compared: both must raise the same
        return type(exc)


# --- crc32 --------------------------------------------------------------------------------------


@pytest.mark.parametrize("portable", [False, True], ids=["clmul", "portable"])
def test_crc32_is_zlib_s_at_every_length_and_start_value(portable: bool) -> None:
    rng = random.Random(1100)
    data = rng.randbytes(1101)
    for length in range(1101):
        for value in [*STARTS, rng.getrandbits(32)]:
            got = crc32(data[:length], value, portable=portable)
            assert got == zlib.crc32(data[:length], value), (length, value)


@pytest.mark.parametrize("portable", [False, True], ids=["clmul", "portable"])
def test_crc32_is_zlib_s_around_the_16_and_64_byte_folds_at_unaligned_offsets(
    portable: bool,
) -> None:
    rng = random.Random(64)
    block = memoryview(rng.randbytes(8192 + 64))
    lengths = {n + d for n in range(16, 8193, 16) for d in (-1, 0, 1)}
    for length in sorted(lengths):
        offset = rng.randrange(64)  # the folds read 16 bytes at a time: any alignment
        view = block[offset : offset + length]
        value = rng.choice([*STARTS, rng.getrandbits(32)])
        assert crc32(view, value, portable=portable) == zlib.crc32(view, value), (length, offset)


@pytest.mark.parametrize("size", [(1 << 20) + 3, (16 << 20) + 61, 64 << 20])
def test_crc32_is_zlib_s_on_large_buffers(size: int) -> None:
    data = bytearray(random.Random(size).randbytes(size))
    view = memoryview(data)[5:]  # unaligned, and not a bytes object
    for value in (0, 0xFFFFFFFF, 0xDEADBEEF):
        want = zlib.crc32(view, value)
        assert crc32(view, value) == want
        assert crc32(view, value, portable=True) == want


def test_crc32_continued_at_any_split_is_the_whole_s() -> None:
    """A frame's CRC runs over its prefix, then on over its data: the carried value must be
    taken in where the fold starts, whatever the length of either part."""
    data = random.Random(7).randbytes(3000)
    whole = zlib.crc32(data)
    for split in [*range(0, 200), *range(200, 3001, 37), 3000]:
        for portable in (False, True):
            head = crc32(data[:split], portable=portable)
            assert crc32(data[split:], head, portable=portable) == whole, (split, portable)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=4096), st.integers(0, 2**32 - 1), st.integers(0, 15), st.booleans())
def test_crc32_is_zlib_s_for_any_bytes(data: bytes, value: int, skip: int, portable: bool) -> None:
    view = memoryview(data)[skip:]
    assert crc32(view, value, portable=portable) == zlib.crc32(view, value)


@pytest.mark.parametrize("value", [-1, -(2**40), 2**32, 2**32 + 5, 2**64 + 3])
def test_crc32_takes_a_start_value_out_of_range_as_zlib_does(value: int) -> None:
    for data in (b"", b"abc", bytes(100)):
        assert crc32(data, value) == zlib.crc32(data, value)


BUFFERS = [b"abc", bytearray(b"abc"), array("I", range(50)), memoryview(bytes(99))[3:],
           "abc", None, 3, memoryview(bytes(10))[::2]]  # fmt: skip


@pytest.mark.parametrize("data", BUFFERS, ids=lambda d: type(d).__name__)
def test_crc32_takes_and_refuses_the_buffers_zlib_does(data: Any) -> None:
    assert result(crc32, data) == result(zlib.crc32, data)


# --- spool_parts --------------------------------------------------------------------------------

TEXT = st.text(st.characters(codec="utf-8"), max_size=20)
MESSAGES = st.lists(st.tuples(TEXT, st.binary(max_size=300)), max_size=20)


@settings(max_examples=400, deadline=None)
@given(TEXT, MESSAGES)
def test_spool_parts_frames_any_batch_as_the_documented_format(
    subject: str, messages: list[tuple[str, bytes]]
) -> None:
    assert NATIVE is not None
    parts = NATIVE.spool_parts(subject, messages)
    assert parts == reference_parts(subject, messages)
    assert all(parts[2 * i + 1] is data for i, (_, data) in enumerate(messages))  # not copied
    assert frame_parts(subject, messages) == parts == python_loop(subject, messages)


NAMES = {  # id, subject
    "id-65535": ("i" * 65535, "events"), "subject-65535": ("events", "s" * 65535),
    "multibyte-65535": ("é" * 32767 + "a", "𝄞" * 16383 + "abc"), "empty": ("", ""),
    "nul": ("a\x00b", "s\x00"), "non-ascii": ("中文字", "événements"),
}  # fmt: skip


@pytest.mark.parametrize(("msg_id", "subject"), NAMES.values(), ids=NAMES.keys())
def test_ids_and_subjects_up_to_65535_utf_8_bytes_are_framed(msg_id: str, subject: str) -> None:
    assert NATIVE is not None
    messages = [(msg_id, b""), (msg_id, bytes(range(256)) * 40)]
    parts = NATIVE.spool_parts(subject, messages)
    assert parts is not None and parts == reference_parts(subject, messages)


DECLINED = [  # (subject, messages): what C must leave to the Python loop
    ("s\udc80", [("id", b"d")]),
    ("s\udc80", []),
    ("s", [("id", b"d"), ("i\udc80", b"d")]),
    ("s" * 65536, [("id", b"d")]),
    ("é" * 32768, [("id", b"d")]),  # 32,768 characters, 65,536 bytes
    ("s", [("i" * 65536, b"d")]),
    ("s", [("ok", b"d"), ("𝄞" * 16384, b"d")]),
    ("s", [("id", bytearray(b"data"))]),
    ("s", [("id", memoryview(b"data"))]),
    ("s", [("id", BytesSub(b"data"))]),
    ("s", [(StrSub("id"), b"data")]),
    ("s", [("ok", b"d"), ["id", b"data"]]),
    ("s", [("id", b"data", b"more")]),
    ("s", [("id",)]),
    ("s", [("ok", b"d"), ("id", "text, not bytes")]),
    ("s", [("ok", b"d"), (7, b"data")]),
]


@pytest.mark.parametrize(("subject", "messages"), DECLINED, ids=lambda x: repr(x)[:30])
def test_a_batch_c_is_unsure_of_is_declined_whole_and_framed_by_the_python_loop(
    subject: str, messages: list[Any]
) -> None:
    assert NATIVE is not None
    assert NATIVE.spool_parts(subject, messages) is None
    framed = result(frame_parts, subject, messages)
    assert framed == result(python_loop, subject, messages)
    if isinstance(framed, list):
        assert framed == reference_parts(subject, [tuple(m) for m in messages])


def test_spool_parts_refuses_arguments_of_another_type() -> None:
    assert NATIVE is not None
    for args in [("s", ()), (StrSub("s"), []), (b"s", []), ("s",), ("s", [], 1)]:
        with pytest.raises(TypeError, match="spool_parts"):
            NATIVE.spool_parts(*args)


def test_spool_parts_keeps_no_reference_to_what_it_was_given() -> None:
    assert NATIVE is not None
    data, ident = bytes(range(200)) * 20, "événement-1"
    good = [(ident, data)] * 50
    bad = [*good, (ident, bytearray(data))]
    before = (sys.getrefcount(data), sys.getrefcount(ident))
    for _ in range(20):
        parts = NATIVE.spool_parts("événements", good)
        assert parts is not None and sys.getrefcount(data) == before[0] + 50
        del parts
        assert NATIVE.spool_parts("événements", bad) is None
    assert (sys.getrefcount(data), sys.getrefcount(ident)) == before


# --- the spool written with the C path ----------------------------------------------------------


def open_spool(root: Path, tail_bytes: int = 0) -> SpoolBus:
    return SpoolBus(root, segment_bytes=64 * 1024, max_bytes=1 << 30, min_free_bytes=0,
                    dedupe_window=100_000, tail_bytes=tail_bytes)  # fmt: skip


def read_segments(root: Path) -> list[tuple[str, str, bytes]]:
    """(subject, id, data) of every frame on disk, each CRC checked with zlib."""
    out = []
    for path in sorted(root.glob("seg-*.log")):
        blob, offset = path.read_bytes(), 0
        while offset < len(blob):
            magic, length, crc = struct.unpack_from("<2sII", blob, offset)
            body = blob[offset + 10 : offset + 10 + length]
            assert magic == b"MF" and len(body) == length, (path.name, offset)
            assert zlib.crc32(body) == crc, (path.name, offset)
            (n,) = struct.unpack_from("<H", body, 0)
            (m,) = struct.unpack_from("<H", body, 2 + n)
            out.append(
                (body[4 + n : 4 + n + m].decode(), body[2 : 2 + n].decode(), body[4 + n + m :])
            )
            offset += 10 + length
    return out


def batches(seed: int) -> list[tuple[str, list[tuple[str, bytes]]]]:
    rng = random.Random(seed)
    subjects = ["events", "événements.中文", "s" * 300]
    out = []
    for b in range(12):
        size = rng.choice([1, 2, 17, 200])
        messages = [(f"id-{b}-{i}-{'é' * rng.randrange(3)}𝄞", rng.randbytes(rng.choice([0, 1, 63, 64, 65, 3500, 20_000])))
                    for i in range(size)]  # fmt: skip
        out.append((subjects[b % 3], messages))
    return out


@pytest.mark.parametrize("tail_bytes", [0, 1 << 20], ids=["from-disk", "from-tail"])
def test_a_spool_written_by_the_c_path_reads_back_every_message_with_its_crc(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tail_bytes: int
) -> None:
    assert NATIVE is not None
    framed: list[int] = []
    native_parts = NATIVE.spool_parts

    def counting(subject: str, messages: list[tuple[str, bytes]]) -> Any:
        parts = native_parts(subject, messages)
        framed.append(len(messages) if parts is not None else -1)
        return parts

    monkeypatch.setattr(spool_frames.NATIVE, "spool_parts", counting)
    published = batches(1)
    with open_spool(tmp_path, tail_bytes) as bus:
        for subject, messages in published:
            assert bus.publish(subject, messages) == len(messages)
        fetched = bus.fetch("lake", max_messages=100_000, timeout=0)
    monkeypatch.undo()
    assert framed == [len(m) for _, m in published]  # every batch framed in C, none declined
    want = [(subject, msg_id, data) for subject, messages in published for msg_id, data in messages]
    assert [(m.subject, m.msg_id, m.data) for m in fetched] == want
    assert read_segments(tmp_path) == want
    assert len(list(tmp_path.glob("seg-*.log"))) > 1  # rotated: frames across segments
    with open_spool(tmp_path) as bus:  # reopened: the tail repaired, the window read back
        again = bus.fetch("lake", max_messages=100_000, timeout=0)
        assert [(m.subject, m.msg_id, m.data) for m in again] == want
        assert bus.publish(*published[0]) == 0  # replays, known from the frames' ids


def test_the_c_and_python_paths_write_the_same_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    published = batches(2)
    with open_spool(tmp_path / "c") as bus:
        for subject, messages in published:
            bus.publish(subject, messages)
    monkeypatch.setattr(spool_frames, "NATIVE", None)
    monkeypatch.setattr(spool_frames, "crc32", zlib.crc32)
    with open_spool(tmp_path / "python") as bus:
        for subject, messages in published:
            bus.publish(subject, messages)
    monkeypatch.undo()
    names = sorted(p.name for p in (tmp_path / "c").glob("seg-*.log"))
    assert names == sorted(p.name for p in (tmp_path / "python").glob("seg-*.log"))
    for name in names:
        assert (tmp_path / "c" / name).read_bytes() == (tmp_path / "python" / name).read_bytes()


def test_a_batch_c_declines_is_stored_by_the_python_loop_and_read_back(tmp_path: Path) -> None:
    messages: list[tuple[str, Any]] = [("a", b"one"), (StrSub("b"), b"two"), ("c", bytearray(b"3"))]
    with open_spool(tmp_path) as bus:
        assert bus.publish("events", messages) == 3
    assert read_segments(tmp_path) == [
        ("events", "a", b"one"),
        ("events", "b", b"two"),
        ("events", "c", b"3"),
    ]
    with open_spool(tmp_path) as bus:
        got = bus.fetch("lake", max_messages=10, timeout=0)
    assert [(m.msg_id, bytes(m.data)) for m in got] == [("a", b"one"), ("b", b"two"), ("c", b"3")]


def test_a_subject_or_batch_of_a_subclass_is_framed_by_python_not_refused(tmp_path: Path) -> None:
    """The C call reads exact types only; the spool hands it nothing else (found by review:
    a str-subclass subject raised TypeError instead of being stored)."""

    class Subject(str):
        __slots__ = ()

    class Batch(list):  # type: ignore[type-arg]
        pass

    with open_spool(tmp_path, 0) as bus:
        assert bus.publish(Subject("events"), [("a", b"one")]) == 1
        assert bus.publish("events", Batch([("b", b"two")])) == 1
        fetched = bus.fetch("lake", max_messages=10, timeout=0)
    assert [(m.subject, m.msg_id, m.data) for m in fetched] == [
        ("events", "a", b"one"),
        ("events", "b", b"two"),
    ]


# --- gather: the direct writes' copy of a batch's frames into the staging buffer ---------------


@settings(max_examples=300, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 300), max_size=30),
    kinds=st.lists(st.sampled_from(["bytes", "bytearray", "sub"]), min_size=30, max_size=30),
    capacity=st.integers(0, 2000),
    filled=st.integers(0, 2000),
    index=st.integers(0, 30),
)
def test_gather_copies_what_its_python_twin_copies(
    sizes: list[int], kinds: list[str], capacity: int, filled: int, index: int
) -> None:
    """Whole parts, in order, while the next is exactly bytes and fits; the same index, fill
    and buffer bytes as the Python loop, and nothing written past the fill."""
    import mmap

    from maat.adapters.bus.spool_writer import _gather_py

    assert NATIVE is not None
    filled, index = min(filled, capacity), min(index, len(sizes))
    rng = random.Random(len(sizes) * 7919 + capacity)
    make = {"bytes": bytes, "bytearray": bytearray, "sub": BytesSub}
    parts: list[Any] = [make[k](rng.randbytes(n)) for n, k in zip(sizes, kinds, strict=False)]
    buffers = [mmap.mmap(-1, max(capacity, 1)) for _ in range(2)]
    for buffer in buffers:
        buffer[:] = b"\xee" * len(buffer)
    c_buffer = memoryview(buffers[0])[:capacity]
    py_buffer = memoryview(buffers[1])[:capacity]
    got = NATIVE.gather(c_buffer, filled, parts, index)
    want = _gather_py(py_buffer, filled, parts, index)  # type: ignore[arg-type]
    assert got == want
    assert bytes(buffers[0]) == bytes(buffers[1])
    assert bytes(buffers[0][got[1] :]) == b"\xee" * (len(buffers[0]) - got[1])
    c_buffer.release()
    py_buffer.release()


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda g: g(b"read-only", 0, [b"x"], 0), BufferError),
        (lambda g: g(bytearray(4), 5, [b"x"], 0), ValueError),
        (lambda g: g(bytearray(4), -1, [b"x"], 0), ValueError),
        (lambda g: g(bytearray(4), 0, [b"x"], 2), IndexError),
        (lambda g: g(bytearray(4), 0, (b"x",), 0), TypeError),
        (lambda g: g(bytearray(4), 0, [b"x"]), TypeError),
    ],
    ids=["read-only", "filled-past", "filled-negative", "index-past", "not-a-list", "arity"],
)
def test_gather_refuses_what_it_cannot_do_with_a_python_error(call: Any, error: type) -> None:
    assert NATIVE is not None
    with pytest.raises(error):
        call(NATIVE.gather)

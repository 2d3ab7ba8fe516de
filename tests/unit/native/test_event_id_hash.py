"""The C path's event ids are model.event_id's: its own BLAKE2b, held to hashlib."""

from __future__ import annotations

import hashlib
import random

import pytest

from maat.native import NATIVE
from maat.telemetry.model import event_id, id_parameters
from native_kit import require_native


@pytest.fixture(autouse=True)
def _native() -> None:
    require_native()


@pytest.mark.parametrize("person", [b"", b"windows", b"sysmon_linux", b"0123456789abcdef"])
@pytest.mark.parametrize("size", [1, 16, 32, 64])
def test_a_record_of_any_length_gets_hashlib_s_blake2b_so_replays_still_collapse(
    person: bytes, size: int
) -> None:
    """A different id for the same record would let a replay through as a new event."""
    assert NATIVE is not None
    rng = random.Random(size * 31 + len(person))
    lengths = [*range(0, 300), 383, 384, 385, 1023, 1024, 1025, 2047, 2048, 2049, 2218, 70_001]
    for length in lengths:
        data = rng.randbytes(length)
        want = hashlib.blake2b(data, digest_size=size, person=person).hexdigest()
        assert NATIVE.blake2b_hex(data, person, size) == want, (length, person, size)


def test_the_c_path_hashes_with_event_id_s_own_parameters() -> None:
    assert NATIVE is not None
    size, person = id_parameters("windows")
    record = b'{"EventID":1,"Channel":"Security"}'
    assert NATIVE.blake2b_hex(record, person, size) == event_id("windows", record)


def test_rfc_7693_s_test_vector() -> None:
    """BLAKE2b-512("abc"), RFC 7693 appendix A."""
    assert NATIVE is not None
    assert NATIVE.blake2b_hex(b"abc", b"", 64) == (
        "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1"
        "7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923"
    )


def test_bad_parameters_are_refused_not_read_past() -> None:
    assert NATIVE is not None
    with pytest.raises(ValueError, match="digest_size"):
        NATIVE.blake2b_hex(b"x", b"", 65)
    with pytest.raises(ValueError, match="person"):
        NATIVE.blake2b_hex(b"x", b"seventeen bytes!!", 16)


@pytest.mark.parametrize("portable", [False, True])
def test_records_hashed_four_at_a_time_get_hashlib_s_ids_whatever_their_lengths(
    portable: bool,
) -> None:
    """Four records share each pass (blake2b_x4.c): one that ends early must keep its own
    state while the others go on, or the ids of the longer ones (or its own) change."""
    assert NATIVE is not None
    rng = random.Random(4)
    lengths = [*range(0, 300), 383, 384, 385, 1023, 1024, 1025, 2047, 2048, 2049, 70_001]
    records = [rng.randbytes(n) for n in lengths]
    records += [rng.randbytes(rng.choice(lengths)) for _ in range(1_000)]
    rng.shuffle(records)
    size, person = id_parameters("windows")
    for count in (0, 1, 3, 4, 5, 8, len(records)):  # whole fours and the ones left over
        batch = records[:count]
        want = [hashlib.blake2b(r, digest_size=size, person=person).hexdigest() for r in batch]
        assert NATIVE.blake2b_hex_many(batch, person, size, portable) == want
    want64 = [hashlib.blake2b(r, digest_size=64).hexdigest() for r in records[:64]]
    assert NATIVE.blake2b_hex_many(records[:64], b"", 64, portable) == want64


def test_many_refuses_bad_parameters_and_items() -> None:
    assert NATIVE is not None
    with pytest.raises(ValueError, match="digest_size"):
        NATIVE.blake2b_hex_many([b"x"], b"", 65)
    with pytest.raises(TypeError, match="bytes"):
        NATIVE.blake2b_hex_many([b"x", "not bytes"], b"", 16)

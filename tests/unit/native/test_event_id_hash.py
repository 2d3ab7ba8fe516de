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

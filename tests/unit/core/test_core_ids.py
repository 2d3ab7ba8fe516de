"""Tests for maat.core.ids."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from maat.core.ids import id_time, new_id, parse_id
from maat.errors import InvalidInput

ALPHABET = set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")


def test_new_id_has_prefix_and_26_char_ulid() -> None:
    value = new_id("vnd")
    prefix, _, ulid = value.partition("_")
    assert prefix == "vnd"
    assert len(ulid) == 26
    assert set(ulid) <= ALPHABET
    assert ulid[0] in "01234567"


def test_ids_are_strictly_increasing_within_a_millisecond() -> None:
    ids = [new_id("evt") for _ in range(5000)]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)


def test_ids_sort_by_creation_time_across_milliseconds() -> None:
    first = new_id("art")
    time.sleep(0.003)
    second = new_id("art")
    assert first < second
    assert id_time(first) < id_time(second)


def test_id_time_is_close_to_now() -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    moment = id_time(new_id("hst"))
    assert moment.tzinfo is not None
    assert before <= moment <= datetime.now(UTC) + timedelta(seconds=1)


def test_parse_id_accepts_and_canonicalises() -> None:
    value = new_id("crt")
    assert parse_id(value, "crt") == value
    assert parse_id("crt_" + value[4:].lower(), "crt") == value


@pytest.mark.parametrize(
    "value",
    [
        "vnd",
        "vnd_",
        "hst_01J9Z0Y8Q4N7C2W5V3X6R1T0AB",  # wrong prefix
        "vnd_01J9Z0Y8Q4N7C2W5V3X6R1T0A",  # 25 chars
        "vnd_01J9Z0Y8Q4N7C2W5V3X6R1T0ABC",  # 27 chars
        "vnd_01J9Z0Y8Q4N7C2W5V3X6R1T0AU",  # U is not Crockford
        "vnd_81J9Z0Y8Q4N7C2W5V3X6R1T0AB",  # overflows 128 bits
        "",
        42,
        None,
    ],
)
def test_parse_id_rejects(value: object) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_id(value, "vnd", field="vendor_id", file="x.json")
    assert info.value.location.field == "vendor_id"
    assert info.value.location.file == "x.json"


@pytest.mark.parametrize("prefix", ["", "Vnd", "1ab", "a_b", "abcdefghijklmnopq"])
def test_new_id_rejects_bad_prefix(prefix: str) -> None:
    with pytest.raises(InvalidInput) as info:
        new_id(prefix)
    assert info.value.location.field == "prefix"


def test_id_time_rejects_non_ids() -> None:
    with pytest.raises(InvalidInput) as info:
        id_time("nonsense")
    assert info.value.location.field == "id"

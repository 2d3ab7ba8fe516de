"""Tests for the shared field readers in maat.core._validate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from maat.core._validate import (
    MAX_DEPTH,
    Reader,
    dump,
    format_timestamp,
    freeze_json,
    parse_timestamp,
)
from maat.errors import InvalidInput


@pytest.mark.parametrize(
    "text",
    [
        "2025-01-01T00:00:00Z",
        "2025-01-01T01:00:00+01:00",
        "2025-01-01 00:00:00+00:00",
        "2024-12-31T19:00:00.000-05:00",
    ],
)
def test_timestamps_become_aware_utc(text: str) -> None:
    moment = parse_timestamp(text, field="t", file=None)
    assert moment == datetime(2025, 1, 1, tzinfo=UTC)
    assert moment.utcoffset() == timedelta(0)


def test_aware_datetime_is_accepted_and_naive_rejected() -> None:
    tz = timezone(timedelta(hours=8))
    assert parse_timestamp(datetime(2025, 1, 1, 8, tzinfo=tz), field="t", file=None) == datetime(
        2025, 1, 1, tzinfo=UTC
    )
    with pytest.raises(InvalidInput) as info:
        parse_timestamp(datetime(2025, 1, 1), field="t", file="f")
    assert info.value.location.field == "t"
    assert info.value.hint


def test_format_timestamp_round_trips() -> None:
    moment = datetime(2025, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    text = format_timestamp(moment)
    assert text == "2025-01-02T03:04:05.678000Z"
    assert parse_timestamp(text, field="t", file=None) == moment


def test_freeze_json_is_read_only_and_dump_thaws() -> None:
    data: dict[str, Any] = {"a": [1, {"b": None}], "c": 1.5, "d": True}
    frozen = freeze_json(data, field="raw", file=None)
    assert frozen == {"a": (1, {"b": None}), "c": 1.5, "d": True}
    with pytest.raises(TypeError):
        frozen["a"] = 2
    assert dump(frozen) == data


def test_freeze_json_limits_depth() -> None:
    deep: Any = "x"
    for _ in range(MAX_DEPTH + 2):
        deep = [deep]
    with pytest.raises(InvalidInput, match="deeper"):
        freeze_json(deep, field="raw", file=None)


def test_freeze_json_rejects_non_json() -> None:
    with pytest.raises(InvalidInput) as info:
        freeze_json({"a": {1: 2}}, field="raw", file=None)
    assert info.value.location.field == "raw.a"
    with pytest.raises(InvalidInput):
        freeze_json({"a": object()}, field="raw", file=None)


def test_reader_rejects_non_string_keys() -> None:
    with pytest.raises(InvalidInput):
        Reader({1: "x"})


def test_reader_strings_sorted_unique() -> None:
    reader = Reader({"tags": ["b", "a", "b"]})
    assert reader.strings("tags", unique_sorted=True) == ("a", "b")
    assert reader.strings("tags") == ("b", "a", "b")
    assert reader.strings("absent") == ()

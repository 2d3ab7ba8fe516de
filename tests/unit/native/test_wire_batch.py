"""The C path's bus messages: wire_events writes, event by event, the bytes encode_event
writes (or leaves the event to it), and wire_fields splits out what fields_of splits out.

A message the C path got wrong would be stored durably and read back by every consumer as
another event than the one parsed; the Python functions are the reference."""

from __future__ import annotations

import copy
import sys
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maat.errors import InvalidInput
from maat.native import NATIVE
from maat.telemetry.wire import (
    MAGIC,
    encode_event,
    encode_events,
    fields_of,
    fields_of_many,
    read_event,
)
from native_kit import require_native
from telemetry_kit import MORDOR, needs


@pytest.fixture(autouse=True)
def _native() -> None:
    require_native()


def reference(events: list[dict[str, Any]]) -> list[bytes | tuple[str, str]]:
    out: list[bytes | tuple[str, str]] = []
    for event in events:
        try:
            out.append(encode_event(event))
        except InvalidInput as exc:
            out.append(("InvalidInput", exc.message))
    return out


def assert_same_messages(events: list[dict[str, Any]]) -> list[bytes | InvalidInput]:
    """Both paths on copies of ``events``: the same messages, errors and events after."""
    mine, theirs = copy.deepcopy(events), copy.deepcopy(events)
    made = encode_events(mine)
    want = reference(theirs)
    got = [("InvalidInput", m.message) if isinstance(m, InvalidInput) else m for m in made]
    assert got == want
    # encode_event moves event.original to the end; the C path must leave the same order
    assert [list(e.items()) for e in mine] == [list(e.items()) for e in theirs]
    return made


@needs(MORDOR)
def test_every_mordor_event_is_the_message_encode_event_writes() -> None:
    """A message that differs is another event in the lake and for every detector."""
    from maat.telemetry.pipeline import parse_bytes

    files = sorted(MORDOR.rglob("*.json"))
    assert files, MORDOR
    for path in files:
        parsed = parse_bytes(path.read_bytes(), path=str(path),
                             received="2026-11-25T00:00:00Z", max_event_bytes=1 << 20)  # fmt: skip
        assert NATIVE is not None
        assert all(m is not None for m in NATIVE.wire_events(parsed.events, orjson.dumps)), path
        made = assert_same_messages(parsed.events)
        for message, event in zip(made, parsed.events, strict=True):
            assert isinstance(message, bytes)
            assert read_event(message)[0] == event


values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.text() | st.floats(allow_nan=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=6,
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.dictionaries(st.sampled_from(["a", "event.id", "host.name", "é"]), values, max_size=4),
        max_size=6,
    ),
    st.lists(st.none() | st.text() | st.integers() | st.just("\ud800"), min_size=6, max_size=6),
)
def test_any_event_gets_encode_event_s_bytes_or_its_error(
    events: list[dict[str, Any]], originals: list[Any]
) -> None:
    """Integers past 64 bits, lone surrogates, an original that is not text: each event gets
    its own error, the others their messages."""
    for event, original in zip(events, originals, strict=False):
        if original is not None:
            event["event.original"] = original
    assert_same_messages(events)


class Str(str):
    __slots__ = ()


class Dict(dict):  # type: ignore[type-arg]
    pass


def test_an_event_the_c_path_is_unsure_of_is_encoded_by_encode_event() -> None:
    assert NATIVE is not None
    odd: list[dict[str, Any]] = [
        {"event.original": Str("a str subclass"), "a": 1},
        Dict({"a": 1, "event.original": "x"}),
        {"event.original": "日本語 and \U0001d11e", "a": "é"},
        {"a": 1},  # no original: flag 0
        {"event.original": "", "a": None},
    ]
    made = NATIVE.wire_events(odd, orjson.dumps)
    assert made[0] is None and made[1] is None  # left to encode_event
    assert made[2] is not None and made[3] is not None and made[4] is not None
    assert made[3][len(MAGIC) + 4] == 0 and made[4][len(MAGIC) + 4] == 1
    assert_same_messages(odd)


def test_a_dumps_that_fails_leaves_the_event_as_it_was() -> None:
    assert NATIVE is not None
    event = {"event.original": "x", "a": 2**70, "b": 1}

    assert NATIVE.wire_events([event], orjson.dumps) == [None]
    assert list(event) == ["a", "b", "event.original"]  # as encode_event leaves it
    with pytest.raises(InvalidInput):
        encode_event(dict(event))


def test_the_c_path_keeps_no_reference_to_what_it_was_given() -> None:
    assert NATIVE is not None
    events = [{"event.original": "x" * 100, "a": "é" * 10} for _ in range(50)]
    before = [sys.getrefcount(e["event.original"]) for e in events]
    for _ in range(200):
        NATIVE.wire_events(events, orjson.dumps)
    assert [sys.getrefcount(e["event.original"]) for e in events] == before


def test_bad_arguments_are_refused() -> None:
    assert NATIVE is not None
    with pytest.raises(TypeError):
        NATIVE.wire_events((), orjson.dumps)
    with pytest.raises(TypeError):
        NATIVE.wire_events([], None)
    with pytest.raises(TypeError):
        NATIVE.wire_fields(())


# --- wire_fields --------------------------------------------------------------------------------


def test_each_message_s_fields_are_those_fields_of_splits_out() -> None:
    events = [{"a": i, "event.original": "o" * i} for i in range(40)] + [{"a": "no original"}]
    messages = [m for m in encode_events(events) if isinstance(m, bytes)]
    older = [orjson.dumps({"a": 1})]  # an older Maat's one-object message: no fields part
    views = fields_of_many(messages + older)
    assert [None if v is None else bytes(v) for v in views] == [
        None if fields_of(m) is None else bytes(fields_of(m))
        for m in messages + older  # type: ignore[arg-type]
    ]


@pytest.mark.parametrize(
    "message",
    [
        MAGIC,  # truncated head
        MAGIC + (100).to_bytes(4, "little") + b"\x01{}",  # fields past the end
        MAGIC + (2).to_bytes(4, "little") + b"\x02{}",  # a flag that is neither 0 nor 1
        MAGIC + (2).to_bytes(4, "little") + b"\x00{}trailing",  # no original yet bytes after
    ],
)
def test_a_malformed_message_is_left_to_fields_of_which_refuses_it(message: bytes) -> None:
    assert NATIVE is not None
    assert NATIVE.wire_fields([message]) == [None]
    with pytest.raises(InvalidInput):
        fields_of_many([message])


def test_a_view_keeps_its_message_alive() -> None:
    assert NATIVE is not None
    message = encode_event({"a": "x" * 1000, "event.original": "y"})
    (view,) = NATIVE.wire_fields([message])
    del message
    assert orjson.loads(bytes(view)) == {"a": "x" * 1000}

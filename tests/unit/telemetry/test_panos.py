"""Palo Alto GlobalProtect's gpsvc.log and mp-log, read when the sender names them."""

from __future__ import annotations

import pytest

from maat.errors import InvalidInput
from maat.telemetry.pipeline import parse_bytes

GPSVC = (
    b'{"level":"error","task":"1393-22","time":"2024-04-16T06:28:45.128393+00:00",'
    b'"message":"failed to unmarshal session(deadbeef) map , EOF"}'
)
MPLOG = b"2024-04-16 06:30:01.123 -0700 debug: device telemetry: sending minute data"


def _parse(data: bytes, source: str = "paloalto.globalprotect"):  # type: ignore[no-untyped-def]
    return parse_bytes(data, path="gp.log", received="2026-11-26T00:00:00Z",
                       max_event_bytes=65536, source=source)  # fmt: skip


def test_both_logs_give_one_event_a_line_with_time_level_and_message() -> None:
    out = _parse(GPSVC + b"\n" + MPLOG)
    assert out.errors == []
    json_event, text_event = out.events
    assert json_event["event.dataset"] == "paloalto.globalprotect"
    assert json_event["message"].startswith("failed to unmarshal session(")
    assert json_event["@timestamp"] == "2024-04-16T06:28:45.128393Z"
    assert json_event["log.level"] == "error" and json_event["paloalto.task"] == "1393-22"
    assert text_event["@timestamp"] == "2024-04-16T13:30:01.123000Z"  # -0700 kept
    assert text_event["log.level"] == "debug"
    assert text_event["message"] == MPLOG.decode()


def test_every_line_is_kept_and_searched_even_torn_or_with_a_bad_time() -> None:
    """Exploit text in a line must reach the rules: a torn JSON line is read as text, an
    unreadable time leaves the receive time, other keys are kept as paloalto.<key>."""
    bad_time = b'{"level":"error","time":"2024-02-30T00:00:00Z","message":"x"}'
    torn = b'{"level":"error","message":"failed to unmarshal session(../../x'
    extra = b'{"message":"failed","session":"(../../opt)","pid":7}'
    at_end = b"2024-04-16 06:30:01.123 -0700"  # the zone ends the line
    out = _parse(b"\n".join([GPSVC, b"[1, 2]", bad_time, torn, extra, at_end]))
    assert out.errors == []
    assert len(out.events) == 6
    assert out.events[2]["@timestamp"] == "2026-11-26T00:00:00Z"  # received
    assert out.events[3]["message"] == torn.decode()
    assert out.events[4]["paloalto.session"] == "(../../opt)"
    assert out.events[4]["paloalto.pid"] == 7
    assert out.events[5]["@timestamp"] == "2024-04-16T13:30:01.123000Z"


def test_the_logs_are_never_guessed() -> None:
    """Any JSON-lines log has level, time and message: only the sender can say."""
    out = _parse(GPSVC, source="auto")
    assert out.events[0]["event.kind"] == "unknown"
    with pytest.raises(InvalidInput):
        _parse(GPSVC, source="paloalto.nosuchlog")

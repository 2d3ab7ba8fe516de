"""An event the rules could not be run on is passed over visibly by the server's detector:
logged as an error, counted in ``Telemetry.undetected`` (``/v1/system``'s
``events_passed_over``) and kept as the writer's error, as any event detection gives up on;
the batch's other events are detected all the same."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import orjson
import pytest

from maat.detect.sigma import Engine, load_rules
from maat.services.alerts import Detector
from maat.services.platform import Platform
from maat.services.telemetry import Telemetry
from maat_testkit import make_settings

RULE = """
title: echo
id: 00000000-0000-0000-0000-000000000001
level: high
logsource: {product: windows, category: process_creation}
detection:
    sel:
        CommandLine|contains: 'echo'
    condition: sel
"""


def sysmon(n: int) -> bytes:
    return orjson.dumps({
        "@timestamp": f"2026-11-20T10:00:{n:02d}.000Z", "EventID": 1,
        "Channel": "Microsoft-Windows-Sysmon/Operational",
        "SourceName": "Microsoft-Windows-Sysmon", "Hostname": "WS1",
        "Image": "C:\\\\Windows\\\\System32\\\\cmd.exe",
        "CommandLine": f"cmd.exe /c echo {n}", "ProcessId": str(100 + n),
    })  # fmt: skip


class Sink:
    def __init__(self) -> None:
        self.lines: list[dict[str, Any]] = []

    def record(self, lines: list[dict[str, Any]]) -> None:
        self.lines.extend(lines)

    def retry_forwards(self) -> list[Any]:
        return []


def test_an_event_the_rules_cannot_run_on_is_counted_and_shown_and_the_rest_detected(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(tmp_path, telemetry={"lake_batch_rows": 10})
    Platform.open(settings, create=True).close()
    engine = Engine(load_rules([("r.yml", RULE)]))
    sink = Sink()
    original = Engine._hits

    def hits(self: Engine, event: Any, *rest: Any) -> Any:  # a bug, or a recursion error
        if "echo 3" in str(event.get("process.command_line")):
            raise RecursionError("maximum recursion depth exceeded")
        return original(self, event, *rest)

    monkeypatch.setattr(Engine, "_hits", hits)
    telemetry = Telemetry.open(settings, detector=Detector(engine, None, sink))  # type: ignore[arg-type]
    try:
        telemetry.ingest(b"\n".join(sysmon(n) for n in range(5)), path="a")
        with caplog.at_level(logging.DEBUG):
            while telemetry.detect_once():
                pass
        assert len(sink.lines) == 4  # the other four events' alerts
        assert telemetry.undetected == 1
        assert telemetry.writer_error is not None
        assert "could not be run" in telemetry.writer_error.diagnostics()
        passed = [r for r in caplog.records if "passed over" in r.getMessage()]
        assert [r.levelname for r in passed] == ["ERROR"]
    finally:
        telemetry.close()

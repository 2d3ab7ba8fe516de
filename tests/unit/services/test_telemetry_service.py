"""Ingest to lake through the real spool and Parquet lake: counts, replays, crashes, refusals."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from maat.config import Settings
from maat.errors import Unavailable
from maat.services.platform import Platform
from maat.services.telemetry import LAKE_CONSUMER, Telemetry
from maat_testkit import make_settings


def sysmon(n: int, host: str = "WS1") -> bytes:
    return orjson.dumps({
        "@timestamp": f"2026-11-2{n % 2}T10:00:{n % 60:02d}.000Z", "EventID": 1,
        "Channel": "Microsoft-Windows-Sysmon/Operational", "SourceName": "Microsoft-Windows-Sysmon",
        "Hostname": host, "Image": "C:\\Windows\\System32\\cmd.exe",
        "CommandLine": f"cmd.exe /c echo {n}", "ProcessId": str(100 + n),
    })  # fmt: skip


def body(first: int, count: int) -> bytes:
    return b"\n".join(sysmon(n) for n in range(first, first + count))


def settings_in(tmp_path: Path, **telemetry: object) -> Settings:
    settings = make_settings(tmp_path, telemetry=dict(telemetry))
    Platform.open(settings, create=True).close()  # the master secret
    return settings


@pytest.fixture
def telemetry(tmp_path: Path) -> Iterator[Telemetry]:
    opened = Telemetry.open(settings_in(tmp_path))
    yield opened
    opened.close()


def count(telemetry: Telemetry) -> int:
    return int(telemetry.lake.query("SELECT count(*) FROM events").rows[0][0])


def test_ingested_events_reach_the_lake(telemetry: Telemetry) -> None:
    report = telemetry.ingest(body(0, 500) + b"\n{broken\n", path="batch")
    assert (report.accepted, report.rejected, report.duplicates) == (500, 1, 0)
    assert report.as_dict()["errors"] == [{"path": "batch", "line": 501,
                                           "reason": report.errors[0].reason}]  # fmt: skip
    assert telemetry.drain() == 500
    assert count(telemetry) == 500


def test_a_replayed_batch_is_acknowledged_but_stored_once(telemetry: Telemetry) -> None:
    telemetry.ingest(body(0, 100), path="a")
    again = telemetry.ingest(body(50, 100), path="b")
    assert (again.accepted, again.duplicates) == (100, 50)
    telemetry.drain()
    assert count(telemetry) == 150


def test_crash_between_lake_write_and_bus_ack_writes_nothing_twice(tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    first = Telemetry.open(settings)
    first.ingest(body(0, 300), path="a")
    messages = first.bus.fetch(LAKE_CONSUMER, max_messages=1000, timeout=0)
    events = [orjson.loads(m.data) for m in messages]
    first.lake.write_batch(
        events, commit={"bus": first.bus.identity, "position": messages[-1].position}
    )
    first.close()  # "crash": the bus never heard the acknowledgement
    second = Telemetry.open(settings)
    try:
        second.ingest(body(300, 10), path="b")
        second.drain()
        assert count(second) == 310
    finally:
        second.close()


def test_full_spool_refuses_and_acknowledges_nothing(tmp_path: Path) -> None:
    telemetry = Telemetry.open(settings_in(tmp_path, max_spool_bytes=8192))
    try:
        telemetry.ingest(body(0, 20), path="a")
        with pytest.raises(Unavailable) as caught:
            telemetry.ingest(body(20, 20), path="b")
        assert caught.value.status == 503
        telemetry.drain()
        assert count(telemetry) == 20
    finally:
        telemetry.close()


def test_background_writer_moves_events_without_being_asked(tmp_path: Path) -> None:
    telemetry = Telemetry.open(settings_in(tmp_path, lake_flush_interval=0.05))
    try:
        telemetry.start_writer()
        telemetry.ingest(body(0, 50), path="a")
        for _ in range(200):
            if telemetry.lake.last_commit():
                break
            import time

            time.sleep(0.02)
        assert count(telemetry) == 50
    finally:
        telemetry.close()

"""The cluster profile: ingest through NATS JetStream into the lake, and refusal when NATS
is down (503, nothing acknowledged)."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from maat.config import Settings
from maat.errors import Unavailable
from maat.services.platform import Platform
from maat.services.telemetry import Telemetry
from maat_testkit import make_settings, unavailable
from nats_kit import NATS_URL, _server_problem, delete_stream

pytestmark = pytest.mark.nats


def sysmon(n: int) -> bytes:
    return orjson.dumps({
        "@timestamp": "2026-11-25T10:00:00.000Z", "EventID": 1,
        "Channel": "Microsoft-Windows-Sysmon/Operational", "SourceName": "Microsoft-Windows-Sysmon",
        "Hostname": f"WS{n % 5}", "Image": "C:\\Windows\\System32\\cmd.exe", "ProcessId": str(n),
    })  # fmt: skip


def nats_settings(tmp_path: Path, url: str, stream: str) -> Settings:
    settings = make_settings(tmp_path, telemetry={
        "bus": "nats", "nats_url": url, "nats_stream": stream,
        "nats_subject_prefix": f"t{stream.lower()}", "nats_timeout": 2,
        "nats_max_bytes": 64 * 1024 * 1024,
    })  # fmt: skip
    Platform.open(settings, create=True).close()
    return settings


@pytest.fixture
def stream() -> Iterator[str]:
    problem = _server_problem(NATS_URL)
    if problem:
        unavailable(problem)
    name = f"MAATTEST{uuid.uuid4().hex[:10].upper()}"
    yield name
    delete_stream(NATS_URL, name)


def test_events_flow_through_jetstream_into_the_lake_once(tmp_path: Path, stream: str) -> None:
    settings = nats_settings(tmp_path, NATS_URL, stream)
    body = b"\n".join(sysmon(n) for n in range(500))
    telemetry = Telemetry.open(settings)
    try:
        report = telemetry.ingest(body, path="a")
        again = telemetry.ingest(body, path="a-again")  # JetStream drops the replay
        assert (report.accepted, report.duplicates) == (500, 0)
        assert again.duplicates == 500
        assert telemetry.drain() == 500
    finally:
        telemetry.close()
    reopened = Telemetry.open(settings)  # a restart resumes after the lake's commit
    try:
        reopened.ingest(b"\n".join(sysmon(n) for n in range(500, 520)), path="b")
        reopened.drain()
        rows = reopened.lake.query("SELECT count(*), count(DISTINCT event_id) FROM events").rows
        assert rows[0] == (520, 520)
    finally:
        reopened.close()


def test_one_event_too_large_for_nats_is_rejected_alone_at_its_line(
    tmp_path: Path, stream: str
) -> None:
    """A record within max_event_bytes whose Image has no separator is stored four times
    in its message (original, executable, name, event data): past NATS's max_payload. It
    once made the whole request fail (422) after other subjects' events were stored."""
    settings = nats_settings(tmp_path, NATS_URL, stream)
    limit = int(settings.telemetry.max_event_bytes)
    record = orjson.loads(sysmon(7))
    record["Image"] = ""
    record["Image"] = "a" * (limit - len(orjson.dumps(record)))
    big = orjson.dumps(record)
    assert len(big) == limit
    body = b"\n".join([*(sysmon(n) for n in range(8)), big, sysmon(99)])
    telemetry = Telemetry.open(settings)
    try:
        report = telemetry.ingest(body, path="a")
        assert (report.accepted, report.rejected) == (9, 1)
        assert report.errors[0].line == 9 and "max_payload" in report.errors[0].reason
        assert telemetry.drain() == 9
    finally:
        telemetry.close()


def test_nats_outage_refuses_ingest_and_acknowledges_nothing(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket closes
    settings = nats_settings(tmp_path, f"nats://127.0.0.1:{port}", "MAATDOWN")
    telemetry = Telemetry.open(settings)
    try:
        with pytest.raises(Unavailable) as caught:
            telemetry.ingest(sysmon(1), path="a")
        assert caught.value.status == 503
    finally:
        telemetry.close()

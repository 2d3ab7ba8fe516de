"""Crash safety of ingest: `maat serve` is killed (SIGKILL) at random points while a client
sends events; after each restart the client re-sends what was not acknowledged. In the end,
every acknowledged event is in the lake exactly once."""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

from maat.services import tokens, users
from maat.services.platform import Platform
from maat.services.telemetry import Telemetry
from maat_testkit import make_settings
from serve_kit import Server


def _event(n: int) -> bytes:
    record = {
        "@timestamp": f"2026-11-2{n % 3}T10:{n % 60:02d}:00.000Z",
        "EventID": 1,
        "Channel": "Microsoft-Windows-Sysmon/Operational",
        "SourceName": "Microsoft-Windows-Sysmon",
        "Hostname": f"WS{n % 7}",
        "Image": "C:\\Windows\\System32\\cmd.exe",
        "CommandLine": f"cmd.exe /c echo {n}",
        "ProcessId": str(1000 + n),
        "crash_test_serial": n,
    }
    return json.dumps(record).encode()


def _send(base: str, token: str, body: bytes) -> int:
    request = urllib.request.Request(
        base + "/v1/events", data=body, method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            report = json.loads(response.read())
            assert report["rejected"] == 0, report
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (OSError, http.client.HTTPException):
        # Refused, reset, or killed mid-reply (IncompleteRead): the client cannot know the
        # events were acknowledged, so it sends them again and the lake deduplicates them.
        return 0


def test_events_acknowledged_before_a_kill_are_in_the_lake_exactly_once(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    platform = Platform.open(settings, create=True)
    platform.store.migrate()
    users.add_user(platform, "test", "agent-ws", ["agent"], password="a-long-agent-password")
    token = tokens.create_token(platform, "test", "agent-ws", "crash-test").text
    platform.close()

    server = Server(tmp_path)
    server.start()
    acked: list[int] = []
    pending: list[list[int]] = []
    stop = threading.Event()
    lock = threading.Lock()

    def client() -> None:
        serial = 0
        while not stop.is_set():
            with lock:
                numbers = pending.pop(0) if pending else None
            if numbers is None:
                numbers = list(range(serial, serial + 200))
                serial += 200
            status = _send(server.base, token, b"\n".join(_event(n) for n in numbers))
            with lock:
                if status == 200:
                    acked.extend(numbers)
                else:  # not acknowledged: keep it and send it again
                    pending.insert(0, numbers)
            if status != 200:
                time.sleep(0.05)

    rng = random.Random(20261125)
    sender = threading.Thread(target=client, daemon=True)
    sender.start()
    try:
        for _ in range(6):
            time.sleep(rng.uniform(0.3, 1.2))
            server.kill()
            server.start()
        time.sleep(0.5)
    finally:
        stop.set()
        sender.join(timeout=30)
        server.stop()

    assert len(acked) > 1000, "the client should have been acknowledged many batches"
    telemetry = Telemetry.open(settings)
    try:
        telemetry.drain()
        result = telemetry.lake.query("SELECT original, count(*) FROM events GROUP BY original")
        counts = Counter(
            {json.loads(row[0])["crash_test_serial"]: int(row[1]) for row in result.rows}
        )
        report = telemetry.lake.verify()
    finally:
        telemetry.close()
    missing = set(acked) - set(counts)
    doubled = {serial: n for serial, n in counts.items() if n > 1}
    assert not missing, f"{len(missing)} acknowledged events lost, e.g. {sorted(missing)[:5]}"
    assert not doubled, f"events stored twice: {dict(list(doubled.items())[:5])}"
    assert report.ok, report.findings

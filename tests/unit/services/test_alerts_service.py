"""Detection on the event bus into stored alerts: grouped by rule and entities, deduplicated
by event id, listed in the API, forwarded to a webhook (JSON) and syslog (CEF); a receiver
that is down loses no alert. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from http_kit import QuietHandler, answering_garbage, serving
from maat.adapters.forward.alerts import SyslogForwarder, WebhookForwarder
from maat.api.app import create_app
from maat.errors import Unavailable
from maat.services import users
from maat.services.alerts import AlertSink, Detector, list_alerts
from maat.services.detection import load_ioc_files, load_rule_files
from maat.services.platform import Platform
from maat.services.telemetry import Telemetry
from maat_testkit import PASSWORD, FakeClock, open_platform, session_for

RULE = """
title: Word loads wwlib.dll from a user folder
id: 5b0c2f0e-0d4c-4d7e-9a51-0c1e2f3a4b5c
level: high
tags: [attack.t1574.002]
logsource: {product: windows, category: image_load}
detection:
    sel:
        Image|endswith: '\\\\winword.exe'
        ImageLoaded|endswith: '\\\\wwlib.dll'
    filter:
        ImageLoaded|startswith: 'C:\\\\Program Files'
    condition: sel and not filter
"""


def image_load(record: int, host: str = "ENG-WS7") -> bytes:
    return orjson.dumps({
        "@timestamp": "2026-11-25T10:00:00.000Z", "EventID": 7, "RecordNumber": record,
        "Channel": "Microsoft-Windows-Sysmon/Operational", "SourceName": "Microsoft-Windows-Sysmon",
        "Hostname": host, "Image": "C:\\Users\\eng\\Downloads\\WINWORD.EXE",
        "ImageLoaded": "C:\\Users\\eng\\Downloads\\wwlib.dll",
    })  # fmt: skip


def dns(record: int, name: str) -> bytes:
    return orjson.dumps({
        "@timestamp": "2026-11-25T10:00:01.000Z", "EventID": 22, "RecordNumber": record,
        "Channel": "Microsoft-Windows-Sysmon/Operational", "SourceName": "Microsoft-Windows-Sysmon",
        "Hostname": "ENG-WS7", "QueryName": name, "Image": "C:\\x\\w.exe",
    })  # fmt: skip


class Receiver(QuietHandler):
    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        length = int(self.headers["Content-Length"])
        Receiver.received.append(orjson.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()


@pytest.fixture
def webhook() -> Iterator[str]:
    Receiver.received = []
    with serving(Receiver) as url:
        yield f"{url}/hook"


@pytest.fixture
def syslog() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5)
    yield sock
    sock.close()


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "wwlib.yml").write_text(RULE)
    (tmp_path / "c2.txt").write_text("windowswns.com\n")
    return tmp_path


def detector(platform: Platform, rules: Path, webhook: str, syslog: socket.socket) -> Detector:
    address = syslog.getsockname()
    sink = AlertSink(platform, [WebhookForwarder(webhook, timeout=5),
                                SyslogForwarder(f"udp://{address[0]}:{address[1]}", timeout=5)])  # fmt: skip
    engine = load_rule_files([rules / "rules"])[1]
    return Detector(engine, load_ioc_files([rules / "c2.txt"]), sink)


def test_wwlib_sideloading_from_the_bus_raises_one_grouped_alert_forwarded_twice_over(
    platform: Platform, rules: Path, webhook: str, syslog: socket.socket
) -> None:
    telemetry = Telemetry.open(
        platform.settings, detector=detector(platform, rules, webhook, syslog)
    )
    try:
        data = b"\n".join([image_load(1), image_load(2), dns(3, "wns.windowswns.com"),
                           image_load(4, host="ENG-WS8")])  # fmt: skip
        telemetry.ingest(data, path="agent")
        telemetry.ingest(image_load(1), path="agent")  # a replay: deduplicated on the bus
        telemetry.drain()
    finally:
        telemetry.close()
    found = list_alerts(platform)
    by_host = {(a.rule_id, a.entities["hosts"][0]): a for a in found}
    assert len(found) == 3
    ws7 = by_host[("5b0c2f0e-0d4c-4d7e-9a51-0c1e2f3a4b5c", "ENG-WS7")]
    assert ws7.count == 2 and len(ws7.event_ids) == 2 and ws7.techniques == ("T1574.002",)
    assert ws7.entities["processes"] == ["C:\\Users\\eng\\Downloads\\WINWORD.EXE"]
    ioc = next(a for a in found if a.rule_id.startswith("trail:"))
    assert "ioc.value=windowswns.com" in ioc.entities["match"]
    assert sorted(r["rule_id"] for r in Receiver.received) == sorted(a.rule_id for a in found)
    lines = sorted(syslog.recv(65536).decode() for _ in found)
    assert all("CEF:0|Maat|Maat|" in line for line in lines)
    assert any("|8|" in line and "dhost=ENG-WS8" in line for line in lines)


def test_the_same_event_detected_again_after_a_crash_does_not_count_twice(
    platform: Platform, clock: FakeClock, rules: Path, webhook: str, syslog: socket.socket
) -> None:
    run = detector(platform, rules, webhook, syslog)
    telemetry = Telemetry.open(platform.settings)
    events = telemetry.parse(b"\n".join([image_load(1), image_load(2)]), path="x").events
    telemetry.close()
    first = run.run(events)
    assert len(first.new) == 1
    again = run.run(events)  # the batch was not acknowledged before the crash
    assert again.new == [] and again.duplicates == 2
    [alert] = list_alerts(platform)
    assert alert.count == 2
    clock.advance(hours=2)  # past the grouping window: the next hit opens a new alert
    assert len(run.run(events[:1]).new) == 1


def test_a_receiver_that_is_down_loses_no_alert(platform: Platform, rules: Path) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    sink = AlertSink(platform, [WebhookForwarder(f"http://127.0.0.1:{port}/", timeout=2)])
    engine = load_rule_files([rules / "rules"])[1]
    telemetry = Telemetry.open(platform.settings)
    events = telemetry.parse(image_load(1), path="x").events
    telemetry.close()
    outcome = Detector(engine, None, sink).run(events)
    assert len(outcome.new) == 1 and "unreachable" in outcome.forward_errors[0]
    assert len(list_alerts(platform)) == 1


def test_alerts_are_listed_in_the_api_with_filters(
    platform: Platform, rules: Path, webhook: str, syslog: socket.socket
) -> None:
    run = detector(platform, rules, webhook, syslog)
    telemetry = Telemetry.open(platform.settings)
    events = telemetry.parse(b"\n".join([image_load(1), image_load(2, host="ENG-WS8")]),
                             path="x").events  # fmt: skip
    telemetry.close()
    run.run(events)
    users.add_user(platform, "test", "analyst", ["analyst"], PASSWORD)
    headers = {"Authorization": f"Bearer {session_for(platform, 'analyst')}"}
    with TestClient(create_app(platform, close_on_shutdown=False)) as client:
        everything = client.get("/v1/alerts", headers=headers)
        assert everything.status_code == 200, everything.text
        assert len(everything.json()) == 2
        ws8 = client.get("/v1/alerts", params={"host": "ENG-WS8"}, headers=headers).json()
        assert [a["entities"]["hosts"] for a in ws8] == [["ENG-WS8"]]
        assert client.get("/v1/alerts", params={"level": "low"}, headers=headers).json() == []
        assert client.get("/v1/alerts").status_code == 401


def test_detect_settings_build_the_detector_the_server_runs(
    tmp_path: Path, rules: Path, backend: str, clock: FakeClock
) -> None:
    sections = {"detect": {"rules": str(rules / "rules"), "iocs": str(rules / "c2.txt")}}
    for platform in open_platform(backend, tmp_path / "data", clock, **sections):
        built = Detector.from_settings(platform)
        assert built.engine is not None and built.iocs is not None
        assert len(built.engine.rules) == 1 and built.iocs.count == 1
    for platform in open_platform(backend, tmp_path / "data2", clock):
        # No rules, no indicators: the detector still checks flows once a segmentation is
        # applied (none yet here).
        bare = Detector.from_settings(platform)
        assert bare.engine is None and bare.iocs is None
        assert bare.flows is not None and bare.flows() == (None, {})


class Redirect(QuietHandler):
    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        self.send_response(302)
        self.send_header("Location", "/elsewhere")
        self.end_headers()


def test_a_redirecting_or_garbled_receiver_is_a_failure_not_a_silent_success(
    platform: Platform, rules: Path
) -> None:
    from maat.detect.records import AlertRecord

    alert = AlertRecord("alr_1", "r", "t", "high", platform.now())
    with serving(Redirect) as url, pytest.raises(Unavailable, match="302"):
        WebhookForwarder(f"{url}/", timeout=5).send(alert)
    with answering_garbage(b"garbage\r\n\r\n") as url, pytest.raises(Unavailable):
        WebhookForwarder(f"{url}/", timeout=5).send(alert)


def test_alerts_name_the_vendor_behind_the_binary_and_the_account(
    platform: Platform, rules: Path
) -> None:
    from maat.core.ids import new_id
    from maat.services.vendors import add_vendor, link_account
    from maat.signing.records import ArtifactRecord
    from maat.vulns.records import ProductRecord

    digest = "9f" * 32
    add_vendor(platform, "test", "Contoso ERP")
    add_vendor(platform, "test", "Fabrikam")
    with platform.transaction() as uow:
        uow.products.add(ProductRecord(new_id("prd"), "Contoso ERP Client", platform.now(),
                                       vendor="Contoso ERP"))  # fmt: skip
        uow.artifacts.add(ArtifactRecord(new_id("art"), digest, "wwlib.dll", platform.now(),
                                         "Contoso ERP Client"))  # fmt: skip
    users.add_user(platform, "test", "fabrikam-vnc", ["auditor"], PASSWORD)
    link_account(platform, "test", "fabrikam-vnc", "Fabrikam")
    line = {"rule.id": "r", "rule.title": "t", "rule.level": "high", "event.id": "e1",
            "host.name": "ENG-WS7", "dll.hash.sha256": digest, "user.name": "fabrikam-vnc"}  # fmt: skip
    [alert] = AlertSink(platform).record([line]).new
    assert alert.entities["vendors"] == ["Contoso ERP", "Fabrikam"]
    assert alert.entities["products"] == ["Contoso ERP Client"]


CORRELATED_RULE = (
    RULE.replace("5b0c2f0e-0d4c-4d7e-9a51-0c1e2f3a4b5c", "5b0c2f0e-0d4c-4d7e-9a51-0c1e2f3a4b5d")
    + "name: wwlib\n"
)
BURST = """
title: wwlib side-loading burst
id: 7e0f0a52-3c1e-4a5b-9d2f-6b8e1c4d7a91
level: critical
correlation: {type: event_count, rules: [wwlib], group-by: [Computer], timespan: 1h,
              condition: {gte: 2}}
"""


def test_two_groups_of_one_correlation_raise_two_alerts_each_forwarded(
    platform: Platform,
) -> None:
    sent: list[Any] = []

    class Keep:
        def send(self, alert: Any) -> None:
            sent.append(alert)

    def fired(user: str, event: str) -> dict[str, Any]:
        return {"rule.id": "burst", "rule.title": "t", "rule.level": "high",
                "rule.route": "correlation", "event.id": event, "host.name": "DC01",
                "correlation.group": {"User": user}, "correlation.events": [event]}  # fmt: skip

    sink = AlertSink(platform, [Keep()])
    sink.record([fired("alice", "e1")])
    sink.record([fired("mallory", "e2")])  # the second attacker, same host, same rule
    assert [a.entities["correlation"] for a in sent] == [["User=alice"], ["User=mallory"]]
    assert len(list_alerts(platform)) == 2


def test_an_alert_is_found_by_its_host_whatever_the_case(platform: Platform) -> None:
    AlertSink(platform).record([{"rule.id": "r1", "rule.title": "t", "rule.level": "high",
                                 "event.id": "e1", "host.name": "ENG-WS7"}])  # fmt: skip
    assert len(list_alerts(platform, host="eng-ws7")) == 1
    assert list_alerts(platform, host="eng-ws") == []  # the whole name, not a part


def test_the_server_judges_correlation_event_time_against_its_own_clock(
    tmp_path: Path, backend: str, clock: FakeClock
) -> None:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "wwlib.yml").write_text(CORRELATED_RULE)
    (folder / "burst.yml").write_text(BURST)
    detect = {"rules": str(folder), "correlation_max_skew": 60, "correlation_lateness": 120,
              "max_correlation_entries": 500}  # fmt: skip
    for platform in open_platform(backend, tmp_path / "data", clock, detect=detect):
        built = Detector.from_settings(platform)
        assert built.engine is not None
        correlator = built.engine._correlator
        assert correlator is not None
        assert (correlator.max_skew, correlator.lateness, correlator.max_entries) == (60, 120, 500)
        telemetry = Telemetry.open(platform.settings)
        events = telemetry.parse(b"\n".join([image_load(1), image_load(2)]), path="x").events
        telemetry.close()
        # The clock says 09:00; events stamped 10:00 are an hour ahead of it: not correlated.
        clock.current = clock.current.replace(hour=9)
        assert all(line["rule.route"] != "correlation" for line in built.lines(events))
        assert correlator.future_hits == 2
        clock.advance(hours=1)  # now they are not ahead any more
        routes = [line["rule.route"] for line in built.lines(events)]
        assert routes.count("correlation") == 1


def test_an_alert_a_receiver_missed_is_sent_again_once_it_is_back(
    platform: Platform, clock: FakeClock
) -> None:
    """The SIEM is down when the alert is raised: it once never heard of the incident.
    Now the alert is sent again every interval until it is taken, and then never again."""
    down, sent = [True], []

    class Flaky:
        def send(self, alert: Any) -> None:
            if down[0]:
                raise Unavailable("the receiver is down")
            sent.append(alert.id)

    hit = {"rule.id": "r1", "rule.title": "t", "rule.level": "high", "event.id": "e1",
           "host.name": "ENG-WS7"}  # fmt: skip
    sink = AlertSink(platform, [Flaky()])
    outcome = sink.record([hit])
    assert outcome.forward_errors and sent == []
    assert "down" in sink.retry_forwards(force=True)[0]  # still down: kept for later
    down[0] = False
    clock.advance(seconds=61)
    assert sink.retry_forwards() == [] and sent == []  # a failed pass doubled the wait
    clock.advance(seconds=60)
    assert sink.retry_forwards() == [] and sent == [outcome.new[0].id]
    clock.advance(seconds=61)
    sink.retry_forwards()
    assert sent == [outcome.new[0].id]  # taken once: never sent again
    stored = list_alerts(platform)[0]
    assert stored.forwarded_at is not None


def test_an_alert_past_the_retry_window_is_not_sent_again(
    platform: Platform, clock: FakeClock
) -> None:
    sent: list[str] = []
    failing = True

    class Flaky:
        def send(self, alert: Any) -> None:
            if failing:
                raise Unavailable("the receiver is down")
            sent.append(alert.id)

    sink = AlertSink(platform, [Flaky()])
    sink.record([{"rule.id": "r1", "rule.title": "t", "rule.level": "high", "event.id": "e1"}])
    clock.advance(seconds=float(platform.settings.detect.forward_retry_window) + 1)
    failing = False
    assert sink.retry_forwards(force=True) == [] and sent == []


class _Receiver:
    """A forwarder named ``name`` that fails while ``down``; what it took, what it was
    asked to send."""

    def __init__(self, name: str, *, down: bool = False) -> None:
        self.name, self.down = name, down
        self.took: list[str] = []
        self.calls = 0

    def send(self, alert: Any) -> None:
        self.calls += 1
        if self.down:
            raise Unavailable(f"{self.name} is down")
        self.took.append(alert.id)


def _hit(n: int) -> dict[str, Any]:
    return {"rule.id": f"r{n}", "rule.title": "t", "rule.level": "high", "event.id": f"e{n}"}


def test_a_quiet_bus_does_not_hold_back_an_alert_a_receiver_missed(
    platform: Platform, clock: FakeClock
) -> None:
    """The retry once ran only when events came in: with none, a receiver back within the
    day never got the alert."""
    siem = _Receiver("webhook", down=True)
    detector = Detector(None, None, AlertSink(platform, [siem]))
    detector.sink.record([_hit(1)])
    siem.down = False
    telemetry = Telemetry.open(platform.settings, detector=detector)
    try:
        clock.advance(seconds=61)
        assert telemetry.detect_once() == 0  # nothing on the bus
    finally:
        telemetry.close()
    assert len(siem.took) == 1


def test_a_hung_receiver_costs_one_timeout_per_pass_not_one_per_alert(
    platform: Platform, clock: FakeClock
) -> None:
    hung = _Receiver("webhook", down=True)
    sink = AlertSink(platform, [hung])
    sink.record([_hit(n) for n in range(5)])
    assert hung.calls == 1  # the batch's other alerts wait for the next pass
    sink.retry_forwards(force=True)
    assert hung.calls == 2


def test_a_healthy_receiver_gets_each_alert_once_while_another_is_down(
    platform: Platform, clock: FakeClock
) -> None:
    """Delivery was recorded only once every receiver took an alert: with syslog down, the
    webhook got the same alerts every minute for a day."""
    webhook, syslog = _Receiver("webhook"), _Receiver("syslog", down=True)
    sink = AlertSink(platform, [webhook, syslog])
    sink.record([_hit(n) for n in range(3)])
    for _ in range(5):
        clock.advance(seconds=3601)
        sink.retry_forwards()
    assert sorted(webhook.took) == sorted(a.id for a in list_alerts(platform))
    assert len(webhook.took) == 3
    syslog.down = False
    clock.advance(seconds=3601)
    sink.retry_forwards()
    assert len(syslog.took) == 3 and len(webhook.took) == 3
    assert all(a.forwarded_at is not None for a in list_alerts(platform))
    assert all(a.forwarded_to == ("syslog", "webhook") for a in list_alerts(platform))

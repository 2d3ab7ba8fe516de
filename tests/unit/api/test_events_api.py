"""POST /v1/events: agents send NDJSON (or gzip); answers come once events are durable."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from datetime import timedelta

import orjson
import pytest
from fastapi.testclient import TestClient

from maat.api.app import create_app
from maat.services import tokens, users
from maat.services.platform import Platform
from maat.services.telemetry import Telemetry
from maat_testkit import PASSWORD


def sysmon(n: int) -> bytes:
    return orjson.dumps({
        "@timestamp": "2026-11-25T10:00:00.000Z", "EventID": 1,
        "Channel": "Microsoft-Windows-Sysmon/Operational", "SourceName": "Microsoft-Windows-Sysmon",
        "Hostname": "WS1", "Image": "C:\\Windows\\System32\\cmd.exe", "ProcessId": str(n),
    })  # fmt: skip


@pytest.fixture
def telemetry(platform: Platform) -> Iterator[Telemetry]:
    opened = Telemetry.open(platform.settings)
    yield opened
    opened.close()


@pytest.fixture
def client(platform: Platform, telemetry: Telemetry) -> Iterator[TestClient]:
    app = create_app(platform, telemetry=telemetry, close_on_shutdown=False)
    with TestClient(app) as c:
        yield c


def agent(platform: Platform, role: str = "agent") -> dict[str, str]:
    users.add_user(platform, "test", f"a-{role}", [role], PASSWORD)
    token = tokens.create_token(platform, "test", f"a-{role}", "agent", ttl=timedelta(days=1))
    return {"Authorization": f"Bearer {token.text}"}


def test_agent_batch_is_acknowledged_with_line_errors(
    client: TestClient, platform: Platform, telemetry: Telemetry
) -> None:
    data = b"\n".join([sysmon(1), b"{not json", sysmon(3)])
    response = client.post("/v1/events", content=data, headers=agent(platform))
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["accepted"], report["rejected"]) == (2, 1)
    assert report["errors"][0]["line"] == 2
    telemetry.drain()  # the app's own writer may have been first
    assert telemetry.lake.query("SELECT count(*) FROM events").rows[0][0] == 2


def test_gzip_body_is_accepted(client: TestClient, platform: Platform) -> None:
    data = gzip.compress(b"\n".join(sysmon(n) for n in range(10)))
    headers = agent(platform) | {"Content-Encoding": "gzip"}
    response = client.post("/v1/events", content=data, headers=headers)
    assert response.status_code == 200 and response.json()["accepted"] == 10


def test_gzip_bomb_is_refused_before_it_is_inflated(
    client: TestClient, platform: Platform, telemetry: Telemetry
) -> None:
    limit = int(telemetry.settings.telemetry.max_request_bytes)
    bomb = gzip.compress(b"\n" * (limit + 10))
    headers = agent(platform) | {"Content-Encoding": "gzip"}
    response = client.post("/v1/events", content=bomb, headers=headers)
    assert response.status_code == 413
    assert "telemetry.max_request_bytes" in response.json()["detail"]


def test_corrupt_gzip_is_a_bad_request(client: TestClient, platform: Platform) -> None:
    headers = agent(platform) | {"Content-Encoding": "gzip"}
    response = client.post("/v1/events", content=b"\x1f\x8bnot really", headers=headers)
    assert response.status_code == 400


def test_anonymous_and_unprivileged_callers_are_refused(
    client: TestClient, platform: Platform
) -> None:
    assert client.post("/v1/events", content=sysmon(1)).status_code == 401
    auditor = agent(platform, "auditor")
    assert client.post("/v1/events", content=sysmon(1), headers=auditor).status_code == 403


def test_server_without_telemetry_answers_503(platform: Platform) -> None:
    with TestClient(create_app(platform, close_on_shutdown=False)) as c:
        response = c.post("/v1/events", content=sysmon(1), headers=agent(platform))
    assert response.status_code == 503
    assert response.headers["retry-after"]


def test_full_spool_answers_503_and_acknowledges_nothing(
    client: TestClient, platform: Platform, telemetry: Telemetry, monkeypatch: pytest.MonkeyPatch
) -> None:
    from maat.errors import Unavailable

    def full(subject: str, messages: object) -> int:
        raise Unavailable("disk full", retry_after=30)

    monkeypatch.setattr(telemetry.bus, "publish", full)
    monkeypatch.setattr(telemetry.bus, "publish_stored", full)  # the spool's own path
    response = client.post("/v1/events", content=sysmon(1), headers=agent(platform))
    assert response.status_code == 503
    assert response.headers["retry-after"] == "30"
    assert "accepted" not in response.json()


def test_gzip_body_of_several_members_is_read_whole(client: TestClient, platform: Platform) -> None:
    data = gzip.compress(sysmon(1)) + gzip.compress(b"\n" + sysmon(2))
    headers = agent(platform) | {"Content-Encoding": "gzip"}
    response = client.post("/v1/events", content=data, headers=headers)
    assert response.status_code == 200 and response.json()["accepted"] == 2


def test_one_line_array_of_too_many_events_is_refused(
    client: TestClient, platform: Platform, telemetry: Telemetry
) -> None:
    limit = telemetry.settings.telemetry.max_batch_events
    one_line = b"[" + b",".join([sysmon(1)] * (limit + 1)) + b"]"
    response = client.post("/v1/events", content=one_line, headers=agent(platform))
    assert response.status_code == 413


def test_events_carry_the_sending_device_and_a_client_cannot_claim_one(
    client: TestClient, platform: Platform, telemetry: Telemetry
) -> None:
    """A spoofed host.name (or a forged maat.sender.device) must not pass for evidence sent
    by the named host's own agent: only the device's own token vouches for its events."""
    from maat.services.devices import enrol_device

    users.add_user(platform, "test", "fleet", ["agent"], PASSWORD)
    _, own = enrol_device(platform, "test", "CONTOSO-WEB01", agent_user="fleet",
                          tags=("vendor:Contoso ERP",))  # fmt: skip
    _, other = enrol_device(platform, "test", "OFF-WS01", agent_user="fleet")
    forged = orjson.loads(sysmon(7))
    forged.update({"Hostname": "CONTOSO-WEB01", "maat.sender.device": "CONTOSO-WEB01"})
    for token, n in ((own, 1), (other, 2)):
        body = sysmon(n).replace(b'"WS1"', b'"CONTOSO-WEB01"')
        response = client.post("/v1/events", content=body,
                               headers={"Authorization": f"Bearer {token}"})  # fmt: skip
        assert response.status_code == 200, response.text
    response = client.post("/v1/events", content=orjson.dumps(forged), headers=agent(platform))
    assert response.status_code == 200, response.text
    telemetry.drain()
    rows = telemetry.lake.query(
        "SELECT json_extract_string(fields, '$.\"maat.sender.device\"') AS sender, "
        "json_extract_string(fields, '$.\"process.pid\"') AS pid FROM events ORDER BY pid"
    ).rows
    assert list(rows) == [("CONTOSO-WEB01", "1"), ("OFF-WS01", "2"), (None, "7")]


@pytest.mark.parametrize(
    ("source", "line"),
    [
        ("paloalto.globalprotect",
         b'{"level":"error","time":"2024-04-16T06:28:45Z","message":"failed to unmarshal"}'),
        ("app.jvm", b"2026-11-26 09:00:00,123 ERROR javax.naming.NamingException: ${jndi:x}"),
    ],
)  # fmt: skip
def test_a_log_named_by_its_sender_is_taken_with_its_dotted_name(
    client: TestClient, platform: Platform, source: str, line: bytes
) -> None:
    headers = agent(platform)
    response = client.post(f"/v1/events?source={source}", content=line, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 1
    refused = client.post("/v1/events?source=../etc", content=line, headers=headers)
    assert refused.status_code in (400, 422)


# --- abuse: crafted bodies must cost their own lines, never the request or the spool -------


def test_a_deeply_nested_body_is_a_located_error_not_a_500(
    client: TestClient, platform: Platform
) -> None:
    """A first line that is an unfinished object sends the body to the pretty-printed
    reader, whose decoder once raised RecursionError out of the request on deep nesting."""
    body = b'{"a": 1,\n "b": ' + b"[" * 100_000 + b"\n" + sysmon(2)
    response = client.post("/v1/events", content=body, headers=agent(platform))
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 1 and response.json()["rejected"] == 2


def test_an_osquery_snapshot_cannot_amplify_into_gigabytes_in_the_spool(
    client: TestClient, platform: Platform, telemetry: Telemetry
) -> None:
    """Each row's event once carried the whole record as its original: N rows stored as N
    copies (3,000 empty rows, 9 KB sent, 28 MB spooled; 50,000 would fill the spool)."""
    rows = 3000
    record = {"name": "q", "hostIdentifier": "h", "unixTime": 1700000000, "snapshot": [{}] * rows}
    body = orjson.dumps(record)
    spool = telemetry.bus.root  # type: ignore[attr-defined]
    before = sum(p.stat().st_size for p in spool.glob("seg-*.log"))
    response = client.post("/v1/events", content=body, headers=agent(platform))
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == rows
    stored = sum(p.stat().st_size for p in spool.glob("seg-*.log")) - before
    assert stored < 200 * len(body), f"{len(body):,} request bytes stored as {stored:,}"


def test_a_plain_body_within_the_event_limit_is_taken(
    client: TestClient, platform: Platform
) -> None:
    """The app-wide api.max_request_bytes (8 MiB) once answered 413 before the events
    route's own telemetry.max_request_bytes (64 MiB, unzipped) could apply."""
    line = sysmon(1)
    count = (int(platform.settings.api.max_request_bytes) // len(line)) + 100
    body = b"\n".join(sysmon(n) for n in range(count))
    assert len(body) > int(platform.settings.api.max_request_bytes)
    response = client.post("/v1/events", content=body, headers=agent(platform))
    assert response.status_code == 200, response.text[:300]
    assert response.json()["accepted"] == count


def test_a_bug_in_the_writer_neither_ends_it_nor_goes_unseen(
    platform: Platform, telemetry: Telemetry, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A foreign exception ended the writer thread: the lake and detection stopped in
    silence until the spool filled and ingest answered 503."""
    import time

    failures = []

    def broken() -> int:
        failures.append(1)
        raise TypeError("a rule engine bug")

    monkeypatch.setattr(telemetry, "detect_once", broken)
    admin = agent(platform, "admin")
    for _ in range(200):
        if len(failures) >= 2:  # the loop went on after the first failure
            break
        time.sleep(0.02)
    assert len(failures) >= 2
    pipeline = client.get("/v1/system", headers=admin).json()["pipeline"]
    assert pipeline["writer_running"] is True
    assert "TypeError: a rule engine bug" in pipeline["last_error"]

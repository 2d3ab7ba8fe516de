"""Azure Monitor VMConnection rows: network events with bytes counted from the right side."""

from __future__ import annotations

import copy
import json
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maat.errors import InvalidInput
from maat.telemetry.azure_monitor import JSON_SOURCES, VmConnection
from maat.telemetry.model import finish
from telemetry_kit import MORDOR, needs, pick, sibling

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LOG4SHELL = MORDOR / "compound" / "Log4Shell"
VMCONNECTION = (
    LOG4SHELL
    / "vminsights_vmconnection_log4shell_cve2021_44228_jndi_reference_2022-05-11181020.json"
)
# A row with the threat-intelligence columns VM insights adds for a known-bad remote address.
MALICIOUS: dict[str, Any] = {
    "TimeGenerated": "2024-02-01T08:15:00Z",
    "Computer": "WEB-02",
    "Direction": "outbound",
    "ProcessName": "powershell",
    "SourceIp": "10.4.0.7",
    "DestinationIp": "198.51.100.66",
    "DestinationPort": 443,
    "Protocol": "tcp",
    "RemoteIp": "198.51.100.66",
    "RemoteCountry": "Netherlands",
    "MaliciousIp": "198.51.100.66",
    "IndicatorThreatType": "Botnet",
    "BytesSent": 5123,
    "BytesReceived": 901,
    "LinksEstablished": 2,
    "LinksTerminated": 2,
    "LinksFailed": 0,
    "ConnectionId": "8F1E2D3C4B5A69788796A5B4C3D2E1F00F1E2D3C",
    "Type": "VMConnection",
}
SAMPLES: list[dict[str, Any]] = [MALICIOUS]
if VMCONNECTION.exists():
    SAMPLES += [orjson.loads(line) for line in VMCONNECTION.read_bytes().splitlines()]
SOURCE = VmConnection()


def event_of(record: dict[str, Any]) -> dict[str, Any]:
    assert SOURCE.accepts(record)
    event = SOURCE.normalise(record)
    for key, value in event.items():
        assert isinstance(value, str | int | float | bool | list), key
    return event


@needs(MORDOR)
def test_every_real_row_parses() -> None:
    rows = [orjson.loads(line) for line in VMCONNECTION.read_bytes().splitlines()]
    assert len(rows) == 5
    events = [event_of(r) for r in rows]
    assert [(e["network.direction"], e["process.name"], e["destination.port"]) for e in events] == [
        ("outbound", "java", 8888),
        ("outbound", "java", 1389),
        ("inbound", "java", 8080),
        ("outbound", "bash", 443),
        ("outbound", "java", 53),
    ]
    for event in events:
        finish(event, module="azure_monitor", raw=b"{}", received="2026-01-01T00:00:00.000000Z")


@needs(MORDOR)
def test_outbound_row_counts_sent_bytes_for_the_source() -> None:
    row = orjson.loads(VMCONNECTION.read_bytes().splitlines()[0])
    expected = {
        "@timestamp": "2022-05-11T18:09:38.868Z",
        "event.dataset": "azure_monitor.vmconnection",
        "event.category": ["network"],
        "event.type": ["connection"],
        "host.name": "UBUNTU5",
        "process.name": "java",
        "source.ip": "192.168.2.5",
        "destination.ip": "192.168.2.6",
        "destination.port": 8888,
        "network.transport": "tcp",
        "network.direction": "outbound",
        "source.bytes": 218,
        "destination.bytes": 1220,
        "network.bytes": 1438,
        "azure.vmconnection.links_established": 1,
        "azure.vmconnection.response_time_max": 60,
        "azure.vmconnection.connection_id": "E23911C6D2125820A6CDACE0D589A4D6BBEABD57",
    }
    assert pick(event_of(row), expected) == expected


@needs(MORDOR)
def test_inbound_row_counts_sent_bytes_for_the_destination() -> None:
    row = orjson.loads(VMCONNECTION.read_bytes().splitlines()[2])
    event = event_of(row)
    # The exploit request came in to Tomcat on 8080: the machine is the destination, and its
    # 333 bytes sent are the response.
    assert (event["source.ip"], event["destination.ip"]) == ("192.168.2.6", "192.168.2.5")
    assert (event["destination.bytes"], event["source.bytes"]) == (333, 137)


def test_threat_intelligence_columns_are_kept() -> None:
    expected = {
        "azure.vmconnection.malicious_ip": "198.51.100.66",
        "azure.vmconnection.indicator_threat_type": "Botnet",
        "azure.vmconnection.remote_country": "Netherlands",
        "azure.vmconnection.links_failed": 0,
        "@timestamp": "2024-02-01T08:15:00Z",
    }
    assert pick(event_of(MALICIOUS), expected) == expected


def _changed(key: str, value: Any) -> dict[str, Any]:
    record = copy.deepcopy(MALICIOUS)
    if value is KeyError:
        del record[key]
    else:
        record[key] = value
    return record


@pytest.mark.parametrize(
    ("record", "field"),
    [
        (_changed("TimeGenerated", KeyError), "TimeGenerated"),
        (_changed("TimeGenerated", "last week"), "TimeGenerated"),
        (_changed("TimeGenerated", 1706775300), "TimeGenerated"),
        (_changed("Direction", "sideways"), "Direction"),
        (_changed("DestinationPort", "https"), "DestinationPort"),
        (_changed("DestinationPort", 70000), "DestinationPort"),
        (_changed("BytesSent", -1), "BytesSent"),
        (_changed("BytesReceived", 1.5), "BytesReceived"),
        (_changed("Computer", 5), "Computer"),
        (_changed("Protocol", 6), "Protocol"),
        (_changed("LinksEstablished", "two"), "LinksEstablished"),
    ],
)
def test_bad_rows_name_the_field(record: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        SOURCE.normalise(record)
    assert caught.value.location.field == field


@needs(MORDOR)
def test_claims_no_other_azure_table() -> None:
    for name in (
        "syslog_auoms_auditd_log4shell_cve2021_44228_jndi_reference_2022-05-11181020.json",
        "syslog_sysmon_log4shell_cve2021_44228_jndi_reference_2022-05-11181020.json",
        "sysmon_log4shell_cve2021_44228_java_serialized_object_2022-05-13045800.json",
        "securityauditing_log4shell_cve2021_44228_java_serialized_object_2022-05-13045400.json",
    ):
        for line in (LOG4SHELL / name).read_bytes().splitlines():
            assert not SOURCE.accepts(orjson.loads(line)), name


@pytest.mark.parametrize(
    "other", ["test_auditd", "test_osquery", "test_falco", "test_zeek", "test_access_log"]
)
def test_claims_no_other_source_sample(other: str) -> None:
    for record in sibling(other).SAMPLES:
        assert not JSON_SOURCES[0].accepts(record), record


def test_claims_no_windows_record() -> None:
    sysmon = {
        "EventID": 3,
        "Hostname": "WS5",
        "SourceIp": "10.0.0.1",
        "DestinationIp": "10.0.0.2",
        "DestinationPort": "443",
        "Protocol": "tcp",
        "Initiated": "true",
    }
    evtx = {
        "Event": {"System": {"EventID": 3}, "EventData": {"DestinationPort": 443, "Direction": "x"}}
    }
    assert not SOURCE.accepts(sysmon)
    assert not SOURCE.accepts(evtx)


# Text that int() and float() take or choke on in surprising ways.
NASTY = ["\u00b2", "\u0663", "9" * 5000, "--5", "-1", "1e400", "nan", "-inf", "", "-", "\x00"]

values = (
    st.sampled_from(NASTY)
    | st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=10)
    | st.sampled_from(["inbound", "outbound", "tcp", "2024-02-01T08:15:00Z"])
    | st.lists(st.integers(), max_size=2)
)


@FUZZ
@given(st.dictionaries(st.sampled_from(sorted(MALICIOUS)), values))
def test_normalise_raises_only_invalid_input(record: dict[str, Any]) -> None:
    try:
        event = SOURCE.normalise(record)
    except InvalidInput:
        return
    for key, value in event.items():
        assert isinstance(value, str | int | float | bool | list), key


def _windows_records() -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for path in sorted(MORDOR.glob("SDWIN-*/*.json")):
        records += [
            orjson.loads(line) for line in path.read_bytes().splitlines()[:300] if line.strip()
        ]
    decoder = json.JSONDecoder()
    for path in sorted((MORDOR.parent.parent / "sigma" / "regression_data").rglob("*.json")):
        text, at = path.read_text(), 0
        while at < len(text.rstrip()):  # some files hold several documents one after another
            record, end = decoder.raw_decode(text, at)
            records.append(record)
            at = end + len(text[end:]) - len(text[end:].lstrip())
    return records


@needs(MORDOR)
def test_no_linux_or_network_source_claims_a_real_windows_record() -> None:
    from maat.telemetry import access_log, auditd, falco, osquery, zeek

    sources = [
        *JSON_SOURCES,
        *auditd.JSON_SOURCES,
        *osquery.JSON_SOURCES,
        *falco.JSON_SOURCES,
        *zeek.JSON_SOURCES,
        *access_log.JSON_SOURCES,
    ]
    records = _windows_records()
    assert len(records) > 1000
    assert any("Event" in r for r in records)  # EVTX-JSON from the Sigma regression data
    for record in records:
        claimed = [type(s).__name__ for s in sources if s.accepts(record)]
        assert claimed == [], (claimed, record)

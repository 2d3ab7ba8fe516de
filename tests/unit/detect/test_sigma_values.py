"""Every Sigma value modifier, null and empty values, keywords and ``1 of``/``all of``,
checked on hand-made Sysmon events (Sigma's case-insensitive default included)."""

from __future__ import annotations

import base64

import pytest

from maat.detect.sigma import Engine, load_rules
from sigma_kit import engine, event, fires


def test_plain_strings_compare_case_insensitively_as_sigma_requires() -> None:
    built = engine("    sel:\n        Image: 'C:\\Windows\\System32\\CMD.exe'\n    condition: sel")
    assert fires(built, event(Image="c:\\windows\\system32\\cmd.exe"))
    assert not fires(built, event(Image="c:\\windows\\system32\\cmd.exe.bak"))


@pytest.mark.parametrize(
    ("modifier", "value", "hit", "miss"),
    [
        ("contains", "mimikatz", "x MimiKatz y", "mimi katz"),
        ("startswith", "C:\\Temp\\", "c:\\temp\\a.exe", "d:\\c:\\temp\\"),
        ("endswith", "\\wwlib.dll", "C:\\x\\WWLIB.DLL", "C:\\x\\wwlib.dll.mui"),
        ("cased", "CaseSensitive", "CaseSensitive", "casesensitive"),
        ("contains|cased", "Secret", "my Secret x", "my secret x"),
    ],
)
def test_string_modifiers(modifier: str, value: str, hit: str, miss: str) -> None:
    built = engine(f"    sel:\n        CommandLine|{modifier}: '{value}'\n    condition: sel")
    assert fires(built, event(CommandLine=hit))
    assert not fires(built, event(CommandLine=miss))


def test_wildcards_inside_a_value_and_escaped_ones() -> None:
    built = engine("    sel:\n        CommandLine: 'a*b?c'\n    condition: sel")
    assert fires(built, event(CommandLine="A-long-B!C"))
    assert not fires(built, event(CommandLine="a-long-b!!c"))
    literal = engine("    sel:\n        CommandLine: 'a\\*b'\n    condition: sel")
    assert fires(literal, event(CommandLine="a*b"))
    assert not fires(literal, event(CommandLine="axxb"))


def test_all_modifier_needs_every_value() -> None:
    built = engine(
        "    sel:\n        CommandLine|contains|all: ['-enc', 'hidden']\n    condition: sel"
    )
    assert fires(built, event(CommandLine="powershell -w hidden -enc AAA"))
    assert not fires(built, event(CommandLine="powershell -enc AAA"))


@pytest.mark.parametrize(
    ("modifier", "hit", "miss"),
    [
        ("re", "Invoke-Mimikatz", "invoke-mimikatz"),
        ("re|i", "invoke-MIMIKATZ", "invoke-mimi"),
    ],
)
def test_regular_expressions_are_case_sensitive_unless_flagged(
    modifier: str, hit: str, miss: str
) -> None:
    built = engine(
        f"    sel:\n        CommandLine|{modifier}: 'Invoke-Mimi[a-z]+'\n    condition: sel"
    )
    assert fires(built, event(CommandLine=hit))
    assert not fires(built, event(CommandLine=miss))


def test_regex_multiline_and_dotall_flags() -> None:
    multi = engine("    sel:\n        CommandLine|re|m: '^second$'\n    condition: sel")
    assert fires(multi, event(CommandLine="first\nsecond\nthird"))
    dotall = engine("    sel:\n        CommandLine|re|s: 'first.second'\n    condition: sel")
    assert fires(dotall, event(CommandLine="first\nsecond"))
    plain = engine("    sel:\n        CommandLine|re: 'first.second'\n    condition: sel")
    assert not fires(plain, event(CommandLine="first\nsecond"))


def test_catastrophic_backtracking_regex_runs_in_linear_time_on_re2() -> None:
    built = engine("    sel:\n        CommandLine|re: '(a+)+$'\n    condition: sel")
    # Python's re would take years on this input; RE2 answers at once.
    assert not fires(built, event(CommandLine="a" * 5000 + "!" + "b"))
    assert fires(built, event(CommandLine="xaaa"))


def test_regex_re2_cannot_run_is_refused_with_its_reason() -> None:
    text = """
title: lookbehind
logsource: {product: windows, category: process_creation}
detection:
    sel:
        CommandLine|re: '(?<!x)abc'
    condition: sel
"""
    built = Engine(load_rules([("lookbehind.yml", text)]))
    assert not built.rules
    [problem] = built.problems
    # pySigma 2 checks regular expressions with RE2 itself: the reason names the operator.
    assert problem.path == "lookbehind.yml" and "invalid perl operator: (?<!" in problem.reason


def test_base64_and_base64offset() -> None:
    encoded = base64.b64encode(b"http://evil.example/payload").decode()
    built = engine("    sel:\n        CommandLine|base64: 'http://evil'\n    condition: sel")
    assert fires(built, event(CommandLine=base64.b64encode(b"http://evil").decode()))
    offset = engine(
        "    sel:\n        CommandLine|base64offset|contains: 'evil.example'\n    condition: sel"
    )
    assert fires(offset, event(CommandLine=f"powershell -enc {encoded}"))
    assert not fires(offset, event(CommandLine="powershell -enc AAAA"))


@pytest.mark.parametrize("encoding", ["wide", "utf16be", "utf16"])  # pySigma has no utf16le
def test_utf16_modifiers_with_base64(encoding: str) -> None:
    built = engine(
        f"    sel:\n        CommandLine|{encoding}|base64offset|contains: 'Invoke'\n    condition: sel"
    )
    codec = {"wide": "utf-16-le", "utf16le": "utf-16-le", "utf16be": "utf-16-be", "utf16": "utf-16"}
    # utf16 puts a byte order mark before the value: the payload must start with it.
    text = "Invoke-Expression" if encoding == "utf16" else "x Invoke-Expression"
    payload = base64.b64encode(text.encode(codec[encoding])).decode()
    assert fires(built, event(CommandLine=f"-enc {payload}"))


def test_windash_matches_every_dash_variant() -> None:
    built = engine(
        "    sel:\n        CommandLine|windash|contains: ' -exec bypass'\n    condition: sel"
    )
    for dash in ("-", "/", "\u2013", "\u2014", "\u2015"):
        assert fires(built, event(CommandLine=f"powershell {dash}exec bypass")), dash
    assert not fires(built, event(CommandLine="powershell +exec bypass"))


def test_cidr_for_ipv4_and_ipv6() -> None:
    built = engine(
        "    sel:\n        DestinationIp|cidr: ['10.0.0.0/8', 'fe80::/10']\n    condition: sel",
        "network_connection",
    )
    assert fires(built, event(3, DestinationIp="10.1.2.3"))
    assert fires(built, event(3, DestinationIp="fe80::1"))
    assert not fires(built, event(3, DestinationIp="11.0.0.1"))
    assert not fires(built, event(3, DestinationIp="not an ip"))


def test_exists_null_and_empty_values() -> None:
    exists = engine("    sel:\n        ParentImage|exists: true\n    condition: sel")
    assert fires(exists, event(ParentImage=""))
    assert not fires(exists, event(Image="x"))
    missing = engine("    sel:\n        ParentImage|exists: false\n    condition: sel")
    assert fires(missing, event(Image="x"))
    null = engine("    sel:\n        ParentImage: null\n    condition: sel")
    assert fires(null, event(Image="x"))
    assert not fires(null, event(ParentImage="y"))
    empty = engine("    sel:\n        ParentImage: ''\n    condition: sel")
    assert fires(empty, event(ParentImage=""))
    assert not fires(empty, event(Image="x"))


def test_numeric_comparisons() -> None:
    for modifier, hit, miss in (("lt", "4", "5"), ("lte", "5", "6"), ("gt", "6", "5"),
                                ("gte", "5", "4")):  # fmt: skip
        built = engine(f"    sel:\n        TerminalSessionId|{modifier}: 5\n    condition: sel")
        assert fires(built, event(TerminalSessionId=hit)), modifier
        assert not fires(built, event(TerminalSessionId=miss)), modifier
        assert not fires(built, event(TerminalSessionId="n/a")), modifier


def test_fieldref_compares_two_fields() -> None:
    built = engine("    sel:\n        Image|fieldref: ParentImage\n    condition: sel")
    assert fires(built, event(Image="C:\\a.exe", ParentImage="c:\\A.EXE"))
    assert not fires(built, event(Image="C:\\a.exe", ParentImage="C:\\b.exe"))
    prefix = engine("    sel:\n        CommandLine|fieldref|startswith: Image\n    condition: sel")
    assert fires(prefix, event(Image="C:\\a.exe", CommandLine="C:\\a.exe /x"))


def test_expand_placeholders_from_values_and_as_wildcards() -> None:
    text = """
title: placeholder
logsource: {product: windows, category: process_creation}
detection:
    sel:
        User|expand: '%admins%'
    condition: sel
"""
    resolved = Engine(load_rules([("p.yml", text)], placeholders={"admins": ["CORP\\root"]}))
    assert resolved.match(event(User="corp\\root"))
    assert not resolved.match(event(User="corp\\alice"))
    unresolved = Engine(load_rules([("p.yml", text)]))
    assert unresolved.match(event(User="anyone"))  # pySigma's rule: an unknown list is '*'


def test_keywords_search_every_event_data_value() -> None:
    built = engine("    keywords:\n        - 'sekurlsa'\n    condition: keywords")
    assert fires(built, event(CommandLine="mimikatz SEKURLSA::logonpasswords"))
    assert not fires(built, event(CommandLine="whoami"))


def test_a_keyword_with_wildcards_is_found_anywhere_in_a_value_as_full_text_search_does() -> None:
    """ClamAV's ``Trojan*FOUND`` must hit ``x.jsp: Trojan.Agent FOUND``: pySigma's SQLite
    backend (the differential oracle) reads it as ``LIKE '%Trojan%FOUND%'``."""
    built = engine(
        "    keywords:\n        - 'Trojan*FOUND'\n        - 'a?c'\n    condition: keywords"
    )
    assert fires(built, event(CommandLine="/srv/x.jsp: Trojan.Agent FOUND in upload"))
    assert fires(built, event(CommandLine="xx abc yy"))
    assert not fires(built, event(CommandLine="FOUND Trojan"))
    assert not fires(built, event(CommandLine="ac"))


def test_one_of_and_all_of_with_wildcards_and_not() -> None:
    built = engine(
        "    sel_a:\n        Image|endswith: '\\a.exe'\n"
        "    sel_b:\n        CommandLine|contains: 'x'\n"
        "    filter_x:\n        User: 'SYSTEM'\n"
        "    condition: all of sel_* and not 1 of filter_*"
    )
    assert fires(built, event(Image="C:\\a.exe", CommandLine="-x"))
    assert not fires(built, event(Image="C:\\a.exe", CommandLine="-y"))
    assert not fires(built, event(Image="C:\\a.exe", CommandLine="-x", User="system"))
    either = engine(
        "    sel_a:\n        Image|endswith: '\\a.exe'\n"
        "    sel_b:\n        Image|endswith: '\\b.exe'\n"
        "    condition: 1 of sel_*"
    )
    assert fires(either, event(Image="C:\\B.exe"))


def test_events_of_another_kind_are_never_tested() -> None:
    built = engine("    sel:\n        Image|endswith: '\\a.exe'\n    condition: sel")
    assert not fires(built, event(3, Image="C:\\a.exe"))  # a network connection
    assert not built.match({"winlog.event_data.Image": "C:\\a.exe"})  # no channel


def test_security_4688_is_read_with_its_own_field_names() -> None:
    built = engine("    sel:\n        Image|endswith: '\\wwlib.exe'\n    condition: sel")
    audit = {"winlog.channel": "Security", "winlog.event_id": 4688,
             "winlog.event_data.NewProcessName": "C:\\x\\wwlib.exe"}  # fmt: skip
    [hit] = built.match(audit)
    assert hit.route == "security/4688"


def test_a_broken_rule_is_reported_with_its_file_and_the_others_load() -> None:
    good = (
        "title: ok\nlogsource: {product: windows, category: process_creation}\n"
        "detection:\n    sel:\n        Image: x\n    condition: sel\n"
    )
    rules = load_rules([("bad.yml", "title: [unclosed"), ("nocond.yml", "title: t\ndetection: {}\n"),
                        ("good.yml", good)])  # fmt: skip
    assert [r.path for r in rules.rules] == ["good.yml"]
    problems = {p.path: p.reason for p in rules.problems}
    assert "not valid YAML at line 2" in problems["bad.yml"]
    assert problems["nocond.yml"]


def test_a_rule_for_a_log_source_maat_has_no_route_for_is_listed() -> None:
    text = (
        "title: salesforce\nlogsource: {product: salesforce, service: audit}\n"
        "detection:\n    sel:\n        eventtype: x\n    condition: sel\n"
    )
    rules = load_rules([("salesforce.yml", text)])
    assert not rules.rules
    assert "no Maat log source for product=salesforce service=audit" in rules.problems[0].reason


def test_a_filter_on_a_field_security_4688_lacks_cannot_turn_into_a_false_positive() -> None:
    # On 4688 there is no OriginalFileName: "not filter" would always pass there, so the
    # rule is judged on Sysmon events only.
    built = engine(
        "    sel:\n        Image|endswith: '\\powershell.exe'\n"
        "    filter:\n        OriginalFileName: 'PowerShell.EXE'\n"
        "    condition: sel and not filter"
    )
    audit = {"winlog.channel": "Security", "winlog.event_id": 4688,
             "winlog.event_data.NewProcessName": "C:\\w\\powershell.exe"}  # fmt: skip
    assert built.match(audit) == []
    assert built.match(event(Image="C:\\x\\powershell.exe", OriginalFileName="evil.exe"))

"""The engine's prefilter (which rules run on an event) never decides a match: every rule it
lets through is judged by the rule itself, and it never holds back a rule that matches.

These tests are named after what an attacker would try against the shortcuts: a value
that breaks the encoding, a literal hidden in a list item, a look-alike character."""

from __future__ import annotations

from typing import Any

from sigma.types import SigmaString

from maat.detect.sigma import Engine
from maat.detect.sigma_compile import requirements_of
from maat.detect.sigma_values import anchor_of
from sigma_kit import engine, event, fires


def _bucket_rules(built: Engine, key: tuple[str, int | None]) -> tuple[list[Any], list[int]]:
    bucket = built._buckets[key]
    return bucket.rules, bucket.always


SYSMON_1 = ("microsoft-windows-sysmon/operational", 1)
SYSMON_10 = ("microsoft-windows-sysmon/operational", 10)

HANDLEKATZ = """    selection:
        TargetImage|endswith: '\\\\lsass.exe'
        GrantedAccess: '0x1440'
        CallTrace|startswith: 'C:\\\\Windows\\\\System32\\\\ntdll.dll+'
        CallTrace|contains: '|UNKNOWN('
    condition: selection"""


def test_lsass_access_with_the_rare_access_mask_still_fires_when_every_item_holds() -> None:
    built = engine(HANDLEKATZ, category="process_access")
    rules, _ = _bucket_rules(built, SYSMON_10)
    assert rules[0].confirm, "the rule's other necessary literals are checked first"
    trace = "C:\\Windows\\SYSTEM32\\ntdll.dll+9d234|UNKNOWN(00000000001A0C1E)"
    hit = event(10, TargetImage="C:\\Windows\\System32\\lsass.exe", GrantedAccess="0x1440",
                CallTrace=trace)  # fmt: skip
    assert fires(built, hit)
    for key, other in (("GrantedAccess", "0x1010"), ("CallTrace", "C:\\Windows\\ntdll.dll+1")):
        assert not fires(built, {**hit, f"winlog.event_data.{key}": other})


def test_a_literal_in_the_second_item_of_a_list_value_is_not_missed_by_the_checks() -> None:
    built = engine(HANDLEKATZ, category="process_access")
    trace = "C:\\Windows\\System32\\ntdll.dll+1|UNKNOWN(1)"
    listed = event(10, TargetImage=["C:\\x\\a.exe", "C:\\Windows\\System32\\LSASS.EXE"],
                   GrantedAccess=["0x1000", "0x1440"], CallTrace=trace)  # fmt: skip
    assert fires(built, listed)


def test_requirements_of_an_and_are_each_items_and_an_or_gives_one_group() -> None:
    built = engine(HANDLEKATZ, category="process_access")
    tree = built.rules[0].sigma.detection.parsed_condition[0].parsed
    groups = requirements_of(tree, lambda name: name)
    assert {("GrantedAccess", "0x1440")} in [set(g) for g in groups]
    assert len(groups) == 4
    either = engine(
        "    a:\n        CommandLine|contains: 'alpha'\n    b:\n        Image|endswith: 'beta.exe'\n"
        "    condition: a or b"
    )
    tree = either.rules[0].sigma.detection.parsed_condition[0].parsed
    (group,) = requirements_of(tree, lambda name: name)
    assert set(group) == {("CommandLine", "alpha"), ("Image", "beta.exe")}


def test_emoji_in_a_command_line_is_found_and_the_rule_does_not_run_on_every_event() -> None:
    built = engine(
        "    selection:\n        CommandLine|contains:\n"
        + "".join(f"            - '{c}'\n" for c in "😀😈💀🔥🚀⚡☠")
        + "    condition: selection"
    )
    _, always = _bucket_rules(built, SYSMON_1)
    assert always == [], "a rare letter is indexed, not run on every event"
    assert fires(built, event(CommandLine="powershell -c echo 💀"))
    assert not fires(built, event(CommandLine="powershell -c echo x"))
    assert anchor_of(SigmaString("*a*")) is None, "one ASCII letter is too common to index"


def test_a_cyrillic_look_alike_in_a_long_list_is_found_anywhere() -> None:
    letters = "аеорсухіјѕԁԛԝ"  # Cyrillic look-alikes of Latin letters (13: one RE2 pass)
    built = engine(
        "    selection:\n        CommandLine|contains:\n"
        + "".join(f"            - '{c}'\n" for c in letters)
        + "    condition: selection"
    )
    for letter in letters:
        assert fires(built, event(CommandLine=f"net user admin{letter}n /add"))
    assert fires(built, event(CommandLine="net user АDMIN /add")), "lowercased first: А is а"
    assert not fires(built, event(CommandLine="net user admin /add"))


LONG_LIST = [f"tool{n}.exe" for n in range(20)]


def test_a_long_contains_list_matches_any_item_case_insensitively() -> None:
    built = engine(
        "    selection:\n        CommandLine|contains:\n"
        + "".join(f"            - '{item}'\n" for item in LONG_LIST)
        + "    condition: selection"
    )
    assert fires(built, event(CommandLine="run TOOL19.EXE now"))
    assert fires(built, event(CommandLine="x tool0.exe"))
    assert not fires(built, event(CommandLine="tool20.exe tool.exe"))


def test_a_lone_surrogate_in_a_value_cannot_stop_regex_and_list_rules() -> None:
    """A value decoded with surrogates kept (EVTX text, an XML record) is not valid UTF-8;
    the rules after it still run and still find what follows it."""
    regex = engine("    selection:\n        CommandLine|re: 'mimi.atz'\n    condition: selection")
    wildcard = engine(
        "    selection:\n        CommandLine: '*sekur?lsa*'\n    condition: selection"
    )
    listed = engine(
        "    selection:\n        CommandLine|contains:\n"
        + "".join(f"            - '{item}'\n" for item in LONG_LIST)
        + "    condition: selection"
    )
    for built, text in ((regex, "mimikatz"), (wildcard, "sekur-lsa"), (listed, "tool7.exe")):
        assert fires(built, event(CommandLine=f"\ud800 x {text} \udfff"))
        assert not fires(built, event(CommandLine="\ud800 nothing here"))


def test_several_regexes_on_one_field_keep_their_own_flags() -> None:
    built = engine(
        "    a:\n        CommandLine|re: 'ipconfig\\s+/all'\n"
        "    b:\n        CommandLine|re|i: 'ROUTE\\s+PRINT'\n"
        "    condition: a or b"
    )
    assert fires(built, event(CommandLine="ipconfig   /all"))
    assert not fires(built, event(CommandLine="IPCONFIG /ALL")), "Sigma regexes are cased"
    assert fires(built, event(CommandLine="route print"))
    assert not fires(built, event(CommandLine="route  show"))


def test_values_are_lowercased_only_when_a_rule_reads_them() -> None:
    built = engine(HANDLEKATZ, category="process_access")
    seen: list[str] = []

    class Spy(dict[str, Any]):
        def get(self, key: str, default: Any = None) -> Any:
            seen.append(key)
            return super().get(key, default)

    quiet = Spy(event(10, TargetImage="C:\\x\\notepad.exe", GrantedAccess="0x1010",
                      CallTrace="C:\\x.dll+1", Payload="x" * 1000))  # fmt: skip
    assert not built.match(quiet)
    assert "winlog.event_data.Payload" not in seen


def test_a_cased_greek_capital_sigma_is_found_whatever_follows_it() -> None:
    """Python lowercases Σ as ς at a word's end and σ inside one: an anchor lowercased
    alone would not be in the text's lowercase, and the |cased rule would never run."""
    one = engine("    sel:\n        CommandLine|cased|contains: 'Σ'\n    condition: sel")
    assert fires(one, event(CommandLine="ΑΣ"))
    listed = engine("    sel:\n        CommandLine|cased|contains:\n            - 'İ'\n"
                    "            - 'ΑΣ'\n    condition: sel")  # fmt: skip
    assert fires(listed, event(CommandLine="ΑΣΑ"))
    both = engine("    sel:\n        Image|endswith: 'x.exe'\n"
                  "        CommandLine|cased|contains: 'ΑΣ'\n    condition: sel")  # fmt: skip
    assert fires(both, event(Image="C:\\x.exe", CommandLine="ΑΣΑ"))
    assert not fires(both, event(Image="C:\\x.exe", CommandLine="ασα"))


def test_an_unclosed_quote_in_one_regex_cannot_swallow_the_next() -> None:
    """RE2 accepts ``\\Q`` without ``\\E``: joined with the field's other regexes it would
    quote them too, and the rule would fire on neither."""
    built = engine(
        "    sel:\n        CommandLine|re:\n            - '\\Qwhoami /all'\n"
        "            - '\\Qmimikatz\\E'\n            - 'net\\s+user'\n    condition: sel"
    )
    for text in ("whoami /all", "x mimikatz x", "net  user"):
        assert fires(built, event(CommandLine=text)), text
    assert not fires(built, event(CommandLine="whoami"))


def test_regexes_too_large_together_run_one_by_one_and_the_other_rules_load() -> None:
    patterns = "".join(f"            - '{chr(97 + n)}\\pL{{400}}'\n" for n in range(14))
    built = engine(f"    sel:\n        CommandLine|re:\n{patterns}    condition: sel")
    assert fires(built, event(CommandLine="n" + "x" * 400))
    assert not fires(built, event(CommandLine="z" + "x" * 400))

"""Literals a regex match must contain: a wrong one would let an attack through a rule
unseen, so each case here is checked against RE2 itself on texts that match."""

from __future__ import annotations

import random

import pytest
import re2  # type: ignore[import-untyped]

from maat.detect.regex_literals import required_literals
from sigma_kit import engine, event, fires


@pytest.mark.parametrize(
    ("pattern", "ignore_case", "expected", "matching"),
    [
        ("ipconfig\\s+/all", False, {"ipconfig"}, "IPCONFIG? no: ipconfig  /all"),
        ("cmd.{0,5}(?:/c|/r).+powershell.+noexit", False, {"powershell"},
         "cmd.exe /c x powershell -noexit"),
        ("abc|de", False, {"abc", "de"}, "xxdexx"),
        ("ab?cd", False, {"cd"}, "acd"),
        ("abc{2}de", False, {"abc"}, "abccde"),
        ("a.*bcd$", False, {"bcd"}, "a bcd"),
        ("x[^]ab]yz", False, {"yz"}, "x]yz"),
        ("(?i)ab(?s)CD", False, {"ab"}, "AB cd"),
        ("Mimikatz", False, {"mimikatz"}, "run Mimikatz"),
        ("\\$\\{env:path\\}", False, {"${env:path}"}, "${env:path}"),
    ],
)  # fmt: skip
def test_every_match_contains_a_required_literal(
    pattern: str, ignore_case: bool, expected: set[str], matching: str
) -> None:
    found = required_literals(pattern, ignore_case=ignore_case)
    assert found == expected
    compiled = re2.compile(("(?i)" if ignore_case else "") + pattern)
    if compiled.search(matching):
        assert any(literal in matching.lower() for literal in found)


@pytest.mark.parametrize(
    "pattern",
    [
        "abc|d",  # one alternative has no literal worth indexing
        "ab(?P<n>x)cd",  # a named group is not read
        "a\\x41bc",  # escapes with a payload are not decoded
        "\\pLabc|\\p{Greek}xyz",
        "\\Qa|b\\E",
        "[[:alpha:]]abc",
        "abc{,2}de",  # a literal "{" in RE2
        "(?=abc)",
        "ab(",
        "ab)cd|ef",
    ],
)
def test_what_the_scanner_does_not_read_gives_no_literal(pattern: str) -> None:
    assert required_literals(pattern, ignore_case=False) is None


def test_a_long_s_cannot_hide_a_case_insensitive_powershell() -> None:
    """RE2's case folding matches "ſ" (U+017F) for "s"; its lowercase is itself, so under
    (?i) no literal may hold an s."""
    text = "poweRſhell -nop"
    assert re2.search("(?i)powershell", "powerſhell")
    for literals in (required_literals("powershell", ignore_case=True),
                     required_literals("(?i)powershell", ignore_case=False)):  # fmt: skip
        assert literals is not None and all("s" not in lit for lit in literals)
        assert any(lit in text.lower() for lit in literals)
    rule = engine("    sel:\n        CommandLine|re|i: 'powershell -nop'\n    condition: sel")
    assert fires(rule, event(CommandLine="powerſhell -NOP"))


def test_kelvin_sign_lowercases_to_k_so_k_is_kept() -> None:
    assert re2.search("(?i)mimikatz", "mimi\u212aatz")
    literals = required_literals("mimikatz", ignore_case=True)
    assert literals == {"mimikatz"} and "mimikatz" in "mimi\u212aatz".lower()


def test_random_texts_that_match_contain_a_literal() -> None:
    """A fuzz of small patterns over a small alphabet: whenever RE2 finds a match, one of
    the claimed literals is in the text."""
    rng = random.Random(5)
    atoms = ["a", "b", "c", "ab", "(?:a|bc)", "[ab]", ".", "a?", "b*", "c+", "a{0,2}",
             "b{1,2}", "\\.", "|"]  # fmt: skip
    checked = 0
    for _ in range(3000):
        pattern = "".join(rng.choice(atoms) for _ in range(rng.randint(1, 6))).strip("|")
        if not pattern or "||" in pattern:
            continue
        literals = required_literals(pattern, ignore_case=False)
        if literals is None:
            continue
        compiled = re2.compile(pattern)
        for _ in range(30):
            text = "".join(rng.choice("abc.") for _ in range(rng.randint(0, 8)))
            if compiled.search(text):
                checked += 1
                assert any(lit in text for lit in literals), (pattern, text, literals)
    assert checked > 1000


def test_a_regex_only_rule_is_indexed_and_still_fires() -> None:
    built = engine(
        "    sel:\n        CommandLine|re:\n            - 'ipconfig\\s+/all'\n"
        "            - 'route\\s+print'\n    condition: sel"
    )
    bucket = built._buckets[("microsoft-windows-sysmon/operational", 1)]
    assert bucket.always == []
    assert fires(built, event(CommandLine="cmd /c route   print"))
    assert not fires(built, event(CommandLine="cmd /c routeprint"))


@pytest.mark.parametrize(
    ("pattern", "ignore_case", "text"),
    [
        ("whoami(?s)?", False, "whoam"),  # the ? makes the i before the flags optional
        ("ab{1,}(?i){0}", False, "a"),
        ("abc{1,|zz}", False, "run zz}"),  # a literal { whose | is an alternation
        ("вход", True, "\u1c80ход"),  # RE2 folds U+1C80 with в; Python lowers it apart
        ("σσ", True, "ςς"),
        ("ſſ", True, "ss"),
        ("ΑΣ", False, "ΑΣΑ"),  # Python lowers Σ by its neighbours: ας alone, ασα here
    ],
)
def test_a_literal_is_never_claimed_that_a_matching_text_lacks(
    pattern: str, ignore_case: bool, text: str
) -> None:
    """Found by review: each of these once gave a literal the text did not contain."""
    assert re2.search(("(?i)" if ignore_case else "") + pattern, text)
    literals = required_literals(pattern, ignore_case=ignore_case)
    assert literals is None or any(lit in text.lower() for lit in literals)
    flag = "|i" if ignore_case else ""
    rule = engine(f"    sel:\n        CommandLine|re{flag}: '{pattern}'\n    condition: sel")
    assert fires(rule, event(CommandLine=text))

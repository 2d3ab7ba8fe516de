"""Attacks a third review found against the fixes for path encodings, directory patterns and
peer quarantine rulesets, each now refused."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from maat.access.evaluator import AccessRequest, Evaluator
from maat.access.nftables import host_ruleset
from maat.access.paths import resource_path
from maat.access.policy import read_policy
from maat.access.segments import read_segmentation

SEGMENTS = (Path(__file__).parents[3] / "examples" / "access" / "segments.yml").read_text()


def _ev(text: str) -> Evaluator:
    policy, problems = read_policy(text, source="p.yml")
    assert policy is not None, problems
    return Evaluator(policy)


def _decide(ev: Evaluator, resource: str, action: str = "read") -> str:
    return ev.decide(AccessRequest.from_dict({"resource": resource, "action": action})).decision


@pytest.mark.parametrize(
    "target",
    [
        "/admin%u002fusers",  # IIS and ASP.NET decode %uXXXX: /admin/users
        "/plm/%u002e%u002e/admin/users",  # ... and %u002e%u002e is ".."
        "/admin%25u002fusers",  # decoded once to %u002f, which a second decoding reads
        "/admin%zz/users",  # a malformed escape: servers refuse, keep or guess at it
    ],
)
def test_a_percent_left_after_one_decoding_cannot_hide_a_path_from_a_prefix_deny(
    target: str,
) -> None:
    assert resource_path(target) is None


@pytest.mark.parametrize(
    "target",
    [
        "/admin%EF%BC%8Fusers",  # U+FF0F FULLWIDTH SOLIDUS: NFKC and Windows best-fit give "/"
        "/admin\uff0fusers",
        "/admin%E2%88%95users",  # U+2215 DIVISION SLASH: "/" to Windows best-fit
        "/plm/%EF%BC%8E%EF%BC%8E/admin/users",  # U+FF0E FULLWIDTH FULL STOP twice: ".."
        "/plm/%E2%80%A5/admin/users",  # U+2025 TWO DOT LEADER: NFKC ".."
        "/admin%EF%BC%BCusers",  # U+FF3C FULLWIDTH REVERSE SOLIDUS: "\\"
        "/admin%E2%82%A9users",  # U+20A9 WON SIGN: the backslash byte in Korean code page 949
        "/admin%EF%BC%9Bx/users",  # U+FF1B FULLWIDTH SEMICOLON: a path parameter
    ],
)
def test_a_unicode_look_alike_of_a_slash_dot_or_semicolon_cannot_hide_a_path(
    target: str,
) -> None:
    # A server (or its filesystem's ANSI conversion) folding these to ASCII serves
    # /admin/users, while the decision would be on one segment "admin／users".
    assert resource_path(target) is None


def test_non_ascii_names_without_path_syntax_are_still_decided() -> None:
    assert resource_path("/docs/%E8%A8%AD%E8%A8%88.pdf") == "docs/設計.pdf"
    assert resource_path("/docs/caf%C3%A9") == "docs/café"


COLLECTION = """
rules:
  - {id: no-admin, effect: deny, actions: ["*"], resources: ["admin/*"],
     when: [{attr: subject.roles, contains: contractor}]}
  - {id: tickets, effect: allow, actions: [read, write], resources: ["tickets/*"]}
  - {id: anything-nested, effect: allow, actions: [read], resources: ["*/*"]}
"""


def test_an_allow_on_everything_under_a_collection_does_not_allow_the_collection_itself() -> None:
    # "write tickets/*" is the right to change a ticket; "write tickets" (DELETE /tickets,
    # PUT /tickets) is a bulk operation on the collection the author never named. Only
    # denies and step-ups cover the directory itself (they fail closed).
    ev = _ev(COLLECTION)
    assert _decide(ev, "tickets/7", "write") == "allow"
    assert _decide(ev, "tickets", "write") == "deny"
    assert _decide(ev, "wiki", "read") == "deny"  # "*/*" is nested ids only
    contractor = AccessRequest.from_dict(
        {"subject": {"roles": ["contractor"]}, "resource": "admin", "action": "read"}
    )
    assert ev.decide(contractor).decision == "deny"
    assert ev.decide(contractor).rules == ("no-admin",)


@pytest.mark.parametrize("address", ["fe80::5%eth0", "fd00::5%x }", "10.10.0.5/24"])
def test_a_scoped_or_malformed_address_cannot_break_every_peers_ruleset(address: str) -> None:
    # nft refuses "fe80::5%eth0" in a set, and a ruleset that does not parse is not loaded
    # at all (nft -f is atomic): one quarantined device with a zone index in its address
    # would have left every peer on its old ruleset, accepting every quarantined host.
    seg, problems = read_segmentation(SEGMENTS, source="segments.yml")
    assert seg is not None, problems
    ruleset = host_ruleset(seg, "servers", quarantined=[address, "10.10.0.6"])
    assert "%" not in ruleset and "10.10.0.5/24" not in ruleset
    assert "elements = { 10.10.0.6 }" in ruleset
    nft = shutil.which("nft")
    if nft is not None:
        checked = subprocess.run([nft, "-c", "-f", "-"], input=ruleset, text=True,
                                 capture_output=True, check=False)  # fmt: skip
        if "Operation not permitted" not in checked.stderr:
            assert checked.returncode == 0, checked.stderr


def test_raw_non_ascii_bytes_cannot_name_a_path_apart_from_its_percent_encoding() -> None:
    # Proxies hand the target over as bytes read as latin-1: raw UTF-8 "café" arrives as
    # "cafÃ©" and was decided as another resource than "caf%C3%A9", which the upstream
    # serves as the same file, so a deny on docs/café/* missed it. A target is ASCII.
    ev = _ev("""
rules:
  - {id: no-cafe, effect: deny, actions: ["*"], resources: ["docs/café/*"]}
  - {id: all, effect: allow, actions: ["*"], resources: ["*"]}
""")
    assert _decide(ev, resource_path("/docs/caf%C3%A9/menu") or "?") == "deny"
    assert resource_path("/docs/caf\xc3\xa9/menu") is None
    assert resource_path("/docs/café/menu") is None


@pytest.mark.parametrize("cidr", ["fe80::%eth0/64", "::ffff:10.30.0.0/112"])
def test_a_segment_network_nft_or_the_flow_check_cannot_match_is_refused(cidr: str) -> None:
    # "fe80::%eth0/64" made every host's ruleset one nft refuses (nothing loads); an
    # IPv4-mapped network never holds an address (::ffff:10.30.0.5 is judged as 10.30.0.5)
    # and also hid its overlap with 10.30.0.0/16.
    _, problems = read_segmentation(
        f"segments:\n  servers: {{cidrs: [10.30.0.0/16]}}\n  lab: {{cidrs: ['{cidr}']}}\n"
        "flows: []\n",
        source="s.yml",
    )
    assert [p.location.field for p in problems] == ["segments.lab.cidrs[0]"]

"""The execution policy: YAML with located errors, lint in one pass, and decide()'s truth table."""

from __future__ import annotations

import dataclasses
import textwrap

import pytest
import yaml

from maat.errors import InvalidInput
from maat.signing.policy import (
    AllowHash,
    AllowPath,
    AllowPublisher,
    DenyHash,
    DenyPath,
    DenyPublisher,
    ExecPolicy,
    Sighting,
    decide,
    lint_policies,
    load_policy,
    name_matches,
    path_matches,
    policy_digest,
)

TROJAN = "6" * 64
LEGACY = "a" * 64
WWLIB = "b" * 64
ACME = "CN=Acme ERP Code Signing,O=Acme Software,C=TW"
ACME_CA = "CN=Maat Test Code Signing CA,O=Maat Test"

POLICY = textwrap.dedent(
    f"""\
    name: erp-workstations
    version: 3
    mode: enforce
    description: what may run where the Acme ERP client is installed
    host_groups: [engineering, finance]
    rules:
      - deny_hash: {{sha256: ["{TROJAN}"], label: CXCLNT dropper}}
      - deny_publisher: {{subject: "CN=Earth Ammit Signing"}}
      - deny_path: {{glob: "C:/Users/*/AppData/**"}}
      - allow_publisher:
          subject: "{ACME}"
          issuer: "{ACME_CA}"
          product: Acme ERP
          min_version: "7.0"
      - allow_hash: {{sha256: ["sha256:{LEGACY.upper()}"], label: legacy installer}}
      - allow_path: {{glob: "C:/Windows/System32/**"}}
    """
)


@pytest.fixture(scope="module")
def policy() -> ExecPolicy:
    return load_policy(POLICY, source="policies/erp.yaml")


def sighting(**changes: object) -> Sighting:
    base = Sighting(
        sha256="c" * 64,
        path="C:\\Program Files\\Acme\\ERP\\erp-update.exe",
        signer_subject=ACME,
        signer_issuer=ACME_CA,
        signature_valid=True,
        revoked=False,
        product="Acme ERP",
        version="7.2.1",
        host_group="engineering",
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


# --- loading ----------------------------------------------------------------------------------


def test_policy_loads_into_typed_rules_in_order(policy: ExecPolicy) -> None:
    assert (policy.name, policy.version, policy.mode) == ("erp-workstations", 3, "enforce")
    assert policy.host_groups == ("engineering", "finance")
    assert [type(r) for r in policy.rules] == [
        DenyHash,
        DenyPublisher,
        DenyPath,
        AllowPublisher,
        AllowHash,
        AllowPath,
    ]
    assert policy.rules[3] == AllowPublisher(ACME, ACME_CA, "Acme ERP", "7.0")
    assert policy.rules[4] == AllowHash((LEGACY,), "legacy installer")
    assert policy.rules[0] != AllowHash((TROJAN,), "CXCLNT dropper")


def load_error(text: str) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        load_policy(textwrap.dedent(text), source="policies/erp.yaml")
    assert caught.value.location.file == "policies/erp.yaml"
    return caught.value


def test_misspelled_rule_key_names_file_line_and_key_path() -> None:
    error = load_error(POLICY.replace("      issuer:", "      issuerr:"))
    assert error.location.line == 12
    assert error.location.field == "rules[3].allow_publisher.issuerr"
    assert "unknown key 'issuerr'" in error.message
    assert str(error.location) == "policies/erp.yaml:12, field 'rules[3].allow_publisher.issuerr'"


def test_unknown_top_level_key_is_an_error_not_ignored() -> None:
    error = load_error(POLICY + "default: allow\n")
    assert (error.location.line, error.location.field) == (17, "default")


def test_unknown_rule_kind_is_named() -> None:
    error = load_error(POLICY + "  - allow_everything: {}\n")
    assert error.location.field == "rules[6].allow_everything"


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        (POLICY.replace("version: 3", "version: three"), "version", "whole number"),
        (POLICY.replace("version: 3", "version: 0"), "version", "whole number"),
        (POLICY.replace("mode: enforce", "mode: strict"), "mode", "'audit' or 'enforce'"),
        (POLICY.replace("mode: enforce\n", ""), "mode", "missing key"),
        (
            POLICY.replace('min_version: "7.0"', "min_version: seven"),
            "rules[3].allow_publisher.min_version",
            "not a version",
        ),
        (POLICY.replace(f'["{TROJAN}"]', '["beef"]'), "rules[0].deny_hash.sha256[0]", "SHA-256"),
        (
            POLICY.replace('"CN=Earth Ammit Signing"', '"CN=,O=x"'),
            "rules[1].deny_publisher.subject",
            "not a valid DN",
        ),
        (
            POLICY.replace("host_groups: [engineering, finance]", "host_groups: []"),
            "host_groups",
            "non-empty list",
        ),
        (
            POLICY.replace("name: erp-workstations", "name: erp\nname: erp2"),
            "name",
            "duplicate key",
        ),
        (
            POLICY.replace("allow_path: {glob", "allow_path: {glob: x, globe"),
            "rules[5].allow_path.globe",
            "unknown key",
        ),
        (
            POLICY.replace("  - allow_hash", "  - allow_path: {glob: x}\n    allow_hash"),
            "rules[4]",
            "one key",
        ),
    ],
)
def test_each_bad_value_is_located(text: str, field: str, words: str) -> None:
    error = load_error(text)
    assert error.location.field == field
    assert words in error.message
    assert error.location.line is not None


def test_yaml_syntax_error_gives_the_line() -> None:
    error = load_error("name: x\nrules: [\n")
    assert "not valid YAML" in error.message
    assert error.location.line == 3


def test_billion_laughs_aliases_are_refused() -> None:
    bomb = 'a: &a ["x","x"]\nb: &b [*a,*a]\nc: &c [*b,*b]\nname: *c\n'
    error = load_error(bomb)
    assert "aliases" in error.message or "unknown key" in error.message
    shared = POLICY.replace("[engineering, finance]", "[&g engineering, *g]")
    problems = lint_policies([("alias.yaml", shared)])
    assert any("aliases" in p.message for p in problems)


def test_python_object_tags_are_refused_without_being_constructed() -> None:
    error = load_error(
        POLICY.replace("name: erp-workstations", "name: !!python/object/apply:os.system [id]")
    )
    assert "unsupported YAML tag" in error.message


def test_load_tells_how_many_more_problems_exist() -> None:
    error = load_error(
        POLICY.replace("mode: enforce", "mode: strict").replace("version: 3", "version: x")
    )
    assert "and 1 more problem(s)" in error.message


# --- lint -------------------------------------------------------------------------------------


def test_lint_reports_every_problem_of_every_file_in_one_pass(policy: ExecPolicy) -> None:
    broken = POLICY.replace("mode: enforce", "mode: strict").replace("issuer:", "issuerr:")
    broken = broken.replace(f'["{TROJAN}"]', '["beef"]')
    problems = lint_policies(
        [
            ("a.yaml", broken),
            ("b.yaml", "name: x\nrules: [\n"),
            ("c.yaml", POLICY),
            ("d.yaml", POLICY),
        ]
    )
    errors = [
        (p.location.file, p.location.line, p.location.field)
        for p in problems
        if not p.message.startswith("warning")
    ]
    assert ("a.yaml", 3, "mode") in errors
    assert ("a.yaml", 7, "rules[0].deny_hash.sha256[0]") in errors
    assert ("a.yaml", 12, "rules[3].allow_publisher.issuerr") in errors
    assert ("b.yaml", 3, None) in errors
    assert any(
        p.location.file == "d.yaml" and "also defined in c.yaml" in p.message for p in problems
    )


def test_lint_warns_about_weak_rules() -> None:
    weak = textwrap.dedent(
        f"""\
        name: weak
        version: 1
        mode: audit
        host_groups: ["*"]
        rules:
          - deny_hash: {{sha256: ["{LEGACY}"]}}
          - allow_path: {{glob: "C:/Users/*/Downloads/*.exe"}}
          - allow_path: {{glob: "**/wwlib.dll"}}
          - allow_hash: {{sha256: ["{LEGACY}"]}}
          - allow_publisher: {{subject: Acme ERP Code Signing}}
        """
    )
    messages = {p.location.field: p.message for p in lint_policies([("weak.yaml", weak)])}
    assert "users can write" in messages["rules[1].allow_path"]
    assert "users can write" in messages["rules[2].allow_path"]
    assert "deny wins" in messages["rules[3].allow_hash"]
    assert "no issuer" in messages["rules[4].allow_publisher"]
    empty = weak.split("rules:")[0] + "rules: []\n"
    assert any("every file is blocked" in p.message for p in lint_policies([("e.yaml", empty)]))


# --- decide: the truth table ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "action", "rule_index", "words"),
    [
        ({}, "run", 3, "allowed by erp-workstations v3 rules[3] allow_publisher"),
        (
            {"sha256": TROJAN},
            "block",
            0,
            "denied by erp-workstations v3 rules[0] deny_hash (CXCLNT dropper)",
        ),
        ({"revoked": True}, "block", None, "certificate is revoked"),
        ({"signature_valid": False}, "block", None, "signature is not valid"),
        ({"signer_issuer": "CN=Earth Ammit CA"}, "block", None, "no allow rule matches"),
        ({"product": "Acme CAD"}, "block", None, "product is 'Acme CAD'"),
        ({"version": "6.9"}, "block", None, "below the minimum 7.0"),
        ({"version": "not a version"}, "block", None, "cannot be compared"),
        ({"version": None}, "block", None, "below the minimum"),
        (
            {"signer_subject": None, "signer_issuer": None, "sha256": LEGACY},
            "run",
            4,
            "allow_hash (legacy installer)",
        ),
        (
            {"signer_subject": None, "signer_issuer": None},
            "block",
            None,
            "no allow rule matches (fail closed)",
        ),
        (
            {"signer_subject": "CN=Earth Ammit Signing", "signature_valid": False},
            "block",
            1,
            "deny_publisher",
        ),
        ({"path": "C:\\Users\\bob\\AppData\\Local\\Temp\\erp-update.exe"}, "block", 2, "deny_path"),
        (
            {"signer_subject": None, "path": "C:\\WINDOWS\\system32\\notepad.exe"},
            "run",
            5,
            "allow_path",
        ),
        (
            {"signer_subject": None, "path": "c:/windows/system32/../../Users/x/evil.exe"},
            "block",
            None,
            "fail closed",
        ),
        (
            {"revoked": True, "path": "C:\\Windows\\System32\\erp.exe"},
            "block",
            None,
            "signature is bad or revoked",
        ),
    ],
)
def test_decide_truth_table(
    policy: ExecPolicy, changes: dict[str, object], action: str, rule_index: int | None, words: str
) -> None:
    result = decide([policy], sighting(**changes))
    assert result.action == action
    assert result.would_block is (action == "block")
    assert result.rule_index == rule_index
    assert (result.policy_name, result.policy_version, result.mode) == (
        "erp-workstations",
        3,
        "enforce",
    )
    assert any(words in r for r in result.reasons), result.reasons
    assert result.to_decision().allowed is (action == "run")


def test_trojanised_erp_update_signed_by_revoked_certificate_is_blocked(policy: ExecPolicy) -> None:
    result = decide([policy], sighting(revoked=True))
    assert result.action == "block"
    assert result.rule is None
    assert "the signer matches but its certificate is revoked" in result.reasons[-1]


def test_deny_wins_over_an_earlier_allow(policy: ExecPolicy) -> None:
    reordered = dataclasses.replace(policy, rules=(policy.rules[3], policy.rules[0]))
    assert decide([reordered], sighting(sha256=TROJAN)).action == "block"


def test_tidrone_unsigned_wwlib_in_the_vendor_folder_is_blocked(policy: ExecPolicy) -> None:
    wwlib = sighting(
        sha256=WWLIB,
        path="C:\\Program Files\\Acme\\ERP\\wwlib.dll",
        signer_subject=None,
        signer_issuer=None,
        product=None,
        version=None,
    )
    result = decide([policy], wwlib)
    assert result.action == "block"
    assert result.reasons[0] == "no allow rule matches (fail closed)"


def test_no_policy_for_the_host_group_blocks(policy: ExecPolicy) -> None:
    for policies in ([], [policy]):
        result = decide(policies, sighting(host_group="ot-network"))
        assert (result.action, result.would_block) == ("block", True)
        assert result.reasons == ("no policy for host group 'ot-network'",)
        assert result.policy_name is None


def test_star_host_group_covers_every_group(policy: ExecPolicy) -> None:
    everywhere = dataclasses.replace(policy, host_groups=("*",))
    assert decide([everywhere], sighting(host_group="ot-network")).action == "run"


def test_audit_mode_runs_but_reports_would_block(policy: ExecPolicy) -> None:
    audit = dataclasses.replace(policy, mode="audit")
    result = decide([audit], sighting(sha256=TROJAN))
    assert (result.action, result.would_block, result.mode) == ("run", True, "audit")
    assert result.reasons[0].startswith("audit mode, would block: denied by")
    quiet = decide([audit], sighting())
    assert (quiet.action, quiet.would_block) == ("run", False)


def test_audit_policy_next_to_an_enforced_one_only_reports(policy: ExecPolicy) -> None:
    trial = ExecPolicy("trial", 1, "audit", (DenyHash(("c" * 64,)),), ("engineering",))
    result = decide([policy, trial], sighting())
    assert (result.action, result.would_block) == ("run", True)
    assert result.policy_name == "erp-workstations"
    assert any(r.startswith("audit policy would block: denied by trial v1") for r in result.reasons)


def test_rules_of_several_enforced_policies_combine_and_deny_wins(policy: ExecPolicy) -> None:
    ban = ExecPolicy("ban", 1, "enforce", (DenyPublisher(ACME),), ("engineering",))
    result = decide([policy, ban], sighting())
    assert (result.action, result.policy_name) == ("block", "ban")
    extra = ExecPolicy("extra", 1, "enforce", (AllowHash(("d" * 64,)),), ("engineering",))
    assert decide([policy, extra], sighting(sha256="d" * 64, signer_subject=None)).action == "run"


def test_bad_sighting_digest_is_invalid_input() -> None:
    with pytest.raises(InvalidInput):
        sighting(sha256="xyz")
    assert sighting(sha256="SHA256:" + "A" * 64).sha256 == "a" * 64


# --- matching helpers and digest --------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        (ACME, "C=TW, O=acme software, CN=ACME ERP  Code Signing", True),
        ("Acme ERP Code Signing", ACME, True),
        ("Acme Software", ACME, False),
        ("CN=Acme ERP Code Signing", ACME, False),
        ("CN=Acme\\, Inc", "CN=Acme\\2C Inc", True),
        ("CN=Acme", None, False),
    ],
)
def test_name_matching(pattern: str, name: str | None, expected: bool) -> None:
    assert name_matches(pattern, name) is expected


@pytest.mark.parametrize(
    ("glob", "path", "expected"),
    [
        ("C:/Windows/System32/*", "C:\\Windows\\System32\\cmd.exe", True),
        ("C:/Windows/System32/*", "C:\\Windows\\System32\\Tasks\\evil.exe", False),
        ("C:/Windows/System32/**", "C:\\Windows\\System32\\Tasks\\evil.exe", True),
        ("C:/Windows/**/cmd.exe", "C:\\Windows\\cmd.exe", True),
        ("C:/Windows/System32/*", "C:\\Windows\\System32\\..\\Temp\\x.exe", False),
        ("C:/Temp/evil.exe", "C:\\Temp\\EVIL.exe. ", True),
        ("/usr/bin/*", "/usr/bin/ls", True),
        ("/usr/bin/*", "/USR/bin/ls", False),
        ("/usr/bin/?s", "/usr/bin/ls", True),
    ],
)
def test_path_matching(glob: str, path: str, expected: bool) -> None:
    assert path_matches(glob, path) is expected


def test_policy_digest_ignores_formatting_but_not_content(policy: ExecPolicy) -> None:
    reformatted = yaml.safe_dump(yaml.safe_load(POLICY), sort_keys=True)
    same = load_policy(reformatted, source="other.yaml")
    assert policy_digest(same) == policy_digest(policy)
    assert policy_digest(policy).startswith("sha256:") and len(policy_digest(policy)) == 71
    changed = dataclasses.replace(policy, rules=policy.rules[:-1])
    assert policy_digest(changed) != policy_digest(policy)
    assert policy_digest(dataclasses.replace(policy, mode="audit")) != policy_digest(policy)

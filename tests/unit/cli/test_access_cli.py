"""``maat access decide`` and ``maat policy lint|test`` (no server)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from maat.cli.main import app

EXAMPLES = Path(__file__).parents[3] / "examples" / "access"
runner = CliRunner()


def test_decide_prints_one_line_per_request_and_keeps_going_after_a_bad_one(
    tmp_path: Path,
) -> None:
    requests = tmp_path / "requests.jsonl"
    good = {"subject": {"id": "a", "roles": ["engineer"]}, "device": {"posture": "trusted"},
            "resource": "wiki/page", "action": "read"}  # fmt: skip
    requests.write_text(json.dumps(good) + "\n{broken\n\n" + json.dumps({**good, "x": 1}) + "\n")
    result = runner.invoke(app, ["access", "decide", "--policy", str(EXAMPLES / "policy.yml"),
                                 "--input", str(requests), "--format", "jsonl"])  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["decision"] for line in lines] == ["allow", "deny", "deny"]
    assert lines[0] == {"decision": "allow", "reasons": ["rule employees-read-wiki allows"],
                        "rules": ["employees-read-wiki"]}  # fmt: skip
    assert lines[1]["reasons"][0].startswith("line 2: not JSON")
    assert lines[2]["reasons"] == ["line 4 (request.x): unknown key 'x'; expected subject, "
                                   "device, resource, action, context"]  # fmt: skip
    assert f"{requests}:2:" in result.stderr


def test_decide_with_a_broken_policy_denies_every_request_and_exits_1(tmp_path: Path) -> None:
    policy = tmp_path / "p.yml"
    policy.write_text("rules:\n  - {effect: allow, actions: [read], resources: ['*'], when: 1}\n")
    requests = tmp_path / "r.jsonl"
    requests.write_text('{"action": "read", "resource": "x"}\n' * 2)
    result = runner.invoke(app, ["access", "decide", "--policy", str(policy), "--input",
                                 str(requests), "--format", "jsonl"])  # fmt: skip
    assert result.exit_code == 1
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 2 and all(line["decision"] == "deny" for line in lines)
    assert "policy did not load" in lines[0]["reasons"][0]
    assert f"{policy}:2" in result.stderr and "rules[0].when" in result.stderr


def test_policy_lint_and_test_on_the_example() -> None:
    result = runner.invoke(app, ["policy", "lint", str(EXAMPLES / "policy.yml")])
    assert result.exit_code == 0 and "6 rule(s)" in result.stdout
    result = runner.invoke(app, ["policy", "test", str(EXAMPLES / "policy.yml"), "--cases",
                                 str(EXAMPLES / "cases.yml")])  # fmt: skip
    assert result.exit_code == 0, result.stdout
    assert "case(s) passed" in result.stdout and "✗" not in result.stdout


def test_policy_test_fails_on_a_wrong_expectation(tmp_path: Path) -> None:
    cases = tmp_path / "cases.yml"
    cases.write_text("""cases:
  - name: vendor writes the ERP
    request: {subject: {roles: [vendor-support]}, device: {posture: trusted},
              resource: erp/x, action: write}
    expect: allow
""")
    result = runner.invoke(app, ["policy", "test", str(EXAMPLES / "policy.yml"), "--cases",
                                 str(cases)])  # fmt: skip
    assert result.exit_code == 1
    assert f"{cases}:2: vendor writes the ERP: expected allow, got deny" in result.stdout

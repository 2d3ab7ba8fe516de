"""Questionnaires and answers as YAML: located problems, weighted scores, evidence, expiry."""

from __future__ import annotations

from datetime import UTC, date, datetime

from maat.services.assessments import default_questionnaire
from maat.vendors.assessment import Answers, assess, read_answers, read_questionnaire

NOW = datetime(2026, 11, 25, tzinfo=UTC)


def test_the_default_questionnaire_covers_what_the_issue_asks_for() -> None:
    form = default_questionnaire()
    ids = {q.id for q in form.questions}
    assert {"iso27001", "soc2_type2", "vulnerability_management", "incident_response_plan",
            "incident_notification_hours", "secure_development", "code_signing_keys_in_hsm",
            "sbom_with_every_delivery"} <= ids  # fmt: skip
    iso = next(q for q in form.questions if q.id == "iso27001")
    assert iso.details == ("number", "scope", "expires") and iso.evidence


def test_every_problem_in_a_questionnaire_is_located_in_one_pass() -> None:
    text = """id: q
title: t
version: 1
valid_days: 365
questions:
  - id: a
    text: A?
    kind: yes_no
    weigth: 2
  - id: b
    text: B?
    kind: maybe
    weight: 1
"""
    form, problems = read_questionnaire(text, source="q.yml")
    assert form is None
    found = {(p.location.line, p.location.field, p.message.split(";")[0]) for p in problems}
    assert (9, "questions[0].weigth", "unknown key 'weigth'") in found
    assert any(line == 12 and field == "questions[1].kind" for line, field, _ in found)


def answers(**given: dict[str, str] | str) -> Answers:
    parts = {k: (v if isinstance(v, dict) else {"answer": v}) for k, v in given.items()}
    return Answers("maat-default", "V", date(2026, 11, 1), parts)


def test_scores_weigh_answers_details_and_evidence() -> None:
    form = default_questionnaire()
    full = {"answer": "yes", "number": "IS 1", "scope": "all", "expires": "2027-06-30"}
    best = answers(iso27001=full, soc2_type2={"answer": "yes", "report_date": "2026-05-01",
                                              "exceptions": "0"},
                   vulnerability_management="measured_sla", critical_fix_days="5",
                   incident_response_plan={"answer": "yes", "last_exercise": "2026-03-01"},
                   incident_notification_hours="24", secure_development="ssdf_or_samm_measured",
                   code_signing_keys_in_hsm="yes", sbom_with_every_delivery="yes")  # fmt: skip
    evidence = {
        "iso27001": ["a" * 64],
        "soc2_type2": ["b" * 64],
        "code_signing_keys_in_hsm": ["c" * 64],
    }
    result = assess(form, best, evidence=evidence, now=NOW)
    assert result.score == 100.0 and result.missing == ()
    # The ISO certificate ends before the year of validity does: the assessment ends with it.
    assert result.expires_at == datetime(2027, 6, 30, tzinfo=UTC)
    without = assess(form, best, evidence={}, now=NOW)
    iso = next(p for p in without.points if p[0] == "iso27001")
    assert iso[1] == 2.0 and "no evidence" in iso[3]  # half of 4
    partial = assess(form, answers(iso27001="yes", critical_fix_days="45"), evidence={}, now=NOW)
    points = {p[0]: p for p in partial.points}
    assert points["iso27001"][3] == "yes, but without number, scope, expires; no evidence"
    assert points["critical_fix_days"][1] == 0.3  # 3 x 0.1 (within 90 days)
    assert "sbom_with_every_delivery" in partial.missing


def test_answer_file_problems_are_located() -> None:
    parsed, problems = read_answers("questionnaire: q\nvendor: V\nanswered_at: yesterday\n"
                                    "answers: {a: {detail: x}}\n", source="a.yml")  # fmt: skip
    assert parsed is None
    messages = {(p.location.field, p.message) for p in problems}
    assert ("answered_at", "'yesterday' is not a date (YYYY-MM-DD)") in messages
    assert ("answers.a", "missing key 'answer'") in messages

"""Answers a vendor could write to score higher or stay valid longer than it should."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from maat.services.assessments import default_questionnaire
from maat.vendors.assessment import Answers, assess, read_questionnaire

NOW = datetime(2026, 11, 25, tzinfo=UTC)
ISO = {"answer": "yes", "number": "IS 1", "scope": "all"}


def _points(answers: Answers, question: str) -> float:
    result = assess(default_questionnaire(), answers, evidence={question: ["a" * 64]}, now=NOW)
    return next(earned for qid, earned, _, _ in result.points if qid == question)


def _answers(answered: date = date(2026, 11, 1), **given: dict[str, str]) -> Answers:
    return Answers("maat-default", "V", answered, dict(given))


@pytest.mark.parametrize("days", ["-1", "-inf", "inf", "nan", "-0.5"])
def test_negative_or_non_finite_fix_days_earn_nothing(days: str) -> None:
    # "We fix criticals within -1 days" is not better than 7: it is not an answer.
    assert _points(_answers(critical_fix_days={"answer": days}), "critical_fix_days") == 0.0


def test_a_real_fix_time_still_scores() -> None:
    assert _points(_answers(critical_fix_days={"answer": "5"}), "critical_fix_days") == 3.0


def test_iso_certificate_with_an_unreadable_expiry_is_not_a_full_yes() -> None:
    # Writing "never" must neither earn the full points nor keep the assessment's own expiry.
    given = _answers(iso27001={**ISO, "expires": "never"})
    result = assess(default_questionnaire(), given, evidence={"iso27001": ["a" * 64]}, now=NOW)
    earned = next(e for q, e, _, _ in result.points if q == "iso27001")
    assert earned == 2.0  # half of 4: a yes without a usable expiry
    assert "iso27001.expires" in result.missing


def test_iso_certificate_with_a_real_expiry_is_a_full_yes() -> None:
    given = _answers(iso27001={**ISO, "expires": "2027-06-30"})
    assert _points(given, "iso27001") == 4.0


def test_answers_dated_in_the_future_do_not_extend_validity() -> None:
    # Dating the answers 2099 would keep the assessment valid for ever.
    given = _answers(date(2099, 1, 1), critical_fix_days={"answer": "5"})
    result = assess(default_questionnaire(), given, evidence={}, now=NOW)
    assert result.expires_at <= NOW + timedelta(days=365)


@pytest.mark.parametrize("bound", ["inf", "nan", "-inf", "1e400"])
def test_a_non_finite_scale_bound_is_a_located_problem(bound: str) -> None:
    text = f"""id: q
title: t
version: 1
valid_days: 365
questions:
  - id: days
    text: Days?
    kind: number
    weight: 1
    scale: {{"{bound}": 1}}
"""
    form, problems = read_questionnaire(text, source="q.yml")
    assert form is None
    assert any(p.location.field and "scale" in p.location.field for p in problems)

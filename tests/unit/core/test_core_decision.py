"""Tests for maat.core.decision."""

from __future__ import annotations

import pytest

from maat.core.decision import Decision, StepResult, Verdict
from maat.errors import PermissionDenied, VerificationFailed


def test_allow_enforces_silently() -> None:
    decision = Decision.allow("role admin")
    assert decision.allowed
    assert decision.reasons == ("role admin",)
    decision.enforce()


def test_deny_raises_with_reasons_and_subject() -> None:
    decision = Decision.deny("posture untrusted", "no MFA", subject="alice → db")
    assert not decision.allowed
    with pytest.raises(PermissionDenied) as info:
        decision.enforce()
    message = str(info.value)
    assert "alice → db" in message
    assert "posture untrusted" in message
    assert "no MFA" in message


def test_deny_without_reasons_still_raises() -> None:
    with pytest.raises(PermissionDenied, match="no reason given"):
        Decision.deny().enforce()


def test_verdict_passes_only_when_every_step_passes() -> None:
    verdict = Verdict.from_steps(
        [StepResult(1, "digest", True, "ok"), StepResult(2, "signature", True, "ok")]
    )
    assert verdict.passed
    assert verdict.failed_steps == ()
    verdict.enforce()


def test_verdict_with_failed_step_names_it() -> None:
    verdict = Verdict.from_steps(
        [
            StepResult(1, "digest", True, "ok"),
            StepResult(2, "chain", False, "issuer unknown"),
            StepResult(3, "revocation", False, "revoked 2024-05-01"),
        ]
    )
    assert not verdict.passed
    with pytest.raises(VerificationFailed) as info:
        verdict.enforce()
    assert "2 (chain)" in info.value.message
    assert "3 (revocation)" in info.value.message
    assert len(info.value.reasons) == 2
    assert "issuer unknown" in info.value.reasons[0]
    assert "revoked 2024-05-01" in info.value.reasons[1]


def test_verdict_without_steps_fails_closed() -> None:
    verdict = Verdict.from_steps([])
    assert not verdict.passed
    with pytest.raises(VerificationFailed) as info:
        verdict.enforce()
    assert info.value.reasons == ("no verification step was run",)


def test_verdict_constructor_rejects_contradiction() -> None:
    with pytest.raises(ValueError, match="from_steps"):
        Verdict(True, ())
    with pytest.raises(ValueError, match="from_steps"):
        Verdict(True, (StepResult(1, "x", False, ""),))


def test_step_result_str() -> None:
    assert str(StepResult(4, "timestamp", False, "expired")) == (
        "step 4 (timestamp) FAILED: expired"
    )

"""Results of policy decisions and verifications, both failing closed.

A :class:`Decision` answers "may this happen?" with reasons; a :class:`Verdict` collects the
numbered steps of a verification (signature, chain, revocation, …) and passes only when there
is at least one step and every step passed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from operator import attrgetter

from maat.errors import PermissionDenied, VerificationFailed

__all__ = ["Decision", "StepResult", "Verdict"]

_PASSED = attrgetter("passed")


@dataclass(frozen=True, slots=True)
class Decision:
    """An allow / deny answer with the reasons for it and, optionally, what it was about."""

    allowed: bool
    reasons: tuple[str, ...] = ()
    subject: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.allowed, bool):
            raise TypeError("Decision.allowed must be a bool")
        object.__setattr__(self, "reasons", tuple(str(r) for r in self.reasons))

    @classmethod
    def allow(cls, *reasons: str, subject: str = "") -> Decision:
        """An allowing decision, e.g. ``Decision.allow("role admin grants vendors:write")``."""
        return cls(True, reasons, subject)

    @classmethod
    def deny(cls, *reasons: str, subject: str = "") -> Decision:
        """A denying decision, e.g. ``Decision.deny("device posture below 'trusted'")``."""
        return cls(False, reasons, subject)

    def enforce(self) -> None:
        """Return if allowed; otherwise raise :class:`~maat.errors.PermissionDenied`.

        The error message names the subject (when set) and lists every reason.
        """
        if self.allowed:
            return
        what = f"{self.subject}: " if self.subject else ""
        why = "; ".join(self.reasons) if self.reasons else "no reason given"
        raise PermissionDenied(f"{what}denied: {why}")


@dataclass(frozen=True, slots=True)
class StepResult:
    """The outcome of one numbered verification step."""

    number: int
    name: str
    passed: bool
    detail: str = ""

    def __str__(self) -> str:
        outcome = "passed" if self.passed else "FAILED"
        text = f"step {self.number} ({self.name}) {outcome}"
        return f"{text}: {self.detail}" if self.detail else text


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of a verification made of steps.

    Build with :meth:`from_steps`: ``passed`` is true only if there is at least one step and
    all passed (fail closed). The constructor rejects a ``passed`` that contradicts the steps.
    """

    passed: bool
    steps: tuple[StepResult, ...]

    def __post_init__(self) -> None:
        steps = self.steps if type(self.steps) is tuple else tuple(self.steps)
        object.__setattr__(self, "steps", steps)
        expected = bool(steps) and all(map(_PASSED, steps))
        if self.passed is not expected:
            raise ValueError(
                "Verdict.passed contradicts its steps; build verdicts with Verdict.from_steps"
            )

    @classmethod
    def from_steps(cls, steps: Iterable[StepResult]) -> Verdict:
        """A verdict over ``steps``; passed only when non-empty and every step passed."""
        collected = tuple(steps)
        verdict = object.__new__(cls)  # passed is computed here, so __post_init__'s check is moot
        object.__setattr__(verdict, "passed", bool(collected) and all(map(_PASSED, collected)))
        object.__setattr__(verdict, "steps", collected)
        return verdict

    @property
    def failed_steps(self) -> tuple[StepResult, ...]:
        """The steps that did not pass, in order."""
        return tuple(step for step in self.steps if not step.passed)

    @property
    def reasons(self) -> tuple[str, ...]:
        """One line per failed step (or one line saying no step ran)."""
        if not self.steps:
            return ("no verification step was run",)
        return tuple(str(step) for step in self.failed_steps)

    def enforce(self) -> None:
        """Return if passed; otherwise raise :class:`~maat.errors.VerificationFailed`.

        The error's ``reasons`` name each failed step with its detail.
        """
        if self.passed:
            return
        failed = self.failed_steps
        if failed:
            names = ", ".join(f"{s.number} ({s.name})" for s in failed)
            message = f"verification failed at step{'s' if len(failed) > 1 else ''} {names}"
        else:
            message = "verification failed: no verification step was run"
        raise VerificationFailed(message, reasons=self.reasons)

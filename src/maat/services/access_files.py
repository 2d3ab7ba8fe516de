"""Access policies and policy cases read from files (the CLI's and the server's shared part)."""

from __future__ import annotations

from pathlib import Path

from maat.access.cases import PolicyCase, read_cases
from maat.access.evaluator import Evaluator
from maat.access.policy import Policy, read_policy
from maat.errors import Problem

__all__ = ["evaluator_from_file", "read_cases_file", "read_policy_file"]

MAX_POLICY_BYTES = 16 * 1024 * 1024


def _text(path: Path) -> tuple[str | None, list[Problem]]:
    try:
        if path.stat().st_size > MAX_POLICY_BYTES:
            return None, [Problem.at(f"larger than {MAX_POLICY_BYTES:,} bytes", file=str(path))]
        return path.read_text(encoding="utf-8"), []
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Problem.at(f"cannot read: {exc}", file=str(path))]


def read_policy_file(path: Path) -> tuple[Policy | None, list[Problem]]:
    """The policy in ``path`` and every problem (file, line, key path)."""
    text, problems = _text(path)
    if text is None:
        return None, problems
    return read_policy(text, source=str(path))


def evaluator_from_file(path: Path) -> tuple[Evaluator, list[Problem]]:
    """An evaluator for ``path``; one that denies everything when the policy does not load."""
    policy, problems = read_policy_file(path)
    if policy is None:
        return Evaluator(None, broken=[str(p) for p in problems[:3]]), problems
    return Evaluator(policy), problems


def read_cases_file(path: Path) -> tuple[list[PolicyCase], list[Problem]]:
    """The policy cases in ``path`` and every problem."""
    text, problems = _text(path)
    if text is None:
        return [], problems
    return read_cases(text, source=str(path))

"""Vendor assessments: questionnaires as YAML, answers as YAML, weighted scores, expiry.

A questionnaire is a list of weighted questions of four kinds: ``yes_no``, ``choice`` (each
choice worth a fraction), ``number`` (a ``scale`` of upper bounds to fractions: an incident
notified within 24 h is worth more than within a week) and ``date`` (must not be past).
A question may require ``details`` (an ISO 27001 certificate's number, scope and expiry)
and ``evidence`` (files, stored by their SHA-256); a "yes" without its required evidence
earns half. An assessment expires ``valid_days`` after it was answered, or earlier when an
``expires`` detail (a certificate's end) comes first.

Every problem in a questionnaire or an answer file is reported with file, line and key
path, all in one pass (:func:`read_questionnaire`, :func:`read_answers`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import yaml

from maat.errors import Problem
from maat.yaml_reader import YamlReader, compose

__all__ = [
    "Answers",
    "AssessmentResult",
    "Question",
    "Questionnaire",
    "assess",
    "read_answers",
    "read_questionnaire",
]

MAX_CHARS = 1_000_000
KINDS = ("yes_no", "choice", "number", "date")
_YES = {"yes", "true", "y"}
_NO = {"no", "false", "n"}


@dataclass(frozen=True)
class Question:
    """One weighted question."""

    id: str
    text: str
    kind: str
    weight: float
    choices: tuple[tuple[str, float], ...] = ()
    scale: tuple[tuple[float, float], ...] = ()
    details: tuple[str, ...] = ()
    evidence: bool = False


@dataclass(frozen=True)
class Questionnaire:
    """A questionnaire: id, version, how long answers stay valid, and its questions."""

    id: str
    title: str
    version: int
    valid_days: int
    questions: tuple[Question, ...]


@dataclass(frozen=True)
class Answers:
    """A vendor's answers to one questionnaire."""

    questionnaire: str
    vendor: str
    answered_at: date
    answers: dict[str, dict[str, str]]
    """Question id -> ``{"answer": …, detail: …}`` as text."""
    evidence: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Question id -> evidence file names (resolved and hashed by the caller)."""


@dataclass(frozen=True)
class AssessmentResult:
    """The weighted score (0-100), per-question points, expiry and what is missing."""

    score: float
    expires_at: datetime
    points: tuple[tuple[str, float, float, str], ...]
    """``(question, earned, possible, why)`` for each question."""
    missing: tuple[str, ...] = ()


def _pairs(reader: YamlReader, node: yaml.Node, path: str) -> tuple[tuple[str, float], ...]:
    """A mapping of labels to fractions between 0 and 1 (choices, scales)."""
    if not reader.visit(node, path):
        return ()
    if not isinstance(node, yaml.MappingNode) or not node.value:
        reader.problem(node, path, "must be a non-empty mapping of label to a fraction (0-1)")
        return ()
    out = []
    for key_node, value_node in node.value:
        key = str(key_node.value)
        value = reader.number(value_node, f"{path}.{key}", low=0, high=1)
        if value is not None:
            out.append((key, value))
    return tuple(out)


def _question(reader: YamlReader, node: yaml.Node, path: str) -> Question | None:
    fields = reader.mapping(node, path, ("id", "text", "kind", "weight"),
                            ("choices", "scale", "details", "evidence"))  # fmt: skip
    if fields is None or any(k not in fields for k in ("id", "text", "kind", "weight")):
        return None
    before = len(reader.problems)
    ident = reader.text(*fields["id"])
    text = reader.text(*fields["text"])
    kind = reader.text(*fields["kind"])
    weight = reader.number(*fields["weight"], low=0, high=100)
    if kind is not None and kind not in KINDS:
        reader.problem(
            fields["kind"][0], fields["kind"][1], f"kind must be one of {', '.join(KINDS)}"
        )
    choices = _pairs(reader, *fields["choices"]) if "choices" in fields else ()
    scale_pairs = _pairs(reader, *fields["scale"]) if "scale" in fields else ()
    scale: list[tuple[float, float]] = []
    for bound, fraction in scale_pairs:
        try:
            limit = float(bound)
        except ValueError:
            limit = math.nan
        # float() also reads "inf" and "nan": an infinite bound gives every answer its
        # fraction, a NaN one none, so only finite numbers are bounds.
        if math.isfinite(limit):
            scale.append((limit, fraction))
        else:
            reader.problem(
                fields["scale"][0], fields["scale"][1], f"scale bound {bound!r} is not a number"
            )
    if kind == "choice" and not choices:
        reader.problem(node, path, "a choice question needs choices")
    if kind == "number" and not scale:
        reader.problem(node, path, "a number question needs a scale")
    details = tuple(reader.texts(*fields["details"]) or ()) if "details" in fields else ()
    evidence = False
    if "evidence" in fields:
        value = reader.scalar(*fields["evidence"])
        evidence = value in ("required", "true", "True", "yes")
    if len(reader.problems) > before or ident is None or text is None or kind is None:
        return None
    if weight is None:
        return None
    return Question(ident, text, kind, weight, choices, tuple(sorted(scale)), details, evidence)


def read_questionnaire(text: str, *, source: str) -> tuple[Questionnaire | None, list[Problem]]:
    """A questionnaire and every problem in it (None when unusable)."""
    root, problems = compose(text, source=source, max_chars=MAX_CHARS, what="questionnaire")
    if root is None:
        return None, problems
    reader = YamlReader(source, max_text=4_000, what="questionnaires")
    top = reader.mapping(root, "", ("id", "title", "version", "valid_days", "questions"), ())
    if top is None or len(top) < 5:
        return None, reader.problems
    ident, title = reader.text(*top["id"]), reader.text(*top["title"])
    version = reader.number(*top["version"], low=1, high=1_000_000)
    valid = reader.number(*top["valid_days"], low=1, high=3_660)
    questions = []
    seen: set[str] = set()
    for index, item in enumerate(reader.sequence(*top["questions"]) or []):
        question = _question(reader, item, f"questions[{index}]")
        if question is None:
            continue
        if question.id in seen:
            reader.problem(item, f"questions[{index}].id", f"question id {question.id!r} twice")
        seen.add(question.id)
        questions.append(question)
    if reader.problems or ident is None or title is None or version is None or valid is None:
        return None, reader.problems
    return Questionnaire(ident, title, int(version), int(valid), tuple(questions)), []


def read_answers(text: str, *, source: str) -> tuple[Answers | None, list[Problem]]:
    """A vendor's answers and every problem in the file (None when unusable)."""
    root, problems = compose(text, source=source, max_chars=MAX_CHARS, what="answer file")
    if root is None:
        return None, problems
    reader = YamlReader(source, max_text=4_000, what="answer files")
    top = reader.mapping(root, "", ("questionnaire", "vendor", "answered_at", "answers"),
                         ("evidence",))  # fmt: skip
    if top is None or len(top) < 4:
        return None, reader.problems
    questionnaire, vendor = reader.text(*top["questionnaire"]), reader.text(*top["vendor"])
    answered = _date(reader, *top["answered_at"])
    answers: dict[str, dict[str, str]] = {}
    node, path = top["answers"]
    if reader.visit(node, path) and isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = str(key_node.value)
            where = f"{path}.{key}"
            if isinstance(value_node, yaml.MappingNode):
                parts: dict[str, str] = {}
                for k, v in value_node.value:
                    value = reader.scalar(v, f"{where}.{k.value}")
                    if value is not None:
                        parts[str(k.value)] = value
                if "answer" not in parts:
                    reader.problem(value_node, where, "missing key 'answer'")
                answers[key] = parts
            else:
                value = reader.scalar(value_node, where)
                if value is not None:
                    answers[key] = {"answer": value}
    else:
        reader.problem(node, path, "must be a mapping of question id to answer")
    evidence: dict[str, tuple[str, ...]] = {}
    if "evidence" in top:
        enode, epath = top["evidence"]
        if reader.visit(enode, epath) and isinstance(enode, yaml.MappingNode):
            for key_node, value_node in enode.value:
                names = reader.texts(value_node, f"{epath}.{key_node.value}")
                if names is not None:
                    evidence[str(key_node.value)] = tuple(names)
        else:
            reader.problem(enode, epath, "must be a mapping of question id to file names")
    if reader.problems or questionnaire is None or vendor is None or answered is None:
        return None, reader.problems
    return Answers(questionnaire, vendor, answered, answers, evidence), []


def _date(reader: YamlReader, node: yaml.Node, path: str) -> date | None:
    text = reader.scalar(node, path)
    if text is None:
        return None
    try:
        return date.fromisoformat(text.strip()[:10])
    except ValueError:
        reader.problem(node, path, f"{text!r} is not a date (YYYY-MM-DD)")
        return None


def _fraction(question: Question, given: dict[str, str], today: date) -> tuple[float, str]:
    answer = given.get("answer", "").strip()
    low = answer.lower()
    if question.kind == "yes_no":
        if low in _YES:
            # An ``expires`` detail must be a date: "never" would otherwise count as given
            # and also escape the expiry it is meant to set.
            missing = [
                d
                for d in question.details
                if not given.get(d, "").strip() or (d == "expires" and _day(given[d]) is None)
            ]
            if missing:
                return 0.5, f"yes, but without {', '.join(missing)}"
            return 1.0, "yes"
        if low in _NO:
            return 0.0, "no"
        return 0.0, f"not yes or no: {answer[:40]!r}"
    if question.kind == "choice":
        for label, value in question.choices:
            if low == label.lower():
                return value, f"{label}"
        return 0.0, f"not one of the choices: {answer[:40]!r}"
    if question.kind == "number":
        try:
            number = float(answer)
        except ValueError:
            number = math.nan
        # A count of days or hours is finite and not negative: "-1" or "-inf" would fall
        # within the tightest bound and earn full points.
        if not math.isfinite(number) or number < 0:
            return 0.0, f"not a number of zero or more: {answer[:40]!r}"
        for bound, value in question.scale:
            if number <= bound:
                return value, f"{number:g} (within {bound:g})"
        return 0.0, f"{number:g} (beyond every bound)"
    when = _day(answer)
    if when is None:
        return 0.0, f"not a date: {answer[:40]!r}"
    return (1.0, f"{when}") if when >= today else (0.0, f"{when} is past")


def _day(text: str) -> date | None:
    """The date a ``YYYY-MM-DD`` answer (or detail) starts with, or None."""
    try:
        return date.fromisoformat(text.strip()[:10])
    except ValueError:
        return None


def assess(
    questionnaire: Questionnaire, answers: Answers, *, evidence: dict[str, list[str]], now: datetime
) -> AssessmentResult:
    """Score ``answers``; ``evidence`` maps question ids to the SHA-256 of stored files."""
    today = now.astimezone(UTC).date()
    rows = []
    missing = []
    earned_total = possible_total = 0.0
    # Validity runs from the answers' date, but never from a day still to come: answers
    # dated 2099 would otherwise stay valid for ever.
    start = min(answers.answered_at, today)
    expires = datetime.combine(start, datetime.min.time(), UTC) + timedelta(
        days=questionnaire.valid_days
    )
    for question in questionnaire.questions:
        possible_total += question.weight
        given = answers.answers.get(question.id)
        if given is None:
            missing.append(question.id)
            rows.append((question.id, 0.0, question.weight, "not answered"))
            continue
        fraction, why = _fraction(question, given, today)
        if question.evidence and fraction > 0 and not evidence.get(question.id):
            fraction, why = fraction / 2, why + "; no evidence"
        earned = round(question.weight * fraction, 2)
        earned_total += earned
        rows.append((question.id, earned, question.weight, why))
        stop = given.get("expires", "").strip()
        if stop:
            day = _day(stop)
            if day is None:
                missing.append(f"{question.id}.expires")
            else:
                expires = min(expires, datetime.combine(day, datetime.min.time(), UTC))
    value = round(100 * earned_total / possible_total, 1) if possible_total else 0.0
    return AssessmentResult(value, expires, tuple(rows), tuple(missing))

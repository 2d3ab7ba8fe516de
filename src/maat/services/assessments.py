"""Vendor assessments: answers scored against a questionnaire, evidence kept by SHA-256,
reminders before they lapse.

:func:`assess_vendor`, as numbered steps:

1. read the questionnaire (Maat's default unless a file is given) and the answer file; every
   problem in either is reported with file, line and key path;
2. store each evidence file under ``<data_dir>/evidence/<sha256>`` (content-addressed, so
   the same file given twice is stored once and a changed file is a new one);
3. score the answers and record the assessment (audited); the vendor's score reads the
   latest assessment from then on (its result and its expiry).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib.resources import files
from pathlib import Path

from maat.core.ids import new_id
from maat.errors import InvalidInput, NotFound, Problem
from maat.services.platform import Platform
from maat.vendors.assessment import Questionnaire, assess, read_answers, read_questionnaire
from maat.vendors.records import AssessmentRecord

__all__ = ["Reminder", "assess_vendor", "default_questionnaire", "load_questionnaire", "reminders"]

MAX_EVIDENCE_BYTES = 64 << 20


def default_questionnaire() -> Questionnaire:
    """Maat's default supplier questionnaire (shipped with the package)."""
    text = files("maat.vendors").joinpath("questionnaires/default.yml").read_text("utf-8")
    return load_questionnaire(text, source="maat:questionnaires/default.yml")


def load_questionnaire(text: str, *, source: str) -> Questionnaire:
    """A questionnaire, or every problem in it as one error."""
    questionnaire, problems = read_questionnaire(text, source=source)
    if questionnaire is None:
        raise _problems(problems, "questionnaire")
    return questionnaire


def _problems(problems: list[Problem], what: str) -> InvalidInput:
    """The first problem, saying how many more there are (``lint`` lists them all)."""
    first = problems[0]
    more = f" (and {len(problems) - 1} more problem(s) in the {what})" if len(problems) > 1 else ""
    where = first.location
    return InvalidInput(first.message + more, file=where.file, line=where.line, field=where.field)


def _store_evidence(platform: Platform, path: Path) -> dict[str, object]:
    """Step 2 for one file: ``{"name", "sha256", "size"}``."""
    try:
        if path.stat().st_size > MAX_EVIDENCE_BYTES:
            raise InvalidInput(f"evidence larger than {MAX_EVIDENCE_BYTES:,} bytes", file=str(path))
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read evidence: {exc.strerror}", file=str(path)) from exc
    digest = hashlib.sha256(data).hexdigest()
    folder = platform.settings.data_dir / "evidence"
    target = folder / digest
    if not target.exists():
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        partial = folder / f".{digest}.part"
        partial.write_bytes(data)
        os.replace(partial, target)
    return {"name": path.name, "sha256": digest, "size": len(data)}


def assess_vendor(
    platform: Platform,
    actor: str,
    answers_file: Path,
    *,
    questionnaire: Questionnaire | None = None,
) -> AssessmentRecord:
    """Steps 1-3; evidence file names in the answers are relative to the answer file."""
    try:
        text = answers_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read: {exc}", file=str(answers_file)) from exc
    answers, problems = read_answers(text, source=str(answers_file))
    if answers is None:
        raise _problems(problems, "answer file")
    form = questionnaire or default_questionnaire()
    if answers.questionnaire != form.id:
        wrong = f"answers are for questionnaire {answers.questionnaire!r}, not {form.id!r}"
        raise InvalidInput(wrong, file=str(answers_file), field="questionnaire")
    unknown = sorted(set(answers.answers) - {q.id for q in form.questions})
    if unknown:
        raise InvalidInput(f"no such question: {', '.join(unknown)}", file=str(answers_file),
                           field="answers")  # fmt: skip
    stored: list[dict[str, object]] = []
    by_question: dict[str, list[str]] = {}
    for question, names in answers.evidence.items():
        for name in names:
            item = _store_evidence(platform, answers_file.parent / name)
            stored.append({"question": question, **item})
            by_question.setdefault(question, []).append(str(item["sha256"]))
    now = platform.now()
    result = assess(form, answers, evidence=by_question, now=now)
    with platform.transaction() as uow:
        vendor = uow.vendors.by_name(answers.vendor)
        if vendor is None:
            raise NotFound(
                f"no vendor named {answers.vendor!r}", hint="add it with `maat vendor add`"
            )
        record = AssessmentRecord(
            id=new_id("asm"), vendor_id=vendor.id, questionnaire=form.id, version=form.version,
            score=result.score, answered_at=datetime.combine(answers.answered_at,
                                                             datetime.min.time(), now.tzinfo),
            assessed_at=now, expires_at=result.expires_at, answers=answers.answers,
            evidence=tuple(stored), points=result.points, missing=result.missing,
        )  # fmt: skip
        uow.assessments.add(record)
        platform.audit(uow, actor, "vendor.assess", f"vendor:{vendor.id}", score=result.score,
                       expires=result.expires_at.isoformat(), evidence=len(stored))  # fmt: skip
    return record


@dataclass(frozen=True)
class Reminder:
    """A vendor whose assessment is missing, lapsed or lapsing."""

    vendor: str
    state: str  # missing | expired | expiring
    expires_at: datetime | None


def reminders(platform: Platform, *, within_days: int = 30) -> list[Reminder]:
    """Vendors to reassess: no assessment, expired, or expiring within ``within_days``."""
    now = platform.now()
    out = []
    with platform.transaction(write=False) as uow:
        for vendor in uow.vendors.list():
            latest = uow.assessments.latest(vendor.id)
            if latest is None:
                out.append(Reminder(vendor.name, "missing", None))
            elif latest.expires_at < now:
                out.append(Reminder(vendor.name, "expired", latest.expires_at))
            elif latest.expires_at <= now + timedelta(days=within_days):
                out.append(Reminder(vendor.name, "expiring", latest.expires_at))
    return out

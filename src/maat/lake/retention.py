"""Retention of the lake: which files to delete, which to keep and why.

Two rules are never bent by configuration:

- nothing younger than :data:`MIN_RETENTION_DAYS` (180) is deleted unless the operator
  forces it (``maat lake retain --force``): the configuration accepts any retention of at
  least one day, but without force the plan clamps it to 180 and says so;
- data under a legal hold is never deleted, force or not.

The plan is pure: the adapter carries it out by appending a ``retire`` entry per file to the
manifest (so verification does not call them missing) before deleting them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from maat.errors import InvalidInput
from maat.lake.manifest import ManifestEntry, active_holds, live_files
from maat.lake.schema import valid_day, valid_module

__all__ = [
    "MIN_RETENTION_DAYS",
    "Hold",
    "KeptFile",
    "RetentionPlan",
    "RetentionReport",
    "hold_record",
    "holds_of",
    "plan",
    "summary",
]

MIN_RETENTION_DAYS = 180
MAX_REASON = 500


@dataclass(frozen=True, slots=True)
class Hold:
    """A legal hold: days ``day_from``..``day_to`` (inclusive), one module or all."""

    id: str
    day_from: str
    day_to: str
    module: str | None
    reason: str

    def covers(self, day: str, module: str) -> bool:
        """Whether data of ``day`` and ``module`` is held."""
        return self.day_from <= day <= self.day_to and self.module in (None, module)

    def describe(self) -> str:
        """Human form, e.g. ``hold-7 (2024-01-01..2024-03-31, windows: case 42)``."""
        scope = f"{self.day_from}..{self.day_to}" + (f", {self.module}" if self.module else "")
        return f"{self.id} ({scope}: {self.reason})"


@dataclass(frozen=True, slots=True)
class KeptFile:
    """A file past nothing or held: its path and why it stays."""

    path: str
    reason: str


@dataclass(frozen=True, slots=True)
class RetentionPlan:
    """What retention will do: files to delete (oldest first), files kept with a reason."""

    delete: tuple[ManifestEntry, ...]
    keep: tuple[KeptFile, ...]
    effective_days: int
    cutoff: datetime
    notes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RetentionReport:
    """What retention did (or, with ``dry_run``, would do)."""

    deleted: tuple[str, ...]
    rows_deleted: int
    bytes_deleted: int
    kept: tuple[KeptFile, ...]
    effective_days: int
    cutoff: datetime
    notes: tuple[str, ...]
    dry_run: bool

    def as_dict(self) -> dict[str, Any]:
        """The JSON form of the report."""
        return {
            "deleted": list(self.deleted),
            "rows_deleted": self.rows_deleted,
            "bytes_deleted": self.bytes_deleted,
            "kept": [{"path": k.path, "reason": k.reason} for k in self.kept],
            "effective_days": self.effective_days,
            "cutoff": self.cutoff.isoformat(),
            "notes": list(self.notes),
            "dry_run": self.dry_run,
        }


def hold_record(
    hold_id: str, day_from: str, day_to: str, module: str | None, reason: str
) -> dict[str, Any]:
    """The validated ``hold`` object of a manifest ``hold`` entry.

    Raises ``InvalidInput`` for a malformed day, a range that ends before it starts, a bad
    module name or an empty or overlong reason (a hold must say why it exists).
    """
    valid_day(day_from, what="from")
    valid_day(day_to, what="to")
    if day_to < day_from:
        raise InvalidInput(f"the hold ends ({day_to}) before it starts ({day_from})", field="to")
    if module is not None:
        valid_module(module, what="module")
    text = reason.strip() if isinstance(reason, str) else ""
    if not text:
        raise InvalidInput("a legal hold needs a reason", field="reason")
    if len(text) > MAX_REASON:
        raise InvalidInput(f"the reason is longer than {MAX_REASON} characters", field="reason")
    return {"id": hold_id, "from": day_from, "to": day_to, "module": module, "reason": text}


def holds_of(entries: Sequence[ManifestEntry]) -> tuple[Hold, ...]:
    """The active legal holds recorded in the manifest (``hold`` minus ``release``)."""
    return tuple(
        Hold(
            id=str(h["id"]),
            day_from=str(h.get("from", "")),
            day_to=str(h.get("to", "")),
            module=None if h.get("module") is None else str(h["module"]),
            reason=str(h.get("reason", "")),
        )
        for h in active_holds(entries).values()
    )


def plan(
    entries: Sequence[ManifestEntry],
    *,
    now: datetime,
    retention_days: int,
    force: bool = False,
    holds: Sequence[Hold] | None = None,
) -> RetentionPlan:
    """Decide which live files retention deletes.

    1. ``retention_days`` must be at least 1; without ``force`` it is raised to 180
       (:data:`MIN_RETENTION_DAYS`), and a note says so.
    2. A file of day D holds events up to D+1 00:00 UTC, and was stored at its
       ``written_at``: it is past retention only when ``now`` is at least the later of the
       two plus the effective retention. No event younger than the retention is deleted,
       and neither is one stored more recently, whatever time it claims (an imported
       EVTX, a host with a wrong clock, logs back-dated to have them purged).
    3. A file past retention that a legal hold covers (its day in the hold's range, and the
       hold's module, if any, is its module) is kept, whatever ``force`` says.
    4. Everything else stays, with its reason.

    ``holds`` defaults to the active holds recorded in ``entries``.
    """
    if isinstance(retention_days, bool) or not isinstance(retention_days, int):
        raise InvalidInput("retention_days must be a whole number of days", field="retention_days")
    if retention_days < 1:
        raise InvalidInput("retention_days must be at least 1", field="retention_days")
    if now.tzinfo is None:
        raise InvalidInput("now must be timezone-aware", field="now")
    notes: list[str] = []
    effective = retention_days
    if retention_days < MIN_RETENTION_DAYS and not force:
        effective = MIN_RETENTION_DAYS
        notes.append(
            f"retention_days={retention_days} is below the {MIN_RETENTION_DAYS}-day floor: "
            f"keeping {MIN_RETENTION_DAYS} days (use --force to delete younger data)"
        )
    elif retention_days < MIN_RETENTION_DAYS:
        unit = "day" if retention_days == 1 else "days"
        notes.append(
            f"forced: data older than {retention_days} {unit} is deleted, below the "
            f"{MIN_RETENTION_DAYS}-day floor"
        )
    active = tuple(holds_of(entries) if holds is None else holds)
    now = now.astimezone(UTC)
    delete: list[ManifestEntry] = []
    keep: list[KeptFile] = []
    try:
        cutoff = now - timedelta(days=effective)  # what ended or was stored before may go
        # A day ends one day after it starts: compared by its start, as 9999-12-31 has no
        # next day to compute.
        last_day = cutoff - timedelta(days=1)
    except OverflowError:  # a retention longer than the calendar: nothing is old enough
        cutoff = datetime.min.replace(tzinfo=UTC)
        young = f"younger than {effective} days"
        keep = [KeptFile(e.path, young) for e in live_files(entries).values()]
        return RetentionPlan((), tuple(keep), effective, cutoff, tuple(notes))
    for entry in live_files(entries).values():
        day_start = datetime.combine(date.fromisoformat(entry.day), time(), tzinfo=UTC)
        stored = _stored_at(entry.written_at)
        if day_start > last_day:
            keep.append(KeptFile(entry.path, f"younger than {effective} days"))
            continue
        if stored is not None and stored > cutoff:
            keep.append(KeptFile(entry.path, f"stored less than {effective} days ago"))
            continue
        held = [h for h in active if h.covers(entry.day, entry.module)]
        if held:
            names = ", ".join(h.describe() for h in held)
            keep.append(KeptFile(entry.path, f"legal hold {names}"))
            continue
        delete.append(entry)
    delete.sort(key=lambda e: (e.day, e.seq))
    return RetentionPlan(tuple(delete), tuple(keep), effective, cutoff, tuple(notes))


def _stored_at(written_at: str) -> datetime | None:
    """When a file was stored (its entry's ``written_at``), UTC; ``None`` if unreadable."""
    try:
        moment = datetime.fromisoformat(written_at)
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def summary(kept: Sequence[KeptFile]) -> Mapping[str, int]:
    """How many files are kept for each reason."""
    counts: dict[str, int] = {}
    for item in kept:
        counts[item.reason] = counts.get(item.reason, 0) + 1
    return counts

"""Retention plans: the 180-day floor without force, legal holds above everything."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from maat.errors import InvalidInput
from maat.lake.manifest import GENESIS, ManifestEntry, seal
from maat.lake.retention import MIN_RETENTION_DAYS, Hold, hold_record, holds_of, plan, summary

KEY = b"k" * 32
NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


def _day(days_ago: int) -> str:
    return (NOW.date() - timedelta(days=days_ago)).isoformat()


def _file(seq: int, day: str, module: str = "windows") -> ManifestEntry:
    return ManifestEntry(
        seq=seq,
        kind="file",
        path=f"day={day}/module={module}/part-{seq}-{seq:032x}.parquet",
        sha256=f"{seq:064x}",
        rows=100,
        bytes=1000,
        day=day,
        module=module,
    )


def _sealed(entries: list[ManifestEntry]) -> list[ManifestEntry]:
    out, prev = [], GENESIS
    for entry in entries:
        item = seal(KEY, entry, prev)
        out.append(item)
        prev = item.mac
    return out


def _hold(seq: int, first: str, last: str, module: str | None = None) -> ManifestEntry:
    return ManifestEntry(
        seq=seq, kind="hold", hold=hold_record(f"hold-{seq}", first, last, module, "case 42")
    )


@pytest.fixture
def ages() -> list[ManifestEntry]:
    """Files 10, 100, 179, 181, 400 and 900 days old."""
    return _sealed([_file(i, _day(age)) for i, age in enumerate([10, 100, 179, 181, 400, 900], 1)])


def _deleted_ages(result_delete: tuple[ManifestEntry, ...]) -> list[int]:
    return sorted((NOW.date() - date.fromisoformat(e.day)).days for e in result_delete)


def test_young_data_is_kept_without_force_even_when_configured_lower(
    ages: list[ManifestEntry],
) -> None:
    result = plan(ages, now=NOW, retention_days=30)
    assert result.effective_days == MIN_RETENTION_DAYS
    assert _deleted_ages(result.delete) == [181, 400, 900]
    assert any("180-day floor" in note and "--force" in note for note in result.notes)
    assert {k.reason for k in result.keep} == {"younger than 180 days"}


def test_force_lowers_retention_below_the_floor(ages: list[ManifestEntry]) -> None:
    result = plan(ages, now=NOW, retention_days=30, force=True)
    assert result.effective_days == 30
    assert _deleted_ages(result.delete) == [100, 179, 181, 400, 900]
    assert any(note.startswith("forced") for note in result.notes)


def test_a_longer_retention_keeps_more(ages: list[ManifestEntry]) -> None:
    result = plan(ages, now=NOW, retention_days=365)
    assert _deleted_ages(result.delete) == [400, 900]
    assert result.notes == ()


def test_no_event_younger_than_the_retention_is_deleted_at_the_day_boundary() -> None:
    # A file of day D holds events up to D+1 00:00: deletable from D + 1 + 180 days on.
    day = date(2024, 6, 1)
    entries = _sealed([_file(1, day.isoformat())])
    threshold = datetime(2024, 6, 2, tzinfo=UTC) + timedelta(days=180)
    assert plan(entries, now=threshold - timedelta(microseconds=1), retention_days=180).delete == ()
    assert len(plan(entries, now=threshold, retention_days=180).delete) == 1


def test_logs_back_dated_to_be_purged_are_kept_as_long_as_they_were_stored() -> None:
    """A file of 2019 stored an hour ago (an imported EVTX, a wrong clock, forged times) is
    kept for the retention counted from when it was stored, force or not."""
    entry = replace(_file(1, "2019-05-01"), written_at=(NOW - timedelta(hours=1)).isoformat())
    kept = plan(_sealed([entry]), now=NOW, retention_days=180)
    assert kept.delete == () and [k.reason for k in kept.keep] == [
        "stored less than 180 days ago"
    ]
    assert plan(_sealed([entry]), now=NOW, retention_days=1, force=True).delete == ()
    later = NOW + timedelta(days=180, hours=1)
    assert len(plan(_sealed([entry]), now=later, retention_days=180).delete) == 1


def test_a_clock_in_another_zone_deletes_nothing_younger_than_the_retention() -> None:
    """Day D ends at D+1 00:00 UTC whatever the zone of ``now`` (a +14:00 clock once
    deleted a day 14 hours early)."""
    entries = _sealed([_file(1, "2024-03-01")])
    now = datetime(2024, 8, 28, 12, 0, tzinfo=UTC)  # D + 1 + 179.5 days
    kiribati = now.astimezone(timezone(timedelta(hours=14)))
    assert plan(entries, now=kiribati, retention_days=180).delete == ()
    assert plan(entries, now=now, retention_days=180).delete == ()


def test_one_event_dated_9999_12_31_cannot_stop_retention_for_the_whole_lake(
    ages: list[ManifestEntry],
) -> None:
    entries = _sealed([*ages, _file(99, "9999-12-31")])
    result = plan(entries, now=NOW, retention_days=180)
    assert len(result.delete) == 3
    assert "day=9999-12-31/module=windows/part-99-" in " ".join(k.path for k in result.keep)


def test_a_retention_longer_than_the_calendar_keeps_everything(ages: list[ManifestEntry]) -> None:
    result = plan(ages, now=NOW, retention_days=1_000_000)
    assert result.delete == () and len(result.keep) == len(ages)


def test_a_legal_hold_beats_force(ages: list[ManifestEntry]) -> None:
    entries = _sealed([*ages, _hold(7, _day(950), _day(350))])
    result = plan(entries, now=NOW, retention_days=1, force=True)
    assert _deleted_ages(result.delete) == [10, 100, 179, 181]
    held = [k for k in result.keep if k.reason.startswith("legal hold")]
    assert len(held) == 2 and "hold-7" in held[0].reason and "case 42" in held[0].reason


def test_a_hold_on_one_module_leaves_the_others_to_retention() -> None:
    old = _day(400)
    entries = _sealed([_file(1, old, "windows"), _file(2, old, "zeek"), _hold(3, old, old, "zeek")])
    result = plan(entries, now=NOW, retention_days=180)
    assert [e.module for e in result.delete] == ["windows"]
    assert summary(result.keep) == {f"legal hold hold-3 ({old}..{old}, zeek: case 42)": 1}


def test_a_released_hold_no_longer_protects(ages: list[ManifestEntry]) -> None:
    release = ManifestEntry(seq=8, kind="release", hold={"id": "hold-7", "reason": "closed"})
    entries = _sealed([*ages, _hold(7, _day(950), _day(350)), release])
    assert holds_of(entries) == ()
    assert _deleted_ages(plan(entries, now=NOW, retention_days=180).delete) == [181, 400, 900]


def test_retired_files_are_not_planned_again(ages: list[ManifestEntry]) -> None:
    old = ages[-1]
    retire = ManifestEntry(
        seq=7, kind="retire", path=old.path, sha256=old.sha256, day=old.day, module=old.module
    )
    entries = _sealed([*ages, retire])
    assert _deleted_ages(plan(entries, now=NOW, retention_days=180).delete) == [181, 400]


@pytest.mark.parametrize("days", [0, -5, True, 1.5])
def test_a_retention_below_one_day_is_refused(ages: list[ManifestEntry], days: object) -> None:
    with pytest.raises(InvalidInput):
        plan(ages, now=NOW, retention_days=days, force=True)  # type: ignore[arg-type]


def test_now_must_be_aware(ages: list[ManifestEntry]) -> None:
    with pytest.raises(InvalidInput):
        plan(ages, now=datetime(2025, 1, 1), retention_days=180)


@pytest.mark.parametrize(
    ("first", "last", "module", "reason", "field"),
    [
        ("2024-13-01", "2024-12-31", None, "x", "from"),
        ("2024-01-01", "2023-12-31", None, "x", "to"),
        ("2024-01-01", "2024-01-02", "../x", "x", "module"),
        ("2024-01-01", "2024-01-02", None, "  ", "reason"),
        ("2024-01-01", "2024-01-02", None, "x" * 501, "reason"),
    ],
)
def test_a_hold_must_name_real_days_a_module_and_a_reason(
    first: str, last: str, module: str | None, reason: str, field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        hold_record("hold-1", first, last, module, reason)
    assert caught.value.location.field == field


def test_hold_coverage_is_inclusive() -> None:
    hold = Hold("hold-1", "2024-01-01", "2024-01-31", None, "x")
    assert hold.covers("2024-01-01", "a") and hold.covers("2024-01-31", "b")
    assert not hold.covers("2023-12-31", "a") and not hold.covers("2024-02-01", "a")

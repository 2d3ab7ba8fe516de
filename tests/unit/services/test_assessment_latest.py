"""Which assessment is a vendor's current one: the one answered last, whatever the order the
answer files were imported in."""

from __future__ import annotations

from pathlib import Path

from maat.services import vendors
from maat.services.assessments import assess_vendor
from maat.services.platform import Platform
from maat_testkit import FakeClock


def _answers(folder: Path, name: str, answered: str, sbom: str) -> Path:
    path = folder / f"{name}.yml"
    path.write_text(
        f"questionnaire: maat-default\nvendor: Contoso ERP\nanswered_at: {answered}\n"
        f"answers:\n  sbom_with_every_delivery: {sbom}\n"
    )
    return path


def _current(platform: Platform) -> tuple[str, float]:
    with platform.transaction(write=False) as uow:
        vendor = uow.vendors.by_name("Contoso ERP")
        assert vendor is not None
        latest = uow.assessments.latest(vendor.id)
        assert latest is not None
        return latest.answered_at.date().isoformat(), latest.score


def test_an_old_answers_file_imported_later_does_not_replace_the_current_assessment(
    platform: Platform, clock: FakeClock, tmp_path: Path
) -> None:
    """Importing last year's (better) answers for the record must not lift the vendor's
    score, nor stretch its expiry, past what this year's answers say."""
    vendors.add_vendor(platform, "test", "Contoso ERP")
    this_year = assess_vendor(platform, "test", _answers(tmp_path, "now", "2026-11-20", "no"))
    clock.advance(hours=1)
    last_year = assess_vendor(platform, "test", _answers(tmp_path, "old", "2025-11-20", "yes"))
    assert last_year.score > this_year.score  # the old file would have scored better
    assert _current(platform) == ("2026-11-20", this_year.score)
    clock.advance(hours=1)  # a correction of this year's answers, imported later, does count
    corrected = assess_vendor(platform, "test", _answers(tmp_path, "fix", "2026-11-20", "yes"))
    assert _current(platform) == ("2026-11-20", corrected.score)


def test_answers_dated_to_come_count_from_the_day_of_their_import(
    platform: Platform, clock: FakeClock, tmp_path: Path
) -> None:
    """A file dated 2099 cannot stay the current assessment against answers given the same
    day or after (found by review: compared as a time, it beat that day's honest answers)."""
    vendors.add_vendor(platform, "test", "Contoso ERP")
    assess_vendor(platform, "test", _answers(tmp_path, "future", "2099-01-01", "yes"))
    clock.advance(hours=2)  # the same day: 2026-11-25
    honest = assess_vendor(platform, "test", _answers(tmp_path, "real", "2026-11-25", "no"))
    assert _current(platform) == ("2026-11-25", honest.score)
    clock.advance(days=3)
    later = assess_vendor(platform, "test", _answers(tmp_path, "later", "2026-11-28", "no"))
    assert _current(platform) == ("2026-11-28", later.score)

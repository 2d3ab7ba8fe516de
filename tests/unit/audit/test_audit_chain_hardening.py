"""The audit chain against tampering that used to slip through or crash the verifier: a
forged head hiding a truncated tail, details that cannot be re-encoded, and timestamps
whose offset differs from the stored (UTC) form."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from maat.audit.chain import GENESIS, AuditEntry, head_problem, head_tag, seal, verify
from maat.auth.secretbox import derive_key
from maat.errors import MaatError

KEY = derive_key(b"\x01" * 32, "audit")
T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def _entry(i: int, **changes: object) -> AuditEntry:
    entry = AuditEntry(at=T0 + timedelta(minutes=i), actor="user:a", action="user.create",
                       target=f"user:u{i}", details={"n": i})  # fmt: skip
    return replace(entry, **changes)  # type: ignore[arg-type]


def test_entry_sealed_with_a_non_utc_offset_verifies_after_storage_in_utc() -> None:
    # The store keeps UTC; a clock giving +08:00 (Taipei) must not make every record "edited".
    taipei = timezone(timedelta(hours=8))
    record = seal(KEY, 1, _entry(1, at=T0.astimezone(taipei)), GENESIS)
    stored = replace(record, entry=replace(record.entry, at=T0))
    assert verify(KEY, [stored]).ok


def test_naive_audit_time_is_refused_with_a_maat_error() -> None:
    with pytest.raises(MaatError):
        seal(KEY, 1, _entry(1, at=T0.replace(tzinfo=None)), GENESIS)


def test_details_that_cannot_be_encoded_are_refused_with_a_maat_error() -> None:
    with pytest.raises(MaatError):
        seal(KEY, 1, _entry(1, details={"n": 2**70}), GENESIS)


def _deep(levels: int) -> object:
    nested: object = []
    for _ in range(levels):
        nested = [nested]
    return nested


@pytest.mark.parametrize(
    "details", [{"n": 2**70}, {"n": -(10**30)}, {"deep": _deep(300)}], ids=["big", "neg", "deep"]
)
def test_details_edited_into_unencodable_values_are_reported_not_raised(
    details: dict[str, object],
) -> None:
    # JSON in the database may hold what orjson cannot encode: the verifier must name the
    # record, not stop with a foreign exception.
    record = seal(KEY, 1, _entry(1), GENESIS)
    edited = [replace(record, entry=replace(record.entry, details=details))]
    report = verify(KEY, edited)
    assert [(p.kind, p.seq) for p in report.problems] == [("edited", 1)]


def test_head_rewritten_to_hide_a_truncated_tail_is_found() -> None:
    # An attacker with database access deletes the last records and points the stored head
    # at the new last record: both its seq and MAC are in the table, but the tag needs the key.
    first = seal(KEY, 1, _entry(1), GENESIS)
    second = seal(KEY, 2, _entry(2), first.mac)
    assert head_problem(KEY, (2, second.mac), head_tag(KEY, 2, second.mac)) is None
    forged = head_problem(KEY, (1, first.mac), head_tag(KEY, 2, second.mac))
    assert forged is not None and forged.kind == "bad-anchor"
    untagged = head_problem(KEY, (1, first.mac), None)
    assert untagged is not None and untagged.kind == "bad-anchor"


def test_head_tag_binds_the_sequence_number() -> None:
    record = seal(KEY, 1, _entry(1), GENESIS)
    assert head_problem(KEY, (5, record.mac), head_tag(KEY, 1, record.mac)) is not None


def test_non_ascii_mac_edited_into_the_database_is_reported_not_raised() -> None:
    record = seal(KEY, 1, _entry(1), GENESIS)
    report = verify(KEY, [replace(record, mac="é" * 64)], anchor=(1, "é" * 64))
    assert ("edited", 1) in [(p.kind, p.seq) for p in report.problems]
    assert head_problem(KEY, (1, record.mac), "é" * 64) is not None

"""The audit hash chain: every edit, deletion, reordering, truncation and forgery is named."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from maat.audit.chain import (
    GENESIS,
    AuditEntry,
    AuditRecord,
    ChainProblem,
    canonical,
    seal,
    verify,
)
from maat.auth.secretbox import derive_key

KEY = derive_key(b"\x01" * 32, "audit")
OTHER_KEY = derive_key(b"\x02" * 32, "audit")
T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
SIZE = 20


def _entry(i: int) -> AuditEntry:
    return AuditEntry(
        at=T0 + timedelta(minutes=i),
        actor=f"user:analyst{i % 3}",
        action=("user.create", "token.create", "auth.login")[i % 3],
        target=f"user:u{i}",
        outcome="success" if i % 4 else "failure",
        details={"n": i, "client": "10.0.0.1"},
    )


def build_chain(size: int = SIZE, key: bytes = KEY) -> list[AuditRecord]:
    records: list[AuditRecord] = []
    prev = GENESIS
    for seq in range(1, size + 1):
        record = seal(key, seq, _entry(seq), prev)
        records.append(record)
        prev = record.mac
    return records


CHAIN = build_chain()
HEAD = (CHAIN[-1].seq, CHAIN[-1].mac)


def _kinds(problems: tuple[ChainProblem, ...]) -> list[tuple[str, int]]:
    return [(p.kind, p.seq) for p in problems]


def _names(message: str, seq: int) -> bool:
    return re.search(rf"\brecords? {seq}\b", message) is not None


def _renumber(records: list[AuditRecord]) -> list[AuditRecord]:
    """What an attacker with database access does to hide a gap: seq is not MAC'd."""
    return [replace(r, seq=i) for i, r in enumerate(records, start=1)]


# --- an intact chain -----------------------------------------------------------------------


def test_intact_chain_verifies() -> None:
    report = verify(KEY, CHAIN, anchor=HEAD)
    assert report.ok
    assert report.problems == ()
    assert report.checked == SIZE
    assert (report.head_seq, report.head_mac) == HEAD


def test_intact_chain_verifies_without_anchor() -> None:
    assert verify(KEY, iter(CHAIN)).ok


def test_links_point_at_predecessor() -> None:
    assert CHAIN[0].prev_mac == GENESIS
    assert all(b.prev_mac == a.mac for a, b in pairwise(CHAIN))


def test_prefix_verifies_against_an_older_anchor() -> None:
    report = verify(KEY, CHAIN, anchor=(7, CHAIN[6].mac))
    assert report.ok


def test_empty_chain_with_genesis_anchor_is_ok() -> None:
    report = verify(KEY, [], anchor=(0, GENESIS))
    assert report.ok
    assert report.checked == 0
    assert (report.head_seq, report.head_mac) == (0, GENESIS)


def test_canonical_form_is_sorted_and_keeps_microseconds() -> None:
    entry = replace(_entry(1), at=T0 + timedelta(microseconds=7), details={"b": 1, "a": 2})
    text = canonical(entry).decode()
    assert '"a":2,"b":1' in text
    assert "09:00:00.000007+00:00" in text


# --- edits ---------------------------------------------------------------------------------

FIELD_EDITS: dict[str, Any] = {
    "actor": "user:someone-else",
    "action": "user.delete",
    "target": "user:root",
    "outcome": "success-ish",
    "details": {"n": -1},
    "at": T0 - timedelta(days=1),
}


@given(
    seq=st.integers(1, SIZE),
    field=st.sampled_from(sorted(FIELD_EDITS)),
)
def test_editing_any_field_of_any_record_names_that_record(seq: int, field: str) -> None:
    records = list(CHAIN)
    old = records[seq - 1]
    records[seq - 1] = replace(old, entry=replace(old.entry, **{field: FIELD_EDITS[field]}))
    report = verify(KEY, records, anchor=HEAD)
    assert not report.ok
    assert _kinds(report.problems) == [("edited", seq)]
    assert _names(report.problems[0].message, seq)


def test_edit_message_names_record_7() -> None:
    records = list(CHAIN)
    records[6] = replace(records[6], entry=replace(records[6].entry, actor="user:nobody"))
    (problem,) = verify(KEY, records).problems
    assert "record 7 " in problem.message
    assert problem.seq == 7
    assert problem.kind == "edited"


def test_editing_a_detail_value_type_is_detected() -> None:
    records = list(CHAIN)
    records[4] = replace(records[4], entry=replace(records[4].entry, details={"n": "5"}))
    assert _kinds(verify(KEY, records).problems) == [("edited", 5)]


def test_recomputed_link_without_key_still_fails() -> None:
    # Editing a record and re-pointing the next record at a made-up MAC breaks two MACs.
    records = list(CHAIN)
    records[9] = replace(records[9], entry=replace(records[9].entry, target="user:x"))
    records[10] = replace(records[10], prev_mac="ab" * 32)
    report = verify(KEY, records)
    assert ("edited", 10) in _kinds(report.problems)
    assert ("edited", 11) in _kinds(report.problems)


def test_wrong_key_reports_every_record_edited() -> None:
    report = verify(OTHER_KEY, CHAIN, anchor=HEAD)
    assert _kinds(report.problems) == [("edited", seq) for seq in range(1, SIZE + 1)]
    for problem in report.problems:
        assert _names(problem.message, problem.seq)


def test_chain_rebuilt_by_attacker_with_own_key_fails() -> None:
    forged = build_chain(key=OTHER_KEY)
    report = verify(KEY, forged)
    assert {p.kind for p in report.problems} == {"edited"}
    assert len(report.problems) == SIZE


# --- deletions -----------------------------------------------------------------------------


def test_deleted_middle_record_is_reported_missing() -> None:
    records = CHAIN[:6] + CHAIN[7:]  # record 7 deleted
    report = verify(KEY, records, anchor=HEAD)
    assert not report.ok
    missing = [p for p in report.problems if p.kind == "missing"]
    assert missing
    assert missing[0].seq == 7
    assert _names(missing[0].message, 7)
    assert all(p.kind == "missing" for p in report.problems)


def test_deleted_record_hidden_by_renumbering_is_still_missing() -> None:
    records = _renumber(CHAIN[:6] + CHAIN[7:])
    report = verify(KEY, records)
    assert not report.ok
    assert [p.kind for p in report.problems] == ["missing"]
    assert report.problems[0].seq == 7  # the record now at position 7 lost its predecessor


def test_renumbered_deletion_shows_as_truncation_against_anchor() -> None:
    records = _renumber(CHAIN[:6] + CHAIN[7:])
    kinds = {p.kind for p in verify(KEY, records, anchor=HEAD).problems}
    assert kinds == {"missing", "truncated"}


def test_deleted_first_record_is_missing() -> None:
    report = verify(KEY, CHAIN[1:])
    assert report.problems
    assert report.problems[0].kind == "missing"
    assert report.problems[0].seq == 1


@pytest.mark.parametrize("removed", [1, 3, SIZE - 1])
def test_records_removed_from_the_end_are_truncation(removed: int) -> None:
    records = CHAIN[: SIZE - removed]
    report = verify(KEY, records, anchor=HEAD)
    assert _kinds(report.problems) == [("truncated", SIZE - removed + 1)]
    message = report.problems[0].message
    assert _names(message, SIZE - removed + 1)
    assert f"record {SIZE}" in message


def test_truncation_is_invisible_without_anchor() -> None:
    # Documents why the anchor exists: a clean prefix is a valid chain on its own.
    assert verify(KEY, CHAIN[:15]).ok


def test_deleting_every_record_is_detected_with_anchor() -> None:
    report = verify(KEY, [], anchor=HEAD)
    assert _kinds(report.problems) == [("truncated", 1)]


def test_anchor_mac_mismatch_is_reported() -> None:
    report = verify(KEY, CHAIN, anchor=(SIZE, "0" * 63 + "1"))
    assert _kinds(report.problems) == [("bad-anchor", SIZE)]
    assert _names(report.problems[0].message, SIZE)


# --- reordering ----------------------------------------------------------------------------


def _swap_positions(records: list[AuditRecord], a: int, b: int) -> list[AuditRecord]:
    """Swap the records at seq ``a`` and ``b`` (their seq numbers trade places)."""
    out = list(records)
    ra, rb = out[a - 1], out[b - 1]
    out[a - 1], out[b - 1] = replace(rb, seq=a), replace(ra, seq=b)
    return out


@pytest.mark.parametrize(("a", "b"), [(5, 6), (3, 12), (1, 2), (19, 20)])
def test_swapped_records_are_reported_reordered(a: int, b: int) -> None:
    report = verify(KEY, _swap_positions(CHAIN, a, b), anchor=(SIZE, CHAIN[-1].mac))
    assert not report.ok
    reordered = {p.seq for p in report.problems if p.kind == "reordered"}
    assert {a, b} <= reordered
    assert "edited" not in {p.kind for p in report.problems}
    for problem in report.problems:
        if problem.kind == "reordered":
            assert _names(problem.message, problem.seq)
            assert "out of order" in problem.message


def test_duplicated_record_is_reported_reordered() -> None:
    records = _renumber([*CHAIN[:8], CHAIN[4], *CHAIN[8:]])
    report = verify(KEY, records)
    assert ("reordered", 9) in _kinds(report.problems)


# --- forgeries -----------------------------------------------------------------------------


def test_inserted_record_with_made_up_mac_is_detected() -> None:
    forged = AuditRecord(
        seq=11,
        entry=AuditEntry(
            at=T0 + timedelta(minutes=10, seconds=30),
            actor="user:admin",
            action="user.grant",
            target="user:mallory",
        ),
        prev_mac=CHAIN[9].mac,
        mac="fe" * 32,
    )
    records = _renumber([*CHAIN[:10], forged, *CHAIN[10:]])
    report = verify(KEY, records, anchor=HEAD)
    assert not report.ok
    assert ("edited", 11) in _kinds(report.problems)
    edited = next(p for p in report.problems if p.kind == "edited")
    assert _names(edited.message, 11)
    assert "user.grant by user:admin" in edited.message


def test_forged_record_appended_at_end_is_detected_even_with_matching_link() -> None:
    forged = AuditRecord(
        seq=SIZE + 1,
        entry=AuditEntry(
            at=T0 + timedelta(hours=1), actor="user:admin", action="audit.clear", target="audit"
        ),
        prev_mac=CHAIN[-1].mac,
        mac="00" * 32,
    )
    report = verify(KEY, [*CHAIN, forged], anchor=HEAD)
    assert _kinds(report.problems) == [("edited", SIZE + 1)]


def test_forged_first_record_before_genesis_is_detected() -> None:
    forged = AuditRecord(seq=1, entry=_entry(0), prev_mac=GENESIS, mac="11" * 32)
    report = verify(KEY, _renumber([forged, *CHAIN]))
    kinds = _kinds(report.problems)
    assert ("edited", 1) in kinds
    assert ("reordered", 2) in kinds

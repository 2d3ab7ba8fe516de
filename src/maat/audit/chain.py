"""A keyed hash chain over audit records.

Each record's MAC is HMAC-SHA256(key, canonical(record content) || previous MAC). The key is
derived from Maat's master secret, which is not stored in the database: someone who can edit
the database but not read the secret cannot forge a record. The sequence number is *not* part
of the MAC, so that a record moved to another position keeps a valid MAC and the break in the
links names it as moved rather than edited.

The head (last seq and MAC) is stored beside the records with its own tag,
HMAC(key, "head" || seq || MAC): the head's seq and MAC alone are copied from the records, so
without the tag someone who deletes the last records could point the head at the new last
one and the truncation would go unseen.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from maat.errors import InvalidInput

GENESIS = "0" * 64


@dataclass(frozen=True)
class AuditEntry:
    """What happened: who did what to which object, with details."""

    at: datetime
    actor: str
    action: str
    target: str
    outcome: str = "success"
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditRecord:
    """An entry as stored: position, link to the previous record and its own MAC."""

    seq: int
    entry: AuditEntry
    prev_mac: str
    mac: str

    def describe(self) -> str:
        """A short human name for the record, used in verification reports."""
        at = self.entry.at.isoformat(timespec="seconds")
        return f"record {self.seq} ({at}, {self.entry.action} by {self.entry.actor})"


@dataclass(frozen=True)
class ChainProblem:
    """One defect found in the chain, naming the record concerned."""

    seq: int
    kind: str  # edited | missing | reordered | truncated | bad-anchor
    message: str


@dataclass(frozen=True)
class ChainReport:
    """The outcome of verifying a chain; ``ok`` when no problem was found (an empty chain
    is ok unless an anchor says records existed)."""

    checked: int
    head_seq: int
    head_mac: str
    problems: tuple[ChainProblem, ...]

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems


def canonical(entry: AuditEntry) -> bytes:
    """The bytes the MAC covers: sorted-key JSON, UTC microsecond timestamp.

    Raises :class:`InvalidInput` for a naive time or details JSON cannot carry (an integer
    beyond 64 bits, nesting deeper than 255, an object that is not JSON).
    """
    if entry.at.tzinfo is None or entry.at.utcoffset() is None:
        raise InvalidInput("an audit time must be timezone-aware", field="at")
    # The store keeps UTC: the MAC must cover the instant, not the offset it was given in,
    # or an entry made with a +08:00 clock reads back as "edited".
    at = entry.at.astimezone(UTC)
    try:
        return _dumps(entry, at)
    except orjson.JSONEncodeError as exc:
        raise InvalidInput(f"audit details cannot be encoded: {exc}", field="details") from None


def _dumps(entry: AuditEntry, at: datetime) -> bytes:
    return orjson.dumps(
        {
            "at": at.isoformat(timespec="microseconds"),
            "actor": entry.actor,
            "action": entry.action,
            "target": entry.target,
            "outcome": entry.outcome,
            "details": entry.details,
        },
        option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS,
    )


def mac_of(key: bytes, entry: AuditEntry, prev_mac: str) -> str:
    """The MAC of ``entry`` appended after a record whose MAC is ``prev_mac``."""
    return hmac.new(key, canonical(entry) + prev_mac.encode("ascii"), hashlib.sha256).hexdigest()


def head_tag(key: bytes, seq: int, mac: str) -> str:
    """The tag stored with the head: binds its seq and MAC under the key, domain-separated
    from record MACs so no record MAC can serve as a head tag."""
    message = b"maat-audit-head\x00" + f"{seq}:{mac}".encode("ascii")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def head_problem(key: bytes, head: tuple[int, str], tag: str | None) -> ChainProblem | None:
    """A problem when the stored head's tag is missing or does not match it: the head was
    rewritten (typically to hide records removed from the end), else None."""
    seq, mac = head
    if tag is not None and _same(head_tag(key, seq, mac), tag):
        return None
    return ChainProblem(
        seq,
        "bad-anchor",
        f"the recorded head (record {seq}) was not written by Maat: records may have been "
        "removed from the end; verify against a head kept outside Maat (--anchor)",
    )


def seal(key: bytes, seq: int, entry: AuditEntry, prev_mac: str) -> AuditRecord:
    """Make the record that appends ``entry`` at position ``seq``."""
    return AuditRecord(seq=seq, entry=entry, prev_mac=prev_mac, mac=mac_of(key, entry, prev_mac))


def verify(
    key: bytes, records: Iterable[AuditRecord], *, anchor: tuple[int, str] | None = None
) -> ChainReport:
    """Verify records in ascending ``seq`` order.

    1. Each record's MAC must match its content and stated predecessor: else it was edited
       (or forged: inserted without the key).
    2. Its stated predecessor must be the record before it: if the stated predecessor is
       elsewhere in the chain, the record was moved (reordered); if no record has that
       MAC, records between were deleted.
    3. Sequence numbers must be contiguous from 1.
    4. The last record must be the anchor (the head recorded at append time, or a head
       the user kept outside Maat): else records were removed from the end.
    """
    items = list(records)
    problems: list[ChainProblem] = []
    by_mac = {r.mac: r for r in items}
    prev: AuditRecord | None = None
    for record in items:
        expected_seq = 1 if prev is None else prev.seq + 1
        if record.seq != expected_seq:
            problems.append(
                ChainProblem(
                    expected_seq,
                    "missing",
                    f"{_span(expected_seq, record.seq - 1)} missing "
                    f"(sequence jumps to {record.seq})",
                )
            )
        if not _mac_matches(key, record):
            problems.append(
                ChainProblem(
                    record.seq,
                    "edited",
                    f"{record.describe()} was altered: its content does not match its MAC",
                )
            )
        expected_prev = GENESIS if prev is None else prev.mac
        if record.prev_mac != expected_prev:
            problems.append(_link_problem(record, prev, by_mac))
        prev = record
    head_seq = prev.seq if prev else 0
    head_mac = prev.mac if prev else GENESIS
    if anchor is not None:
        anchor_seq, anchor_mac = anchor
        if anchor_seq > head_seq:
            problems.append(
                ChainProblem(
                    head_seq + 1,
                    "truncated",
                    f"{_span(head_seq + 1, anchor_seq)} removed from the end "
                    f"(the recorded head is record {anchor_seq})",
                )
            )
        elif anchor_seq > 0 and not any(
            r.seq == anchor_seq and _same(r.mac, anchor_mac) for r in items
        ):
            problems.append(
                ChainProblem(
                    anchor_seq,
                    "bad-anchor",
                    f"record {anchor_seq} does not match the recorded head MAC",
                )
            )
    return ChainReport(len(items), head_seq, head_mac, tuple(problems))


def _mac_matches(key: bytes, record: AuditRecord) -> bool:
    try:
        expected = mac_of(key, record.entry, record.prev_mac)
    except (InvalidInput, UnicodeEncodeError):
        # Content Maat could not have sealed (edited into the database): not a crash.
        return False
    return _same(expected, record.mac)


def _same(a: str, b: str) -> bool:
    # compare_digest refuses non-ASCII str with TypeError; a MAC edited into the database
    # may hold anything, so compare bytes.
    return hmac.compare_digest(
        a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass")
    )


def _link_problem(
    record: AuditRecord, prev: AuditRecord | None, by_mac: Mapping[str, AuditRecord]
) -> ChainProblem:
    stated = by_mac.get(record.prev_mac)
    after = f"record {prev.seq}" if prev else "the start of the log"
    if stated is not None:
        return ChainProblem(
            record.seq,
            "reordered",
            f"{record.describe()} is out of order: it was appended after record "
            f"{stated.seq} but now follows {after}",
        )
    if record.prev_mac == GENESIS:
        return ChainProblem(
            record.seq,
            "reordered",
            f"{record.describe()} is out of order: it was the first record but now follows {after}",
        )
    return ChainProblem(
        record.seq,
        "missing",
        f"the record that preceded {record.describe()} is missing (deleted after {after})",
    )


def _span(first: int, last: int) -> str:
    return f"record {first} is" if first == last else f"records {first}..{last} are"

"""Reading and verifying the audit log."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from maat.audit import chain
from maat.audit.chain import AuditRecord, ChainReport
from maat.errors import InvalidInput
from maat.services.platform import Platform


def verify_audit(platform: Platform, *, anchor: tuple[int, str] | None = None) -> ChainReport:
    """Verify the whole chain against the key and the stored head (or a given anchor).

    Problems found (edited, missing, reordered, truncated records) are returned with the
    record each concerns; nothing is raised for them, so a report lists every problem. The
    stored head's keyed tag is checked too, given an anchor or not: a head rewritten to
    match a truncated chain is itself a problem.
    """
    key = platform.store.audit_key
    with platform.transaction(write=False) as uow:
        stored_head = uow.audit.head()
        report = chain.verify(key, uow.audit.records(), anchor=anchor or stored_head)
        forged = chain.head_problem(key, stored_head, uow.audit.head_tag())
    if forged is None:
        return report
    return replace(report, problems=(*report.problems, forged))


def parse_anchor(text: str) -> tuple[int, str]:
    """Parse ``SEQ:MAC`` as printed by ``maat audit verify``."""
    seq, _, mac = text.partition(":")
    if not seq.isdigit() or len(mac) != 64 or any(c not in "0123456789abcdef" for c in mac):
        raise InvalidInput(
            "an anchor is SEQ:MAC, as printed by 'maat audit verify'", field="anchor"
        )
    return int(seq), mac


def list_audit(
    platform: Platform, *, after_seq: int = 0, limit: int = 100
) -> Sequence[AuditRecord]:
    """A page of audit records after ``after_seq``."""
    limit = max(1, min(limit, platform.settings.limits.max_page_size))
    with platform.transaction(write=False) as uow:
        return list(uow.audit.records(after_seq=after_seq, limit=limit))

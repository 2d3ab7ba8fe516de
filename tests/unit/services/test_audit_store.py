"""The audit chain as stored: tampering done directly in the database is found and named."""

from __future__ import annotations

import threading

from sqlalchemy import text

from maat.services import audit, users
from maat.services.platform import Platform
from maat_testkit import PASSWORD


def _fill(platform: Platform, n: int = 6) -> None:
    for i in range(n):
        users.add_user(platform, "test", f"user{i}", ["auditor"], PASSWORD)


def _sql(platform: Platform, statement: str, **params: object) -> None:
    with platform.transaction() as uow:
        uow.session.execute(text(statement), params)


def test_record_edited_in_the_database_is_named(platform: Platform) -> None:
    _fill(platform)
    _sql(platform, "UPDATE audit_log SET actor = 'someone-else' WHERE seq = 3")
    report = audit.verify_audit(platform)
    assert [(p.seq, p.kind) for p in report.problems] == [(3, "edited")]
    assert "record 3" in report.problems[0].message


def test_details_edited_in_the_database_are_found(platform: Platform) -> None:
    _fill(platform)
    _sql(platform, "UPDATE audit_log SET details = :d WHERE seq = 2", d='{"roles": ["admin"]}')
    assert [(p.seq, p.kind) for p in audit.verify_audit(platform).problems] == [(2, "edited")]


def test_record_deleted_from_the_database_is_named(platform: Platform) -> None:
    _fill(platform)
    _sql(platform, "DELETE FROM audit_log WHERE seq = 4")
    problems = audit.verify_audit(platform).problems
    assert {p.kind for p in problems} == {"missing"}
    assert any(p.seq == 4 for p in problems)


def test_records_swapped_in_the_database_are_reported_as_reordered(platform: Platform) -> None:
    _fill(platform)
    _sql(platform, "UPDATE audit_log SET seq = 100 WHERE seq = 3")
    _sql(platform, "UPDATE audit_log SET seq = 3 WHERE seq = 4")
    _sql(platform, "UPDATE audit_log SET seq = 4 WHERE seq = 100")
    problems = audit.verify_audit(platform).problems
    assert {p.kind for p in problems} == {"reordered"}
    assert {p.seq for p in problems} >= {3, 4}


def test_tail_truncated_in_the_database_is_found(platform: Platform) -> None:
    _fill(platform)
    _sql(platform, "DELETE FROM audit_log WHERE seq >= 6")
    problems = audit.verify_audit(platform).problems
    assert [p.kind for p in problems] == ["truncated"]


def test_forged_record_appended_without_the_key_is_found(platform: Platform) -> None:
    _fill(platform, 2)
    with platform.transaction(write=False) as uow:
        seq, mac = uow.audit.head()
    _sql(
        platform,
        "INSERT INTO audit_log (seq, at, actor, action, target, outcome, details, prev_mac, mac) "
        "VALUES (:seq, :at, 'cli:root', 'user.create', 'user:ghost', 'success', '{}', :prev, :mac)",
        seq=seq + 1,
        at=platform.now().replace(tzinfo=None),
        prev=mac,
        mac="f" * 64,
    )
    _sql(platform, "UPDATE audit_head SET seq = :s, mac = :m", s=seq + 1, m="f" * 64)
    problems = audit.verify_audit(platform).problems
    # The forged record fails its MAC, and the head it was written into fails its tag.
    assert [(p.seq, p.kind) for p in problems] == [(seq + 1, "edited"), (seq + 1, "bad-anchor")]


def test_concurrent_appends_keep_one_unbroken_chain(platform: Platform) -> None:
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            for i in range(5):
                with platform.transaction() as uow:
                    platform.audit(uow, f"worker{k}", "test.append", f"item:{i}")
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    report = audit.verify_audit(platform)
    assert report.ok, report.problems
    assert report.checked == 20


def test_tail_truncated_with_the_head_rewritten_to_match_is_found(platform: Platform) -> None:
    # What an intruder with database access (not the master secret) does to erase its last
    # actions: delete them and point the stored head at the record now last.
    _fill(platform)
    _sql(platform, "DELETE FROM audit_log WHERE seq >= 6")
    _sql(
        platform,
        "UPDATE audit_head SET seq = 5, mac = (SELECT mac FROM audit_log WHERE seq = 5)",
    )
    problems = audit.verify_audit(platform).problems
    assert [p.kind for p in problems] == ["bad-anchor"]


def test_head_tag_cleared_in_the_database_is_found(platform: Platform) -> None:
    _fill(platform, 2)
    _sql(platform, "UPDATE audit_head SET tag = NULL")
    assert [p.kind for p in audit.verify_audit(platform).problems] == ["bad-anchor"]


def test_intact_store_verifies_with_its_head_tag(platform: Platform) -> None:
    _fill(platform, 3)
    report = audit.verify_audit(platform)
    assert report.ok, report.problems


def test_upgrade_to_0015_keeps_the_chain_and_seals_the_head_at_the_next_append(
    platform: Platform,
) -> None:
    """0015 adds the head tag; a store upgraded from 0014 has none (the migration has no
    key), which verification reports until the next append, as ``maat init`` does."""
    from alembic import command

    _fill(platform, 2)
    config = platform.store._alembic_config()
    with platform.store.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0014")
    platform.store.migrate()
    assert [p.kind for p in audit.verify_audit(platform).problems] == ["bad-anchor"]
    users.add_user(platform, "test", "after-upgrade", ["auditor"], PASSWORD)
    report = audit.verify_audit(platform)
    assert report.ok, report.problems

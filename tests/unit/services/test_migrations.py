"""The Alembic migrations create exactly the schema the models describe."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from maat.adapters.storage.models import Base, UtcDateTime
from maat.services.platform import Platform


def test_migrations_match_models(platform: Platform) -> None:
    with platform.store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_schema_is_at_head_after_migrate(platform: Platform) -> None:
    platform.store.check_schema()
    assert platform.store.current_revision() == platform.store.expected_revision()


def test_migrate_twice_is_harmless(platform: Platform) -> None:
    assert platform.store.migrate() == platform.store.expected_revision()


def _insert_old_alerts(connection: Any, alerts: list[Any]) -> None:
    """Alerts as an older schema stores them (the models describe the newest one)."""
    table = sa.table(
        "alerts", sa.column("id"), sa.column("rule_id"), sa.column("title"), sa.column("level"),
        sa.column("techniques", sa.JSON), sa.column("entities", sa.JSON),
        sa.column("created_at", UtcDateTime()),
    )  # fmt: skip
    for alert in alerts:
        connection.execute(sa.insert(table).values(
            id=alert.id, rule_id=alert.rule_id, title=alert.title, level=alert.level,
            techniques=list(alert.techniques), entities=dict(alert.entities),
            created_at=alert.created_at,
        ))  # fmt: skip


def test_alerts_stored_before_0014_are_not_forwarded_again(platform: Platform) -> None:
    """0014 adds ``forwarded_at``; what was stored before counts as forwarded, so the first
    retry after an upgrade does not send a day of old alerts again."""
    from datetime import UTC, datetime, timedelta

    from alembic import command

    from maat.detect.records import AlertRecord

    created = datetime(2026, 11, 1, tzinfo=UTC)
    old = AlertRecord(id="alr_old", rule_id="r", title="t", level="high", created_at=created)
    config = platform.store._alembic_config()
    with platform.store.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0013")
        _insert_old_alerts(connection, [old])
    platform.store.migrate()
    with platform.transaction(write=False) as uow:
        [stored] = uow.alerts.list(limit=10)
        assert stored.forwarded_at == created
        assert uow.alerts.unforwarded(created - timedelta(days=1), 10) == []


def test_breach_alerts_stored_before_0013_no_longer_lock_out_what_is_in_reach(
    platform: Platform,
) -> None:
    """0013 renames the in-reach entities of stored vendor breach alerts (ADR 0014), so a
    desk merely running the vendor's software is not read as compromised after upgrading."""
    from datetime import UTC, datetime

    from alembic import command

    from maat.core.ids import new_id
    from maat.detect.records import AlertRecord

    now = datetime(2026, 11, 1, tzinfo=UTC)
    old = AlertRecord(id=new_id("alr"), rule_id="maat.vendors.breach", level="critical",
                      title="Vendor breach recorded: Contoso ERP", created_at=now,
                      entities={"vendors": ["Contoso ERP"], "hosts": ["OFF-WS01"],
                                "users": ["contoso.support"]})  # fmt: skip
    other = AlertRecord(id=new_id("alr"), rule_id="web-shell", level="high", title="w",
                        created_at=now, entities={"hosts": ["CONTOSO-WEB01"]})  # fmt: skip
    config = platform.store._alembic_config()
    with platform.store.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0012")
        _insert_old_alerts(connection, [old, other])
    platform.store.migrate()
    with platform.transaction(write=False) as uow:
        stored = {a.id: a.entities for a in uow.alerts.list(limit=10)}
        assert uow.alerts.open_naming("hosts", "OFF-WS01", ["critical"]) == []
    assert stored[old.id] == {"vendors": ["Contoso ERP"], "reach_hosts": ["OFF-WS01"],
                              "reach_users": ["contoso.support"]}  # fmt: skip
    assert stored[other.id] == {"hosts": ["CONTOSO-WEB01"]}

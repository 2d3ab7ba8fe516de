"""The Alembic migrations create exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from maat.adapters.storage.models import Base
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

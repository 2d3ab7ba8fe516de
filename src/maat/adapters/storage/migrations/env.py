"""Alembic environment: runs on the connection Maat passes in (never reads alembic.ini)."""

from __future__ import annotations

from alembic import context

from maat.adapters.storage.models import Base
from maat.errors import StorageError

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - Maat always passes a connection
    raise StorageError("run migrations through 'maat init', which passes a connection")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()

"""The SQL state store: SQLAlchemy models, Alembic migrations, repositories."""

from maat.adapters.storage.store import SqlStore

__all__ = ["SqlStore"]

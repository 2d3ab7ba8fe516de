"""device certificates, execution policy digest width, one open finding per vendor breach

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26

- ``devices.cert_sha256``: a device may prove itself by the client certificate a proxy
  verified; the change epoch (0009) now also moves when it changes.
- ``exec_policies.digest``: ``sha256:`` and 64 hex digits is 71 characters; the column of
  0003 was 64 wide, which PostgreSQL enforces (SQLite does not).
- ``vendor_findings``: at most one open finding per vendor and breach key, so two
  compliance reviews at once cannot open the same finding twice.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_BUMP = "UPDATE change_epochs SET n = n + 1 WHERE name = 'access'"
_DEVICE_COLUMNS = ("name", "host", "tags", "address", "token_id", "quarantined_at",
                   "quarantine_reason")  # fmt: skip


def _device_trigger(columns: tuple[str, ...]) -> None:
    """(Re)create the devices table's update trigger watching ``columns``."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS maat_epoch_devices_upd ON devices")
        changed = " OR ".join(f"OLD.{c}::text IS DISTINCT FROM NEW.{c}::text" for c in columns)
        op.execute("CREATE TRIGGER maat_epoch_devices_upd AFTER UPDATE ON devices FOR EACH ROW "
                   f"WHEN ({changed}) EXECUTE FUNCTION maat_bump_access_epoch()")  # fmt: skip
        return
    op.execute("DROP TRIGGER IF EXISTS maat_epoch_devices_upd")
    changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in columns)
    op.execute(f"CREATE TRIGGER maat_epoch_devices_upd AFTER UPDATE ON devices WHEN {changed} "
               f"BEGIN {_BUMP}; END")  # fmt: skip


def upgrade() -> None:
    with op.batch_alter_table("devices") as batch:
        batch.add_column(sa.Column("cert_sha256", sa.String(length=64), nullable=True))
        batch.create_index(batch.f("ix_devices_cert_sha256"), ["cert_sha256"])
    _device_trigger((*_DEVICE_COLUMNS, "cert_sha256"))
    with op.batch_alter_table("exec_policies") as batch:
        batch.alter_column("digest", type_=sa.String(length=80),
                           existing_type=sa.String(length=64), existing_nullable=False)  # fmt: skip
    op.create_index(
        "uq_vendor_findings_open", "vendor_findings", ["vendor_id", "key"], unique=True,
        sqlite_where=sa.text("closed_at IS NULL"), postgresql_where=sa.text("closed_at IS NULL"),
    )  # fmt: skip


def downgrade() -> None:
    op.drop_index("uq_vendor_findings_open", table_name="vendor_findings")
    with op.batch_alter_table("exec_policies") as batch:
        batch.alter_column("digest", type_=sa.String(length=64),
                           existing_type=sa.String(length=80), existing_nullable=False)  # fmt: skip
    _device_trigger(_DEVICE_COLUMNS)
    with op.batch_alter_table("devices") as batch:
        batch.drop_index(batch.f("ix_devices_cert_sha256"))
        batch.drop_column("cert_sha256")

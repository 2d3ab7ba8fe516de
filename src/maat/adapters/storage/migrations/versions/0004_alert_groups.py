"""alert groups: group key, grouped event ids, hit count, last seen

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import maat.adapters.storage.models

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("group_key", sa.String(length=64), server_default="", nullable=False)
        )
        batch_op.add_column(sa.Column("event_ids", sa.JSON(), server_default="[]", nullable=False))
        batch_op.add_column(sa.Column("count", sa.Integer(), server_default="1", nullable=False))
        batch_op.add_column(
            sa.Column(
                "last_seen", maat.adapters.storage.models.UtcDateTime(timezone=True), nullable=True
            )
        )
        batch_op.create_index(batch_op.f("ix_alerts_group_key"), ["group_key"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alerts_group_key"))
        batch_op.drop_column("last_seen")
        batch_op.drop_column("count")
        batch_op.drop_column("event_ids")
        batch_op.drop_column("group_key")

"""alerts remember when they were forwarded, so a failed forward is retried

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-26

``alerts.forwarded_to``: the receivers (webhook, syslog) that took the alert, so a retry
goes only to the others; ``alerts.forwarded_at``: when every configured receiver took it,
empty until then (the writer loop sends it again). Alerts stored before this revision count
as forwarded (at their creation), so an upgrade resends nothing.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import maat.adapters.storage.models

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("forwarded_to", sa.JSON(), server_default="[]", nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "forwarded_at",
                maat.adapters.storage.models.UtcDateTime(timezone=True),
                nullable=True,
            )
        )
        batch_op.create_index(batch_op.f("ix_alerts_forwarded_at"), ["forwarded_at"])
    op.execute("UPDATE alerts SET forwarded_at = created_at")


def downgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alerts_forwarded_at"))
        batch_op.drop_column("forwarded_at")
        batch_op.drop_column("forwarded_to")

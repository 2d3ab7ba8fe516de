"""vendors: the vendor register, and the vendor an account belongs to

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import maat.adapters.storage.models

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vendors",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("criticality", sa.String(length=20), nullable=False),
        sa.Column("tiers", sa.JSON(), nullable=False),
        sa.Column("contacts", sa.JSON(), nullable=False),
        sa.Column("website", sa.String(length=2000), nullable=True),
        sa.Column(
            "breached_at", maat.adapters.storage.models.UtcDateTime(timezone=True), nullable=True
        ),
        sa.Column("breach_note", sa.Text(), nullable=True),
        sa.Column(
            "created_at", maat.adapters.storage.models.UtcDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vendors")),
        sa.UniqueConstraint("name", name=op.f("uq_vendors_name")),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("vendor", sa.String(length=200), nullable=True))
        batch_op.create_index(batch_op.f("ix_users_vendor"), ["vendor"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_vendor"))
        batch_op.drop_column("vendor")
    op.drop_table("vendors")

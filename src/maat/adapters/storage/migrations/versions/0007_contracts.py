"""contracts: a vendor's contract terms

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import maat.adapters.storage.models

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_TIME = maat.adapters.storage.models.UtcDateTime


def upgrade() -> None:
    op.create_table(
        "contracts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("vendor_id", sa.String(length=40), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("signed_at", _TIME(timezone=True), nullable=False),
        sa.Column("recorded_at", _TIME(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contracts")),
        sa.UniqueConstraint("vendor_id", name=op.f("uq_contracts_vendor_id")),
    )


def downgrade() -> None:
    op.drop_table("contracts")

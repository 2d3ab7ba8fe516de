"""assessments: scored vendor assessments with evidence and expiry

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import maat.adapters.storage.models

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_TIME = maat.adapters.storage.models.UtcDateTime


def upgrade() -> None:
    op.create_table(
        "assessments",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("vendor_id", sa.String(length=40), nullable=False),
        sa.Column("questionnaire", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("score", sa.Double(), nullable=False),
        sa.Column("answered_at", _TIME(timezone=True), nullable=False),
        sa.Column("assessed_at", _TIME(timezone=True), nullable=False),
        sa.Column("expires_at", _TIME(timezone=True), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("points", sa.JSON(), nullable=False),
        sa.Column("missing", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assessments")),
    )
    with op.batch_alter_table("assessments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_assessments_expires_at"), ["expires_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_assessments_vendor_id"), ["vendor_id"], unique=False)


def downgrade() -> None:
    op.drop_table("assessments")

"""vendor incidents and findings: incident notices, contract breaches kept as findings

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import maat.adapters.storage.models

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_TIME = maat.adapters.storage.models.UtcDateTime


def upgrade() -> None:
    op.create_table(
        "vendor_incidents",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("vendor_id", sa.String(length=40), nullable=False),
        sa.Column("occurred_at", _TIME(timezone=True), nullable=False),
        sa.Column("notified_at", _TIME(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("recorded_at", _TIME(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=400), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vendor_incidents")),
    )
    op.create_index(op.f("ix_vendor_incidents_vendor_id"), "vendor_incidents", ["vendor_id"])
    op.create_table(
        "vendor_findings",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("vendor_id", sa.String(length=40), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("term", sa.String(length=100), nullable=False),
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("opened_at", _TIME(timezone=True), nullable=False),
        sa.Column("closed_at", _TIME(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vendor_findings")),
    )
    op.create_index(op.f("ix_vendor_findings_vendor_id"), "vendor_findings", ["vendor_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_vendor_findings_vendor_id"), table_name="vendor_findings")
    op.drop_table("vendor_findings")
    op.drop_index(op.f("ix_vendor_incidents_vendor_id"), table_name="vendor_incidents")
    op.drop_table("vendor_incidents")

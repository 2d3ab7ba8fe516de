"""access: devices, access policy versions, alert state

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import maat.adapters.storage.models

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_TIME = maat.adapters.storage.models.UtcDateTime


def upgrade() -> None:
    op.create_table(
        "devices",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("host", sa.String(length=200), nullable=False),
        sa.Column("created_at", _TIME(timezone=True), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("token_id", sa.String(length=40), nullable=True),
        sa.Column("last_heartbeat_at", _TIME(timezone=True), nullable=True),
        sa.Column("quarantined_at", _TIME(timezone=True), nullable=True),
        sa.Column("quarantine_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_devices")),
        sa.UniqueConstraint("name", name=op.f("uq_devices_name")),
    )
    op.create_index(op.f("ix_devices_host"), "devices", ["host"])
    op.create_index(op.f("ix_devices_token_id"), "devices", ["token_id"])
    op.create_table(
        "access_policies",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", _TIME(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=400), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_policies")),
        sa.UniqueConstraint("kind", "version", name="uq_access_policies_version"),
    )
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("groups", sa.JSON(), nullable=False, server_default="[]"))
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("mfa_at", _TIME(timezone=True), nullable=True))
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("state", sa.String(length=20), nullable=False,
                                   server_default="open"))  # fmt: skip
        batch.add_column(sa.Column("resolved_at", _TIME(timezone=True), nullable=True))
        batch.add_column(sa.Column("resolved_by", sa.String(length=400), nullable=True))
        batch.create_index(batch.f("ix_alerts_state"), ["state"])


def downgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.drop_index(batch.f("ix_alerts_state"))
        batch.drop_column("resolved_by")
        batch.drop_column("resolved_at")
        batch.drop_column("state")
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("mfa_at")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("groups")
    op.drop_table("access_policies")
    op.drop_index(op.f("ix_devices_token_id"), table_name="devices")
    op.drop_index(op.f("ix_devices_host"), table_name="devices")
    op.drop_table("devices")

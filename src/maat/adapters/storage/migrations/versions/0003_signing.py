"""signing: certificates, crls, artifacts, sightings, exec policies, alerts

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import maat.adapters.storage.models

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("rule_id", sa.String(length=200), nullable=False),
        sa.Column("title", sa.String(length=1000), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=False),
        sa.Column("techniques", sa.JSON(), nullable=False),
        sa.Column("entities", sa.JSON(), nullable=False),
        sa.Column(
            "created_at", maat.adapters.storage.models.UtcDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alerts_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_alerts_rule_id"), ["rule_id"], unique=False)

    op.create_table(
        "artifacts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=1000), nullable=False),
        sa.Column("product", sa.String(length=200), nullable=True),
        sa.Column("version", sa.String(length=100), nullable=True),
        sa.Column("signer_fingerprint", sa.String(length=64), nullable=True),
        sa.Column(
            "signed_at", maat.adapters.storage.models.UtcDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "recorded_at", maat.adapters.storage.models.UtcDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_artifacts")),
    )
    with op.batch_alter_table("artifacts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_artifacts_sha256"), ["sha256"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_artifacts_signer_fingerprint"), ["signer_fingerprint"], unique=False
        )

    op.create_table(
        "certificates",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("serial", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("subject", sa.String(length=1000), nullable=False),
        sa.Column("issuer", sa.String(length=1000), nullable=False),
        sa.Column(
            "not_before", maat.adapters.storage.models.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "not_after", maat.adapters.storage.models.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column("key_label", sa.String(length=200), nullable=True),
        sa.Column("vendor", sa.String(length=200), nullable=True),
        sa.Column("pem", sa.Text(), nullable=False),
        sa.Column(
            "revoked_at", maat.adapters.storage.models.UtcDateTime(timezone=True), nullable=True
        ),
        sa.Column("revocation_reason", sa.String(length=40), nullable=True),
        sa.Column(
            "created_at", maat.adapters.storage.models.UtcDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificates")),
        sa.UniqueConstraint("fingerprint", name=op.f("uq_certificates_fingerprint")),
    )
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_certificates_serial"), ["serial"], unique=False)

    op.create_table(
        "crls",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("issuer", sa.String(length=1000), nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=True),
        sa.Column(
            "this_update", maat.adapters.storage.models.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "next_update", maat.adapters.storage.models.UtcDateTime(timezone=True), nullable=True
        ),
        sa.Column("source", sa.String(length=1000), nullable=False),
        sa.Column("der", sa.LargeBinary(), nullable=False),
        sa.Column(
            "imported_at", maat.adapters.storage.models.UtcDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crls")),
    )
    with op.batch_alter_table("crls", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_crls_issuer"), ["issuer"], unique=False)

    op.create_table(
        "exec_policies",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at", maat.adapters.storage.models.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column("created_by", sa.String(length=400), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exec_policies")),
        sa.UniqueConstraint("name", "version", name="uq_exec_policies_version"),
    )
    op.create_table(
        "sightings",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("host", sa.String(length=253), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(length=2000), nullable=False),
        sa.Column("signer_fingerprint", sa.String(length=64), nullable=True),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("policy", sa.String(length=200), nullable=True),
        sa.Column(
            "seen_at", maat.adapters.storage.models.UtcDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sightings")),
    )
    with op.batch_alter_table("sightings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sightings_host"), ["host"], unique=False)
        batch_op.create_index(batch_op.f("ix_sightings_sha256"), ["sha256"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_sightings_signer_fingerprint"), ["signer_fingerprint"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("sightings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sightings_signer_fingerprint"))
        batch_op.drop_index(batch_op.f("ix_sightings_sha256"))
        batch_op.drop_index(batch_op.f("ix_sightings_host"))

    op.drop_table("sightings")
    op.drop_table("exec_policies")
    with op.batch_alter_table("crls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crls_issuer"))

    op.drop_table("crls")
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_certificates_serial"))

    op.drop_table("certificates")
    with op.batch_alter_table("artifacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_artifacts_signer_fingerprint"))
        batch_op.drop_index(batch_op.f("ix_artifacts_sha256"))

    op.drop_table("artifacts")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alerts_rule_id"))
        batch_op.drop_index(batch_op.f("ix_alerts_created_at"))

    op.drop_table("alerts")

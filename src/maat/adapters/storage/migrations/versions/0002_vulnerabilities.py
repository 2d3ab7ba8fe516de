"""vulnerabilities: hosts, products, sboms, findings

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import maat.adapters.storage.models

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "findings",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("subject_kind", sa.String(length=20), nullable=False),
        sa.Column("subject_id", sa.String(length=40), nullable=False),
        sa.Column("component_key", sa.String(length=1000), nullable=False),
        sa.Column("component_name", sa.String(length=400), nullable=False),
        sa.Column("component_version", sa.String(length=200), nullable=False),
        sa.Column("component_purl", sa.Text(), nullable=True),
        sa.Column("advisory_id", sa.String(length=200), nullable=False),
        sa.Column("aliases", sa.JSON(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("severity", sa.String(length=20), nullable=False),
        sa.Column("cvss", sa.Double(), nullable=True),
        sa.Column("kev", sa.Boolean(), nullable=False),
        sa.Column("epss", sa.Double(), nullable=True),
        sa.Column("priority", sa.Double(), nullable=False),
        sa.Column("priority_label", sa.String(length=4), nullable=False),
        sa.Column("fixed_versions", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column(
            "opened_at", maat.adapters.storage.models.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "due_at", maat.adapters.storage.models.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "last_seen_at", maat.adapters.storage.models.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "fixed_at", maat.adapters.storage.models.UtcDateTime(timezone=True), nullable=True
        ),
        sa.Column("risk_approver", sa.String(length=200), nullable=True),
        sa.Column("risk_reason", sa.Text(), nullable=True),
        sa.Column(
            "risk_expires_at",
            maat.adapters.storage.models.UtcDateTime(timezone=True),
            nullable=True,
        ),
        sa.Column("vex_justification", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_findings")),
        sa.UniqueConstraint(
            "subject_kind",
            "subject_id",
            "component_key",
            "advisory_id",
            name="uq_findings_identity",
        ),
    )
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_findings_due_at"), ["due_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_findings_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_findings_subject_id"), ["subject_id"], unique=False)

    op.create_table(
        "hosts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=253), nullable=False),
        sa.Column("host_group", sa.String(length=200), nullable=False),
        sa.Column("criticality", sa.String(length=20), nullable=False),
        sa.Column("exposure", sa.String(length=20), nullable=False),
        sa.Column("os_ecosystem", sa.String(length=100), nullable=True),
        sa.Column("os_name", sa.String(length=200), nullable=True),
        sa.Column("end_of_life", sa.String(length=200), nullable=True),
        sa.Column("isolation_reasons", sa.JSON(), nullable=False),
        sa.Column(
            "inventory_at", maat.adapters.storage.models.UtcDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "created_at", maat.adapters.storage.models.UtcDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hosts")),
        sa.UniqueConstraint("name", name=op.f("uq_hosts_name")),
    )
    op.create_table(
        "products",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("vendor", sa.String(length=200), nullable=True),
        sa.Column("criticality", sa.String(length=20), nullable=False),
        sa.Column(
            "created_at", maat.adapters.storage.models.UtcDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
        sa.UniqueConstraint("name", name=op.f("uq_products_name")),
    )
    op.create_table(
        "sboms",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("product_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=400), nullable=False),
        sa.Column("format", sa.String(length=40), nullable=False),
        sa.Column("spec_version", sa.String(length=20), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("components", sa.Integer(), nullable=False),
        sa.Column(
            "imported_at", maat.adapters.storage.models.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column("document", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_sboms_product_id_products")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sboms")),
    )
    with op.batch_alter_table("sboms", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sboms_product_id"), ["product_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sboms", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sboms_product_id"))

    op.drop_table("sboms")
    op.drop_table("products")
    op.drop_table("hosts")
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_findings_subject_id"))
        batch_op.drop_index(batch_op.f("ix_findings_status"))
        batch_op.drop_index(batch_op.f("ix_findings_due_at"))

    op.drop_table("findings")

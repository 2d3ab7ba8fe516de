"""the audit chain head carries a keyed tag, so a rewritten head is found

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-27

``audit_head.tag``: HMAC of the head's seq and MAC under the audit key. Without it, whoever
deletes the last audit records can point the head at the new last record (its seq and MAC
are in ``audit_log``) and the truncation goes unseen. The migration has no key, so the tag
stays empty until the next append; ``maat init`` appends one right after migrating.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_head", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tag", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_head", schema=None) as batch_op:
        batch_op.drop_column("tag")

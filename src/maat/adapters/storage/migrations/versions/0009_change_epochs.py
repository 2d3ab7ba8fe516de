"""change epochs: a counter the database bumps whenever data an access decision reads changes

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26

Triggers keep it exact across processes (the CLI, another server, an import): a decision
point reuses a device's posture and a token's principal only while the counter has not
moved. Heartbeats, alert counts and token last-use times are left out: they change all the
time and the posture reads them by time, not by content.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# table -> the columns whose change matters to a decision (an UPDATE that leaves them as
# they were, such as a heartbeat or an alert's hit count, does not move the epoch)
WATCHED: dict[str, tuple[str, ...]] = {
    "findings": ("status", "due_at", "severity", "subject_id", "risk_approver",
                 "risk_expires_at", "component_name", "component_version"),
    "alerts": ("state", "level", "entities"),
    "devices": ("name", "host", "tags", "address", "token_id", "quarantined_at",
                "quarantine_reason"),
    "hosts": ("name",),
    "exec_policies": ("active", "text"),
    "users": ("name", "roles", "groups", "vendor", "disabled", "failed_logins"),
    "vendors": ("name", "breached_at"),
    "api_tokens": ("revoked_at", "expires_at", "scopes", "user_id"),
    "access_policies": ("text",),
}  # fmt: skip
_BUMP = "UPDATE change_epochs SET n = n + 1 WHERE name = 'access'"


def upgrade() -> None:
    op.create_table(
        "change_epochs",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_change_epochs")),
    )
    op.execute("INSERT INTO change_epochs (name, n) VALUES ('access', 0)")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION maat_bump_access_epoch() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN {_BUMP}; RETURN NULL; END $$"
        )
        for table, columns in WATCHED.items():
            # json has no equality operator: compare the text forms.
            changed = " OR ".join(f"OLD.{c}::text IS DISTINCT FROM NEW.{c}::text" for c in columns)
            op.execute(
                f"CREATE TRIGGER maat_epoch_{table}_upd AFTER UPDATE ON {table} FOR EACH ROW "
                f"WHEN ({changed}) EXECUTE FUNCTION maat_bump_access_epoch()"
            )
            op.execute(
                f"CREATE TRIGGER maat_epoch_{table}_insdel AFTER INSERT OR DELETE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION maat_bump_access_epoch()"
            )
        return
    for table, columns in WATCHED.items():
        changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in columns)
        op.execute(f"CREATE TRIGGER maat_epoch_{table}_upd AFTER UPDATE ON {table} "
                   f"WHEN {changed} BEGIN {_BUMP}; END")  # fmt: skip
        for event, suffix in (("INSERT", "ins"), ("DELETE", "del")):
            op.execute(f"CREATE TRIGGER maat_epoch_{table}_{suffix} AFTER {event} ON {table} "
                       f"BEGIN {_BUMP}; END")  # fmt: skip


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in WATCHED:
            op.execute(f"DROP TRIGGER IF EXISTS maat_epoch_{table}_upd ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS maat_epoch_{table}_insdel ON {table}")
        op.execute("DROP FUNCTION IF EXISTS maat_bump_access_epoch()")
    else:
        for table in WATCHED:
            for suffix in ("ins", "upd", "del"):
                op.execute(f"DROP TRIGGER IF EXISTS maat_epoch_{table}_{suffix}")
    op.drop_table("change_epochs")

"""vendor breach alerts name what is in reach apart from what is compromised

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26

A breach alert named the hosts and identities in the vendor's reach as ``hosts`` and
``users``, which device posture and identity risk read as evidence of compromise on them:
every desk running the vendor's software became untrusted. They are ``reach_hosts`` and
``reach_users`` now (ADR 0014); this renames them in the breach alerts already stored.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_ALERTS = sa.table("alerts", sa.column("id", sa.String), sa.column("rule_id", sa.String),
                   sa.column("entities", sa.JSON))  # fmt: skip
_RENAMES = (("hosts", "reach_hosts"), ("users", "reach_users"))


def _rename(forward: bool) -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(_ALERTS.c.id, _ALERTS.c.entities).where(
            _ALERTS.c.rule_id == "maat.vendors.breach"
        )
    ).all()
    for alert_id, entities in rows:
        data: dict[str, Any] = dict(json.loads(entities) if isinstance(entities, str) else entities)
        for old, new in _RENAMES if forward else ((n, o) for o, n in _RENAMES):
            if old in data and new not in data:
                data[new] = data.pop(old)
        bind.execute(sa.update(_ALERTS).where(_ALERTS.c.id == alert_id).values(entities=data))


def upgrade() -> None:
    _rename(forward=True)


def downgrade() -> None:
    _rename(forward=False)

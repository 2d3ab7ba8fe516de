"""Alerts raised by detection (Sigma rules, correlations, indicators) and by other controls."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from maat.api.security import platform_of, requires
from maat.auth.permissions import Permission
from maat.detect.records import AlertRecord
from maat.services import alerts as alerts_service

router = APIRouter(prefix="/v1", tags=["alerts"])


class AlertOut(BaseModel):
    """A stored alert: its rule, level, techniques, entities and the events behind it."""

    id: str
    rule_id: str
    title: str
    level: str
    techniques: list[str]
    entities: dict[str, Any]
    event_ids: list[str]
    count: int
    created_at: datetime
    last_seen: datetime | None

    @classmethod
    def of(cls, a: AlertRecord) -> AlertOut:
        """The API view of a record."""
        return cls(
            id=a.id, rule_id=a.rule_id, title=a.title, level=a.level,
            techniques=list(a.techniques), entities=dict(a.entities),
            event_ids=list(a.event_ids), count=a.count, created_at=a.created_at,
            last_seen=a.last_seen,
        )  # fmt: skip


@router.get("/alerts", **requires(Permission.ALERTS_READ))
def list_alerts(
    request: Request,
    rule_id: str | None = Query(default=None, max_length=200),
    host: str | None = Query(default=None, max_length=253),
    level: str | None = Query(default=None, pattern="^(informational|low|medium|high|critical)$"),
    limit: int = Query(default=100, ge=1, le=10_000),
) -> list[AlertOut]:
    """Newest alerts first, filtered by rule, host or level."""
    found = alerts_service.list_alerts(
        platform_of(request), rule_id=rule_id, host=host, level=level, limit=limit
    )
    return [AlertOut.of(a) for a in found]

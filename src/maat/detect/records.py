"""The stored shape of an alert."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class AlertRecord:
    """An alert: which rule, how serious, which ATT&CK techniques, and the entities in reach."""

    id: str
    rule_id: str
    title: str
    level: str  # informational | low | medium | high | critical
    created_at: datetime
    techniques: tuple[str, ...] = ()
    entities: Mapping[str, Any] = field(default_factory=dict)
    group_key: str = ""
    """Hits with the same key (rule and entities) within the grouping window are one alert."""
    event_ids: tuple[str, ...] = ()
    count: int = 1
    """Hits grouped into this alert (event ids beyond the stored ones are counted only)."""
    last_seen: datetime | None = None
    state: str = "open"
    """``open`` until an analyst resolves it (``resolved``); open high alerts lower posture."""
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    forwarded_to: tuple[str, ...] = ()
    """The receivers (``webhook``, ``syslog``) that took it, so a retry skips them."""
    forwarded_at: datetime | None = None
    """When every configured receiver took it; ``None`` until then (retried)."""

"""Alerts from hits: entities, grouping, deduplication, and the CEF line for syslog.

An alert line (what ``maat detect`` prints, from :func:`maat.services.detection.alert_line`)
becomes an :class:`~maat.detect.records.AlertRecord` with the entities the event names: the
host, the user, the process, the binaries by SHA-256, the vendor and product the trust
graph attached at ingest (``maat.*`` enrichment), and for a correlation the group that fired
(``correlation``: ``name=value`` of each ``group-by`` field). Hits of one rule on the same
entities (a correlation's group included) share a group key; within the grouping window they
update one alert (count, last seen, event ids up to a bound) instead of raising another, and
the same event never counts twice.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from maat.detect.records import AlertRecord

__all__ = [
    "LEVEL_SEVERITY",
    "alert_entities",
    "cef_line",
    "group_key",
    "in_window",
    "merge_hit",
    "new_alert",
]

MAX_RULE_ID = 200  # what the alerts table stores
# CEF severity (0-10) of Sigma levels.
LEVEL_SEVERITY = {"informational": 1, "low": 3, "medium": 5, "high": 8, "critical": 10}

# Entity kind -> event keys naming one of them.
_ENTITY_KEYS = {
    "hosts": ("host.name",),
    "users": ("user.name",),
    "processes": ("process.executable",),
    "artifacts": ("process.hash.sha256", "dll.hash.sha256", "file.hash.sha256"),
    "vendors": ("maat.process.vendor", "maat.dll.vendor", "maat.file.vendor"),
    "products": ("maat.process.product", "maat.dll.product", "maat.file.product"),
    # The enrolled device whose own agent sent the event (set at ingest, never by a sender).
    "senders": ("maat.sender.device",),
}
# Which entities make two hits of a rule "the same" alert.
_GROUPING = ("hosts", "users", "processes")
# A correlation's group-by values ("User=alice"): two groups firing are two incidents.
CORRELATION = "correlation"


def alert_entities(line: Mapping[str, Any]) -> dict[str, list[str]]:
    """The entities an alert line (with its event's fields) names, by kind."""
    out: dict[str, list[str]] = {}
    for kind, keys in _ENTITY_KEYS.items():
        values = sorted({str(line[k]) for k in keys if line.get(k) not in (None, "")})
        if values:
            out[kind] = values
    group = line.get("correlation.group")
    if isinstance(group, Mapping) and group:
        out[CORRELATION] = sorted(f"{name}={value}" for name, value in group.items())
    return out


def group_key(rule_id: str, entities: Mapping[str, list[str]]) -> str:
    """The grouping key of a hit: its rule, its host, user and process, and for a correlation
    the group that fired (the key of any other hit is unchanged by it)."""
    parts = [rule_id] + ["|".join(entities.get(kind, ())) for kind in _GROUPING]
    if entities.get(CORRELATION):
        parts.append("\x1e".join(entities[CORRELATION]))
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def new_alert(line: Mapping[str, Any], *, alert_id: str, now: datetime) -> AlertRecord:
    """A new alert for one hit."""
    entities = alert_entities(line)
    event_id = line.get("event.id")
    extra_ids = line.get("correlation.events") or ()
    ids = tuple(dict.fromkeys([*extra_ids, *([event_id] if event_id else [])]))
    for key in ("ioc.kind", "ioc.value", "ioc.field", "rule.route"):
        if line.get(key):
            entities.setdefault("match", []).append(f"{key}={line[key]}")
    rule_id = str(line["rule.id"])
    if len(rule_id) > MAX_RULE_ID:  # a long trail URL: keep it readable and unique
        rule_id = rule_id[:150] + "#" + hashlib.sha256(rule_id.encode()).hexdigest()[:32]
    return AlertRecord(
        id=alert_id,
        rule_id=rule_id,
        title=str(line["rule.title"])[:1000],
        level=str(line["rule.level"]),
        created_at=now,
        techniques=tuple(line.get("rule.techniques") or ()),
        entities=entities,
        group_key=group_key(rule_id, entities),
        event_ids=ids,
        count=max(1, len(ids)),
        last_seen=now,
    )


def merge_hit(
    alert: AlertRecord, line: Mapping[str, Any], *, now: datetime, max_event_ids: int
) -> AlertRecord | None:
    """``alert`` with one more hit, or None when the hit's event is already in it."""
    event_id = line.get("event.id")
    if event_id and event_id in alert.event_ids:
        return None
    ids = alert.event_ids
    if event_id:
        # The most recent ids are kept: a redelivered batch is recent, so it is recognised
        # whatever the alert's size (older hits stay counted, their ids are let go).
        ids = (*ids, str(event_id))[-max_event_ids:]
    return dataclasses.replace(alert, event_ids=ids, count=alert.count + 1, last_seen=now)


def in_window(alert: AlertRecord, now: datetime, window_seconds: float) -> bool:
    """Whether a hit at ``now`` still belongs to ``alert``'s group."""
    last = alert.last_seen or alert.created_at
    return now - last <= timedelta(seconds=window_seconds)


def _cef_header(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("\r", " ")


def _cef_value(text: str) -> str:
    return text.replace("\\", "\\\\").replace("=", "\\=").replace("\n", "\\n").replace("\r", "\\r")


def cef_line(alert: AlertRecord, *, version: str) -> str:
    """The alert as one ArcSight CEF line (header fields and extension values escaped)."""
    entities = alert.entities
    extension = {
        "rt": str(int(alert.created_at.timestamp() * 1000)),
        "externalId": alert.id,
        "cnt": str(alert.count),
        "dhost": ",".join(entities.get("hosts", ())),
        "duser": ",".join(entities.get("users", ())),
        "dproc": ",".join(entities.get("processes", ())),
        "fileHash": ",".join(entities.get("artifacts", ())),
        "cs1Label": "techniques",
        "cs1": ",".join(alert.techniques),
        "cs2Label": "vendors",
        "cs2": ",".join(entities.get("vendors", ())),
    }
    ext = " ".join(f"{k}={_cef_value(v)}" for k, v in extension.items() if v)
    header = "|".join(
        _cef_header(part)
        for part in (
            "CEF:0",
            "Maat",
            "Maat",
            version,
            alert.rule_id,
            alert.title,
            str(LEVEL_SEVERITY.get(alert.level, 5)),
        )
    )
    return f"{header}|{ext}"

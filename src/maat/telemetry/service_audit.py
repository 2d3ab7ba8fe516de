"""More services' own logs, read like :mod:`maat.telemetry.cloud_audit`: Bitbucket Data
Center's audit log, Google Cloud audit log entries, and OpenCanary, the honeypot whose
decoy services no one has a reason to touch (a touch is lateral movement, as in TIDRONE's
SMB hop between workstations).

Each record keeps its own field names under its dataset's prefix, which is how SigmaHQ's
rules name them, with the usual ECS fields beside.
"""

from __future__ import annotations

from typing import Any

from maat.errors import InvalidInput
from maat.telemetry.cloud_audit import AuditSource, int_at, set_address, set_text, set_time, text_at
from maat.telemetry.model import Event, JsonSource, epoch_utc

__all__ = ["JSON_SOURCES", "BitbucketAudit", "GcpAudit", "OpenCanary"]


class BitbucketAudit(AuditSource):
    """Bitbucket Data Center audit events (``auditType``, ``author``, ``timestamp``).
    Jira and Confluence Data Center write the same Atlassian shape: theirs are read here
    too, and Bitbucket's rules, which name Bitbucket's own actions, do not match them."""

    name = "bitbucket"
    dataset = "bitbucket.audit"
    prefix = "bitbucket."

    def accepts(self, record: dict[str, Any]) -> bool:
        """An audit event: ``auditType`` and ``author`` objects and a ``timestamp``."""
        return (
            isinstance(record.get("auditType"), dict)
            and isinstance(record.get("author"), dict)
            and "timestamp" in record
        )

    def normalise(self, record: dict[str, Any]) -> Event:
        """The event with its action, author and source address in ECS."""
        out = self.base(record)
        stamp = record.get("timestamp")
        if isinstance(stamp, dict):  # {"epochSecond": ..., "nano": ...}
            seconds = stamp.get("epochSecond")
            if isinstance(seconds, int) and not isinstance(seconds, bool):
                nano = stamp.get("nano")
                fraction = nano / 1e9 if isinstance(nano, int) and 0 <= nano < 10**9 else 0
                try:
                    stamp = epoch_utc(seconds + fraction)
                except InvalidInput:
                    raise InvalidInput("timestamp is out of range", field="timestamp") from None
            else:
                stamp = None
        set_time(out, stamp)
        set_text(out, "event.action", record, "auditType", "action")
        set_text(out, "user.name", record, "author", "name")
        set_address(out, text_at(record, "source"))
        return out


class GcpAudit(AuditSource):
    """Google Cloud audit log entries (``protoPayload`` of type ``AuditLog``), as Cloud
    Logging exports them or wrapped in a Pub/Sub message's ``data``. SigmaHQ's rules read
    ``data.protoPayload.*`` and ``gcp.audit.method_name``: both are provided."""

    name = "gcp"
    dataset = "gcp.audit"
    prefix = "gcp."

    @staticmethod
    def _entry(record: dict[str, Any]) -> dict[str, Any] | None:
        data = record.get("data")
        entry = data if isinstance(data, dict) and "protoPayload" in data else record
        payload = entry.get("protoPayload")
        if isinstance(payload, dict) and "methodName" in payload:
            return entry
        return None

    def accepts(self, record: dict[str, Any]) -> bool:
        """An audit log entry, bare or in a Pub/Sub message."""
        return self._entry(record) is not None

    def normalise(self, record: dict[str, Any]) -> Event:
        """The entry under ``gcp.data.`` with its method, caller and outcome in ECS."""
        entry = self._entry(record)
        if entry is None:
            raise InvalidInput("not a Cloud audit log entry", field="protoPayload")
        out = self.base({"data": entry})
        payload = entry["protoPayload"]
        _pair_grants(out, payload.get("authorizationInfo"))
        set_text(out, "gcp.audit.method_name", payload, "methodName")
        set_text(out, "event.action", payload, "methodName")
        set_time(out, entry.get("timestamp") or entry.get("receiveTimestamp"))
        set_text(out, "user.name", payload, "authenticationInfo", "principalEmail")
        set_address(out, text_at(payload, "requestMetadata", "callerIp"))
        out["cloud.provider"] = "gcp"
        code = int_at(payload, "status", "code")
        if code is not None:
            out["event.outcome"] = "success" if code == 0 else "failure"
        return out


_AUTHZ = "gcp.data.protoPayload.authorizationInfo."


def _pair_grants(out: Event, infos: Any) -> None:
    """Flattened, a call's permission checks lose which permission was granted: a denied
    ``accessPolicies.delete`` beside a granted ``get`` would read as a granted delete. When
    the grants differ, ``permission`` keeps the granted ones (``granted`` is then true) and
    the denied ones move to ``denied_permission``."""
    if not isinstance(infos, list):
        return
    checks = [i for i in infos if isinstance(i, dict) and isinstance(i.get("permission"), str)]
    granted = [i["permission"] for i in checks if i.get("granted") is True]
    denied = [i["permission"] for i in checks if i.get("granted") is not True]
    if granted and denied:
        out[_AUTHZ + "permission"] = granted
        out[_AUTHZ + "granted"] = [True]
        out[_AUTHZ + "denied_permission"] = denied


class OpenCanary(AuditSource):
    """OpenCanary honeypot events (``logtype``, ``node_id``, ``dst_port``)."""

    name = "opencanary"
    dataset = "opencanary.event"
    prefix = "opencanary."

    def accepts(self, record: dict[str, Any]) -> bool:
        """An OpenCanary event: a numeric ``logtype`` with ``node_id`` and ``dst_port``."""
        logtype = record.get("logtype")
        return (
            isinstance(logtype, int)
            and not isinstance(logtype, bool)
            and "node_id" in record
            and "dst_port" in record
        )

    def normalise(self, record: dict[str, Any]) -> Event:
        """The event with who touched which decoy in ECS."""
        out = self.base(record)
        set_time(out, record.get("utc_time") or record.get("local_time"))
        set_address(out, text_at(record, "src_host"))
        set_text(out, "destination.address", record, "dst_host")
        for key, field in (("src_port", "source.port"), ("dst_port", "destination.port")):
            value = record.get(key)
            if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 65536:
                out[field] = value
        set_text(out, "observer.name", record, "node_id")
        out["event.action"] = str(record["logtype"])
        return out


JSON_SOURCES: tuple[JsonSource, ...] = (BitbucketAudit(), GcpAudit(), OpenCanary())

"""More services' own logs, read like :mod:`maat.telemetry.cloud_audit`: Bitbucket Data
Center's audit log, Google Cloud audit log entries (Google Workspace activity shared with
Cloud Logging among them), OneLogin events, Cisco Duo authentication logs, and OpenCanary,
the honeypot whose decoy services no one has a reason to touch (a touch is lateral
movement, as in TIDRONE's SMB hop between workstations).

Each record keeps its own field names under its dataset's prefix, which is how SigmaHQ's
rules name them, with the usual ECS fields beside.
"""

from __future__ import annotations

from typing import Any

from maat.errors import InvalidInput
from maat.telemetry.cloud_audit import AuditSource, int_at, set_address, set_text, set_time, text_at
from maat.telemetry.model import Event, JsonSource, epoch_utc

__all__ = [
    "JSON_SOURCES",
    "BitbucketAudit",
    "DuoAuthentication",
    "GcpAudit",
    "OneLoginEvent",
    "OpenCanary",
    "PimAlertIncident",
]


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
        _workspace_parameters(out, payload.get("metadata"))
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


WORKSPACE = "gcp.workspace."
"""Where a Google Workspace activity's parameters go, by their lower-cased names."""
_PARAMETER_VALUES = ("value", "intValue", "boolValue", "multiValue", "multiStrValue",
                     "multiIntValue")  # fmt: skip


def _workspace_parameters(out: Event, metadata: Any) -> None:
    """A Google Workspace activity shared with Cloud Logging lists each event's parameters
    as ``{name, value}`` objects; flattened, names and values part. Each named value becomes
    ``gcp.workspace.<name>`` (``SETTING_NAME`` -> ``setting_name``, what SigmaHQ's Workspace
    rules read); a name found in several events keeps all its values."""
    events = metadata.get("event") if isinstance(metadata, dict) else None
    found: dict[str, list[Any]] = {}
    for event in events if isinstance(events, list) else ():
        parameters = event.get("parameter") if isinstance(event, dict) else None
        for parameter in parameters if isinstance(parameters, list) else ():
            if not isinstance(parameter, dict) or not isinstance(parameter.get("name"), str):
                continue
            for key in _PARAMETER_VALUES:
                value = parameter.get(key)
                if isinstance(value, str | int | bool):
                    found.setdefault(parameter["name"].lower(), []).append(value)
                    break
                if isinstance(value, list):
                    found.setdefault(parameter["name"].lower(), []).extend(
                        v for v in value if isinstance(v, str | int | bool)
                    )
                    break
    for name, values in list(found.items())[:MAX_PARAMETERS]:
        out[WORKSPACE + name] = values[0] if len(values) == 1 else [str(v) for v in values]


MAX_PARAMETERS = 100  # per entry; the rest stay in event.original


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


class OneLoginEvent(AuditSource):
    """OneLogin events (the Events API's ``event_type_id``, ``account_id``, ``created_at``):
    the identity provider a supplier's staff sign in through."""

    name = "onelogin"
    dataset = "onelogin.events"
    prefix = "onelogin."

    def accepts(self, record: dict[str, Any]) -> bool:
        """An event: a numeric ``event_type_id`` with ``account_id`` and ``created_at``."""
        kind = record.get("event_type_id")
        return (
            isinstance(kind, int)
            and not isinstance(kind, bool)
            and "account_id" in record
            and "created_at" in record
        )

    def normalise(self, record: dict[str, Any]) -> Event:
        """The event with its time, user and address in ECS."""
        out = self.base(record)
        set_time(out, record.get("created_at"))
        out["event.action"] = str(record["event_type_id"])
        set_text(out, "user.name", record, "user_name")
        set_address(out, text_at(record, "ipaddr"))
        return out


class DuoAuthentication(AuditSource):
    """Cisco Duo authentication log entries (the Admin API's ``txid``, ``event_type``,
    ``factor``, ``result``, ``reason``): who passed MFA, and how."""

    name = "duo"
    dataset = "duo.authentication"
    prefix = "duo."

    def accepts(self, record: dict[str, Any]) -> bool:
        """An authentication entry: ``txid`` and ``event_type`` with ``factor`` or ``result``."""
        return (
            isinstance(record.get("txid"), str)
            and "event_type" in record
            and ("factor" in record or "result" in record)
        )

    def normalise(self, record: dict[str, Any]) -> Event:
        """The entry with its time, user, address and outcome in ECS."""
        out = self.base(record)
        set_time(out, record.get("isotimestamp") or record.get("timestamp"))
        set_text(out, "event.action", record, "event_type")
        set_text(out, "user.name", record, "user", "name")
        set_address(out, text_at(record, "access_device", "ip"))
        result = (text_at(record, "result") or "").lower()
        if result == "success":
            out["event.outcome"] = "success"
        elif result in ("failure", "denied", "fraud", "error"):
            out["event.outcome"] = "failure"
        return out


_GRAPH_TYPE = "#microsoft.graph."


class PimAlertIncident(AuditSource):
    """Microsoft Entra Privileged Identity Management alert incidents, as Microsoft Graph
    lists them (``@odata.type`` ``#microsoft.graph.<kind>AlertIncident``: a role activated
    without MFA, too many global admins, roles assigned outside PIM). The kind is kept as
    ``azure.pim.riskEventType``, the name SigmaHQ's PIM rules read."""

    name = "azure_pim"
    dataset = "azure.pim"
    prefix = "azure.pim."

    def accepts(self, record: dict[str, Any]) -> bool:
        """A Graph object whose type is a PIM alert incident."""
        kind = record.get("@odata.type")
        return (
            isinstance(kind, str)
            and kind.startswith(_GRAPH_TYPE)
            and kind.endswith("AlertIncident")
        )

    def normalise(self, record: dict[str, Any]) -> Event:
        """The incident with its kind, the role and the assignee in ECS."""
        out = self.base(record)
        out[f"{self.prefix}riskEventType"] = record["@odata.type"][len(_GRAPH_TYPE) :]
        out["event.kind"] = "alert"
        set_text(out, "user.name", record, "assigneeUserPrincipalName")
        set_text(out, "user.id", record, "assigneeId")
        set_text(out, "event.action", record, "roleDisplayName")
        # No time of its own: the assignment and activation times it names can be years
        # old, so the receive time stands (those stay as fields).
        return out


JSON_SOURCES: tuple[JsonSource, ...] = (
    BitbucketAudit(),
    GcpAudit(),
    OpenCanary(),
    OneLoginEvent(),
    DuoAuthentication(),
    PimAlertIncident(),
)

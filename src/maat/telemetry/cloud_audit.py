"""Cloud and SaaS audit logs: AWS CloudTrail, the Okta System Log, GitHub's audit log,
Kubernetes API server audit events, Azure (Entra ID sign-in, audit and risk logs, the
activity log) and the Microsoft 365 unified audit log, as the JSON each service exports.

A supplier's intrusion often goes through its cloud and code-hosting accounts before it
reaches a customer (VENOM stole credentials; a build or release account is the next step).
These records keep their own field names: each is flattened into dotted keys under its
dataset's prefix (``aws.cloudtrail.userIdentity.arn``), which is how SigmaHQ's rules name
them, and the usual ECS fields are set beside (time, action, user, source address, user
agent, outcome). A nested object is also kept whole as compact JSON text under its own key,
so a rule may search it (``requestParameters|contains``); lists of objects become lists of
their members' values. Flattening is bounded (depth and keys): what lies beyond stays in
``event.original``.

A CloudTrail log file (``{"Records": [...]}``) gives one event per record.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import orjson

from maat.errors import InvalidInput
from maat.telemetry.model import Event, JsonSource, epoch_utc

__all__ = [
    "JSON_SOURCES",
    "AuditSource",
    "AzureMonitorLog",
    "CloudTrail",
    "GitHubAudit",
    "KubernetesAudit",
    "M365Audit",
    "OktaSystemLog",
    "flatten",
    "set_address",
    "set_time",
    "text_at",
]

MAX_DEPTH = 8
MAX_KEYS = 400
MAX_TEXT = 8192  # a nested object's JSON text beyond this is not kept as text


def flatten(record: dict[str, Any], prefix: str, *, casefold: bool = False) -> Event:
    """``record``'s fields as ``prefix + dotted.path`` keys (bounded, see the module);
    with ``casefold`` the paths are lower-cased (Azure's exports spell one field
    ``operationName`` or ``OperationName`` depending on the route it took)."""
    out: Event = {}
    _walk(record, prefix, out, 0)
    if casefold:
        folded: Event = {}
        for key, value in out.items():
            _put(folded, key.lower(), value)
        return folded
    return out


def _put(out: Event, key: str, value: Any) -> None:
    if len(out) >= MAX_KEYS and key not in out:
        return
    have = out.get(key)
    if have is None:
        out[key] = value
    elif isinstance(have, list):
        have.extend(value if isinstance(value, list) else [value])
    else:
        out[key] = [have, *(value if isinstance(value, list) else [value])]


def _walk(value: Any, prefix: str, out: Event, depth: int) -> None:
    if isinstance(value, dict):
        if depth > 0:
            text = orjson.dumps(value).decode()
            if len(text) <= MAX_TEXT:
                _put(out, prefix[:-1], text)
        if depth >= MAX_DEPTH:
            return
        for key, item in value.items():
            if isinstance(key, str) and key:
                _walk(item, f"{prefix}{key}.", out, depth + 1)
    elif isinstance(value, list):
        scalars = [v for v in value if isinstance(v, str | int | float | bool)]
        if scalars:
            _put(out, prefix[:-1], scalars)
        for item in value:
            if isinstance(item, dict | list) and depth < MAX_DEPTH:
                _walk(item, prefix, out, depth + 1)
    elif isinstance(value, str | int | float | bool):
        _put(out, prefix[:-1], value)


def text_at(record: dict[str, Any], *path: str) -> str | None:
    """The non-empty text at ``path`` in nested objects, or None."""
    value: Any = record
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value if isinstance(value, str) and value else None


def set_address(out: Event, text: str | None) -> None:
    """``source.ip`` for an address, ``source.domain`` for a service name (CloudTrail writes
    ``ec2.amazonaws.com`` when AWS itself called)."""
    if not text:
        return
    try:
        out["source.ip"] = str(ipaddress.ip_address(text))
    except ValueError:
        out["source.domain"] = text


def set_time(out: Event, value: Any) -> None:
    """``@timestamp`` from ``value`` when there is one (the pipeline reads its form)."""
    if value is not None:
        out["@timestamp"] = value


class AuditSource:
    """What the audit-log sources share: their module name, dataset and key prefix."""

    name = ""
    dataset = ""
    prefix = ""

    def base(self, record: dict[str, Any]) -> Event:
        """``record`` flattened under the prefix, with its dataset."""
        out = flatten(record, self.prefix)
        out["event.dataset"] = self.dataset
        out["event.kind"] = "event"
        return out


class CloudTrail(AuditSource):
    """AWS CloudTrail records (``eventVersion``, ``eventSource``, ``eventName``), alone or
    as a log file's ``Records``."""

    name = "cloudtrail"
    dataset = "aws.cloudtrail"
    prefix = "aws.cloudtrail."

    def accepts(self, record: dict[str, Any]) -> bool:
        """A CloudTrail record, or a file of them."""
        if "eventSource" in record and "eventName" in record and "eventVersion" in record:
            return True
        records = record.get("Records")
        return (
            isinstance(records, list)
            and bool(records)
            and isinstance(records[0], dict)
            and "eventSource" in records[0]
        )

    def normalise(self, record: dict[str, Any]) -> Event | list[Event]:
        """One event per CloudTrail record."""
        records = record.get("Records")
        if isinstance(records, list):
            out = []
            for index, item in enumerate(records):
                if not isinstance(item, dict):
                    raise InvalidInput("a CloudTrail record must be an object",
                                       field=f"Records[{index}]")  # fmt: skip
                out.append(self._one(item))
            return out
        return self._one(record)

    def _one(self, record: dict[str, Any]) -> Event:
        out = self.base(record)
        set_time(out, record.get("eventTime"))
        out["cloud.provider"] = "aws"
        for key, field in (("eventName", "event.action"), ("eventSource", "event.provider"),
                           ("awsRegion", "cloud.region"), ("recipientAccountId",
                           "cloud.account.id"), ("userAgent", "user_agent.original")):  # fmt: skip
            value = text_at(record, key)
            if value is not None:
                out[field] = value
        set_address(out, text_at(record, "sourceIPAddress"))
        user = text_at(record, "userIdentity", "userName") or text_at(
            record, "userIdentity", "sessionContext", "sessionIssuer", "userName"
        )
        if user is not None:
            out["user.name"] = user
        out["event.outcome"] = "failure" if record.get("errorCode") else "success"
        return out


class OktaSystemLog(AuditSource):
    """Okta System Log events (``uuid``, ``published``, ``eventType``)."""

    name = "okta"
    dataset = "okta.system"
    prefix = "okta."

    def accepts(self, record: dict[str, Any]) -> bool:
        """An Okta System Log event."""
        return "eventType" in record and "uuid" in record and "published" in record

    def normalise(self, record: dict[str, Any]) -> Event:
        """The event with its actor, client and outcome in ECS."""
        out = self.base(record)
        set_time(out, record.get("published"))
        action = text_at(record, "eventType")
        if action is not None:
            out["event.action"] = action
        user = text_at(record, "actor", "alternateId")
        if user is not None:
            out["user.name"] = user
        set_address(out, text_at(record, "client", "ipAddress"))
        agent = text_at(record, "client", "userAgent", "rawUserAgent")
        if agent is not None:
            out["user_agent.original"] = agent
        result = (text_at(record, "outcome", "result") or "").lower()
        if result in ("success", "failure"):
            out["event.outcome"] = result
        return out


class GitHubAudit(AuditSource):
    """GitHub audit log events (organisation or enterprise), as streamed or exported."""

    name = "github"
    dataset = "github.audit"
    prefix = "github."

    def accepts(self, record: dict[str, Any]) -> bool:
        """``action`` and ``actor`` with an organisation, enterprise or document id."""
        return (
            isinstance(record.get("action"), str)
            and "actor" in record
            and ("_document_id" in record or "org" in record or "business" in record)
            and ("@timestamp" in record or "created_at" in record)
        )

    def normalise(self, record: dict[str, Any]) -> Event:
        """The event with its actor and address in ECS."""
        out = self.base(record)
        stamp = record.get("@timestamp", record.get("created_at"))
        if isinstance(stamp, int | float) and not isinstance(stamp, bool):
            try:
                stamp = epoch_utc(stamp / 1000)  # milliseconds since the epoch
            except InvalidInput:
                raise InvalidInput("@timestamp is out of range", field="@timestamp") from None
        set_time(out, stamp)
        out["event.action"] = record["action"]
        actor = text_at(record, "actor")
        if actor is not None:
            out["user.name"] = actor
        set_address(out, text_at(record, "actor_ip"))
        return out


class KubernetesAudit(AuditSource):
    """Kubernetes API server audit events (``kind: Event``, ``audit.k8s.io``)."""

    name = "kubernetes"
    dataset = "kubernetes.audit"
    prefix = "kubernetes.audit."

    def accepts(self, record: dict[str, Any]) -> bool:
        """A Kubernetes audit event."""
        version = record.get("apiVersion")
        return (
            record.get("kind") == "Event"
            and isinstance(version, str)
            and version.startswith("audit.k8s.io/")
        )

    def normalise(self, record: dict[str, Any]) -> Event:
        """The event with its verb, user, source and outcome in ECS."""
        out = self.base(record)
        set_time(out, record.get("requestReceivedTimestamp") or record.get("stageTimestamp"))
        verb = text_at(record, "verb")
        if verb is not None:
            out["event.action"] = verb
        user = text_at(record, "user", "username")
        if user is not None:
            out["user.name"] = user
        sources = record.get("sourceIPs")
        if isinstance(sources, list) and sources and isinstance(sources[0], str):
            set_address(out, sources[0])
        for key, field in (("userAgent", "user_agent.original"), ("requestURI", "url.original")):
            value = text_at(record, key)
            if value is not None:
                out[field] = value
        code = record.get("responseStatus", {}).get("code") if isinstance(
            record.get("responseStatus"), dict) else None  # fmt: skip
        if isinstance(code, int) and not isinstance(code, bool):
            out["event.outcome"] = "success" if code < 400 else "failure"
        return out


# Azure log categories (Event Hub and storage exports) and Log Analytics table names.
_AZURE_KINDS = {
    "signinlogs": "signinlogs", "noninteractiveusersigninlogs": "signinlogs",
    "serviceprincipalsigninlogs": "signinlogs", "managedidentitysigninlogs": "signinlogs",
    "aadnoninteractiveusersigninlogs": "signinlogs", "aadserviceprincipalsigninlogs": "signinlogs",
    "aadmanagedidentitysigninlogs": "signinlogs",
    "auditlogs": "auditlogs",
    "userriskevents": "riskdetection", "riskyusers": "riskdetection",
    "aaduserriskevents": "riskdetection", "aadriskyusers": "riskdetection",
    "riskyserviceprincipals": "riskdetection", "serviceprincipalriskevents": "riskdetection",
    "azureactivity": "activitylogs", "administrative": "activitylogs", "security":
    "activitylogs", "policy": "activitylogs", "autoscale": "activitylogs", "alert":
    "activitylogs", "recommendation": "activitylogs", "servicehealth": "activitylogs",
    "resourcehealth": "activitylogs",
}  # fmt: skip


class AzureMonitorLog(AuditSource):
    """Entra ID sign-in, audit and risk logs and the Azure activity log, as diagnostic
    settings export them (``category``, ``operationName``, ``properties``) or as Log
    Analytics tables (``Type``, ``OperationName``, columns). Field paths are lower-cased:
    SigmaHQ's Azure rules use both spellings. The members of ``properties`` are also kept
    at the top, where the table columns have them."""

    name = "azure"
    prefix = "azure."

    def _kind(self, record: dict[str, Any]) -> str | None:
        for key in ("category", "Category", "Type"):
            value = record.get(key)
            if isinstance(value, str):
                kind = _AZURE_KINDS.get(value.lower())
                if kind is not None:
                    return kind
        return None

    def accepts(self, record: dict[str, Any]) -> bool:
        """An Azure Monitor record of a known category or table."""
        identified = ("operationName" in record or "OperationName" in record
                      or "OperationNameValue" in record or "riskEventType" in record)  # fmt: skip
        return (
            identified
            and ("time" in record or "TimeGenerated" in record)
            and bool(self._kind(record))
        )

    def normalise(self, record: dict[str, Any]) -> Event:
        """The record, flattened and lower-cased, with its time, action and caller in ECS."""
        kind = self._kind(record) or "unknown"
        out = flatten(record, self.prefix, casefold=True)
        properties = record.get("properties")
        if isinstance(properties, dict):
            for key, value in flatten(properties, self.prefix, casefold=True).items():
                out.setdefault(key, value)
        out["event.dataset"] = f"azure.{kind}"
        out["event.kind"] = "event"
        out["cloud.provider"] = "azure"
        set_time(out, record.get("time") or record.get("TimeGenerated"))
        action = out.get("azure.operationname")
        if isinstance(action, str):
            out["event.action"] = action
        for key, field in (("azure.callerIpAddress", "source.ip"),
                           ("azure.ipaddress", "source.ip"),
                           ("azure.identity", "user.name"),
                           ("azure.userprincipalname", "user.name")):  # fmt: skip
            value = out.get(key.lower())
            if isinstance(value, str) and value and field not in out:
                if field == "source.ip":
                    set_address(out, value)
                else:
                    out[field] = value
        return out


class M365Audit(AuditSource):
    """Microsoft 365 unified audit log records (the Management Activity API's
    ``CreationTime``, ``Operation``, ``Workload``, ``RecordType``)."""

    name = "m365"
    dataset = "m365.audit"
    prefix = "m365."

    def accepts(self, record: dict[str, Any]) -> bool:
        """A unified audit log record."""
        return "Operation" in record and "Workload" in record and "CreationTime" in record

    def normalise(self, record: dict[str, Any]) -> Event:
        """The record with its time, operation, user and client address in ECS."""
        out = self.base(record)
        set_time(out, record.get("CreationTime"))
        out["event.action"] = record.get("Operation")
        user = text_at(record, "UserId")
        if user is not None:
            out["user.name"] = user
        set_address(out, text_at(record, "ClientIP"))
        status = (text_at(record, "ResultStatus") or "").lower()
        if status in ("success", "succeeded", "true"):
            out["event.outcome"] = "success"
        elif status in ("failed", "failure", "false"):
            out["event.outcome"] = "failure"
        return out


JSON_SOURCES: tuple[JsonSource, ...] = (
    CloudTrail(),
    OktaSystemLog(),
    GitHubAudit(),
    KubernetesAudit(),
    AzureMonitorLog(),
    M365Audit(),
)

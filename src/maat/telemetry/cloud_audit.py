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

A CloudTrail log file (``{"Records": [...]}``) is read record by record by the pipeline:
each record is an event with its own original text and id.
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
    "int_at",
    "set_address",
    "set_text",
    "set_time",
    "text_at",
]

MAX_DEPTH = 8
MAX_KEYS = 400
MAX_TEXT = 8192  # an object's JSON text beyond this is not kept as text
TEXT_DEPTH = 2  # objects (and lists of them) this deep are also kept whole as JSON text
MAX_CHARS = 64 * 1024  # text kept per event in all; the rest stays in event.original
_SCALARS = (str, int, float, bool)


def flatten(record: dict[str, Any], prefix: str, *, casefold: bool = False) -> Event:
    """``record``'s fields as ``prefix + dotted.path`` keys, bounded: top-level values
    first (a padded nested object cannot crowd them out), at most :data:`MAX_KEYS` keys and
    :data:`MAX_CHARS` characters of text, :data:`MAX_DEPTH` levels; an object (or a list
    of them) down to :data:`TEXT_DEPTH` is also kept whole as JSON text. With ``casefold``
    the paths are lower-cased (Azure's exports spell one field ``operationName`` or
    ``OperationName`` by the route it took)."""
    out: Event = {}
    budget = [MAX_CHARS]
    fold = str.lower if casefold else str
    for key, value in record.items():
        if isinstance(key, str) and key and isinstance(value, _SCALARS):
            _put(out, fold(prefix + key), value, budget)
    for key, value in record.items():
        if isinstance(key, str) and key and isinstance(value, dict | list):
            _walk(value, f"{prefix}{key}.", out, 1, budget, fold)
    return out


def _put(out: Event, key: str, value: Any, budget: list[int]) -> None:
    items = value if isinstance(value, list) else [value]
    size = sum(len(v) if isinstance(v, str) else 8 for v in items)
    if budget[0] < size or (len(out) >= MAX_KEYS and key not in out):
        return
    budget[0] -= size
    have = out.get(key)
    if have is None:
        out[key] = value
    elif isinstance(have, list):
        have.extend(value if isinstance(value, list) else [value])
    else:
        out[key] = [have, *(value if isinstance(value, list) else [value])]


def _walk(
    value: Any, prefix: str, out: Event, depth: int, budget: list[int], fold: Any,
    whole: bool = True,
) -> None:  # fmt: skip
    """Flatten ``value`` under ``prefix``; ``whole``: also keep it as JSON text (not for
    the members of a list, whose list is kept whole already)."""
    container = isinstance(value, dict) or (
        isinstance(value, list) and any(isinstance(v, dict) for v in value)
    )
    if container and whole and depth <= TEXT_DEPTH:
        text = orjson.dumps(value).decode()
        if len(text) <= MAX_TEXT:
            _put(out, fold(prefix[:-1]), text, budget)
    if isinstance(value, dict):
        if depth >= MAX_DEPTH:
            return
        for key, item in value.items():
            if isinstance(key, str) and key:
                _walk(item, f"{prefix}{key}.", out, depth + 1, budget, fold)
    elif isinstance(value, list):
        scalars = [v for v in value if isinstance(v, _SCALARS)]
        if scalars:
            _put(out, fold(prefix[:-1]), scalars, budget)
        for item in value:  # members sit at the list's own path depth
            if isinstance(item, dict | list) and depth < MAX_DEPTH:
                deeper = depth + 1 if isinstance(item, list) else depth
                _walk(item, prefix, out, deeper, budget, fold, whole=False)
    elif isinstance(value, _SCALARS):
        _put(out, fold(prefix[:-1]), value, budget)


def text_at(record: dict[str, Any], *path: str) -> str | None:
    """The non-empty text at ``path`` in nested objects, or None."""
    value: Any = record
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value if isinstance(value, str) and value else None


def set_text(out: Event, field: str, record: dict[str, Any], *path: str) -> None:
    """``out[field]`` from the non-empty text at ``path``, if there is one."""
    value = text_at(record, *path)
    if value is not None:
        out[field] = value


def int_at(record: dict[str, Any], *path: str) -> int | None:
    """The whole number at ``path`` in nested objects (not a boolean), or None."""
    value: Any = record
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


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
        """A CloudTrail record (an AWS service's ``eventSource``; S3 or SQS notifications,
        which also come in ``Records``, are not)."""
        source = record.get("eventSource")
        return (
            isinstance(source, str)
            and source.endswith(".amazonaws.com")
            and "eventName" in record
            and "eventVersion" in record
        )

    def normalise(self, record: dict[str, Any]) -> Event:
        """One CloudTrail record (a log file's ``Records`` are read one by one upstream)."""
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
        set_text(out, "event.action", record, "eventType")
        set_text(out, "user.name", record, "actor", "alternateId")
        set_address(out, text_at(record, "client", "ipAddress"))
        set_text(out, "user_agent.original", record, "client", "userAgent", "rawUserAgent")
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
                # Streams send milliseconds, exports may send seconds.
                stamp = epoch_utc(stamp / 1000 if stamp > 1e11 else stamp)
            except InvalidInput:
                raise InvalidInput("@timestamp is out of range", field="@timestamp") from None
        set_time(out, stamp)
        out["event.action"] = record["action"]
        set_text(out, "user.name", record, "actor")
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
        set_text(out, "event.action", record, "verb")
        set_text(out, "user.name", record, "user", "username")
        sources = record.get("sourceIPs")
        if isinstance(sources, list) and sources and isinstance(sources[0], str):
            set_address(out, sources[0])
        for key, field in (("userAgent", "user_agent.original"), ("requestURI", "url.original")):
            value = text_at(record, key)
            if value is not None:
                out[field] = value
        code = int_at(record, "responseStatus", "code")
        if code is not None:
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
    at the top, where the table columns have them, and win over a top-level field of the
    same name (an exported audit record's ``category`` is "AuditLogs"; the table's
    ``Category`` column is ``properties.category``, "UserManagement")."""

    name = "azure"
    prefix = "azure."

    def _kind(self, record: dict[str, Any]) -> str | None:
        for key in ("Type", "category", "Category"):  # a table row's Type says what it is
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
            out.update(flatten(properties, self.prefix, casefold=True))
        out["event.dataset"] = f"azure.{kind}"
        out["event.kind"] = "event"
        out["cloud.provider"] = "azure"
        set_time(out, record.get("time") or record.get("TimeGenerated"))
        action = out.get("azure.operationname")
        if isinstance(action, str):
            out["event.action"] = action
        for key in ("azure.calleripaddress", "azure.ipaddress"):
            address = out.get(key)
            if (
                isinstance(address, str)
                and address not in ("", "<null>")
                and "source.ip" not in out
            ):
                set_address(out, address)
        user = _azure_user(record)
        if user is not None:
            out["user.name"] = user
        return out


_UPN_CLAIM = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"


def _azure_user(record: dict[str, Any]) -> str | None:
    """Who acted: the sign-in's or table row's user principal name, the caller, or the
    activity log's identity claims (``identity`` is an object there)."""
    for key in ("userPrincipalName", "UserPrincipalName", "caller", "Caller"):
        value = record.get(key)
        if isinstance(value, str) and value and value != "<null>":
            return value
    properties = record.get("properties")
    if isinstance(properties, dict):
        value = properties.get("userPrincipalName")
        if isinstance(value, str) and value:
            return value
    return text_at(record, "identity", "claims", _UPN_CLAIM)


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
        """The record with its time, operation, user and client address in ECS; the
        Name/Value pairs of ``ExtendedProperties``, ``Parameters`` and
        ``ModifiedProperties`` also become fields of their own (``m365.RequestType``)."""
        out = self.base(record)
        for block in ("ExtendedProperties", "Parameters", "ModifiedProperties"):
            pairs = record.get(block)
            for pair in pairs if isinstance(pairs, list) else ():
                name = pair.get("Name") if isinstance(pair, dict) else None
                value = pair.get("Value", pair.get("NewValue")) if isinstance(pair, dict) else None
                if isinstance(name, str) and name and isinstance(value, _SCALARS):
                    out.setdefault(f"{self.prefix}{name}", value)
        set_time(out, record.get("CreationTime"))
        out["event.action"] = record.get("Operation")
        set_text(out, "user.name", record, "UserId")
        set_address(out, text_at(record, "ClientIP"))
        # As Elastic's Microsoft 365 integration reads it (whose names SigmaHQ's M365 rules
        # use): no ResultStatus (alerts have none) and PartiallySucceeded are success.
        outcome = _m365_outcome(record)
        if outcome is not None:
            out["event.outcome"] = outcome
        return out


def _m365_outcome(record: dict[str, Any]) -> str | None:
    """``ResultStatus`` as success or failure; None when it says neither (a number, null,
    an empty or unknown text)."""
    if "ResultStatus" not in record:
        return "success"
    status = record["ResultStatus"]
    if isinstance(status, bool):
        return "success" if status else "failure"
    if not isinstance(status, str):
        return None
    status = status.lower()
    if status in ("success", "succeeded", "partiallysucceeded", "true"):
        return "success"
    if status in ("failed", "failure", "false"):
        return "failure"
    return None


JSON_SOURCES: tuple[JsonSource, ...] = (
    CloudTrail(),
    OktaSystemLog(),
    GitHubAudit(),
    KubernetesAudit(),
    AzureMonitorLog(),
    M365Audit(),
)

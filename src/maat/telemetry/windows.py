"""Windows and Sysmon events, from every JSON shape they travel in, normalised to ECS.

One Windows event reaches Maat in several JSON shapes; each has its :class:`JsonSource`:

- :class:`WinlogbeatSource` — Winlogbeat/Elastic Agent: ``winlog: {event_id, channel,
  provider_name, computer_name, record_id, event_data: {…}}`` and ``@timestamp``;
- :class:`EvtxJsonSource` — an EVTX record rendered as JSON (the ``evtx`` package, EVTX-to-JSON
  tools): ``Event: {System: {…}, EventData | UserData: {…}}``;
- :class:`SysmonLinuxSource` — Sysmon for Linux through syslog: ``SyslogMessage`` holds the
  ``<Event>`` XML (module ``sysmon_linux``);
- :class:`LogAnalyticsSource` — Azure Sentinel / Log Analytics ``SecurityEvent``,
  ``WindowsEvent`` and ``Event`` rows (``EventData`` as XML or JSON text, or columns);
- :class:`FlatSource` — NXLog and the Mordor datasets: ``EventID``, ``Channel``,
  ``SourceName``, ``Hostname`` and the event data as top-level keys.

:data:`JSON_SOURCES` lists them in order of precedence. Every shape comes down to the same
parts (event id, provider, channel, computer, record id, time, event data as text) and the
same mapping (:mod:`maat.telemetry.windows_fields`): the ``winlog.*`` fields, every
event-data value under ``winlog.event_data.<Name>`` (so Sigma rules written against Windows
names can be mapped), and the ECS fields of the event's kind. An unknown EventID is kept with
the generic fields; a missing or bad EventID, a bad number or time is ``InvalidInput`` naming
the field.
"""

from __future__ import annotations

from typing import Any

import orjson

from maat.errors import InvalidInput
from maat.telemetry.model import Event, JsonSource, iso_utc
from maat.telemetry.sysmon_xml import MAX_XML_BYTES, parse_event_data_xml, parse_event_xml
from maat.telemetry.windows_fields import EVENT_DATA, apply, lookup, to_int
from maat.telemetry.windows_mapping import Plan, plan_of

__all__ = [
    "FLAT",
    "JSON_SOURCES",
    "EvtxJsonSource",
    "FlatSource",
    "LogAnalyticsSource",
    "SysmonLinuxSource",
    "WinlogbeatSource",
]

_MAX_EVENT_ID = 0xFFFF  # a Windows event id is 16 bits
_MAX_RECORD_ID = (1 << 63) - 1  # the lake stores int64

# Unexpected shapes inside an accepted record (a list where an object belongs, a number
# where text belongs) surface as these; each normalise() turns them into InvalidInput.
_SHAPE_ERRORS = (TypeError, AttributeError, KeyError, ValueError, IndexError)


def _event_id(value: object, field: str) -> int:
    """The EventID as an int: ``4688``, ``"4688"`` or ``{"#text": 7045, "#attributes": …}``."""
    if isinstance(value, dict):
        value = value.get("#text")
    if type(value) is int:
        number = value
    elif isinstance(value, str) and value.strip().isdigit() and value.isascii():
        digits = value.strip()
        number = int(digits) if len(digits) <= 6 else _MAX_EVENT_ID + 1
    elif value is None:
        raise InvalidInput("no EventID", field=field)
    else:
        raise InvalidInput(f"EventID is not a number: {str(value)[:40]!r}", field=field)
    if not 0 <= number <= _MAX_EVENT_ID:
        raise InvalidInput(f"EventID out of range: {number}", field=field)
    return number


def _text(value: object, field: str) -> str:
    """An event-data value as text, as Winlogbeat keeps it (``true``, ``42``, JSON for lists)."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dict) and "#text" in value and not isinstance(value["#text"], dict):
        return _text(value["#text"], field)  # an element with attributes: its text
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        raise InvalidInput("event data value cannot be read as text", field=field) from None


def _optional_text(value: object, field: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise InvalidInput(f"expected text, found {type(value).__name__}", field=field)


def _record_id(value: object, field: str) -> int | None:
    if value is None or value == "":
        return None
    if type(value) is int:
        if 0 <= value <= _MAX_RECORD_ID:
            return value
        raise InvalidInput(f"record number out of range: {value}", field=field)
    if isinstance(value, str):
        return to_int(value, field)
    raise InvalidInput(f"record number is not a number: {str(value)[:40]!r}", field=field)


class _EventDataKeys(dict[str, str]):
    """``Name`` -> ``winlog.event_data.Name``, kept so each name is built once (bounded)."""

    def __missing__(self, name: str) -> str:
        key = EVENT_DATA + name
        if len(self) < _MAX_CACHED_KEYS:
            self[name] = key
        return key


# The usual spelling of well-known channels (NXLog sends "security").
_CHANNELS = {name.lower(): name for name in ("Security", "System", "Application")}
_MAX_CACHED_KEYS = 8192  # names come from the input; past this they are built each time
_KEYS = _EventDataKeys()


def _build(
    out: Event,
    event_id: int,
    provider: str | None,
    channel: str | None,
    computer: str | None,
    record_id: int | None,
    stamp: object,
) -> Event:
    """Complete ``out`` (which holds the ``winlog.event_data.*`` fields) into the ECS event.

    This is the shape-independent half of every ``normalise``.
    """
    if stamp is not None and stamp != "":
        out["@timestamp"] = iso_utc(stamp)
    out["event.code"] = str(event_id)
    out["winlog.event_id"] = event_id
    if provider:
        out["event.provider"] = provider
        out["winlog.provider_name"] = provider
    if channel:
        out["winlog.channel"] = _CHANNELS.get(channel, channel)
    if computer:
        out["winlog.computer_name"] = computer
        out["host.name"] = computer
    if record_id is not None:
        out["winlog.record_id"] = record_id
    apply(lookup(provider, channel, event_id), out)
    return out


def _malformed(kind: str, exc: Exception) -> InvalidInput:
    return InvalidInput(f"malformed {kind} record ({type(exc).__name__}: {str(exc)[:80]})")


# --- NXLog / Mordor: everything at the top level ------------------------------------------

# Keys NXLog (im_msvistalog), Logstash and the Mordor pipeline add beside the event data.
_FLAT_META = frozenset(
    (
        "EventID", "Channel", "SourceName", "ProviderName", "Hostname", "TimeCreated",
        "@timestamp", "EventTime", "RecordNumber", "EventRecordID", "@version", "host", "port",
        "tags", "EventReceivedTime", "SourceModuleName", "SourceModuleType", "Keywords",
        "SeverityValue", "Severity", "ProviderGuid", "Version", "Task", "OpcodeValue", "Opcode",
        "ActivityID", "RelatedActivityID", "ExecutionProcessID", "ExecutionThreadID",
        "ThreadID", "Category", "Message", "Level", "EventTypeOrignal", "ERROR_EVT_UNRESOLVED",
    )
)  # fmt: skip
# NXLog resolves the event's security identifier into these; they clash with event data of
# the same names (7045's AccountName), so they are dropped only from NXLog records.
_NXLOG_ACCOUNT = tuple(
    EVENT_DATA + name for name in ("Domain", "AccountName", "UserID", "AccountType")
)
# NXLog's own EventType (a severity) is dropped; Sysmon's (SetValue, CreateKey) is event data.
_NXLOG_EVENT_TYPES = frozenset(
    ("INFO", "WARNING", "ERROR", "CRITICAL", "VERBOSE", "AUDIT_SUCCESS", "AUDIT_FAILURE")
)


class FlatSource:
    """NXLog-style records (the Mordor datasets): the event data at the top level."""

    name = "windows"

    def accepts(self, record: dict[str, Any]) -> bool:
        """``EventID`` beside ``Channel`` or ``SourceName``, and not a Log Analytics row.

        Exclusive of the other shapes: the dispatcher asks the previous record's source
        first, so a Log Analytics row after an NXLog record must not be taken here.
        """
        return (
            "EventID" in record
            and ("Channel" in record or "SourceName" in record)
            and "TimeGenerated" not in record
        )

    def normalise(self, record: dict[str, Any]) -> Event:
        """ECS fields of one flat record."""
        try:
            return self._normalise(record)
        except _SHAPE_ERRORS as exc:
            raise _malformed("NXLog Windows", exc) from None

    @staticmethod
    def mapper(provider: str | None, channel: str | None, event_id: int) -> Plan:
        """How an event of this provider, channel and EventID gets its kind's ECS fields,
        as the plan the C hot path runs (:mod:`maat.telemetry.native`)."""
        return plan_of(lookup(provider, channel, event_id))

    def _normalise(self, record: dict[str, Any]) -> Event:
        event_id = _event_id(record.get("EventID"), "EventID")
        meta = _FLAT_META
        keys = _KEYS
        out: Event = {
            keys[key]: value if type(value) is str else _text(value, key)
            for key, value in record.items()
            if key not in meta
        }
        if "SourceModuleType" in record:  # NXLog's marker
            for key in _NXLOG_ACCOUNT:
                out.pop(key, None)
            if out.get("winlog.event_data.EventType") in _NXLOG_EVENT_TYPES:
                del out["winlog.event_data.EventType"]
        get = record.get
        return _build(
            out,
            event_id,
            _optional_text(get("SourceName") or get("ProviderName"), "SourceName"),
            _optional_text(get("Channel"), "Channel"),
            _optional_text(get("Hostname"), "Hostname"),
            _record_id(get("RecordNumber", get("EventRecordID")), "RecordNumber"),
            get("TimeCreated") or get("@timestamp") or get("EventTime"),
        )


# --- Winlogbeat ---------------------------------------------------------------------------


def _copy_block(block: object, field: str, out: Event) -> None:
    """A JSON object of event data (Winlogbeat, Log Analytics) into ``out`` as text."""
    if block is None:
        return
    if not isinstance(block, dict):
        raise InvalidInput("event data is not an object", field=field)
    keys = _KEYS
    for key, value in block.items():
        out[keys[key]] = value if type(value) is str else _text(value, f"{field}.{key}")


class WinlogbeatSource:
    """Winlogbeat / Elastic Agent records (``winlog.event_data``)."""

    name = "windows"

    def accepts(self, record: dict[str, Any]) -> bool:
        """A ``winlog`` object."""
        return isinstance(record.get("winlog"), dict)

    def normalise(self, record: dict[str, Any]) -> Event:
        """ECS fields of one Winlogbeat record."""
        try:
            return self._normalise(record)
        except _SHAPE_ERRORS as exc:
            raise _malformed("Winlogbeat", exc) from None

    def _normalise(self, record: dict[str, Any]) -> Event:
        winlog = record.get("winlog")
        if not isinstance(winlog, dict):
            raise InvalidInput("no winlog object", field="winlog")
        event_id = _event_id(winlog.get("event_id"), "winlog.event_id")
        out: Event = {}
        _copy_block(winlog.get("event_data"), "winlog.event_data", out)
        _copy_block(winlog.get("user_data"), "winlog.user_data", out)
        out.pop("winlog.event_data.xml_name", None)  # Winlogbeat's UserData element name
        computer = winlog.get("computer_name")
        host = record.get("host")
        if not computer and isinstance(host, dict):
            computer = host.get("name")
        stamp = record.get("@timestamp")
        event = record.get("event")
        if stamp is None and isinstance(event, dict):
            stamp = event.get("created")
        return _build(
            out,
            event_id,
            _optional_text(winlog.get("provider_name"), "winlog.provider_name"),
            _optional_text(winlog.get("channel"), "winlog.channel"),
            _optional_text(computer, "winlog.computer_name"),
            _record_id(winlog.get("record_id"), "winlog.record_id"),
            stamp,
        )


# --- EVTX as JSON -------------------------------------------------------------------------


def _attribute(node: object, name: str) -> object:
    """An XML attribute as EVTX-to-JSON tools render it: ``#attributes``, ``@Name`` or bare."""
    if not isinstance(node, dict):
        return node
    attributes = node.get("#attributes")
    if isinstance(attributes, dict):
        return attributes.get(name)
    return node.get("@" + name, node.get(name))


def _unnamed(value: object, field: str, out: Event) -> None:
    """``<Data>`` elements: unnamed ones become ``param1``…, xmltodict's ``@Name`` ones named."""
    if isinstance(value, dict) and "#text" in value and "@Name" not in value:
        value = value["#text"]
    items = value if isinstance(value, list) else [value]
    for index, item in enumerate(items, 1):
        if isinstance(item, dict) and isinstance(item.get("@Name"), str):
            out[_KEYS[item["@Name"]]] = _text(item.get("#text"), field)
        else:
            out[f"{EVENT_DATA}param{index}"] = _text(item, field)


def _evtx_block(block: object, field: str, out: Event) -> None:
    """``Event.EventData`` (or one ``UserData`` child) into ``out`` as text."""
    if block is None:
        return
    if not isinstance(block, dict):
        out[EVENT_DATA + "param1"] = _text(block, field)
        return
    keys = _KEYS
    out.update(
        {
            keys[key]: value
            if type(value) is str
            else str(value)
            if type(value) is int
            else _text(value, f"{field}.{key}")
            for key, value in block.items()
            if key != "#attributes" and key != "Data"
        }
    )
    if "Data" in block:
        _unnamed(block["Data"], f"{field}.Data", out)


class EvtxJsonSource:
    """EVTX records rendered as JSON (``Event.System`` / ``Event.EventData``)."""

    name = "windows"

    def accepts(self, record: dict[str, Any]) -> bool:
        """An ``Event`` object (and no Winlogbeat ``winlog``)."""
        return isinstance(record.get("Event"), dict) and "winlog" not in record

    def normalise(self, record: dict[str, Any]) -> Event:
        """ECS fields of one EVTX JSON record."""
        try:
            return self._normalise(record)
        except _SHAPE_ERRORS as exc:
            raise _malformed("EVTX JSON", exc) from None

    def _normalise(self, record: dict[str, Any]) -> Event:
        event = record.get("Event")
        system = event.get("System") if isinstance(event, dict) else None
        if not isinstance(event, dict) or not isinstance(system, dict):
            raise InvalidInput("no Event.System object", field="Event.System")
        event_id = _event_id(system.get("EventID"), "Event.System.EventID")
        out: Event = {}
        _evtx_block(event.get("EventData"), "Event.EventData", out)
        user_data = event.get("UserData")
        if isinstance(user_data, dict):
            for key, inner in user_data.items():
                if key != "#attributes":
                    _evtx_block(inner, f"Event.UserData.{key}", out)
        return _build(
            out,
            event_id,
            _optional_text(_attribute(system.get("Provider"), "Name"), "Event.System.Provider"),
            _optional_text(system.get("Channel"), "Event.System.Channel"),
            _optional_text(system.get("Computer"), "Event.System.Computer"),
            _record_id(system.get("EventRecordID"), "Event.System.EventRecordID"),
            _attribute(system.get("TimeCreated"), "SystemTime"),
        )


# --- Log Analytics / Sentinel -------------------------------------------------------------

# Columns Log Analytics adds (or derives) beside the event data in SecurityEvent rows.
_LA_META = frozenset(
    (
        "TenantId", "TimeGenerated", "SourceSystem", "Computer", "EventSourceName", "Channel",
        "Task", "Level", "EventID", "Activity", "SourceComputerId", "EventOriginId", "MG",
        "TimeCollected", "ManagementGroupName", "Type", "_ResourceId", "Account", "AccountType",
        "Process", "SubjectAccount", "TargetAccount", "Provider", "EventLevel",
        "EventLevelName", "EventData", "EventLog", "Source", "EventRecordId", "ParameterXml",
        "RenderedDescription", "UserName", "EventCategory", "AzureDeploymentID", "Role",
    )
)  # fmt: skip


class LogAnalyticsSource:
    """Azure Sentinel / Log Analytics ``SecurityEvent``, ``WindowsEvent`` and ``Event`` rows."""

    name = "windows"

    def __init__(self, *, max_xml_bytes: int = MAX_XML_BYTES) -> None:
        self.max_xml_bytes = max_xml_bytes

    def accepts(self, record: dict[str, Any]) -> bool:
        """``EventID`` beside Log Analytics' ``TimeGenerated`` and ``Computer``."""
        return (
            "EventID" in record
            and "TimeGenerated" in record
            and "Computer" in record
            and "winlog" not in record
        )

    def normalise(self, record: dict[str, Any]) -> Event:
        """ECS fields of one Log Analytics row."""
        try:
            return self._normalise(record)
        except _SHAPE_ERRORS as exc:
            raise _malformed("Log Analytics", exc) from None

    def _normalise(self, record: dict[str, Any]) -> Event:
        event_id = _event_id(record.get("EventID"), "EventID")
        raw = record.get("EventData")
        out: Event = {}
        if isinstance(raw, str) and raw.strip():
            text = raw.lstrip()
            if text.startswith("<"):
                values = parse_event_data_xml(text, field="EventData", max_bytes=self.max_xml_bytes)
                out = {_KEYS[key]: value for key, value in values.items()}
            else:
                try:
                    decoded = orjson.loads(text)
                except orjson.JSONDecodeError:
                    raise InvalidInput(
                        "EventData is neither XML nor JSON", field="EventData"
                    ) from None
                _copy_block(decoded, "EventData", out)
        elif isinstance(raw, dict):
            _copy_block(raw, "EventData", out)
        elif raw is None or raw == "":
            # SecurityEvent rows may carry the event data as columns instead.
            meta = _LA_META
            keys = _KEYS
            out = {
                keys[key]: value if type(value) is str else _text(value, key)
                for key, value in record.items()
                if key not in meta
            }
        else:
            raise InvalidInput("EventData is neither XML nor JSON", field="EventData")
        get = record.get
        provider = get("EventSourceName") or get("Provider") or get("Source")
        return _build(
            out,
            event_id,
            _optional_text(provider, "EventSourceName"),
            _optional_text(get("Channel") or get("EventLog"), "Channel"),
            _optional_text(get("Computer"), "Computer"),
            _record_id(get("EventRecordId"), "EventRecordId"),
            get("TimeGenerated"),
        )


# --- Sysmon for Linux through syslog ------------------------------------------------------


class SysmonLinuxSource:
    """Sysmon for Linux events: ``SyslogMessage`` holding the ``<Event>`` XML."""

    name = "sysmon_linux"

    def __init__(self, *, max_xml_bytes: int = MAX_XML_BYTES) -> None:
        self.max_xml_bytes = max_xml_bytes

    def accepts(self, record: dict[str, Any]) -> bool:
        """A ``SyslogMessage`` that starts with ``<Event``."""
        message = record.get("SyslogMessage")
        if not isinstance(message, str):
            return False
        return message.startswith("<Event") or message[:200].lstrip().startswith("<Event")

    def normalise(self, record: dict[str, Any]) -> Event:
        """ECS fields of one syslog record carrying a Sysmon for Linux event."""
        try:
            return self._normalise(record)
        except _SHAPE_ERRORS as exc:
            raise _malformed("Sysmon for Linux", exc) from None

    def _normalise(self, record: dict[str, Any]) -> Event:
        message = record.get("SyslogMessage")
        if not isinstance(message, str):
            raise InvalidInput("no SyslogMessage text", field="SyslogMessage")
        parsed = parse_event_xml(message, field="SyslogMessage", max_bytes=self.max_xml_bytes)
        system = parsed.system
        computer = system.get("Computer") or record.get("HostName") or record.get("Computer")
        keys = _KEYS
        out = _build(
            {keys[key]: value for key, value in parsed.data.items()},
            _event_id(system.get("EventID"), "SyslogMessage.EventID"),
            system.get("Provider"),
            system.get("Channel"),
            _optional_text(computer, "HostName"),
            _record_id(system.get("EventRecordID"), "SyslogMessage.EventRecordID"),
            system.get("TimeCreated") or record.get("TimeGenerated") or record.get("EventTime"),
        )
        if parsed.truncated:  # syslog cut the message: say so rather than drop the event
            out["log.flags"] = ["truncated"]
        return out


FLAT = FlatSource()
"""The flat (NXLog, Mordor) reader, which the C hot path stands in for."""

JSON_SOURCES: tuple[JsonSource, ...] = (
    WinlogbeatSource(),
    EvtxJsonSource(),
    SysmonLinuxSource(),
    LogAnalyticsSource(),
    FLAT,
)
"""Every Windows JSON shape, most specific first: the first whose ``accepts`` is true wins."""

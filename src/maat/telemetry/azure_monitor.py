"""Azure Monitor VM insights ``VMConnection`` rows: one process's connections to one peer.

Each row sums, for one reporting interval, the connections of one process on one machine to
one remote address and port: ``TimeGenerated``, ``Computer``, ``Direction``
(``inbound`` / ``outbound``), ``ProcessName``, ``SourceIp``, ``DestinationIp``,
``DestinationPort``, ``Protocol``, ``BytesSent`` / ``BytesReceived`` and link counters.

``BytesSent`` and ``BytesReceived`` count from the monitored machine's side. The machine is
the source of an outbound connection and the destination of an inbound one, so the byte
counts are assigned to ``source.bytes`` / ``destination.bytes`` by direction.
"""

from __future__ import annotations

from typing import Any

from maat.errors import InvalidInput
from maat.telemetry.model import Event, iso_utc

__all__ = ["JSON_SOURCES", "VmConnection"]

_TEXT = (
    ("Computer", "host.name"),
    ("ProcessName", "process.name"),
    ("SourceIp", "source.ip"),
    ("DestinationIp", "destination.ip"),
    ("ConnectionId", "azure.vmconnection.connection_id"),
    ("RemoteIp", "azure.vmconnection.remote_ip"),
    ("Process", "azure.vmconnection.process_id"),
    ("Machine", "azure.vmconnection.machine"),
    ("AgentId", "azure.vmconnection.agent_id"),
    ("RemoteCountry", "azure.vmconnection.remote_country"),
    ("MaliciousIp", "azure.vmconnection.malicious_ip"),
    ("IndicatorThreatType", "azure.vmconnection.indicator_threat_type"),
    ("_ResourceId", "azure.resource.id"),
)
_COUNTERS = (
    ("LinksEstablished", "azure.vmconnection.links_established"),
    ("LinksTerminated", "azure.vmconnection.links_terminated"),
    ("LinksLive", "azure.vmconnection.links_live"),
    ("LinksFailed", "azure.vmconnection.links_failed"),
    ("Responses", "azure.vmconnection.responses"),
    ("ResponseTimeSum", "azure.vmconnection.response_time_sum"),
    ("ResponseTimeMin", "azure.vmconnection.response_time_min"),
    ("ResponseTimeMax", "azure.vmconnection.response_time_max"),
)
_DIRECTIONS = {"inbound": "inbound", "outbound": "outbound"}


def _int(record: dict[str, Any], key: str) -> int | None:
    value = record.get(key)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 20:
        return int(value)
    raise InvalidInput(f"{key} must be a whole number: {str(value)[:40]!r}", field=key)


class VmConnection:
    """Azure Monitor ``VMConnection`` rows."""

    name = "azure_monitor"

    def accepts(self, record: dict[str, Any]) -> bool:
        """``Type: VMConnection``, or a row with its connection and direction columns."""
        return record.get("Type") == "VMConnection" or (
            "ConnectionId" in record and "Direction" in record and "DestinationPort" in record
        )

    def normalise(self, record: dict[str, Any]) -> Event:
        """ECS network fields of one row."""
        stamp = record.get("TimeGenerated")
        if not isinstance(stamp, str) or not stamp:
            raise InvalidInput("TimeGenerated must be ISO 8601 text", field="TimeGenerated")
        try:
            stamp = iso_utc(stamp)
        except InvalidInput as exc:
            raise InvalidInput(exc.message, field="TimeGenerated") from None
        out: Event = {
            "@timestamp": stamp,
            "event.dataset": "azure_monitor.vmconnection",
            "event.category": ["network"],
            "event.type": ["connection"],
        }
        for key, field in _TEXT:
            value = record.get(key)
            if value is None or value == "":
                continue
            if not isinstance(value, str):
                raise InvalidInput(f"{key} must be text", field=key)
            out[field] = value
        direction = record.get("Direction")
        if direction is not None:
            if not isinstance(direction, str) or direction.lower() not in _DIRECTIONS:
                raise InvalidInput("Direction must be inbound or outbound", field="Direction")
            out["network.direction"] = _DIRECTIONS[direction.lower()]
        protocol = record.get("Protocol")
        if protocol is not None:
            if not isinstance(protocol, str):
                raise InvalidInput("Protocol must be text", field="Protocol")
            out["network.transport"] = protocol.lower()
        port = _int(record, "DestinationPort")
        if port is not None:
            if port > 65535:
                raise InvalidInput(
                    f"DestinationPort is not a port: {port}", field="DestinationPort"
                )
            out["destination.port"] = port
        sent, received = _int(record, "BytesSent"), _int(record, "BytesReceived")
        local, remote = (
            ("destination", "source") if out.get("network.direction") == "inbound"
            else ("source", "destination")
        )  # fmt: skip
        if sent is not None:
            out[f"{local}.bytes"] = sent
        if received is not None:
            out[f"{remote}.bytes"] = received
        if sent is not None and received is not None:
            out["network.bytes"] = sent + received
        for key, field in _COUNTERS:
            count = _int(record, key)
            if count is not None:
                out[field] = count
        return out


JSON_SOURCES: tuple[VmConnection, ...] = (VmConnection(),)

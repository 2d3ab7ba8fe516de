"""ECS mapping tables for Windows events, built once at import.

Each known ``(family, EventID)`` has a :class:`Spec`: the ECS ``event.category``/``type``/
``action`` and which event-data field goes to which ECS field. A *family* is the event's
source (``sysmon``, ``security``, ``defender``, …), found from the provider name or, failing
that, the channel. Normalising one event is then a handful of dictionary lookups
(:func:`lookup` and :func:`apply`); events with no spec of their own get their family's
default, and events of an unknown source get none (they keep their ``winlog.*`` fields).

This module holds the tables, the mapping steps only single kinds of event need, and
:func:`lookup`. The notation the tables are written in (:class:`Spec`, :func:`spec` and
``"Source>ecs.field, …"`` strings), :func:`apply` and the shared mapping steps are in
:mod:`maat.telemetry.windows_mapping`; the names in ``__all__`` are importable from here.
"""

from __future__ import annotations

import ipaddress

from maat.telemetry.model import Event
from maat.telemetry.windows_mapping import (
    EVENT_DATA,
    Spec,
    _split_user,
    apply,
    basename,
    file_fields,
    hashes,
    registry,
    signature,
    spec,
    to_int,
    user,
)

__all__ = [
    "DEFAULTS",
    "EVENT_DATA",
    "SPECS",
    "Spec",
    "apply",
    "basename",
    "lookup",
    "spec",
    "to_int",
]


# --- mapping steps of single kinds of event -----------------------------------------------


def _dns_answers(out: Event) -> None:
    """Sysmon 22 ``QueryResults`` (``type: 5 cname;::ffff:1.2.3.4;``): the addresses into
    ``dns.resolved_ip``, the CNAME targets into ``dns.answers.data`` (ECS: an answer's data is
    the canonical name of a CNAME), where a name the query reached through them is seen."""
    results = out.get("winlog.event_data.QueryResults")
    if not isinstance(results, str) or not results or results == "-":
        return
    found: list[str] = []
    names: list[str] = []
    for token in results.split(";"):
        token = token.strip().removeprefix("::ffff:")
        if token.startswith("type:"):
            record = token[5:].split()
            if len(record) == 2 and record[0] == "5" and record[1].strip("."):  # 5: CNAME
                names.append(record[1].rstrip("."))
            continue
        if not token:
            continue
        try:
            ipaddress.ip_address(token)
        except ValueError:
            continue
        found.append(token)
    if found:
        out["dns.resolved_ip"] = found
    if names:
        out["dns.answers.data"] = names


def _object_access(out: Event) -> None:
    """Security 4656/4663 ``ObjectName`` into ``registry.path`` (keys) or ``file.path``."""
    name = out.get("winlog.event_data.ObjectName")
    if not name or name == "-":
        return
    kind = out.get("winlog.event_data.ObjectType", "File")
    if kind == "Key":
        out["registry.path"] = name
        out["event.category"] = ["registry"]
    elif kind == "File":
        out["file.path"] = name
        out["file.name"] = basename(name)


def _defender_path(out: Event) -> None:
    """Defender ``Path`` (``file:_C:\\x.exe; process:_pid:…``) into ``file.path``."""
    value = out.get("winlog.event_data.Path")
    if not value:
        return
    for part in value.split(";"):
        part = part.strip()
        if part.startswith("file:_"):
            out["file.path"] = part[6:]
            return
    if ":_" not in value:
        out["file.path"] = value


def _defender_process(out: Event) -> None:
    """Defender ``Process Name`` (``Unknown`` when none) into ``process.executable``."""
    value = out.get("winlog.event_data.Process Name")
    if value and value not in ("-", "Unknown"):
        out["process.executable"] = value
        out["process.name"] = basename(value)


_CONTEXT_FIELDS = {
    "Host Application": "process.command_line",
    "Command Name": "powershell.command.name",
    "Command Type": "powershell.command.type",
    "Script Name": "file.path",
    "Runspace ID": "powershell.runspace_id",
    "Pipeline ID": "powershell.pipeline_id",
    "Host Version": "powershell.process.executable_version",
}


def _powershell_context(out: Event) -> None:
    """PowerShell 4103 ``ContextInfo`` (``Key = Value`` lines) into ``powershell.*``."""
    context = out.get("winlog.event_data.ContextInfo")
    if not context:
        return
    for line in context.splitlines():
        key, sep, value = line.partition(" = ")
        key, value = key.strip(), value.strip()
        if not sep or not value:
            continue
        target = _CONTEXT_FIELDS.get(key)
        if target is not None:
            out[target] = value
        elif key == "User":
            _split_user(value, out, "user.name", "user.domain")


# --- the tables ---------------------------------------------------------------------------

_PROCESS = spec("", "", None, "ProcessGuid>process.entity_id, Image>process.executable",
                "ProcessId>process.pid", "Image>process.name", user("User"))  # fmt: skip
_PE = (
    "OriginalFileName>{0}.pe.original_file_name, Company>{0}.pe.company, Product>{0}.pe.product, "
    "Description>{0}.pe.description, FileVersion>{0}.pe.file_version"
)
_FILE = file_fields("TargetFilename")
_FILE_HASHES = hashes("Hashes", "file")
_PIPE = "PipeName>file.name"
_SOURCE_TARGET = spec(
    "process", "", None,
    "SourceImage>process.executable, TargetImage>target.process.executable",
    "SourceProcessId>process.pid, SourceThreadId>process.thread.id, "
    "TargetProcessId>target.process.pid",
    "SourceImage>process.name, TargetImage>target.process.name",
    user("SourceUser"), user("TargetUser", "target.user"),
)  # fmt: skip
_GUIDS = "SourceProcess{0}>process.entity_id, TargetProcess{0}>target.process.entity_id"
_INITIATED = {"true": "egress", "false": "ingress"}
_IPV6 = {"true": "ipv6", "false": "ipv4"}

SYSMON: dict[int, Spec] = {
    1: spec("process", "start", "process-created",
            "CommandLine>process.command_line, CurrentDirectory>process.working_directory, "
            "ParentProcessGuid>process.parent.entity_id, ParentImage>process.parent.executable, "
            "ParentCommandLine>process.parent.command_line, " + _PE.format("process"),
            "ParentProcessId>process.parent.pid", "ParentImage>process.parent.name",
            hashes("Hashes", "process"), base=_PROCESS),
    2: spec("file", "change", "file-creation-time-changed", "", "", "", _FILE, base=_PROCESS),
    3: spec("network", "connection start", "network-connection",
            "SourceIp>source.ip, SourceHostname>source.domain, DestinationIp>destination.ip, "
            "DestinationHostname>destination.domain, Protocol>network.transport",
            "SourcePort>source.port, DestinationPort>destination.port", base=_PROCESS,
            maps=(("Initiated", "network.direction", _INITIATED),
                  ("SourceIsIpv6", "network.type", _IPV6))),
    5: spec("process", "end", "process-terminated", base=_PROCESS),
    6: spec("driver", "start", "driver-loaded", "", "", "",
            file_fields("ImageLoaded"), _FILE_HASHES, signature("file")),
    7: spec("library", "start", "image-loaded", "ImageLoaded>dll.path, " + _PE.format("dll"),
            "", "ImageLoaded>dll.name", hashes("Hashes", "dll"), signature("dll"), base=_PROCESS),
    8: spec("process", "change", "remote-thread-created", _GUIDS.format("Guid"),
            base=_SOURCE_TARGET),
    9: spec("file", "access", "raw-access-read", "Device>file.path", base=_PROCESS),
    10: spec("process", "access", "process-accessed", _GUIDS.format("GUID"), base=_SOURCE_TARGET),
    11: spec("file", "creation", "file-created", "", "", "", _FILE, base=_PROCESS),
    12: spec("registry", "change", "registry-object-changed", "", "", "",
             registry(None), base=_PROCESS),
    13: spec("registry", "change", "registry-value-set", "", "", "", registry(True),
             base=_PROCESS),
    14: spec("registry", "change", "registry-key-renamed", "", "", "", registry(False),
             base=_PROCESS),
    15: spec("file", "creation", "file-stream-created", "", "", "",
             _FILE, hashes("Hash", "file"), base=_PROCESS),
    16: spec("configuration", "change", "sysmon-configuration-changed"),
    17: spec("file", "creation", "pipe-created", _PIPE, base=_PROCESS),
    18: spec("file", "access", "pipe-connected", _PIPE, base=_PROCESS),
    19: spec("configuration", "change", "wmi-event-filter-registered", base=_PROCESS),
    20: spec("configuration", "change", "wmi-event-consumer-registered", base=_PROCESS),
    21: spec("configuration", "change", "wmi-event-binding-registered", base=_PROCESS),
    22: spec("network", "protocol info", "dns-query", "QueryName>dns.question.name", "", "",
             _dns_answers, base=_PROCESS, constants=(("network.protocol", "dns"),)),
    23: spec("file", "deletion", "file-deleted", "", "", "", _FILE, _FILE_HASHES, base=_PROCESS),
    24: spec("process", "info", "clipboard-changed", base=_PROCESS),
    25: spec("process", "change", "process-tampering", base=_PROCESS),
    26: spec("file", "deletion", "file-delete-detected", "", "", "",
             _FILE, _FILE_HASHES, base=_PROCESS),
    27: spec("file", "denied", "file-executable-blocked", "", "", "", _FILE, base=_PROCESS),
    28: spec("file", "denied", "file-shredding-blocked", "", "", "", _FILE, base=_PROCESS),
    29: spec("file", "creation", "file-executable-detected", "", "", "", _FILE, base=_PROCESS),
}  # fmt: skip

_SUBJECT = "SubjectUserName>user.name, SubjectDomainName>user.domain, SubjectUserSid>user.id, "
_CALLER = spec("", "", None, _SUBJECT + "ProcessName>process.executable",
               "ProcessId>process.pid", "ProcessName>process.name")  # fmt: skip
_LOGON_TYPES = {
    "2": "Interactive", "3": "Network", "4": "Batch", "5": "Service", "7": "Unlock",
    "8": "NetworkCleartext", "9": "NewCredentials", "10": "RemoteInteractive",
    "11": "CachedInteractive", "12": "CachedRemoteInteractive", "13": "CachedUnlock",
}  # fmt: skip
_LOGON = spec("authentication", "start", None,
              "TargetUserName>user.name, TargetDomainName>user.domain, TargetUserSid>user.id, "
              "TargetLogonId>winlog.logon.id, IpAddress>source.ip, WorkstationName>source.domain, "
              "ProcessName>process.executable", "IpPort>source.port, ProcessId>process.pid",
              "ProcessName>process.name",
              maps=(("LogonType", "winlog.logon.type", _LOGON_TYPES),))  # fmt: skip
_IANA = {"6": "tcp", "17": "udp", "1": "icmp", "58": "ipv6-icmp"}
_WFP_DIRECTION = {"%%14592": "ingress", "%%14593": "egress"}
_WFP = spec("network", "", None,
            "SourceAddress>source.ip, DestAddress>destination.ip, Application>process.executable, "
            "Protocol>network.iana_number",
            "SourcePort>source.port, DestPort>destination.port, ProcessID>process.pid, "
            "ProcessId>process.pid", "Application>process.name",
            maps=(("Protocol", "network.transport", _IANA),
                  ("Direction", "network.direction", _WFP_DIRECTION)))  # fmt: skip

SECURITY: dict[int, Spec] = {
    4624: spec("authentication", "start", "logged-in", base=_LOGON, outcome="success"),
    4625: spec("authentication", "start", "logon-failed", base=_LOGON, outcome="failure"),
    4634: spec("authentication", "end", "logged-out",
               "TargetUserName>user.name, TargetDomainName>user.domain, TargetUserSid>user.id"),
    4648: spec("authentication", "start", "logged-in-explicit",
               "TargetUserName>user.target.name, TargetDomainName>user.target.domain, "
               "TargetServerName>destination.domain, IpAddress>source.ip",
               "IpPort>source.port", base=_CALLER),
    4672: spec("iam", "admin", "logged-in-special", _SUBJECT),
    4688: spec("process", "start", "created-process",
               _SUBJECT + "NewProcessName>process.executable, CommandLine>process.command_line, "
               "ParentProcessName>process.parent.executable",
               "NewProcessId>process.pid, ProcessId>process.parent.pid",
               "NewProcessName>process.name, ParentProcessName>process.parent.name"),
    4689: spec("process", "end", "exited-process", base=_CALLER),
    4656: spec("file", "access", "object-handle-requested", "", "", "", _object_access,
               base=_CALLER),
    4663: spec("file", "access", "object-access-attempted", "", "", "", _object_access,
               base=_CALLER),
    4697: spec("configuration", "creation", "service-installed",
               _SUBJECT + "ServiceName>service.name, ServiceType>service.type, "
               "ServiceFileName>file.path"),
    5145: spec("network file", "access", "network-share-object-access-checked",
               _SUBJECT + "IpAddress>source.ip, RelativeTargetName>file.path",
               "IpPort>source.port"),
    5156: spec("network", "connection allowed", "network-connection-allowed", base=_WFP),
    5158: spec("network", "allowed", "network-bind-allowed", base=_WFP),
}  # fmt: skip

EVENTLOG: dict[int, Spec] = {
    1102: spec("iam", "admin change", "audit-log-cleared", _SUBJECT),
    104: spec("configuration", "deletion", "log-cleared"),
}

SERVICE_CONTROL: dict[int, Spec] = {
    7045: spec("configuration", "creation", "service-installed",
               "ServiceName>service.name, ServiceType>service.type, ImagePath>file.path"),
    7040: spec("configuration", "change", "service-start-type-changed"),
}  # fmt: skip

_DETECTION = spec("malware intrusion_detection", "info", None,
                  "Threat Name>threat.software.name, Threat ID>threat.software.id, "
                  "Category Name>threat.software.type, Name>threat.software.name",
                  "Severity ID>event.severity", "",
                  _defender_path, _defender_process, user("Detection User"))  # fmt: skip
_ALERT = "malware intrusion_detection"


def _alert(action: str) -> Spec:
    return spec(_ALERT, "info", action, base=_DETECTION, event_kind="alert")


DEFENDER: dict[int, Spec] = {
    1006: _alert("malware-detected"),
    1015: _alert("suspicious-behaviour-detected"),
    1116: _alert("malware-detected"),
    1117: _alert("malware-action-taken"),
    1118: _alert("malware-action-failed"),
    1119: _alert("malware-action-critically-failed"),
    5001: spec("configuration", "change", "real-time-protection-disabled"),
    5007: spec("configuration", "change", "configuration-changed"),
    5010: spec("configuration", "change", "antispyware-scanning-disabled"),
    5012: spec("configuration", "change", "antivirus-scanning-disabled"),
    5013: spec("configuration", "change", "tamper-protection-blocked-change"),
}

POWERSHELL: dict[int, Spec] = {
    4103: spec("process", "info", "pipeline-executed", "", "", "", _powershell_context),
    4104: spec("process", "info", "script-block-logged",
               "ScriptBlockText>powershell.file.script_block_text, "
               "ScriptBlockId>powershell.file.script_block_id, Path>file.path",
               "MessageNumber>powershell.sequence, MessageTotal>powershell.total"),
}  # fmt: skip

SPECS: dict[tuple[str, int], Spec] = {
    (family, event_id): entry
    for family, table in (
        ("sysmon", SYSMON),
        ("security", SECURITY),
        ("eventlog", EVENTLOG),
        ("scm", SERVICE_CONTROL),
        ("defender", DEFENDER),
        ("powershell", POWERSHELL),
    )
    for event_id, entry in table.items()
}
"""Every known event by ``(family, EventID)``."""

DEFAULTS: dict[str, Spec] = {"sysmon": _PROCESS, "security": _CALLER}
"""The spec of a family's events that have none of their own."""

_NONE = Spec()
_PROVIDER_FAMILY = {
    "microsoft-windows-sysmon": "sysmon",
    "linux-sysmon": "sysmon",
    "microsoft-windows-security-auditing": "security",
    "microsoft-windows-eventlog": "eventlog",
    "eventlog": "eventlog",
    "service control manager": "scm",
    "microsoft-windows-windows defender": "defender",
    "microsoft-windows-powershell": "powershell",
}
_CHANNEL_FAMILY = {
    "microsoft-windows-sysmon/operational": "sysmon",
    "linux-sysmon/operational": "sysmon",
    "security": "security",
    "microsoft-windows-windows defender/operational": "defender",
    "microsoft-windows-powershell/operational": "powershell",
}
# Family by the exact (provider, channel) pair: one lookup per event once warm. Bounded, as
# the names come from the input.
_FAMILY_CACHE: dict[tuple[str | None, str | None], str] = {}
_FAMILY_CACHE_MAX = 4096


def _family(provider: str | None, channel: str | None) -> str:
    family = _PROVIDER_FAMILY.get(provider.lower(), "") if provider else ""
    if not family and channel:
        family = _CHANNEL_FAMILY.get(channel.lower(), "")
    if len(_FAMILY_CACHE) < _FAMILY_CACHE_MAX:
        _FAMILY_CACHE[(provider, channel)] = family
    return family


def lookup(provider: str | None, channel: str | None, event_id: int) -> Spec:
    """The spec for an event of ``provider``/``channel`` with ``event_id``; never fails."""
    family = _FAMILY_CACHE.get((provider, channel))
    if family is None:
        family = _family(provider, channel)
    found = SPECS.get((family, event_id))
    if found is not None:
        return found
    return DEFAULTS.get(family, _NONE)

"""Sigma log sources routed to Maat's events: which events a rule looks at, and where its
field names live in them.

A Sigma rule names a log source (``product``/``category``/``service``), not an event. A
:class:`Route` says which events that is (a Windows channel and event ids, or an event
module) and how the rule's field names translate (``Image`` is
``winlog.event_data.Image`` in a Sysmon event, ``NewProcessName`` in a Security 4688). One
log source may have several routes (process creation is Sysmon 1 and Security 4688); a rule
is compiled once per route and indexed by the route's key, so an event is only ever tested
against the rules of its own kind.

The tables follow SigmaHQ's documented log source mappings (the Sysmon and Windows audit
pipelines of pySigma); what has no route is reported by the loader, never silently dropped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from maat.telemetry.app_log import APPLICATIONS
from maat.telemetry.auditd import EXECVE_ARGS
from maat.telemetry.panos import DATASET as PANOS_DATASET
from maat.telemetry.syslog import AUTH_PROGRAMS, CISCO_COMMANDS, FIREWALL_BLOCKED
from maat.telemetry.zeek import raw_field_keys

__all__ = [
    "EVENT_DATA",
    "Route",
    "RouteKey",
    "event_route_keys",
    "routes_for",
]

EVENT_DATA = "winlog.event_data."
SYSMON = "microsoft-windows-sysmon/operational"
SECURITY = "security"
POWERSHELL = "microsoft-windows-powershell/operational"
_WORDS = re.compile(r"(?<=[a-z])(?=[A-Z])")
RouteKey = tuple[str, int | None]
"""``(channel or module, event id or None for any)``, lowercased."""

# Fields every Windows event has outside its event data, by their Sigma names.
_WINDOWS_SYSTEM = {
    "EventID": "winlog.event_id",
    "Channel": "winlog.channel",
    "Provider_Name": "winlog.provider_name",
    "Computer": "winlog.computer_name",
    "Hostname": "host.name",
}


@dataclass(frozen=True, slots=True)
class Route:
    """Where a log source's events are and how its field names map onto them."""

    name: str
    keys: tuple[RouteKey, ...]
    renames: Mapping[str, str] = field(default_factory=dict)
    """Sigma field -> event data name where they differ (Security 4688's NewProcessName)."""
    prefix: str = EVENT_DATA
    system: Mapping[str, str] = field(default_factory=lambda: _WINDOWS_SYSTEM)
    spaced: bool = False
    """Event data names are words with spaces (Defender's ``Threat Name``), which Sigma
    writes joined (``ThreatName``)."""
    fields: Mapping[str, str] = field(default_factory=dict)
    """Sigma field -> the whole event key, before anything else (Zeek's, web servers')."""
    known: frozenset[str] | None = None
    """When set, the only Sigma fields this source has; a rule naming another field does
    not run on this route (its filters on that field would always pass here)."""
    casefold: bool = False
    """Field paths are lower-cased in these events (Azure's), so the rule's are too."""
    needs: frozenset[str] = frozenset()
    """When set, only rules reading one of these Sigma fields run here: the log source's
    other route runs the rest, on events that may lack these fields."""

    def event_key(self, sigma_field: str) -> str:
        """The event key holding ``sigma_field`` on this route."""
        if self.casefold:
            return self.prefix + sigma_field.lower()
        mapped = self.fields.get(sigma_field)
        if mapped is not None:
            return mapped
        system = self.system.get(sigma_field)
        if system is not None:
            return system
        name = self.renames.get(sigma_field, sigma_field)
        if self.spaced:
            name = _WORDS.sub(" ", name)
        return self.prefix + name


def _sysmon(name: str, *ids: int) -> Route:
    return Route(f"sysmon/{name}", tuple((SYSMON, i) for i in ids))


def _channel(name: str, channel: str, *ids: int) -> Route:
    keys = tuple((channel.lower(), i) for i in ids) if ids else ((channel.lower(), None),)
    return Route(name, keys)


# Security 4688 names the process fields differently from Sysmon 1 (pySigma's
# windows-audit pipeline maps them the same way).
_AUDIT_PROCESS = {
    "Image": "NewProcessName",
    "ParentImage": "ParentProcessName",
    "LogonId": "SubjectLogonId",
}
# The Sigma fields a Security 4688 event can answer. Not ProcessId (hex there), User (no
# domain there) or IntegrityLevel (a SID there): their values would not compare.
_AUDIT_KNOWN = frozenset(
    {"Image", "ParentImage", "CommandLine", "LogonId", "EventID", "Channel", "Provider_Name",
     "Computer", "Hostname", "NewProcessName", "ParentProcessName", "SubjectUserName",
     "SubjectUserSid", "SubjectDomainName", "SubjectLogonId", "TokenElevationType",
     "MandatoryLabel", "TargetUserName", "TargetDomainName", "TargetUserSid", "TargetLogonId"}
)  # fmt: skip

# SigmaHQ's file_access rules are written for the Kernel-File ETW provider (FileName,
# Image); Security 4663 ("an attempt was made to access an object", with a SACL on the
# files) records the same access as ObjectName and ProcessName.
# Only 4663 events about files: registry keys and processes are audited by 4663 too.
_OBJECT_ACCESS = {"FileName": "ObjectName", "Image": "ProcessName"}
# Not ProcessId or HandleId: hex in 4663, so their values would not compare.
_OBJECT_ACCESS_KNOWN = frozenset(
    {"FileName", "Image", "EventID", "Channel", "Provider_Name", "Computer", "Hostname",
     "ObjectName", "ProcessName", "ObjectType", "AccessMask", "AccessList", "SubjectUserName",
     "SubjectDomainName", "SubjectUserSid", "SubjectLogonId"}
)  # fmt: skip
FILE_ACCESS = "security:file-object"
"""The route key of a Security 4663 event about a file."""

_CATEGORIES: dict[str, tuple[Route, ...]] = {
    "process_creation": (
        _sysmon("process_creation", 1),
        Route("security/4688", ((SECURITY, 4688),), renames=_AUDIT_PROCESS, known=_AUDIT_KNOWN),
    ),
    "file_change": (_sysmon("file_change", 2),),
    "file_access": (
        Route(
            "security/4663-file",
            ((FILE_ACCESS, None),),
            renames=_OBJECT_ACCESS,
            known=_OBJECT_ACCESS_KNOWN,
        ),
    ),
    "network_connection": (_sysmon("network_connection", 3),),
    "sysmon_status": (_sysmon("sysmon_status", 4, 16),),
    "sysmon_error": (_sysmon("sysmon_error", 255),),
    "process_termination": (_sysmon("process_termination", 5),),
    "driver_load": (_sysmon("driver_load", 6),),
    "image_load": (_sysmon("image_load", 7),),
    "create_remote_thread": (_sysmon("create_remote_thread", 8),),
    "raw_access_thread": (_sysmon("raw_access_thread", 9),),
    "process_access": (_sysmon("process_access", 10),),
    "file_event": (_sysmon("file_event", 11),),
    "registry_add": (_sysmon("registry_add", 12),),
    "registry_delete": (_sysmon("registry_delete", 12),),
    "registry_set": (_sysmon("registry_set", 13),),
    "registry_rename": (_sysmon("registry_rename", 14),),
    "registry_event": (_sysmon("registry_event", 12, 13, 14),),
    "create_stream_hash": (_sysmon("create_stream_hash", 15),),
    "pipe_created": (_sysmon("pipe_created", 17, 18),),
    "wmi_event": (_sysmon("wmi_event", 19, 20, 21),),
    "dns_query": (_sysmon("dns_query", 22),),
    "file_delete": (_sysmon("file_delete", 23, 26),),
    "clipboard_change": (_sysmon("clipboard_change", 24),),
    "process_tampering": (_sysmon("process_tampering", 25),),
    "file_block_executable": (_sysmon("file_block_executable", 27),),
    "file_block_shredding": (_sysmon("file_block_shredding", 28),),
    "file_executable_detected": (_sysmon("file_executable_detected", 29),),
    "ps_module": (_channel("powershell/module", POWERSHELL, 4103),),
    "ps_script": (_channel("powershell/script", POWERSHELL, 4104),),
    "ps_classic_start": (_channel("powershell-classic/start", "Windows PowerShell", 400),),
    "ps_classic_provider_start": (
        _channel("powershell-classic/provider", "Windows PowerShell", 600),
    ),
    "ps_classic_script": (_channel("powershell-classic/script", "Windows PowerShell", 800),),
}

# Windows services are event log channels (pySigma's windows_logsource_mapping).
_SERVICES = {
    "security": "Security",
    "system": "System",
    "application": "Application",
    "sysmon": "Microsoft-Windows-Sysmon/Operational",
    "powershell": "Microsoft-Windows-PowerShell/Operational",
    "powershell-classic": "Windows PowerShell",
    "taskscheduler": "Microsoft-Windows-TaskScheduler/Operational",
    "wmi": "Microsoft-Windows-WMI-Activity/Operational",
    "dns-server": "DNS Server",
    "dns-server-analytic": "Microsoft-Windows-DNS-Server/Analytical",
    "dns-client": "Microsoft-Windows-DNS Client Events/Operational",
    "driver-framework": "Microsoft-Windows-DriverFrameworks-UserMode/Operational",
    "ntlm": "Microsoft-Windows-NTLM/Operational",
    "windefend": "Microsoft-Windows-Windows Defender/Operational",
    "firewall-as": "Microsoft-Windows-Windows Firewall With Advanced Security/Firewall",
    "bits-client": "Microsoft-Windows-Bits-Client/Operational",
    "applocker": "Microsoft-Windows-AppLocker/EXE and DLL",
    "codeintegrity-operational": "Microsoft-Windows-CodeIntegrity/Operational",
    "smbclient-security": "Microsoft-Windows-SmbClient/Security",
    "smbclient-connectivity": "Microsoft-Windows-SmbClient/Connectivity",
    "msexchange-management": "MSExchange Management",
    "printservice-admin": "Microsoft-Windows-PrintService/Admin",
    "printservice-operational": "Microsoft-Windows-PrintService/Operational",
    "terminalservices-localsessionmanager": (
        "Microsoft-Windows-TerminalServices-LocalSessionManager/Operational"
    ),
    "openssh": "OpenSSH/Operational",
    "ldap_debug": "Microsoft-Windows-LDAP-Client/Debug",
    "ldap": "Microsoft-Windows-LDAP-Client/Debug",
    "smbserver-connectivity": "Microsoft-Windows-SmbServer/Connectivity",
    "microsoft-servicebus-client": "Microsoft-ServiceBus-Client",
    "security-mitigations": "Microsoft-Windows-Security-Mitigations/KernelMode",
    "diagnosis-scripted": "Microsoft-Windows-Diagnosis-Scripted/Operational",
    "shell-core": "Microsoft-Windows-Shell-Core/Operational",
    "appxdeployment-server": "Microsoft-Windows-AppXDeploymentServer/Operational",
    "appxpackaging-om": "Microsoft-Windows-AppxPackaging/Operational",
    "capi2": "Microsoft-Windows-CAPI2/Operational",
    "certificateservicesclient-lifecycle-system": (
        "Microsoft-Windows-CertificateServicesClient-Lifecycle-System/Operational"
    ),
    "kernel-shimengine": "Microsoft-Windows-Kernel-ShimEngine/Operational",
    "hyper-v-worker": "Microsoft-Windows-Hyper-V-Worker",
    "appmodel-runtime": "Microsoft-Windows-AppModel-Runtime/Admin",
    "lsa-server": "Microsoft-Windows-LSA/Operational",
    "vhdmp": "Microsoft-Windows-VHDMP/Operational",
    "iis-configuration": "Microsoft-IIS-Configuration/Operational",
    "sysmon-linux": "Linux-Sysmon/Operational",
}

_SPACED_SERVICES = frozenset({"windefend"})

_LINUX_SYSMON = "linux-sysmon/operational"
_LINUX_CATEGORIES = {
    "process_creation": 1,
    "network_connection": 3,
    "process_termination": 5,
    "raw_access_thread": 9,
    "file_event": 11,
    "file_delete": 23,
}


# Non-Windows events are routed by their dataset: ("ds:<event.dataset>", None).
_ZEEK_LOGS = frozenset(
    [
        "conn",
        "dns",
        "http",
        "ssl",
        "x509",
        "smb_files",
        "smb_mapping",
        "files",
        "notice",
        "weird",
        "dce_rpc",
        "kerberos",
        "ntlm",
        "rdp",
        "ssh",
        "dhcp",
        "ftp",
    ]
)
_ACCESS_LOGS = ("nginx", "envoy", "aws_apigateway", "generic")
# W3C extended log names (what Sigma's webserver rules use) -> the access-log parser's ECS.
_W3C = {
    "cs-method": "http.request.method", "cs-uri-stem": "url.path", "cs-uri-query": "url.query",
    "cs-uri": "url.original", "sc-status": "http.response.status_code", "c-ip": "source.ip",
    "cs-user-agent": "user_agent.original", "cs-referer": "http.request.referrer",
    "cs-host": "url.domain", "cs-username": "user.name", "cs-version": "http.version",
    "sc-bytes": "http.response.body.bytes", "cs-bytes": "http.request.body.bytes",
}  # fmt: skip
_DNS_SERVER = {"query": "dns.question.name", "answer": "dns.answers",
               "record_type": "dns.question.type"}  # fmt: skip
_DEFENDER = "microsoft-windows-windows defender/operational"

# Forward-proxy log names (Sigma's proxy category, W3C-style) -> the ECS fields of Zeek http,
# which sees the requests on the wire with their destination. Web access logs are not used:
# they are a server's inbound requests, with no destination address for the rules' filters.
_PROXY = {
    "c-uri": "url.original", "cs-uri": "url.original", "c-uri-query": "url.query",
    "cs-uri-query": "url.query", "c-uri-stem": "url.path", "cs-uri-stem": "url.path",
    "c-uri-extension": "url.extension", "c-useragent": "user_agent.original",
    "cs-user-agent": "user_agent.original", "cs-host": "url.domain", "r-dns": "url.domain",
    "cs-method": "http.request.method", "sc-status": "http.response.status_code",
    "cs-referrer": "http.request.referrer", "cs-referer": "http.request.referrer",
    "dst_ip": "destination.ip", "r-ip": "destination.ip", "c-ip": "source.ip",
    "src_ip": "source.ip", "cs-bytes": "http.request.body.bytes",
    "sc-bytes": "http.response.body.bytes", "cs-username": "user.name",
}  # fmt: skip
_HTTP_EVENTS: tuple[RouteKey, ...] = (("ds:zeek.http", None),)

# Sigma's auditd rules read each audit *record*'s fields; Maat joins the records of one
# audit event (SYSCALL, EXECVE, PATH, ...) into one event, so ``type`` is any of its record
# types and ``name`` any of its paths. AUOMS records (``AUOMS_EXECVE``) have other type
# names and no a0..aN: the route is raw audit.log only.
_AUDITD = {
    "type": "auditd.record_types", "name": "auditd.paths", "nametype": "auditd.nametypes",
    "SYSCALL": "auditd.syscall", "syscall": "auditd.syscall", "exe": "process.executable",
    "comm": "process.name", "key": "auditd.key", "uid": "user.id", "euid": "user.effective.id",
    "auid": "user.audit.id", "gid": "group.id", "cwd": "process.working_directory",
    "proctitle": "process.title", "unit": "service.name", "pid": "process.pid",
    "ppid": "process.parent.pid", "exit": "auditd.exit", "tty": "auditd.tty",
    "ses": "auditd.session", "arch": "auditd.arch", "terminal": "auditd.terminal",
    "addr": "source.ip", "hostname": "source.domain", "acct": "user.name",
    **{f"a{i}": f"auditd.a{i}" for i in range(EXECVE_ARGS)},
}  # fmt: skip


def _zeek(log: str, extra: Mapping[str, str] | None = None) -> Route:
    fields = {**raw_field_keys(log), **(extra or {})}
    return Route(f"zeek/{log}", ((f"ds:zeek.{log}", None),), prefix=f"zeek.{log}.",
                 system={}, fields=fields)  # fmt: skip


# Names some SigmaHQ cloud rules use beside the records' own paths.
_CLOUD_FIELDS = {
    "gcp": {"gcp.audit.method_name": "gcp.audit.method_name"},  # Filebeat's ECS name
    "kubernetes": {"apiGroup": "kubernetes.audit.objectRef.apiGroup"},
}
_MACOS_PROCESS = {"Image": "process.executable", "CommandLine": "process.command_line",
                  "User": "user.name"}  # fmt: skip

# Cloud and SaaS audit logs keep their own field names under their dataset's prefix
# (maat.telemetry.cloud_audit), which is how SigmaHQ's rules name them.
_CLOUD_AUDIT = {
    ("aws", "cloudtrail"): ("aws.cloudtrail", "aws.cloudtrail."),
    ("okta", "okta"): ("okta.system", "okta."),
    ("github", "audit"): ("github.audit", "github."),
    ("kubernetes", "audit"): ("kubernetes.audit", "kubernetes.audit."),
    ("m365", "audit"): ("m365.audit", "m365."),
    ("bitbucket", "audit"): ("bitbucket.audit", "bitbucket."),
    ("gcp", "gcp.audit"): ("gcp.audit", "gcp."),
    ("opencanary", ""): ("opencanary.event", "opencanary."),
    ("onelogin", "onelogin.events"): ("onelogin.events", "onelogin."),
    ("cisco", "duo"): ("duo.authentication", "duo."),
    ("azure", "pim"): ("azure.pim", "azure.pim."),
}
# Azure's field paths are lower-cased by the parser: its exports spell them both ways.
_AZURE_SERVICES = frozenset({"signinlogs", "auditlogs", "activitylogs", "riskdetection"})


# Syslog events are indexed by what sent them (event_route_keys), each kind of key under a
# prefix of its own: the program of a host's message ("syslog-prog:"), the auth facility
# ("syslog-fac:auth"), the vendor of a network device's message ("syslog-dev:"), and
# "syslog-os" for any message no device wrote. Linux services are programs.
_SYSLOG_OS: RouteKey = ("syslog-os", None)
_SYSLOG_AUTH: RouteKey = ("syslog-fac:auth", None)
_CISCO_COMMAND: RouteKey = ("syslog-dev:cisco-command", None)
_LINUX_PROGRAMS = {
    "sshd": ("sshd", "sshd-session"),
    "sudo": ("sudo",),
    "cron": ("cron", "crond", "anacron", "crontab"),  # crontab itself logs REPLACE
    "vsftpd": ("vsftpd",),
    "clamav": ("clamd", "freshclam", "clamscan", "clamonacc", "clamav-milter"),
    "guacamole": ("guacd",),  # "(n users now present)" is guacd's
}
_SUDO = {"USER": "sudo.USER", "TTY": "sudo.TTY", "PWD": "sudo.PWD", "COMMAND": "sudo.COMMAND"}
# Network devices' syslog. Cisco's "aaa" rules search the commands administrators typed
# (command accounting), which only command-log messages hold.
_DEVICE_SYSLOG: dict[tuple[str, str], RouteKey] = {
    ("cisco", "aaa"): _CISCO_COMMAND,
    ("cisco", "syslog"): ("syslog-dev:cisco", None),
    ("cisco", "bgp"): ("syslog-dev:cisco", None),
    ("cisco", "ldp"): ("syslog-dev:cisco", None),
    ("huawei", "bgp"): ("syslog-dev:huawei", None),
    ("juniper", "bgp"): ("syslog-dev:juniper", None),
}
_FORTIGATE: RouteKey = ("ds:fortinet.fortigate", None)
# Firewall rules (no product) on firewalls' traffic logs: FortiGate's, in ECS.
_FIREWALL: RouteKey = ("firewall:traffic", None)
_FIREWALL_FIELDS = {"src_ip": "source.ip", "dst_ip": "destination.ip",
                    "src_port": "source.port", "dst_port": "destination.port",
                    "action": "event.action", "blocked": FIREWALL_BLOCKED}  # fmt: skip
# Microsoft 365 alerts and Exchange admin actions in the unified audit log, under the names
# SigmaHQ's rules use (Elastic's: event.provider, rule.name or event.action, event.outcome).
_M365_ALERT = {"eventSource": "m365.Workload", "eventName": "m365.Name",
               "status": "event.outcome"}  # fmt: skip
_M365_EXCHANGE = {**_M365_ALERT, "eventName": "m365.Operation"}
# Google Workspace activity shared with Cloud Logging (maat.telemetry.service_audit).
_WORKSPACE = {
    "eventService": "gcp.data.protoPayload.serviceName",
    "eventName": "gcp.data.protoPayload.metadata.event.eventName",
    "protoPayload.Servicename": "gcp.data.protoPayload.serviceName",  # so spelt in SigmaHQ
}


def _keywords(name: str, *keys: RouteKey, fields: Mapping[str, str] | None = None) -> Route:
    """A route whose rules search the events' text (and read only ``fields``)."""
    known = frozenset(fields or ())
    return Route(name, keys, prefix="", system={}, fields=fields or {}, known=known)


def _text_log_routes(product: str, category: str, service: str) -> tuple[Route, ...]:
    """Routes of syslog, network devices', web servers' error and applications' logs."""
    if category == "firewall" and not product and not service:
        return (Route("firewall/traffic", (_FIREWALL,), prefix="", system={},
                      fields=_FIREWALL_FIELDS, known=frozenset(_FIREWALL_FIELDS)),)  # fmt: skip
    if (category == "application" and product in APPLICATIONS) or (
        category == "database" and not product
    ):
        name = product or "database"
        return (_keywords(f"app/{name}", (f"ds:application.{name}", None)),)
    if product == "paloalto" and service == "globalprotect" and category == "appliance":
        # gpsvc.log and mp-log, named by the sender (maat.telemetry.panos): keyword rules.
        return (_keywords("paloalto/globalprotect", (f"ds:{PANOS_DATASET}", None)),)
    if category:
        return ()
    if product == "linux" and service in _LINUX_PROGRAMS:
        keys = tuple((f"syslog-prog:{program}", None) for program in _LINUX_PROGRAMS[service])
        fields = _SUDO if service == "sudo" else None
        return (_keywords(f"syslog/{service}", *keys, fields=fields),)
    if product == "linux" and service == "auth":
        return (_keywords("syslog/auth", _SYSLOG_AUTH),)
    if product == "linux" and service == "syslog":
        return (_keywords("syslog/linux", _SYSLOG_OS),)
    device = _DEVICE_SYSLOG.get((product, service))
    if device is not None:
        return (_keywords(f"syslog/{product}-{service}", device),)
    if product in ("fortigate", "fortios"):
        return (Route(f"fortinet/{service}", (_FORTIGATE,), prefix="fortinet.fortigate.",
                      system={}),)  # fmt: skip
    if not product and service in ("apache", "nginx"):
        return (_keywords(f"web/{service}-error", (f"ds:{service}.error", None)),)
    if product == "m365" and service in ("threat_management", "threat_detection", "exchange"):
        fields = _M365_EXCHANGE if service == "exchange" else _M365_ALERT
        return (Route(f"m365/{service}", (("ds:m365.audit", None),), prefix="m365.",
                      system={}, fields=fields),)  # fmt: skip
    if product == "gcp" and service in ("google_workspace.admin", "google_workspace.login"):
        # The login rules name protoPayload.* paths; the admin rules the parameters' names.
        prefix = "gcp.data." if service.endswith("login") else "gcp.workspace."
        return (Route(f"gcp/{service}", (("ds:gcp.audit", None),), prefix=prefix, system={},
                      fields=_WORKSPACE),)  # fmt: skip
    return ()


def _other_routes(product: str, category: str, service: str) -> tuple[Route, ...]:
    """Routes of log sources read by Maat's non-Windows parsers."""
    text = _text_log_routes(product, category, service)
    if text:
        return text
    if product == "rpc_firewall" and category == "application":
        # RPC Firewall writes its audit events to the Windows event log "RPCFW".
        system = {**_WINDOWS_SYSTEM, "EventLog": "winlog.channel"}
        return (Route("windows/rpcfw", (("rpcfw", None),), system=system),)
    if product == "azure" and service in _AZURE_SERVICES and not category:
        return (Route(f"azure/{service}", ((f"ds:azure.{service}", None),), prefix="azure.",
                      system={}, casefold=True),)  # fmt: skip
    cloud = _CLOUD_AUDIT.get((product, service))
    if cloud is not None and category in ("", "application"):
        dataset, prefix = cloud
        # SigmaHQ's GCP rules also name the method as Filebeat's ECS field does.
        fields = _CLOUD_FIELDS.get(product, {})
        return (Route(f"{product}/{service or category}", ((f"ds:{dataset}", None),),
                      prefix=prefix, system={}, fields=fields),)  # fmt: skip
    if product == "zeek" and service in _ZEEK_LOGS:
        return (_zeek(service),)
    if category == "proxy" and not service:
        return (Route("http/proxy", _HTTP_EVENTS, prefix="http.", system={}, fields=_PROXY,
                      known=frozenset(_PROXY)),)  # fmt: skip
    if product == "linux" and service == "auditd" and not category:
        return (Route("linux/auditd", (("ds:auditd.log", None),), prefix="auditd.", system={},
                      fields=_AUDITD, known=frozenset(_AUDITD)),)  # fmt: skip
    if product == "linux" and not service and not category:
        # Any Linux log: keyword rules search every Linux event Maat reads.
        keys: tuple[RouteKey, ...] = (("ds:auditd.log", None), ("ds:auditd.auoms", None),
                                      (_LINUX_SYSMON, None), _SYSLOG_OS)  # fmt: skip
        return (Route("linux/any", keys, prefix="", system={}, known=frozenset()),)
    if category == "webserver" and product in ("", "apache", "nginx", "envoy"):
        shapes: tuple[RouteKey, ...] = tuple((f"ds:access_log.{s}", None) for s in _ACCESS_LOGS)
        return (Route("web/access", shapes, prefix="access_log.", system={}, fields=_W3C),)
    if category == "dns" and not product:
        return (_zeek("dns", _DNS_SERVER),)
    if category == "antivirus" and product in ("", "windows"):
        keys = tuple((_DEFENDER, i) for i in (1006, 1015, 1116, 1117))
        names = {"Signature": "Threat Name", "Filename": "Path"}
        return (Route("windows/antivirus", keys, renames=names, spaced=True),)
    return ()


def routes_for(logsource: Any) -> tuple[Route, ...]:
    """The routes of a pySigma ``SigmaLogSource`` (empty when Maat has none)."""
    product = (logsource.product or "").lower()
    category = (logsource.category or "").lower()
    service = (logsource.service or "").lower()
    other = _other_routes(product, category, service)
    if other:
        return other
    if product == "windows" or (not product and category in _CATEGORIES):
        if category:
            routes = _CATEGORIES.get(category, ())
            if service and routes:  # e.g. process_creation + security: that channel only
                channel = _SERVICES.get(service, "").lower()
                routes = tuple(r for r in routes if any(k[0] == channel for k in r.keys))
            return routes
        if service in _SERVICES:
            route = _channel(f"windows/{service}", _SERVICES[service])
            if service in _SPACED_SERVICES:
                route = Route(route.name, route.keys, spaced=True)
            return (route,)
        return ()
    if product == "macos" and category == "process_creation":
        # Process starts seen on macOS (osquery's and eslogger's EndpointSecurity events).
        # Only eslogger's name the parent's image: rules reading ParentImage run on those
        # (their filters on it would always pass on osquery's), the others on every start.
        keys: tuple[RouteKey, ...] = ((MACOS_PROCESS_START, None),)
        with_parent = {**_MACOS_PROCESS, "ParentImage": "process.parent.executable"}
        return (Route("macos/process_creation", keys, prefix="process.", system={},
                      fields=_MACOS_PROCESS, known=frozenset(_MACOS_PROCESS)),
                Route("macos/process_creation+parent", ((MACOS_PROCESS_PARENT, None),),
                      prefix="process.", system={}, fields=with_parent,
                      known=frozenset(with_parent), needs=frozenset({"ParentImage"})))  # fmt: skip
    if product == "macos" and category == "file_event":
        # Files written on macOS (osquery's EndpointSecurity file events).
        fields = {"TargetFilename": "file.path", "Image": "process.executable"}
        return (Route("macos/file_event", ((MACOS_FILE_EVENT, None),), prefix="file.",
                      system={}, fields=fields, known=frozenset(fields)),)  # fmt: skip
    if product == "linux" and category in _LINUX_CATEGORIES:
        return (
            Route(
                f"sysmon-linux/{category}",
                ((_LINUX_SYSMON, _LINUX_CATEGORIES[category]),),
            ),
        )
    return ()


_OBJECT_TYPE = EVENT_DATA + "ObjectType"
MACOS_FILE_EVENT = "macos:file_event"
"""The route key of a file created or changed on macOS."""
MACOS_PROCESS_START = "macos:process_creation"
"""The route key of a process start on macOS, whichever source saw it."""
MACOS_PROCESS_PARENT = "macos:process_creation+parent"
"""The route key of a process start on macOS whose parent's image is known."""


def event_route_keys(event: Mapping[str, Any]) -> tuple[RouteKey, ...] | None:
    """The route keys an event is indexed under: a Windows event's ``(channel, id)`` and
    ``(channel, None)``, another event's ``("ds:<dataset>", None)`` (and a macOS process
    start's :data:`MACOS_PROCESS_START`); None without either."""
    channel = event.get("winlog.channel")
    if not isinstance(channel, str):
        dataset = event.get("event.dataset")
        if not isinstance(dataset, str):
            return None
        if dataset == "syslog":
            return _syslog_keys(event)
        if FIREWALL_BLOCKED in event:
            return (f"ds:{dataset}", None), _FIREWALL
        if event.get("host.os.type") == "macos":
            kinds = event.get("event.type") or ()
            if "start" in kinds:
                if isinstance(event.get("process.parent.executable"), str):
                    return ((f"ds:{dataset}", None), (MACOS_PROCESS_START, None),
                            (MACOS_PROCESS_PARENT, None))  # fmt: skip
                return (f"ds:{dataset}", None), (MACOS_PROCESS_START, None)
            if "creation" in kinds or "change" in kinds:
                return (f"ds:{dataset}", None), (MACOS_FILE_EVENT, None)
        return ((f"ds:{dataset}", None),)
    low = channel.lower()
    event_id = event.get("winlog.event_id")
    if isinstance(event_id, str) and event_id.isdecimal() and len(event_id) < 7:
        event_id = int(event_id)  # from a source that kept it as text
    if isinstance(event_id, int) and not isinstance(event_id, bool):
        if event_id == 4663 and low == SECURITY and event.get(_OBJECT_TYPE) == "File":
            return (low, event_id), (low, None), (FILE_ACCESS, None)
        return (low, event_id), (low, None)
    return ((low, None),)


_AUTH_FACILITIES = (4, 10)  # auth, authpriv


def _syslog_keys(event: Mapping[str, Any]) -> tuple[RouteKey, ...]:
    """A syslog event's keys: the dataset's, its program's, the auth facility's when it is
    an authentication message, and its device vendor's (``syslog-os`` when no device wrote
    it); a Cisco message logging a typed command also gets the command key."""
    keys: list[RouteKey] = [("ds:syslog", None)]
    program = event.get("process.name")
    if isinstance(program, str) and program:
        keys.append((f"syslog-prog:{program.lower()}", None))
    facility = event.get("log.syslog.facility.code")
    if facility in _AUTH_FACILITIES or (
        facility is None and isinstance(program, str) and program.lower() in AUTH_PROGRAMS
    ):
        keys.append(_SYSLOG_AUTH)
    vendor = event.get("observer.vendor")
    if not isinstance(vendor, str):
        keys.append(_SYSLOG_OS)
        return tuple(keys)
    keys.append((f"syslog-dev:{vendor}", None))
    code = event.get("event.code")
    if vendor == "cisco" and isinstance(code, str):
        facility_name, _, rest = code.partition("-")
        if (facility_name, rest.partition("-")[2]) in CISCO_COMMANDS:
            keys.append(_CISCO_COMMAND)
    return tuple(keys)

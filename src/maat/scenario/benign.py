"""Days of normal activity in the scenario's world, in the formats real sensors write:
Sysmon and Security events as Winlogbeat-style JSON lines per host, the network sensor's
Zeek ``conn`` log and the ERP server's nginx access log, as JSON lines. The same seed gives
the same bytes.

What happens: people log on in the morning, start their usual programs (engineers their CAD
and the flight-controller tools, the office its ERP client and mail), which load their
libraries; the ERP client calls the ERP server's API; everyone reaches the file server, the
domain controller, the web proxy and the ERP server, looks up names, and engineers talk
Modbus to the OT test benches. Nothing in it should raise a high alert.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from maat.scenario.world import Host, World

__all__ = ["BenignDays", "benign_days"]

SYSMON = "Microsoft-Windows-Sysmon/Operational"
SECURITY = "Security"
_OFFICE_APPS = (
    ("C:\\Program Files\\Microsoft Office\\root\\Office16\\OUTLOOK.EXE", "OUTLOOK.EXE"),
    ("C:\\Program Files\\Microsoft Office\\root\\Office16\\EXCEL.EXE", "EXCEL.EXE"),
    ("C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe", "chrome.exe"),
)
_ENGINEERING_APPS = (
    ("C:\\Program Files\\SOLIDWORKS Corp\\SOLIDWORKS\\SLDWORKS.exe", "SLDWORKS.exe"),
    ("C:\\Tools\\Tailwind\\tw-flash.exe", "tw-flash.exe"),
    ("C:\\Program Files\\Git\\cmd\\git.exe", "git.exe"),
)
_SERVER_OF = {"chrome.exe": "SRV-PROXY01", "OUTLOOK.EXE": "SRV-PROXY01",
              "ErpClient.exe": "SRV-ERP01", "git.exe": "SRV-FILE01"}  # fmt: skip
# Program -> the library it loads at start and who signs both (Sysmon 7 records it).
_MODULES = {
    "ErpClient.exe": ("ErpCore.dll", "Contoso ERP Code Signing"),
    "tw-flash.exe": ("twusb.dll", "Tailwind Firmware Code Signing"),
    "OUTLOOK.EXE": ("OLMAPI32.DLL", "Microsoft Corporation"),
    "EXCEL.EXE": ("mso20win32client.dll", "Microsoft Corporation"),
}
_ERP_API = ("/api/v1/orders", "/api/v1/orders/{n}", "/api/v1/parts?q=motor", "/api/v1/invoices",
            "/api/v1/suppliers/{n}")  # fmt: skip
_DOMAINS = ("intranet.skyward.example", "files.skyward.example", "login.microsoftonline.com",
            "update.contoso-erp.example", "fw.tailwind.example", "www.google.com")  # fmt: skip


@dataclass(frozen=True)
class BenignDays:
    """The generated files: relative path -> JSON lines, and how many events each holds."""

    files: dict[str, list[bytes]]

    @property
    def events(self) -> int:
        """How many events in all."""
        return sum(len(lines) for lines in self.files.values())


def _ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class _Writer:
    def __init__(
        self, world: World, rng: random.Random, digests: Mapping[str, str] | None = None
    ) -> None:
        self.world, self.rng = world, rng
        self.digests = dict(digests or {})
        self.files: dict[str, list[tuple[datetime, bytes]]] = {}
        self.pid = 4000

    def _put(self, path: str, moment: datetime, record: dict[str, object]) -> None:
        line = json.dumps(record, separators=(",", ":")).encode()
        self.files.setdefault(path, []).append((moment, line))

    def windows(self, host: Host, moment: datetime, event_id: int, channel: str,
                **fields: object) -> None:  # fmt: skip
        record: dict[str, object] = {"@timestamp": _ts(moment), "EventID": event_id,
                                     "Channel": channel, "Hostname": host.name}  # fmt: skip
        record.update(fields)
        self._put(f"windows/{host.name}.jsonl", moment, record)

    def process(self, host: Host, moment: datetime, image: str, command: str,
                parent: str) -> None:  # fmt: skip
        self.pid += self.rng.randint(4, 40)
        self.windows(host, moment, 1, SYSMON, Image=image, CommandLine=command,
                     ParentImage=parent, User=f"SKYWARD\\{host.user}",
                     ProcessId=str(self.pid), IntegrityLevel="Medium")  # fmt: skip

    def connection(self, host: Host, moment: datetime, image: str, target: Host, port: int,
                   proto: str = "tcp") -> None:  # fmt: skip
        source_port = self.rng.randint(49152, 65000)
        self.windows(host, moment, 3, SYSMON, Image=image, Protocol=proto, Initiated="true",
                     SourceIp=host.ip, SourcePort=str(source_port), DestinationIp=target.ip,
                     DestinationHostname=target.name.lower(), DestinationPort=str(port),
                     User=f"SKYWARD\\{host.user}")  # fmt: skip
        self._put("zeek/conn.log", moment, {
            "ts": round(moment.timestamp(), 3), "uid": f"C{self.rng.getrandbits(60):015x}",
            "id.orig_h": host.ip, "id.orig_p": source_port, "id.resp_h": target.ip,
            "id.resp_p": port, "proto": proto, "conn_state": "SF", "_path": "conn",
            "duration": round(self.rng.uniform(0.01, 30), 3),
            "orig_bytes": self.rng.randint(200, 40_000),
            "resp_bytes": self.rng.randint(200, 400_000),
        })  # fmt: skip

    def module(self, host: Host, moment: datetime, image: str, exe: str) -> None:
        if exe not in _MODULES:
            return
        name, signer = _MODULES[exe]
        folder = image.rsplit("\\", 1)[0]
        fields: dict[str, object] = {}
        digest = self.digests.get(name)
        if digest:
            fields["Hashes"] = f"SHA256={digest.upper()}"
        self.windows(host, moment, 7, SYSMON, Image=image, ImageLoaded=f"{folder}\\{name}",
                     Signed="true", Signature=signer, SignatureStatus="Valid",
                     User=f"SKYWARD\\{host.user}", **fields)  # fmt: skip

    def api_calls(self, host: Host, moment: datetime, server: Host) -> None:
        """The ERP client's calls, in the ERP server's JSON access log (nginx)."""
        for i in range(self.rng.randint(2, 6)):
            when = moment + timedelta(seconds=3 + i * self.rng.uniform(1, 20))
            uri = self.rng.choice(_ERP_API).replace("{n}", str(self.rng.randint(1000, 9999)))
            self._put(f"access/{server.name}.jsonl", when, {
                "time_iso8601": when.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
                "remote_addr": host.ip, "remote_user": host.user or "-",
                "request": f"GET {uri} HTTP/1.1", "status": 200,
                "body_bytes_sent": self.rng.randint(300, 60_000),
                "request_time": round(self.rng.uniform(0.005, 0.4), 3),
                "http_user_agent": "ContosoErpClient/4.2", "host": "erp.skyward.example",
            })  # fmt: skip

    def dns(self, host: Host, moment: datetime, image: str, name: str) -> None:
        self.windows(host, moment, 22, SYSMON, Image=image, QueryName=name, QueryStatus="0",
                     QueryResults=f"::ffff:10.30.1.{10 + len(name) % 4};")  # fmt: skip


def _workday(writer: _Writer, host: Host, day: datetime) -> None:
    rng, world = writer.rng, writer.world
    servers = {h.name: h for h in world.in_segment("servers")}
    start = day + timedelta(hours=rng.uniform(7.5, 9.5))
    explorer = "C:\\Windows\\explorer.exe"
    writer.windows(host, start, 4624, SECURITY, TargetUserName=host.user, LogonType="2",
                   TargetDomainName="SKYWARD", IpAddress="-")  # fmt: skip
    writer.process(host, start + timedelta(seconds=5), explorer, explorer,
                   "C:\\Windows\\System32\\userinit.exe")  # fmt: skip
    writer.connection(host, start + timedelta(seconds=2), "C:\\Windows\\System32\\lsass.exe",
                      servers["SRV-DC01"], 88)  # fmt: skip
    apps: tuple[tuple[str, str], ...] = (
        _ENGINEERING_APPS if host.segment == "engineering" else _OFFICE_APPS
    )
    if host.segment == "office":
        erp = world.suppliers[0]
        apps = (*apps, (f"{erp.install_dir}\\ErpClient.exe", "ErpClient.exe"))
    moment = start + timedelta(minutes=1)
    end = day + timedelta(hours=rng.uniform(16.5, 18.5))
    while moment < end:
        image, exe = rng.choice(apps)
        writer.process(host, moment, image, f'"{image}"', explorer)
        writer.module(host, moment + timedelta(milliseconds=400), image, exe)
        target = _SERVER_OF.get(exe, "SRV-FILE01")
        port = 443 if target in ("SRV-PROXY01", "SRV-ERP01") else 445
        writer.dns(host, moment + timedelta(seconds=1), image, rng.choice(_DOMAINS))
        writer.connection(host, moment + timedelta(seconds=2), image, servers[target], port)
        if exe == "tw-flash.exe":
            bench = rng.choice(world.in_segment("ot"))
            writer.connection(host, moment + timedelta(seconds=3), image, bench, 502)
        if exe == "ErpClient.exe":
            writer.api_calls(host, moment, servers["SRV-ERP01"])
        moment += timedelta(minutes=rng.uniform(8, 40))


def benign_days(
    world: World, *, start: datetime, days: int = 2, digests: Mapping[str, str] | None = None
) -> BenignDays:
    """``days`` working days of the world's workstations from ``start`` (midnight UTC), the
    servers' own traffic included; deterministic for the world's seed. ``digests`` (file
    name -> SHA-256, from :mod:`maat.scenario.supply`) puts the suppliers' libraries' hashes
    in the module loads, as Sysmon records them."""
    # A seeded generator on purpose: the same world gives the same days (not for secrets).
    writer = _Writer(world, random.Random(world.seed * 7919 + days), digests)  # noqa: S311
    for offset in range(days):
        day = start + timedelta(days=offset)
        for host in world.hosts:
            if host.role == "workstation":
                _workday(writer, host, day)
        proxy = world.host("SRV-PROXY01")
        for hour in range(24):  # the proxy fetches updates for everyone
            moment = day + timedelta(hours=hour, minutes=writer.rng.uniform(0, 59))
            writer.dns(proxy, moment, "C:\\Squid\\bin\\squid.exe", _DOMAINS[3 + hour % 2])
    files = {path: [line for _, line in sorted(lines, key=lambda item: item[0])]
             for path, lines in sorted(writer.files.items())}  # fmt: skip
    return BenignDays(files)

"""The Earth Ammit chain (shared/THREAT.md) acted out in the scenario's world, as the
telemetry real sensors would record it: VENOM at the ERP supplier's web server, then
TIDRONE at the drone maker. Each record carries ``maat.scenario.step`` (``0``, ``A1`` … ``B9``) so a
report can tell which control caught which step; detection never reads it.

Pure: it returns lines per file, like :mod:`maat.scenario.benign`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from maat.scenario.world import Host, World

__all__ = ["SUPPLIER_WEB", "AttackDays", "earth_ammit"]

SYSMON = "Microsoft-Windows-Sysmon/Operational"
SECURITY = "Security"
C2_DOMAINS = ("update.microsoftsvc.com", "time.vmwaresync.com", "wns.windowswns.com")
C2_IP = "45.121.50.185"
SUPPLIER_WEB = Host("CONTOSO-WEB01", "203.0.113.20", "supplier", "server", "svc-web")


@dataclass(frozen=True)
class AttackDays:
    """The chain's files (relative path -> JSON lines) and when each step happened."""

    files: dict[str, list[bytes]]
    steps: dict[str, datetime] = field(default_factory=dict)


class _Chain:
    def __init__(self) -> None:
        self.files: dict[str, list[tuple[datetime, bytes]]] = {}
        self.steps: dict[str, datetime] = {}
        self.pid = 7000

    def windows(
        self, step: str, host: Host, moment: datetime, event_id: int, channel: str, **fields: object
    ) -> None:
        self.steps.setdefault(step, moment)
        record: dict[str, object] = {
            "@timestamp": moment.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "EventID": event_id,
            "Channel": channel,
            "Hostname": host.name,
            "maat.scenario.step": step,
        }
        record.update(fields)
        line = json.dumps(record, separators=(",", ":")).encode()
        self.files.setdefault(f"windows/{host.name}.jsonl", []).append((moment, line))

    def process(
        self,
        step: str,
        host: Host,
        moment: datetime,
        image: str,
        command: str,
        parent: str,
        parent_command: str = "",
        integrity: str = "Medium",
    ) -> None:
        self.pid += 13
        self.windows(
            step,
            host,
            moment,
            1,
            SYSMON,
            Image=image,
            CommandLine=command,
            ParentImage=parent,
            ParentCommandLine=parent_command or parent,
            User=f"SKYWARD\\{host.user or 'SYSTEM'}",
            ProcessId=str(self.pid),
            IntegrityLevel=integrity,
            OriginalFileName=image.rsplit("\\", 1)[-1],
        )


def earth_ammit(world: World, *, start: datetime) -> AttackDays:
    """The chain from ``start``: VENOM on day 0 at the supplier, TIDRONE from day 1 at the
    maker's first office desk (the ERP user) moving to an engineering workstation."""
    chain = _Chain()
    web = SUPPLIER_WEB
    t = start + timedelta(hours=2)
    # A1: the supplier's IIS runs a web shell.
    chain.process(
        "A1",
        web,
        t,
        "C:\\Windows\\System32\\cmd.exe",
        'cmd.exe /c "whoami & ipconfig /all"',
        "C:\\Windows\\System32\\inetsrv\\w3wp.exe",
        'c:\\windows\\system32\\inetsrv\\w3wp.exe -ap "ErpUpdate"',
    )
    # A2: an FRP client tunnels out.
    chain.process(
        "A2",
        web,
        t + timedelta(minutes=20),
        "C:\\ProgramData\\frpc.exe",
        "C:\\ProgramData\\frpc.exe -c C:\\ProgramData\\frpc.ini",
        "C:\\Windows\\System32\\cmd.exe",
    )
    # 0: the tunnel's server hides under a look-alike vendor domain.
    chain.windows(
        "0",
        web,
        t + timedelta(minutes=20, seconds=2),
        22,
        SYSMON,
        Image="C:\\ProgramData\\frpc.exe",
        QueryName=C2_DOMAINS[1],
        QueryStatus="0",
        QueryResults=f"::ffff:{C2_IP};",
    )
    # A3: credentials dumped through comsvcs.dll.
    chain.process(
        "A3",
        web,
        t + timedelta(minutes=45),
        "C:\\Windows\\System32\\rundll32.exe",
        "rundll32.exe C:\\Windows\\System32\\comsvcs.dll, MiniDump 624 C:\\ProgramData\\l.dmp full",
        "C:\\Windows\\System32\\cmd.exe",
        integrity="High",
    )

    victim = world.host(next(p.host for p in world.people if "erp-admin" in p.groups))
    target = world.in_segment("engineering")[4]
    erp = world.suppliers[0]
    day = start + timedelta(days=1, hours=9, minutes=30)
    temp = f"C:\\Users\\{victim.user}\\AppData\\Local\\Temp\\ErpUpdate"
    # B1: the trojanised ERP update lands in the vendor's folder and runs.
    chain.windows(
        "B1",
        victim,
        day,
        11,
        SYSMON,
        Image=f"{erp.install_dir}\\ErpUpdater.exe",
        TargetFilename=f"{temp}\\winword.exe",
    )
    chain.windows(
        "B1",
        victim,
        day + timedelta(seconds=1),
        11,
        SYSMON,
        Image=f"{erp.install_dir}\\ErpUpdater.exe",
        TargetFilename=f"{temp}\\wwlib.dll",
    )
    # B2: the old signed winword.exe side-loads the unsigned wwlib.dll.
    chain.process(
        "B2",
        victim,
        day + timedelta(seconds=5),
        f"{temp}\\winword.exe",
        f'"{temp}\\winword.exe"',
        f"{erp.install_dir}\\ErpUpdater.exe",
    )
    chain.windows(
        "B2",
        victim,
        day + timedelta(seconds=6),
        7,
        SYSMON,
        Image=f"{temp}\\winword.exe",
        ImageLoaded=f"{temp}\\wwlib.dll",
        Signed="false",
        SignatureStatus="Unavailable",
    )
    # B3: UAC bypass through fodhelper's ms-settings handler.
    b3 = day + timedelta(minutes=3)
    chain.windows(
        "B3",
        victim,
        b3,
        13,
        SYSMON,
        Image=f"{temp}\\winword.exe",
        EventType="SetValue",
        TargetObject="HKU\\S-1-5-21-1004336348-1177238915-682003330-1105_Classes\\"
        "ms-settings\\shell\\open\\command\\(Default)",
        Details=f"{temp}\\winword.exe",
    )
    chain.process(
        "B3",
        victim,
        b3 + timedelta(seconds=2),
        "C:\\Windows\\System32\\fodhelper.exe",
        "fodhelper.exe",
        f"{temp}\\winword.exe",
    )
    # B4: Defender turned off and the security log cleared.
    b4 = day + timedelta(minutes=6)
    chain.process(
        "B4",
        victim,
        b4,
        "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
        "powershell.exe -c Set-MpPreference -DisableRealtimeMonitoring $true",
        f"{temp}\\winword.exe",
        integrity="High",
    )
    chain.windows(
        "B4",
        victim,
        b4 + timedelta(seconds=30),
        1102,
        SECURITY,
        SubjectUserName=victim.user,
        SubjectDomainName="SKYWARD",
        SourceName="Microsoft-Windows-Eventlog",
    )
    # B5: LSASS dumped at the maker.
    chain.process(
        "B5",
        victim,
        day + timedelta(minutes=9),
        "C:\\Windows\\System32\\rundll32.exe",
        f"rundll32.exe C:\\Windows\\System32\\comsvcs.dll, MiniDump 712 {temp}\\t.dmp full",
        f"{temp}\\winword.exe",
        integrity="High",
    )
    # B6: discovery by CXCLNT, from winword.
    for i, command in enumerate(("whoami /all", "systeminfo", 'net group "domain admins" /domain')):
        chain.process(
            "B6",
            victim,
            day + timedelta(minutes=12, seconds=i * 20),
            "C:\\Windows\\System32\\cmd.exe",
            f"cmd.exe /c {command}",
            f"{temp}\\winword.exe",
        )
    # B7: CLNTEND reaches its command-and-control domains.
    for i, domain in enumerate(C2_DOMAINS):
        chain.windows(
            "B7",
            victim,
            day + timedelta(minutes=15, seconds=i),
            22,
            SYSMON,
            Image=f"{temp}\\winword.exe",
            QueryName=domain,
            QueryStatus="0",
            QueryResults=f"::ffff:{C2_IP};",
        )
    chain.windows(
        "B7",
        victim,
        day + timedelta(minutes=15, seconds=5),
        3,
        SYSMON,
        Image=f"{temp}\\winword.exe",
        Protocol="tcp",
        Initiated="true",
        SourceIp=victim.ip,
        SourcePort="51234",
        DestinationIp=C2_IP,
        DestinationPort="443",
        User=f"SKYWARD\\{victim.user}",
    )
    # B8: lateral movement over SMB to an engineering workstation, PsExec-style.
    b8 = day + timedelta(minutes=30)
    chain.windows(
        "B8",
        victim,
        b8,
        3,
        SYSMON,
        Image="C:\\Windows\\System32\\svchost.exe",
        Protocol="tcp",
        Initiated="true",
        SourceIp=victim.ip,
        SourcePort="51300",
        DestinationIp=target.ip,
        DestinationPort="445",
        User="NT AUTHORITY\\SYSTEM",
    )
    chain.process(
        "B8",
        target,
        b8 + timedelta(seconds=4),
        "C:\\Windows\\PSEXESVC.exe",
        "C:\\Windows\\PSEXESVC.exe",
        "C:\\Windows\\System32\\services.exe",
        integrity="System",
    )
    # B9: screenshots gathered for exfiltration.
    for i in range(20):
        chain.windows(
            "B9",
            victim,
            day + timedelta(minutes=40, seconds=i * 3),
            11,
            SYSMON,
            Image=f"{temp}\\winword.exe",
            TargetFilename=f"{temp}\\cap\\{i:04d}.png",
        )
    files = {
        path: [line for _, line in sorted(lines, key=lambda item: item[0])]
        for path, lines in sorted(chain.files.items())
    }
    return AttackDays(files, dict(chain.steps))

"""The Earth Ammit attack chain (shared/THREAT.md) as data, with the control meant to catch
each step. The demo report prints it; a step whose control is not built yet is a miss."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AttackStep:
    """One step of the chain and the Maat control that must catch it."""

    id: str
    techniques: tuple[str, ...]
    what: str
    control: str
    capability: str  # the package that implements the control


CHAIN: tuple[AttackStep, ...] = (
    AttackStep(
        "0",
        ("T1583.001", "T1036"),
        "look-alike vendor domains for C2",
        "IOC match on DNS and network events",
        "detect",
    ),
    AttackStep(
        "A1",
        ("T1190", "T1505.003"),
        "VENOM exploits the supplier's web server, web shell",
        "Sigma web-shell rules; vulnerability SLA on internet-facing hosts",
        "detect",
    ),
    AttackStep(
        "A2",
        ("T1090", "T1572", "T1219"),
        "custom FRP client and proxies",
        "baseline: unsigned first-seen binary with long outbound sessions",
        "baseline",
    ),
    AttackStep(
        "A3",
        ("T1003.001",),
        "credential harvesting at the supplier",
        "Sigma LSASS access; vendor breach forces step-up MFA",
        "detect",
    ),
    AttackStep(
        "B1",
        ("T1195.002", "T1199"),
        "trojanised ERP delivery in the vendor folder",
        "files not in the SBOM or not validly signed are blocked",
        "signing",
    ),
    AttackStep(
        "B2",
        ("T1574.001", "T1036.005"),
        "old signed winword.exe side-loads wwlib.dll",
        "Sigma side-load rule; module baseline; DLL signature verdict",
        "detect",
    ),
    AttackStep("B3", ("T1548.002",), "UAC bypass", "Sigma UAC-bypass rules", "detect"),
    AttackStep(
        "B4",
        ("T1562.001", "T1070"),
        "Defender disabled, logs cleared, EDR evaded",
        "tamper rules; sensor silence on a live host",
        "detect",
    ),
    AttackStep("B5", ("T1003",), "credential dumping at the maker", "Sigma LSASS access", "detect"),
    AttackStep(
        "B6", ("T1083", "T1082"), "discovery by CXCLNT", "recon rules with Office parent", "detect"
    ),
    AttackStep(
        "B7",
        ("T1105", "T1071", "T1573"),
        "C2 over HTTP(S)/TLS/SMB",
        "Office process connecting out; beacons; IOC match",
        "detect",
    ),
    AttackStep(
        "B8",
        ("T1021", "T1570"),
        "lateral movement, remote desktop tools",
        "PsExec/VNC rules; micro-segmentation violations",
        "zerotrust",
    ),
    AttackStep(
        "B9",
        ("T1113", "T1041"),
        "screenshots and credentials exfiltrated",
        "per-process outbound-volume baselines",
        "baseline",
    ),
)

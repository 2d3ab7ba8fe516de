"""The Earth Ammit attack chain (shared/THREAT.md) as data, with the controls meant to catch
each step. The demo report is measured against it: a control that did not act on its step,
or is not built yet, is a miss."""

from __future__ import annotations

from dataclasses import dataclass

# The controls a report names, and the ones this build does not have yet.
CONTROLS = {
    "ioc": "IOC match (STIX, trail lists) on DNS and network events",
    "sigma": "Sigma rules on endpoint telemetry",
    "signing": "code signing: execution policy, SBOM listing, revocation",
    "zero-trust": "access decisions: device posture, step-up MFA",
    "segmentation": "micro-segmentation of flows",
    "vendor-risk": "vendor breach, blast radius, contract findings",
    "baseline": "behaviour baselines (first-seen binaries, per-process volumes, modules)",
    "sensor-silence": "a live host whose sensor goes quiet",
}
NOT_BUILT = frozenset({"baseline", "sensor-silence"})


@dataclass(frozen=True)
class AttackStep:
    """One step of the chain and the Maat control that must catch it."""

    id: str
    techniques: tuple[str, ...]
    what: str
    control: str
    controls: tuple[str, ...]
    """The controls meant to catch it, by the names the report uses (:data:`CONTROLS`)."""


CHAIN: tuple[AttackStep, ...] = (
    AttackStep("0", ("T1583.001", "T1036"), "look-alike vendor domains for C2",
               "IOC match on DNS and network events", ("ioc",)),
    AttackStep("A1", ("T1190", "T1505.003"), "VENOM exploits the supplier's web server, web shell",
               "Sigma web-shell rules; the vendor's breach recorded", ("sigma", "vendor-risk")),
    AttackStep("A2", ("T1090", "T1572", "T1219"), "custom FRP client and proxies",
               "Sigma for stock FRP; baseline: unsigned first-seen binary, long outbound sessions",
               ("sigma", "baseline")),
    AttackStep("A3", ("T1003.001",), "credential harvesting at the supplier",
               "Sigma LSASS access; vendor breach forces step-up MFA", ("sigma", "zero-trust")),
    AttackStep("B1", ("T1195.002", "T1199"), "trojanised ERP delivery in the vendor folder",
               "files not in the SBOM or not validly signed are blocked", ("signing",)),
    AttackStep("B2", ("T1574.001", "T1036.005"), "old signed winword.exe side-loads wwlib.dll",
               "Sigma side-load rule; module baseline; DLL signature verdict",
               ("sigma", "signing", "baseline")),
    AttackStep("B3", ("T1548.002",), "UAC bypass", "Sigma UAC-bypass rules", ("sigma",)),
    AttackStep("B4", ("T1562.001", "T1070"), "Defender disabled, logs cleared, EDR evaded",
               "tamper rules; sensor silence on a live host", ("sigma", "sensor-silence")),
    AttackStep("B5", ("T1003",), "credential dumping at the maker", "Sigma LSASS access",
               ("sigma",)),
    AttackStep("B6", ("T1083", "T1082"), "discovery by CXCLNT", "recon rules with Office parent",
               ("sigma",)),
    AttackStep("B7", ("T1105", "T1071", "T1573"), "C2 over HTTP(S)/TLS/SMB",
               "IOC match; Office process connecting out; beacon baselines", ("ioc", "baseline")),
    AttackStep("B8", ("T1021", "T1570"), "lateral movement, remote desktop tools",
               "micro-segmentation violations; PsExec/VNC rules", ("segmentation", "sigma")),
    AttackStep("B9", ("T1113", "T1041"), "screenshots and credentials exfiltrated",
               "per-process outbound-volume baselines", ("baseline",)),
)  # fmt: skip

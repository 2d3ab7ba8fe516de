"""The scenario's supply chain as the documents Maat reads: the suppliers' releases (file
bytes), their CycloneDX SBOMs, the ERP contract, the threat intelligence on Earth Ammit's
look-alike domains as a STIX 2.1 bundle, and the maker's execution and access policies.

The trojanised ERP updater of TIDRONE is here too: a file the ERP supplier's signing
certificate signs (VENOM stole what it needed at the supplier) but that the supplier's
build never declared in its SBOM, next to the old ``winword.exe`` and the unsigned
``wwlib.dll`` it side-loads.

Pure: every document is built from the world and the seed, byte for byte the same each run.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from maat.scenario.attack import C2_DOMAINS, C2_IP
from maat.scenario.world import Supplier, World

__all__ = [
    "LOOKALIKE_DOMAINS",
    "Release",
    "ReleaseFile",
    "Supply",
    "access_policy_yaml",
    "assessment_yaml",
    "build_supply",
    "contract_yaml",
    "cyclonedx",
    "exec_policies_yaml",
    "osv_advisory",
    "signing_subject",
    "stix_bundle",
]

# Earth Ammit's look-alike vendor domains (shared/THREAT.md, step 0).
LOOKALIKE_DOMAINS = ("microsoftsvc.com", "vmwaresync.com", "windowswns.com",
                     "symantecsecuritycloud.com")  # fmt: skip


@dataclass(frozen=True)
class ReleaseFile:
    """One delivered file: where it is installed and its bytes."""

    name: str
    path: str
    data: bytes

    @property
    def sha256(self) -> str:
        """The file's SHA-256 (hex)."""
        return hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True)
class Release:
    """A supplier's release of one product: its files, as its build declared them."""

    supplier: Supplier
    version: str
    files: tuple[ReleaseFile, ...]

    def file(self, name: str) -> ReleaseFile:
        """The file called ``name``."""
        return next(f for f in self.files if f.name == name)


@dataclass(frozen=True)
class Supply:
    """Everything the supply side of the scenario delivers."""

    releases: tuple[Release, ...]
    trojan: ReleaseFile
    """The TIDRONE updater: signed with the ERP supplier's certificate, in no SBOM."""
    winword: ReleaseFile
    """Word 2010's ``winword.exe``: old, signed by its publisher, unknown to Maat."""
    wwlib: ReleaseFile
    """The unsigned ``wwlib.dll`` it side-loads."""

    def release(self, product: str, version: str) -> Release:
        """The release of ``product`` at ``version``."""
        return next(
            r for r in self.releases if r.supplier.product == product and r.version == version
        )


def _blob(seed: int, label: str, size: int = 4096) -> bytes:
    """Deterministic bytes standing in for a PE file (``MZ`` header, then noise)."""
    out = bytearray(b"MZ\x90\x00")
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}:{label}:{counter}".encode()).digest()
        counter += 1
    return bytes(out[:size])


_FILES = {
    "Contoso ERP Client": ("ErpClient.exe", "ErpCore.dll", "ErpUpdater.exe"),
    "Fabrikam VNC": ("fvnc.exe", "fvnchook.dll"),
    "Tailwind Flight Controller": ("tw-flash.exe", "twusb.dll"),
}
_VERSIONS = {"Contoso ERP Client": ("4.2.0", "4.2.1"), "Fabrikam VNC": ("2.1.3",),
             "Tailwind Flight Controller": ("1.8.0",)}  # fmt: skip


# Libraries the releases bundle; the ERP's reporting library has a medium advisory.
_LIBRARIES = {"Contoso ERP Client": (("Contoso.Reporting", "3.1.0"), ("Newtonsoft.Json", "13.0.3"))}
ADVISORY_ID = "SKY-2024-0001"


def osv_advisory(*, at: datetime) -> bytes:
    """An OSV advisory the ERP vendor published: its reporting library before 3.2.0 leaks
    report data to crafted templates (medium, fixed in 3.2.0; its 30-day SLA runs on)."""
    stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    document = {
        "schema_version": "1.6.0", "id": ADVISORY_ID, "modified": stamp, "published": stamp,
        "summary": "Contoso.Reporting discloses report data to crafted templates",
        "details": "A crafted report template reads other reports' data (fixed in 3.2.0).",
        "severity": [{"type": "CVSS_V3",
                      "score": "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:H/I:N/A:N"}],
        "affected": [{"package": {"ecosystem": "NuGet", "name": "Contoso.Reporting",
                                  "purl": "pkg:nuget/Contoso.Reporting"},
                      "ranges": [{"type": "ECOSYSTEM",
                                  "events": [{"introduced": "0"}, {"fixed": "3.2.0"}]}]}],
    }  # fmt: skip
    return json.dumps(document, indent=2).encode() + b"\n"


def build_supply(world: World) -> Supply:
    """The suppliers' releases and the attack's files, from the world's seed."""
    releases = []
    for supplier in world.suppliers:
        for version in _VERSIONS[supplier.product]:
            files = tuple(
                ReleaseFile(name, f"{supplier.install_dir}\\{name}",
                            _blob(world.seed, f"{supplier.product}/{version}/{name}"))
                for name in _FILES[supplier.product]
            )  # fmt: skip
            releases.append(Release(supplier, version, files))
    erp = world.suppliers[0]
    trojan = ReleaseFile("ErpUpdater.exe", f"{erp.install_dir}\\ErpUpdater.exe",
                         _blob(world.seed, "tidrone/ErpUpdater.exe", 6144))  # fmt: skip
    temp = "C:\\Users\\{user}\\AppData\\Local\\Temp\\ErpUpdate"
    winword = ReleaseFile("winword.exe", f"{temp}\\winword.exe",
                          _blob(world.seed, "office2010/winword.exe", 8192))  # fmt: skip
    wwlib = ReleaseFile("wwlib.dll", f"{temp}\\wwlib.dll", _blob(world.seed, "tidrone/wwlib"))
    return Supply(tuple(releases), trojan, winword, wwlib)


def cyclonedx(release: Release, *, at: datetime) -> bytes:
    """The release's CycloneDX 1.5 SBOM: the product and each file with its SHA-256."""
    supplier = release.supplier
    slug = supplier.product.lower().replace(" ", "-")
    document = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": "urn:uuid:" + _uuid(f"sbom/{slug}/{release.version}"),
        "version": 1,
        "metadata": {
            "timestamp": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "supplier": {"name": supplier.name, "url": [f"https://{supplier.domain}"]},
            "component": {
                "type": "application",
                "bom-ref": slug,
                "name": supplier.product,
                "version": release.version,
                "supplier": {"name": supplier.name},
            },
        },
        "components": [
            {
                "type": "file",
                "bom-ref": f"{slug}/{f.name}",
                "name": f.name,
                "version": release.version,
                "hashes": [{"alg": "SHA-256", "content": f.sha256}],
            }
            for f in release.files
        ]
        + [
            {
                "type": "library",
                "bom-ref": f"{slug}/{name}",
                "name": name,
                "version": version,
                "purl": f"pkg:nuget/{name}@{version}",
            }
            for name, version in _LIBRARIES.get(supplier.product, ())
        ],
    }
    return json.dumps(document, indent=2).encode() + b"\n"


def _uuid(label: str) -> str:
    h = hashlib.sha256(label.encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:32]}"


def stix_bundle(*, at: datetime) -> bytes:
    """Threat intelligence on Earth Ammit (TIDRONE) as a STIX 2.1 bundle: its look-alike
    domains and the hosts seen under them, and its C2 address."""
    stamp = at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    names = sorted({*LOOKALIKE_DOMAINS, *C2_DOMAINS})
    domains = " OR ".join(f"domain-name:value = '{d}'" for d in names)
    objects = [
        {"type": "identity", "spec_version": "2.1", "id": "identity--" + _uuid("intel-team"),
         "created": stamp, "modified": stamp, "name": "Skyward Drones CTI",
         "identity_class": "organization"},
        {"type": "indicator", "spec_version": "2.1", "id": "indicator--" + _uuid("lookalikes"),
         "created": stamp, "modified": stamp, "valid_from": stamp,
         "name": "Earth Ammit look-alike vendor domains",
         "indicator_types": ["malicious-activity"], "pattern_type": "stix",
         "pattern": f"[{domains}]", "labels": ["TIDRONE", "T1583.001"]},
        {"type": "indicator", "spec_version": "2.1", "id": "indicator--" + _uuid("c2-ip"),
         "created": stamp, "modified": stamp, "valid_from": stamp,
         "name": "TIDRONE CLNTEND command and control",
         "indicator_types": ["malicious-activity"], "pattern_type": "stix",
         "pattern": f"[ipv4-addr:value = '{C2_IP}']", "labels": ["TIDRONE", "T1071"]},
    ]  # fmt: skip
    bundle = {"type": "bundle", "id": "bundle--" + _uuid("earth-ammit"), "objects": objects}
    return json.dumps(bundle, indent=2).encode() + b"\n"


def contract_yaml(supplier: Supplier) -> str:
    """The maker's contract with ``supplier``: an SBOM with every delivery, incidents told
    within 24 hours, critical vulnerabilities fixed within 3 days, signed releases."""
    return (
        f"vendor: {supplier.name}\n"
        "signed: 2024-01-15\n"
        "terms:\n"
        "  sbom_with_every_delivery: true\n"
        "  incident_notification_hours: 24\n"
        "  critical_fix_days: 3\n"
        "  signed_releases: true\n"
    )


def assessment_yaml(supplier: Supplier, *, answered: datetime) -> str:
    """The supplier's answers to Maat's default questionnaire, as its security team gave
    them months before the attack (without evidence files, so each "yes" earns half)."""
    strong = supplier.product != "Fabrikam VNC"  # the remote-access vendor answers thinly
    return (
        "questionnaire: maat-default\n"
        f"vendor: {supplier.name}\n"
        f"answered_at: {answered.date().isoformat()}\n"
        "answers:\n"
        f"  vulnerability_management: {'measured_sla' if strong else 'ad_hoc'}\n"
        f"  critical_fix_days: {7 if strong else 30}\n"
        f"  incident_notification_hours: {24 if strong else 72}\n"
        f"  secure_development: {'ssdf_partial' if strong else 'code_review'}\n"
        "  code_signing_keys_in_hsm: yes\n"
        f"  sbom_with_every_delivery: {'yes' if strong else 'no'}\n"
    )


def exec_policies_yaml(world: World) -> tuple[str, str]:
    """The execution policies, both enforced (device posture needs it): the ERP desks and
    the ERP vendor's jump host run the ERP vendor's files when validly signed by its
    certificate and declared in its SBOM; engineering desks the flight-controller and
    remote-access tools likewise; both run Windows and installed programs by path."""
    erp, vnc, tailwind = world.suppliers
    office = f"""name: office-desks
version: 1
mode: enforce
host_groups: [office, vendor-access]
description: ERP desks run what the ERP vendor signed and declared, Windows and Office
rules:
  - allow_publisher: {{subject: "{signing_subject(erp)}", product: "{erp.product}",
                      in_sbom: true, label: ERP files the vendor signed and declared}}
  - allow_path: {{glob: "C:/Windows/**", label: operating system}}
  - allow_path: {{glob: "C:/Program Files/Microsoft Office/**", label: Office}}
  - allow_path: {{glob: "C:/Program Files/Google/**", label: browser}}
"""
    engineering = f"""name: engineering-desks
version: 1
mode: enforce
host_groups: [engineering]
rules:
  - allow_publisher: {{subject: "{signing_subject(tailwind)}", product: "{tailwind.product}",
                      in_sbom: true}}
  - allow_publisher: {{subject: "{signing_subject(vnc)}", product: "{vnc.product}",
                      in_sbom: true}}
  - allow_path: {{glob: "C:/Windows/**", label: operating system}}
  - allow_path: {{glob: "C:/Program Files/SOLIDWORKS Corp/**", label: CAD}}
  - allow_path: {{glob: "C:/Program Files/Git/**", label: version control}}
"""
    return office, engineering


def signing_subject(supplier: Supplier) -> str:
    """The common name of the supplier's code-signing certificate."""
    return f"{supplier.name} Code Signing"


def access_policy_yaml() -> str:
    """The maker's access policy: trusted devices only, engineers on the PLM from the
    engineering segment, the ERP vendor's support reading the ERP, and step-up MFA for the
    identities of a vendor with a breach on record."""
    return """name: skyward-drones
version: 1
roles:
  engineer: [employee]
  erp-admin: [employee]
  vendor-support: []
rules:
  - id: untrusted-devices-denied
    description: only devices Maat trusts reach internal applications
    effect: deny
    actions: ["*"]
    resources: ["*"]
    when:
      - {attr: device.posture, not_equals: trusted}
  - id: breached-vendor-step-up
    description: a vendor with a breach on record needs fresh MFA for every request
    effect: step_up
    subjects: {roles: [vendor-support]}
    actions: ["*"]
    resources: ["*"]
    when:
      - {attr: subject.vendor_breached, equals: true}
    mfa_within: 300
  - id: employees-read-wiki
    effect: allow
    subjects: {roles: [employee]}
    actions: [read]
    resources: ["wiki/*"]
  - id: engineers-plm
    effect: allow
    subjects: {roles: [engineer]}
    actions: [read, write]
    resources: ["plm/*"]
    when:
      - {attr: device.segment, in: [engineering]}
  - id: erp-users-read-erp
    effect: allow
    subjects: {roles: [erp-admin]}
    actions: [read]
    resources: ["erp/*"]
  - id: vendor-support-erp
    description: the ERP supplier's support reads the ERP
    effect: allow
    subjects: {roles: [vendor-support]}
    actions: [read]
    resources: ["erp/*"]
"""

"""The scenario's world: a small drone maker, its segments, people and suppliers, made from a
seed so that every run of the scenario sees the same world.

Pure: values in, values out. :mod:`maat.scenario.benign` makes its days of normal activity;
the segmentation and access policy it runs under are written as the YAML Maat reads.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["SEGMENT_NETWORKS", "Host", "Person", "Supplier", "World", "build_world"]

# segment -> its /16 (the third octet tells the host apart)
SEGMENT_NETWORKS = {
    "engineering": "10.10",
    "office": "10.20",
    "servers": "10.30",
    "ot": "10.40",
}
_FIRST = (
    "an", "bo", "chen", "dara", "eli", "fang", "gus", "hui", "ines", "jun", "kai", "lin",
    "mei", "nadia", "omar", "pei", "rui", "shu", "tao",
)  # fmt: skip
_LAST = ("chang", "huang", "lin", "wu", "tsai", "liu", "kuo", "hsu", "yeh", "lee")


@dataclass(frozen=True)
class Host:
    """A machine: its name in telemetry, address, segment and the person who uses it."""

    name: str
    ip: str
    segment: str
    role: str  # workstation | server | hmi
    user: str | None = None


@dataclass(frozen=True)
class Person:
    """Someone at the drone maker, with the groups access policies match on."""

    name: str
    groups: tuple[str, ...]
    host: str


@dataclass(frozen=True)
class Supplier:
    """A software or service supplier, its product and the domain its updates come from."""

    name: str
    product: str
    tiers: tuple[str, ...]
    domain: str
    install_dir: str


@dataclass(frozen=True)
class World:
    """Everything the scenario's days happen in."""

    seed: int
    org: str
    hosts: tuple[Host, ...]
    people: tuple[Person, ...]
    suppliers: tuple[Supplier, ...]

    def host(self, name: str) -> Host:
        """The host called ``name``."""
        return next(h for h in self.hosts if h.name == name)

    def in_segment(self, segment: str) -> list[Host]:
        """The hosts of one segment, in name order."""
        return [h for h in self.hosts if h.segment == segment]

    def segmentation_yaml(self) -> str:
        """The segmentation the maker runs (``maat segments`` reads it)."""
        lines = ["name: skyward-drones", "quarantine: quarantine", "segments:"]
        for segment, prefix in SEGMENT_NETWORKS.items():
            lines.append(f"  {segment}: {{tags: [{segment}], cidrs: [{prefix}.0.0/16]}}")
        lines += [
            "  quarantine: {}",
            "flows:",
            "  - {from: engineering, to: servers, proto: tcp, ports: [53, 88, 135, 389, 443, "
            "445, 8470]}",
            "  - {from: office, to: servers, proto: tcp, ports: [53, 88, 135, 389, 443, 445, "
            "8470]}",
            "  - {from: '*', to: servers, proto: udp, ports: [53, 123]}",
            "  - {from: engineering, to: ot, proto: tcp, ports: [502]}",
            "  - {from: servers, to: '*', proto: tcp, ports: [443]}",
            "  - {from: quarantine, to: servers, proto: tcp, ports: [8470]}",
        ]
        return "\n".join(lines) + "\n"


def _ip(segment: str, index: int) -> str:
    return f"{SEGMENT_NETWORKS[segment]}.{1 + index // 200}.{10 + index % 200}"


def build_world(seed: int = 20240501, *, workstations: int = 24) -> World:
    """A drone maker with ``workstations`` desks (two thirds in engineering), its servers
    (domain controller, file server, ERP, mail proxy), OT test benches, and three suppliers:
    the ERP vendor, a remote-access tool vendor and a firmware supplier."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible world, not a secret
    names = [f"{rng.choice(_FIRST)}.{rng.choice(_LAST)}" for _ in range(workstations * 2)]
    people_names = list(dict.fromkeys(names))[:workstations]
    while len(people_names) < workstations:
        people_names.append(f"user{len(people_names)}")
    hosts: list[Host] = []
    people: list[Person] = []
    engineers = (workstations * 2) // 3
    for i, person in enumerate(people_names):
        segment = "engineering" if i < engineers else "office"
        prefix = "ENG-WS" if segment == "engineering" else "OFF-WS"
        count = sum(1 for h in hosts if h.segment == segment)
        name = f"{prefix}{count + 1:02d}"
        hosts.append(Host(name, _ip(segment, count), segment, "workstation", person))
        groups = ("engineer", "employee") if segment == "engineering" else ("employee",)
        if i == engineers:  # the first office desk runs the ERP
            groups = ("erp-admin", "employee")
        people.append(Person(person, groups, name))
    for i, name in enumerate(("SRV-DC01", "SRV-FILE01", "SRV-ERP01", "SRV-PROXY01")):
        hosts.append(Host(name, _ip("servers", i), "servers", "server"))
    for i in range(3):
        hosts.append(Host(f"OT-BENCH{i + 1:02d}", _ip("ot", i), "ot", "hmi"))
    suppliers = (
        Supplier("Contoso ERP", "Contoso ERP Client", ("production_software", "remote_access"),
                 "update.contoso-erp.example", "C:\\Program Files\\Contoso\\ERP"),
        Supplier("Fabrikam Remote", "Fabrikam VNC", ("remote_access",),
                 "dl.fabrikam-remote.example", "C:\\Program Files\\Fabrikam\\VNC"),
        Supplier("Tailwind Firmware", "Tailwind Flight Controller", ("production_software",),
                 "fw.tailwind.example", "C:\\Tools\\Tailwind"),
    )  # fmt: skip
    return World(seed, "Skyward Drones", tuple(hosts), tuple(people), suppliers)

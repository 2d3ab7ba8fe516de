"""What the maker's agents and proxies ask Maat during the scenario: binaries about to run
(execution decisions) and requests to internal applications (access decisions), on the
benign days and during the attack. Each carries the step it belongs to (``benign``, a
chain step such as ``B1``, or ``after`` for what follows the chain), which only the report
reads.

Pure: values in, values out; the same world and start give the same activity.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from maat.scenario.supply import ReleaseFile, Supply
from maat.scenario.world import Host, World

__all__ = ["VENDOR_DEVICES", "AccessAttempt", "Activity", "Execution", "VendorDevice", "activity"]


@dataclass(frozen=True)
class VendorDevice:
    """A machine the ERP vendor runs that reports to the maker's Maat."""

    name: str
    ip: str
    tags: tuple[str, ...]


# The ERP vendor's web (update) server and the jump host its support staff use.
VENDOR_DEVICES = (
    VendorDevice("CONTOSO-WEB01", "203.0.113.20", ("vendor:Contoso ERP", "supplier-dmz")),
    VendorDevice("CONTOSO-JUMP01", "203.0.113.30", ("vendor:Contoso ERP", "vendor-access")),
)
VENDOR_SUPPORT = "contoso.support"


@dataclass(frozen=True)
class Execution:
    """An agent asking whether a binary may run (``/v1/exec/decide``)."""

    at: datetime
    host: str
    group: str
    path: str
    sha256: str
    step: str


@dataclass(frozen=True)
class AccessAttempt:
    """A proxy asking whether a request may pass (``/v1/access/decide``)."""

    at: datetime
    subject: str
    device: str
    action: str
    resource: str
    step: str


@dataclass(frozen=True)
class Activity:
    """The scenario's decisions to ask for, in time order."""

    executions: tuple[Execution, ...]
    access: tuple[AccessAttempt, ...]

    def jsonl(self) -> dict[str, list[bytes]]:
        """The activity as JSON lines per file (what ``maat scenario generate`` writes)."""

        def line(item: Execution | AccessAttempt) -> bytes:
            data = asdict(item)
            data["at"] = item.at.strftime("%Y-%m-%dT%H:%M:%SZ")
            return json.dumps(data, separators=(",", ":")).encode()

        return {"decisions/executions.jsonl": [line(e) for e in self.executions],
                "decisions/access.jsonl": [line(a) for a in self.access]}  # fmt: skip


def _at(day: datetime, hour: int, rng: random.Random) -> datetime:
    return day + timedelta(hours=hour, minutes=rng.randrange(0, 50), seconds=rng.randrange(60))


def _run(at: datetime, host: Host, file: ReleaseFile, step: str) -> Execution:
    return Execution(at, host.name, host.segment, file.path, file.sha256, step)


def activity(world: World, supply: Supply, *, start: datetime, days: int) -> Activity:
    """Benign days from ``start``, then the TIDRONE day (``start + days``, as
    :func:`maat.scenario.attack.earth_ammit` places it when started on the last benign
    day): the trojanised updater and the side-loading pair asked about on the victim
    desk, the ERP vendor's support asking for the ERP after VENOM, and the victim's next
    ERP request after the chain."""
    rng = random.Random(world.seed + 1)  # noqa: S311 - reproducible activity, not a secret
    erp, vnc, tailwind = world.suppliers
    erp_old = supply.release(erp.product, "4.2.0")
    erp_new = supply.release(erp.product, "4.2.1")
    flash = supply.release(tailwind.product, "1.8.0").file("tw-flash.exe")
    viewer = supply.release(vnc.product, "2.1.3").file("fvnc.exe")
    runs: list[Execution] = []
    asks: list[AccessAttempt] = []
    for d in range(days):
        day = start + timedelta(days=d)
        erp_release = erp_new if d == days - 1 else erp_old  # the 4.2.1 update lands
        for person in world.people:
            host = world.host(person.host)
            if host.segment == "office":
                if d == days - 1:
                    runs.append(_run(_at(day, 7, rng), host, erp_new.file("ErpUpdater.exe"),
                                     "benign"))  # fmt: skip
                runs.append(
                    _run(_at(day, 8, rng), host, erp_release.file("ErpClient.exe"), "benign")
                )
            else:
                runs.append(_run(_at(day, 8, rng), host, flash, "benign"))
                if rng.random() < 0.2:
                    runs.append(_run(_at(day, 13, rng), host, viewer, "benign"))
                asks.append(AccessAttempt(_at(day, 10, rng), person.name, host.name,
                                          rng.choice(("read", "write")), "plm/designs/quadx",
                                          "benign"))  # fmt: skip
            asks.append(AccessAttempt(_at(day, 9, rng), person.name, host.name, "read",
                                      "wiki/handbook", "benign"))  # fmt: skip
            if "erp-admin" in person.groups:
                asks.append(AccessAttempt(_at(day, 11, rng), person.name, host.name, "read",
                                          "erp/orders", "benign"))  # fmt: skip
        # VENOM strikes the supplier early on the last benign day (A1-A3): from then on
        # the vendor's support account asks under a breach.
        asks.append(
            AccessAttempt(
                _at(day, 14, rng),
                VENDOR_SUPPORT,
                VENDOR_DEVICES[1].name,
                "read",
                "erp/tickets",
                "A3" if d == days - 1 else "benign",
            )
        )
    attack_day = start + timedelta(days=days)
    victim = world.host(next(p.host for p in world.people if "erp-admin" in p.groups))
    user = victim.user or "user"
    temp = f"C:\\Users\\{user}\\AppData\\Local\\Temp\\ErpUpdate"
    b1 = attack_day + timedelta(hours=9, minutes=30)
    runs += [
        _run(b1 - timedelta(seconds=1), victim, supply.trojan, "B1"),
        Execution(b1 + timedelta(seconds=5), victim.name, victim.segment,
                  f"{temp}\\winword.exe", supply.winword.sha256, "B2"),
        Execution(b1 + timedelta(seconds=6), victim.name, victim.segment,
                  f"{temp}\\wwlib.dll", supply.wwlib.sha256, "B2"),
    ]  # fmt: skip
    # The day after VENOM: the ERP vendor's support account asks for the ERP as usual.
    asks.append(AccessAttempt(attack_day + timedelta(hours=8, minutes=5), VENDOR_SUPPORT,
                              VENDOR_DEVICES[1].name, "read", "erp/tickets", "A3"))  # fmt: skip
    # After the chain: the victim's own ERP request from the desk that ran it.
    asks.append(AccessAttempt(attack_day + timedelta(hours=11), user, victim.name, "read",
                              "erp/orders", "after"))  # fmt: skip
    return Activity(tuple(sorted(runs, key=lambda e: e.at)),
                    tuple(sorted(asks, key=lambda a: a.at)))  # fmt: skip

"""Remediation plans: the version each package must reach, and Ansible playbooks per host
group that upgrade to it. Pure: returns text; the CLI writes the files."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from maat.errors import InvalidInput
from maat.vulns.versions import comparator_for

# Package manager module per ecosystem, and how it spells "this exact version".
_MODULES: Mapping[str, tuple[str, str]] = {
    "Debian": ("ansible.builtin.apt", "{name}={version}"),
    "Ubuntu": ("ansible.builtin.apt", "{name}={version}"),
    "Red Hat": ("ansible.builtin.dnf", "{name}-{version}"),
    "Rocky Linux": ("ansible.builtin.dnf", "{name}-{version}"),
    "AlmaLinux": ("ansible.builtin.dnf", "{name}-{version}"),
    "openSUSE": ("community.general.zypper", "{name}={version}"),
    "SUSE": ("community.general.zypper", "{name}={version}"),
    "Alpine": ("community.general.apk", "{name}={version}"),
    "PyPI": ("ansible.builtin.pip", "{name}=={version}"),
    "npm": ("community.general.npm", "{name}@{version}"),
}


@dataclass(frozen=True)
class Vulnerable:
    """One installed package on one host with the fixes its advisories name."""

    host: str
    group: str
    ecosystem: str
    package: str  # the name to install (binary package for distros)
    version: str
    fixes: Mapping[str, tuple[str, ...]]  # advisory id -> fixed versions


@dataclass(frozen=True)
class Upgrade:
    """What one package on one host must be upgraded to, or why it cannot be."""

    host: str
    group: str
    ecosystem: str
    package: str
    current: str
    target: str | None
    advisories: tuple[str, ...]
    unfixable: tuple[str, ...]  # advisories with no fixed version above the current one


def plan_upgrade(item: Vulnerable) -> Upgrade:
    """The lowest version that fixes every advisory: for each advisory the smallest fixed
    version above the current one, then the highest of those."""
    comparator = comparator_for(item.ecosystem)
    if comparator is None:
        raise InvalidInput(f"no version comparator for {item.ecosystem!r}", field="ecosystem")
    current = comparator.key(item.version)
    needed: list[tuple[Any, str]] = []
    unfixable: list[str] = []
    for advisory, fixed in sorted(item.fixes.items()):
        candidates = []
        for text in fixed:
            try:
                key = comparator.key(text)
            except InvalidInput:
                continue
            if current < key:
                candidates.append((key, text))
        if candidates:
            needed.append(min(candidates, key=lambda c: c[0]))
        else:
            unfixable.append(advisory)
    target = max(needed, key=lambda c: c[0])[1] if needed else None
    return Upgrade(
        host=item.host,
        group=item.group,
        ecosystem=item.ecosystem,
        package=item.package,
        current=item.version,
        target=target,
        advisories=tuple(sorted(item.fixes)),
        unfixable=tuple(unfixable),
    )


def ansible_playbooks(upgrades: Iterable[Upgrade]) -> dict[str, str]:
    """One playbook (YAML text) per host group.

    Tasks are per (package manager, package, target version) and run only on the hosts that
    need them (``when: inventory_hostname in [...]``). Packages without a fix appear as a
    comment-like ``debug`` task so the plan says what it cannot do.
    """
    by_group: dict[str, list[Upgrade]] = {}
    for upgrade in upgrades:
        by_group.setdefault(upgrade.group, []).append(upgrade)
    out: dict[str, str] = {}
    for group, items in sorted(by_group.items()):
        tasks: list[dict[str, object]] = []
        grouped: dict[tuple[str, str, str | None], list[Upgrade]] = {}
        for u in items:
            grouped.setdefault((u.ecosystem.split(":")[0], u.package, u.target), []).append(u)
        for (ecosystem, package, target), members in sorted(
            grouped.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] or "")
        ):
            hosts = sorted({m.host for m in members})
            advisories = sorted({a for m in members for a in m.advisories})
            if target is None or ecosystem not in _MODULES:
                why = "no fixed version" if target is None else f"no Ansible module for {ecosystem}"
                tasks.append(
                    {
                        "name": f"{package}: cannot remediate ({why}); isolate or accept the risk",
                        "ansible.builtin.debug": {
                            "msg": f"{package} affected by {', '.join(advisories)}"
                        },
                        "when": f"inventory_hostname in {hosts}",
                    }
                )
                continue
            module, spec = _MODULES[ecosystem]
            args: dict[str, object] = {
                "name": spec.format(name=package, version=target),
                "state": "present",
            }
            if module == "ansible.builtin.apt":
                args["only_upgrade"] = True
            tasks.append(
                {
                    "name": f"Upgrade {package} to {target} (fixes {', '.join(advisories)})",
                    module: args,
                    "when": f"inventory_hostname in {hosts}",
                }
            )
        playbook = [
            {
                "name": f"Maat remediation for host group {group}",
                "hosts": group,
                "become": True,
                "tasks": tasks,
            }
        ]
        out[group] = (
            "# Generated by Maat: upgrades to the fixed versions of open findings.\n"
            + yaml.safe_dump(playbook, sort_keys=False, width=120)
        )
    return out

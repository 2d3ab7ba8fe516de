"""Remediation plans: the version each package must reach, and Ansible playbooks per host
group that upgrade to it. Pure: returns text; the CLI writes the files."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from maat.errors import InvalidInput
from maat.vulns.index import AdvisoryIndex, IndexedAffected, base_ecosystem, release_of
from maat.vulns.match import Matcher
from maat.vulns.versions import comparator_for

__all__ = [
    "OsvRange",
    "Upgrade",
    "Vulnerable",
    "ansible_playbooks",
    "plan_upgrade",
    "ranges_for",
]

OsvRange = tuple[str, tuple[tuple[str, str], ...]]
"""One OSV range as the index stores it (``IndexedAffected.ranges``):
``(type, ((kind, version), ...))``, e.g. ``("ECOSYSTEM", (("introduced", "0"), ("fixed",
"1.5")))``."""

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

# Ecosystems whose advisories name a product stream subjects lack (as in maat.vulns.match).
_STREAM_ECOSYSTEMS = frozenset({"Red Hat", "SUSE", "openSUSE"})


@dataclass(frozen=True)
class Vulnerable:
    """One installed package on one host and the advisories that affect it.

    ``package`` is the name to install (the binary package for distributions).
    ``version`` is the installed version as the ecosystem compares it.

    ``fixes`` maps each advisory id to the fixed versions it names for this package; together
    they are the candidate targets.

    ``ranges`` maps an advisory id to its OSV ranges for this package (see :data:`OsvRange`,
    the shape of ``IndexedAffected.ranges``), concatenated over every affected entry of that
    advisory that applies: a version is covered by the advisory when it lies in any of them.
    :func:`ranges_for` reads them from the advisory index. An advisory without ranges here
    is assumed to cover every version below the lowest of its fixed versions above the
    current one; that is right for one ``introduced``/``fixed`` pair but misses an advisory
    that is affected again later (``[0, 1.5)`` and ``[2.0, 2.5)``), so pass ranges when you
    have them. Fixed versions in ``ranges`` count as candidates too.

    The simplest construction: ``Vulnerable(host, group, ecosystem, package, version,
    fixes={"CVE-1": ("1.5",)})``; with ranges:
    ``Vulnerable(..., fixes=..., ranges=ranges_for(index, ecosystem, source_name))``
    (ranges of advisories not in ``fixes`` are ignored).
    """

    host: str
    group: str
    ecosystem: str
    package: str
    version: str
    fixes: Mapping[str, tuple[str, ...]]  # advisory id -> fixed versions
    ranges: Mapping[str, tuple[OsvRange, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Upgrade:
    """What one package on one host must be upgraded to, or why it cannot be.

    ``target`` is ``None`` when no upgrade can be planned; ``reason`` then says why (no
    version comparator for the ecosystem, an unparsable current version, no fixed version
    above the current one, or none that leaves every advisory behind). ``unfixable`` lists
    the advisories that every candidate version is still affected by; the target (when
    there is one) fixes the others.
    """

    host: str
    group: str
    ecosystem: str
    package: str
    current: str
    target: str | None
    advisories: tuple[str, ...]
    unfixable: tuple[str, ...]  # advisories no candidate version escapes
    reason: str | None = None  # why ``target`` is None


def ranges_for(
    index: AdvisoryIndex, ecosystem: str, package: str
) -> dict[str, tuple[OsvRange, ...]]:
    """The ranges of every advisory of ``index`` for ``package`` (the name advisories use:
    the source package for Debian) in ``ecosystem`` (with its release, ``Debian:12``), keyed
    by each of the advisory's ids and aliases, for :attr:`Vulnerable.ranges`.

    Entries for another release of the distribution are left out, as the matcher leaves
    them out (Red Hat, SUSE and openSUSE entries are kept when the release is unknown).
    """
    release = release_of(ecosystem)
    found: dict[int, list[OsvRange]] = {}
    for entry in index.lookup(ecosystem, package):
        entry_release = release_of(entry.ecosystem)
        other_release = entry_release is not None and entry_release != release
        if other_release and (
            release is not None or base_ecosystem(entry.ecosystem) not in _STREAM_ECOSYSTEMS
        ):
            continue
        found.setdefault(entry.advisory, []).extend(entry.ranges)
    out: dict[str, tuple[OsvRange, ...]] = {}
    for position, ranges in found.items():
        for identifier in index.advisories[position].ids:
            out[identifier] = tuple(ranges)
    return out


def _refused(item: Vulnerable, advisories: tuple[str, ...], reason: str) -> Upgrade:
    return Upgrade(
        host=item.host,
        group=item.group,
        ecosystem=item.ecosystem,
        package=item.package,
        current=item.version,
        target=None,
        advisories=advisories,
        unfixable=(),
        reason=reason,
    )


def plan_upgrade(item: Vulnerable) -> Upgrade:
    """The lowest candidate version that no advisory still covers.

    Candidates are every fixed version the advisories name (``fixes`` and the ``fixed``
    events of ``ranges``) above the current version, in ascending order; each is checked
    against every advisory's ranges. Never raises for one bad package: the upgrade then has
    no target and a ``reason``.
    """
    advisories = tuple(sorted(item.fixes))
    comparator = comparator_for(item.ecosystem)
    if comparator is None:
        return _refused(item, advisories, f"no version comparator for {item.ecosystem!r}")
    try:
        current = comparator.key(item.version)
    except InvalidInput as exc:
        return _refused(
            item, advisories, f"current version {item.version!r} cannot be compared: {exc.message}"
        )
    keys: dict[str, Any] = {}
    for text in sorted(
        {v for fixed in item.fixes.values() for v in fixed}
        | {
            version
            for advisory in advisories
            for range_type, events in item.ranges.get(advisory, ())
            if range_type != "GIT"
            for kind, version in events
            if kind == "fixed"
        }
    ):
        try:
            key = comparator.key(text)
        except InvalidInput:
            continue  # a fixed version that cannot be compared cannot be recommended
        if current < key:
            keys[text] = key
    candidates: list[tuple[Any, str]] = []
    for text, key in sorted(keys.items(), key=lambda kv: kv[1]):
        if not candidates or candidates[-1][0] < key:  # equal spellings: the first one
            candidates.append((key, text))
    matcher = Matcher(AdvisoryIndex([], {}))
    covers = {a: _coverage(item, a, current, comparator, matcher) for a in advisories}
    unfixable = tuple(a for a in advisories if all(covers[a](k, t) for k, t in candidates))
    fixable = [covers[a] for a in advisories if a not in unfixable]
    target = next((t for k, t in candidates if not any(cover(k, t) for cover in fixable)), None)
    reason = None
    if not candidates:
        reason = f"no fixed version above {item.version} is named by the advisories"
    elif not fixable:
        reason = "every fixed version named is still affected by the advisories"
    elif target is None:
        reason = "no fixed version named leaves every advisory behind"
    return Upgrade(
        host=item.host,
        group=item.group,
        ecosystem=item.ecosystem,
        package=item.package,
        current=item.version,
        target=target if fixable else None,
        advisories=advisories,
        unfixable=unfixable,
        reason=reason,
    )


def _coverage(
    item: Vulnerable, advisory: str, current: Any, comparator: Any, matcher: Matcher
) -> Callable[[Any, str], bool]:
    """Whether ``advisory`` covers a candidate (its key and text)."""
    own: list[Any] = []
    for text in item.fixes.get(advisory, ()):
        try:
            key = comparator.key(text)
        except InvalidInput:
            continue
        if current < key:
            own.append(key)
    lowest_fix = min(own) if own else None

    def assumed(key: Any) -> bool:
        # Without ranges: affected up to the advisory's lowest fixed version above current.
        return lowest_fix is None or key < lowest_fix

    ranges = item.ranges.get(advisory)
    if not ranges:
        return lambda key, _text: assumed(key)
    entry = IndexedAffected(0, item.ecosystem, item.package, tuple(ranges), ())

    def by_ranges(key: Any, text: str) -> bool:
        verdict = matcher.affects(entry, text)
        return assumed(key) if verdict is None else verdict

    return by_ranges


# --- Ansible ------------------------------------------------------------------------------

_GROUP = re.compile(r"[A-Za-z0-9_.-]+")
_HOST = re.compile(r"[A-Za-z0-9_.:-]+")  # host names, IPv4 and IPv6 addresses


class _Unsafe(str):
    """Text Ansible must take literally: written with the ``!unsafe`` tag."""

    __slots__ = ()


class _Dumper(yaml.SafeDumper):
    """The safe dumper, writing :class:`_Unsafe` text as ``!unsafe`` scalars."""


def _represent_unsafe(dumper: yaml.SafeDumper, data: _Unsafe) -> yaml.ScalarNode:
    return dumper.represent_scalar("!unsafe", str(data))


_Dumper.add_representer(_Unsafe, _represent_unsafe)


def _literal(text: str) -> str:
    """``text`` as Ansible must read it: never templated.

    Jinja acts only on text holding a ``{`` (``{{``, ``{%``, ``{#``), so any text with one is
    tagged ``!unsafe``; text without one cannot be templated and stays plain, which keeps
    ordinary playbooks readable by any YAML reader (a safe loader rejects unknown tags).
    """
    return _Unsafe(text) if "{" in text else text


def ansible_playbooks(upgrades: Iterable[Upgrade]) -> dict[str, str]:
    """One playbook (YAML text) per host group.

    Tasks are per (package manager, package, target version) and run only on the hosts that
    need them (``when: inventory_hostname in [...]``). Packages without a fix appear as a
    comment-like ``debug`` task so the plan says what it cannot do.

    Safe to run whatever the findings hold: every text taken from them (package names,
    versions, advisory ids) is kept from Ansible's templating (see :func:`_literal`); group
    and host names, which Ansible reads as a host pattern and inside the ``when``
    expression, must match ``[A-Za-z0-9_.-]+`` (hosts may also hold ``:``, for IPv6), else
    :class:`InvalidInput` names the offending one.
    """
    by_group: dict[str, list[Upgrade]] = {}
    for upgrade in upgrades:
        if not _GROUP.fullmatch(upgrade.group):
            raise InvalidInput(
                f"host group {upgrade.group[:80]!r} cannot be written into a playbook: "
                "group names must be letters, digits, '_', '.' or '-'",
                field="group",
            )
        if not _HOST.fullmatch(upgrade.host):
            raise InvalidInput(
                f"host {upgrade.host[:80]!r} cannot be written into a playbook: host names "
                "must be letters, digits, '_', '.', ':' or '-'",
                field="host",
            )
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
            when = f"inventory_hostname in {hosts}"  # names checked against _HOST above
            advisories = ", ".join(sorted({a for m in members for a in m.advisories}))
            if target is None or ecosystem not in _MODULES:
                why = "no fixed version" if target is None else f"no Ansible module for {ecosystem}"
                tasks.append(
                    {
                        "name": _literal(
                            f"{package}: cannot remediate ({why}); isolate or accept the risk"
                        ),
                        "ansible.builtin.debug": {
                            "msg": _literal(f"{package} affected by {advisories}")
                        },
                        "when": when,
                    }
                )
                continue
            module, spec = _MODULES[ecosystem]
            args: dict[str, object] = {
                "name": _literal(spec.format(name=package, version=target)),
                "state": "present",
            }
            if module == "ansible.builtin.apt":
                args["only_upgrade"] = True
            tasks.append(
                {
                    "name": _literal(f"Upgrade {package} to {target} (fixes {advisories})"),
                    module: args,
                    "when": when,
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
        out[group] = "# Generated by Maat: upgrades to the fixed versions of open findings.\n" + (
            yaml.dump(playbook, Dumper=_Dumper, sort_keys=False, width=120)
        )
    return out

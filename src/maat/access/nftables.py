"""A segmentation compiled into the nftables ruleset of one host.

The ruleset is one table, ``inet maat``, replaced whole on each load (``nft -f``): input and
output chains that drop by default, accept established traffic and loopback, and accept
exactly the flows the segmentation allows into and out of the host's segment (for the
quarantine segment, only the flows that name it). Dropped packets are counted and logged
with the prefix ``maat-drop`` so refusals are visible.

Every other host also refuses the quarantined hosts by address, first in each chain (before
established traffic, so a session opened before the quarantine ends too), except for the
flows that name the quarantine segment: a compromised host flushes its own ruleset, and its
address would otherwise still match its original segment's flows and every ``*`` flow.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from maat.access.segments import ANY, Flow, Segmentation, canonical_ip

__all__ = ["TABLE", "host_ruleset"]

TABLE = "maat"
QUARANTINED = "quarantined"  # no clash: segment sets are all named seg_*


def _set_name(segment: str) -> str:
    return "seg_" + segment.replace("-", "_")


def _one_line(text: str) -> str:
    """``text`` safe in a ``#`` comment: a line break would end the comment and make the
    rest of the text nft commands."""
    return "".join(c if c.isprintable() else "?" for c in text)


def _sets(segmentation: Segmentation) -> list[str]:
    lines = []
    for segment in segmentation.segments:
        v4 = [n for n in segment.cidrs if n.version == 4]
        v6 = [n for n in segment.cidrs if n.version == 6]
        for family, nets in (("ipv4_addr", v4), ("ipv6_addr", v6)):
            if not nets:
                continue
            suffix = "" if family == "ipv4_addr" else "_v6"
            elements = ", ".join(str(n) for n in nets)
            lines += [
                f"\tset {_set_name(segment.name)}{suffix} {{",
                f"\t\ttype {family}",
                "\t\tflags interval",
                f"\t\telements = {{ {elements} }}",
                "\t}",
            ]
    return lines


def _l4(flow: Flow, port: str = "dport") -> str:
    """The protocol and ports of ``flow`` as an nft match (`` tcp dport { 443 }``);
    ``port`` is ``sport`` to match its replies."""
    if flow.ports:
        return f" {flow.proto} {port} {{ {', '.join(map(str, flow.ports))} }}"
    if flow.proto == "icmp":
        return " meta l4proto { icmp, ipv6-icmp }"
    return f" meta l4proto {flow.proto}"


def _match(flow: Flow, direction: str, peer: str, segmentation: Segmentation) -> list[str]:
    """nft rule lines accepting ``flow`` (``direction`` saddr for input, daddr for output)."""
    l4 = _l4(flow)
    comment = f' comment "{flow}"'
    if peer == ANY:
        return [f"\t\t{l4.strip()} accept{comment}"]
    segment = segmentation.segment(peer)
    out = []
    for version, suffix, family in ((4, "", "ip"), (6, "_v6", "ip6")):
        if segment is not None and any(n.version == version for n in segment.cidrs):
            out.append(f"\t\t{family} {direction} @{_set_name(peer)}{suffix}{l4} accept{comment}")
    return out


def _quarantined_sets(addresses: Iterable[str]) -> tuple[dict[int, list[str]], list[str]]:
    """The quarantined addresses by IP version, and the nft sets holding them."""
    by_version: dict[int, set[ipaddress.IPv4Address | ipaddress.IPv6Address]] = {4: set(), 6: set()}
    for text in addresses:
        try:
            ip = ipaddress.ip_address(canonical_ip(text))
        except ValueError:
            continue  # not an address: no firewall can match it
        if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id is not None:
            # "fe80::5%eth0": nft refuses the zone index, and one element it refuses
            # leaves the whole ruleset unloaded (nft -f is atomic) on every peer.
            continue
        by_version[ip.version].add(ip)
    out: dict[int, list[str]] = {}
    lines: list[str] = []
    for version, suffix, family in ((4, "", "ipv4_addr"), (6, "_v6", "ipv6_addr")):
        if by_version[version]:
            out[version] = [str(ip) for ip in sorted(by_version[version], key=int)]
            lines += [f"\tset {QUARANTINED}{suffix} {{", f"\t\ttype {family}",
                      f"\t\telements = {{ {', '.join(out[version])} }}", "\t}"]  # fmt: skip
    return out, lines


def _quarantine_rules(
    segmentation: Segmentation, segment: str | None, versions: Iterable[int], chain: str
) -> list[str]:
    """The first rules of ``chain`` (input or output) on a host in ``segment``: the flows
    naming the quarantine segment, each way, accepted for the quarantined addresses (and
    their replies), then everything else from or to those addresses dropped."""
    quarantine = segmentation.quarantine
    towards = "saddr" if chain == "input" else "daddr"
    rules: list[str] = []
    for flow in segmentation.flows if segment is not None else ():
        inbound = flow.source == quarantine and segmentation.covers(flow.target, segment)
        outbound = flow.target == quarantine and segmentation.covers(flow.source, segment)
        if (inbound and chain == "input") or (outbound and chain == "output"):
            rules.append(f'{_l4(flow)} accept comment "{flow}"')
        elif inbound or outbound:  # their replies: matched before "established" below
            rules.append(f' ct state established,related{_l4(flow, "sport")} accept '
                         f'comment "{flow}"')  # fmt: skip
    if rules:  # flows are allowed: over IPv6 neither end can reach the other unresolved
        # Solicits and adverts only. (Router adverts come from link-local addresses, which
        # no quarantine set holds: the generic rule below passes them from anyone on the
        # link; a switch's RA guard is what stops a rogue router.)
        rules.append(_NEIGHBOURS)
    rules.append(' counter log prefix "maat-drop-quarantined " drop')
    out = []
    for rule in rules:
        for version in versions:
            if version == 4 and rule is _NEIGHBOURS:
                continue
            family, suffix = ("ip", "") if version == 4 else ("ip6", "_v6")
            out.append(f"\t\t{family} {towards} @{QUARANTINED}{suffix}{rule}")
    return out


_NEIGHBOURS = (' icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept '
               'comment "neighbour discovery for the flows above"')  # fmt: skip


def host_ruleset(
    segmentation: Segmentation, segment: str | None, *, host: str = "",
    quarantined: Iterable[str] = (),
) -> str:  # fmt: skip
    """The nftables ruleset for a host in ``segment`` (None: a host outside every segment
    gets a ruleset that refuses everything but loopback and established traffic).

    ``quarantined`` are the addresses of the *other* hosts in quarantine: refused first but
    for the flows naming the quarantine segment (none without one: a segmentation without a
    quarantine segment says nothing about quarantine). Texts that are no address, and
    addresses with a zone index (``fe80::5%eth0``), are skipped.
    """
    addresses, quarantine_sets = (
        _quarantined_sets(quarantined) if segmentation.quarantine is not None else ({}, [])
    )
    inbound: list[str] = []
    outbound: list[str] = []
    for flow in segmentation.flows:
        if segment is not None and segmentation.covers(flow.target, segment):
            inbound += _match(flow, "saddr", flow.source, segmentation)
        if segment is not None and segmentation.covers(flow.source, segment):
            outbound += _match(flow, "daddr", flow.target, segmentation)
    header = [
        f"# Maat segmentation {segmentation.name!r} for host {_one_line(host) or '-'} "
        f"in segment {_one_line(segment or '(none)')}",
        f"table inet {TABLE}",
        f"delete table inet {TABLE}",
        f"table inet {TABLE} {{",
    ]
    chains = []
    for name, hook, rules, iface in (("input", "input", inbound, "iif"),
                                     ("output", "output", outbound, "oif")):  # fmt: skip
        first = _quarantine_rules(segmentation, segment, addresses, name) if addresses else []
        chains += [
            f"\tchain {name} {{",
            f"\t\ttype filter hook {hook} priority filter; policy drop;",
            *first,
            "\t\tct state established,related accept",
            "\t\tct state invalid drop",
            f'\t\t{iface} "lo" accept',
            # IPv6 cannot resolve on-link addresses without neighbour discovery.
            "\t\ticmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit, "
            "nd-router-advert } accept",
            *rules,
            f'\t\tcounter log prefix "maat-drop-{name} " drop',
            "\t}",
        ]
    return "\n".join([*header, *_sets(segmentation), *quarantine_sets, *chains, "}", ""])

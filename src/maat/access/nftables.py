"""A segmentation compiled into the nftables ruleset of one host.

The ruleset is one table, ``inet maat``, replaced whole on each load (``nft -f``): input and
output chains that drop by default, accept established traffic and loopback, and accept
exactly the flows the segmentation allows into and out of the host's segment. Dropped
packets are counted and logged with the prefix ``maat-drop`` so refusals are visible.
"""

from __future__ import annotations

from maat.access.segments import ANY, Flow, Segmentation

__all__ = ["TABLE", "host_ruleset"]

TABLE = "maat"


def _set_name(segment: str) -> str:
    return "seg_" + segment.replace("-", "_")


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


def _match(flow: Flow, direction: str, peer: str, segmentation: Segmentation) -> list[str]:
    """nft rule lines accepting ``flow`` (``direction`` saddr for input, daddr for output)."""
    ports = ""
    if flow.ports:
        ports = f" {flow.proto} dport {{ {', '.join(map(str, flow.ports))} }}"
    proto = f" meta l4proto {flow.proto}" if not flow.ports else ""
    if flow.proto == "icmp":
        proto = " meta l4proto { icmp, ipv6-icmp }"
    comment = f' comment "{flow}"'
    if peer == ANY:
        return [f"\t\t{proto.strip()}{ports} accept{comment}".replace("\t\t ", "\t\t")]
    segment = segmentation.segment(peer)
    out = []
    for version, suffix, family in ((4, "", "ip"), (6, "_v6", "ip6")):
        if segment is not None and any(n.version == version for n in segment.cidrs):
            out.append(f"\t\t{family} {direction} @{_set_name(peer)}{suffix}{proto}{ports} "
                       f"accept{comment}")  # fmt: skip
    return out


def host_ruleset(segmentation: Segmentation, segment: str | None, *, host: str = "") -> str:
    """The nftables ruleset for a host in ``segment`` (None: a host outside every segment
    gets a ruleset that refuses everything but loopback and established traffic)."""
    inbound: list[str] = []
    outbound: list[str] = []
    for flow in segmentation.flows:
        if segment is not None and flow.target in (segment, ANY):
            inbound += _match(flow, "saddr", flow.source, segmentation)
        if segment is not None and flow.source in (segment, ANY):
            outbound += _match(flow, "daddr", flow.target, segmentation)
    header = [
        f"# Maat segmentation {segmentation.name!r} for host {host or '-'} "
        f"in segment {segment or '(none)'}",
        f"table inet {TABLE}",
        f"delete table inet {TABLE}",
        f"table inet {TABLE} {{",
    ]
    chains = []
    for name, hook, rules, iface in (("input", "input", inbound, "iif"),
                                     ("output", "output", outbound, "oif")):  # fmt: skip
        chains += [
            f"\tchain {name} {{",
            f"\t\ttype filter hook {hook} priority filter; policy drop;",
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
    return "\n".join([*header, *_sets(segmentation), *chains, "}", ""])

"""Micro-segmentation as data: segments, the flows allowed between them, and the check of
an observed flow.

::

    name: drone-maker
    quarantine: quarantine            # the segment a quarantined host is moved to
    segments:
      engineering: {tags: [engineering], cidrs: [10.10.0.0/16]}
      servers: {cidrs: [10.30.0.0/16]}
      quarantine: {}
    flows:                             # everything not listed is refused
      - {from: engineering, to: servers, proto: tcp, ports: [443, 445]}
      - {from: "*", to: servers, proto: udp, ports: [53]}
      - {from: quarantine, to: servers, proto: tcp, ports: [8470]}   # Maat itself

``*`` is any address but a quarantined host's: the quarantine segment has exactly the
flows that name it, or a quarantined host would keep every ``*`` flow (DNS to the servers
above: a C2 and exfiltration channel).

A host's segment is the first whose tags it carries or whose networks hold its address;
no two networks may overlap, so an address is in one segment only.
:mod:`maat.access.nftables` compiles this per host; :meth:`Segmentation.check` tells whether
an observed flow is allowed, and by which rule.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import yaml

from maat.errors import Problem
from maat.yaml_reader import YamlReader, compose

__all__ = [
    "ANY", "Flow", "FlowVerdict", "ObservedFlow", "Segment", "Segmentation", "canonical_ip",
    "flow_of",
    "read_segmentation",
]  # fmt: skip

ANY = "*"
Proto = Literal["tcp", "udp", "icmp"]
PROTOS: tuple[Proto, ...] = ("tcp", "udp", "icmp")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_NAME = 24  # nftables set names are built from segment names
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,23}")


@dataclass(frozen=True)
class Segment:
    """A segment: the tags that put a host in it and the networks it spans."""

    name: str
    tags: frozenset[str]
    cidrs: tuple[Network, ...]


@dataclass(frozen=True)
class Flow:
    """One allowed flow (``from``/``to`` a segment name or ``*`` for any address)."""

    index: int
    source: str
    target: str
    proto: Proto
    ports: tuple[int, ...]  # empty: every port (and always for icmp)
    line: int | None = None

    def __str__(self) -> str:
        ports = ",".join(map(str, self.ports)) or "any"
        return f"flows[{self.index}] {self.source} -> {self.target} {self.proto}/{ports}"


@dataclass(frozen=True)
class FlowVerdict:
    """Whether an observed flow is allowed, with the segments it crossed and the rule."""

    allowed: bool
    source: str | None
    target: str | None
    reason: str


@dataclass(frozen=True)
class Segmentation:
    """Segments and allowed flows."""

    name: str
    segments: tuple[Segment, ...]
    flows: tuple[Flow, ...]
    quarantine: str | None = None

    def warnings(self) -> list[str]:
        """What the nftables rulesets cannot enforce as written: a flow from or to a
        segment defined by tags only (a firewall needs its addresses)."""
        out = []
        for flow in self.flows:
            for end in (flow.source, flow.target):
                segment = self.segment(end)
                if segment is not None and not segment.cidrs and end != self.quarantine:
                    why = "has no cidrs: firewalls cannot match it, only telemetry checks"
                    out.append(f"{flow}: segment {end!r} {why} this flow")
        return out

    def covers(self, end: str, segment: str | None) -> bool:
        """Whether a flow's ``end`` (a segment name or ``*``) covers ``segment`` (None: an
        address outside every segment); ``*`` never covers the quarantine segment."""
        if end == ANY:
            return segment is None or segment != self.quarantine
        return end == segment

    def segment(self, name: str) -> Segment | None:
        """The segment called ``name``."""
        return next((s for s in self.segments if s.name == name), None)

    def segment_of(
        self, *, tags: tuple[str, ...] = (), address: str | None = None, quarantined: bool = False
    ) -> str | None:
        """The segment of a host: the quarantine segment when quarantined, else the first
        segment whose tags it carries or whose networks hold its address; None if none."""
        if quarantined and self.quarantine is not None:
            return self.quarantine
        ip = _ip(address)
        for segment in self.segments:
            if segment.tags & set(tags):
                return segment.name
            if ip is not None and any(ip in net for net in segment.cidrs):
                return segment.name
        return None

    def check(
        self, source_ip: str, target_ip: str, proto: str, port: int | None,
        *, source_segment: str | None = None, target_segment: str | None = None,
    ) -> FlowVerdict:  # fmt: skip
        """Is a flow allowed? Segments come from the addresses unless given (a host's
        tags or quarantine decide them). A flow between addresses no segment holds is
        outside the segmentation and allowed; one touching a segment needs a rule."""
        source = source_segment or self.segment_of(address=source_ip)
        target = target_segment or self.segment_of(address=target_ip)
        if source is None and target is None:
            return FlowVerdict(True, None, None, "neither address is in a segment")
        for flow in self.flows:
            if flow.proto != proto:
                continue
            if not self.covers(flow.source, source) or not self.covers(flow.target, target):
                continue
            if flow.ports and (port is None or port not in flow.ports):
                continue
            return FlowVerdict(True, source, target, f"allowed by {flow}")
        shown = f"{proto}/{port}" if port is not None else proto
        return FlowVerdict(False, source, target,
                           f"no flow allows {source or 'outside'} -> {target or 'outside'} "
                           f"{shown}")  # fmt: skip


def canonical_ip(text: str) -> str:
    """An address as one text (``::ffff:10.0.0.5`` and ``10.0.0.5`` are both ``10.0.0.5``;
    IPv6 compressed); anything that is not an address is returned as given."""
    ip = _ip(text)
    return str(ip) if ip is not None else text


@dataclass(frozen=True)
class ObservedFlow:
    """A connection seen in telemetry."""

    source_ip: str
    target_ip: str
    proto: str
    port: int | None


def flow_of(event: Mapping[str, Any]) -> ObservedFlow | None:
    """The connection a normalised event records (Zeek conn, Sysmon 3, Falco, osquery…):
    source and destination addresses and the transport; None for anything else, and for
    the receiving side's copy of a connection (``network.direction: ingress``)."""
    source, target = event.get("source.ip"), event.get("destination.ip")
    proto = event.get("network.transport")
    if not isinstance(source, str) or not isinstance(target, str) or proto not in PROTOS:
        return None
    if event.get("network.direction") == "ingress":
        return None
    port = event.get("destination.port")
    if isinstance(port, str) and port.isdigit():
        port = int(port)
    return ObservedFlow(canonical_ip(source), canonical_ip(target), str(proto),
                        port if isinstance(port, int) else None)  # fmt: skip


def _ip(text: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not text:
        return None
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    # ::ffff:10.0.0.5 (a dual-stack socket's view of an IPv4 peer) is 10.0.0.5.
    mapped = getattr(ip, "ipv4_mapped", None)
    return mapped if mapped is not None else ip


def read_segmentation(text: str, *, source: str) -> tuple[Segmentation | None, list[Problem]]:
    """The segmentation in ``text`` and every problem (file, line, key path)."""
    root, problems = compose(text, source=source, max_chars=4 * 1024 * 1024, what="segmentation")
    if root is None:
        return None, problems
    reader = YamlReader(source, max_text=200, what="segmentations")
    top = reader.mapping(root, "", ("segments", "flows"), ("name", "quarantine", "version"))
    if top is None or "segments" not in top:
        return None, reader.problems
    name = reader.text(*top["name"]) if "name" in top else source
    segments = _read_segments(reader, *top["segments"])
    known = {s.name for s in segments}
    quarantine = reader.text(*top["quarantine"]) if "quarantine" in top else None
    if quarantine is not None and quarantine not in known:
        reader.problem(top["quarantine"][0], "quarantine", f"no segment {quarantine!r}")
    flows = _read_flows(reader, *top["flows"], known) if "flows" in top else []
    if reader.problems or name is None:
        return None, reader.problems
    return Segmentation(name, tuple(segments), tuple(flows), quarantine), []


def _read_segments(reader: YamlReader, node: yaml.Node, path: str) -> list[Segment]:
    if not reader.visit(node, path):
        return []
    if not isinstance(node, yaml.MappingNode) or not node.value:
        reader.problem(node, path, "must be a mapping of segment name to its tags and cidrs")
        return []
    out: list[Segment] = []
    placed: list[tuple[Network, str, yaml.Node, str]] = []
    for key_node, value_node in node.value:
        name = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else ""
        where = f"{path}.{name}"
        if not _NAME.fullmatch(name):
            reader.problem(key_node, where, f"a segment name is 1 to {MAX_NAME} ASCII letters, "
                           "digits, '-' or '_', starting with a letter")  # fmt: skip
            continue
        # nftables set names are built with '-' as '_': a-b and a_b would be one set.
        clash = next((s.name for s in out if s.name.replace("-", "_") == name.replace("-", "_")),
                     None)  # fmt: skip
        if clash is not None:
            what = "duplicate segment" if clash == name else f"segment name clashes with {clash!r}:"
            reader.problem(key_node, where, f"{what} {name!r}")
            continue
        fields = reader.mapping(value_node, where, (), ("tags", "cidrs"))
        if fields is None:
            continue
        tags = frozenset(reader.texts(*fields["tags"]) or ()) if "tags" in fields else frozenset()
        cidrs: list[Network] = []
        for i, text in enumerate(reader.texts(*fields["cidrs"]) or () if "cidrs" in fields
                                 else ()):  # fmt: skip
            try:
                network = ipaddress.ip_network(text, strict=True)
            except ValueError as exc:
                reader.problem(fields["cidrs"][0], f"{where}.cidrs[{i}]", str(exc))
                continue
            unusable = _unusable(network)
            if unusable:
                reader.problem(fields["cidrs"][0], f"{where}.cidrs[{i}]", f"{text}: {unusable}")
                continue
            cidrs.append(network)
            placed.append((network, name, fields["cidrs"][0], f"{where}.cidrs[{i}]"))
        out.append(Segment(name, tags, tuple(cidrs)))
    _refuse_overlaps(reader, placed)
    return out


def _unusable(network: Network) -> str:
    """Why nft or the flow check cannot use ``network`` ("" when both can)."""
    if not isinstance(network, ipaddress.IPv6Network):
        return ""
    if network.network_address.scope_id is not None:
        # nft refuses it, and with it the whole ruleset of every host
        return "a zone index (%...) names an interface, not a network"
    if network.subnet_of(ipaddress.IPv6Network("::ffff:0:0/96")):
        # addresses are judged as IPv4 (canonical_ip): this network would hold none
        return "an IPv4-mapped network holds no address; write it as IPv4"
    return ""


def _refuse_overlaps(reader: YamlReader, placed: list[tuple[Network, str, yaml.Node, str]]) -> None:
    """A problem for each network sharing addresses with another. An address in two
    networks is in two nft sets, so firewalls would accept it as either segment while the
    flow check takes the first; nft also refuses overlapping intervals in one set."""
    # Sorted by start, a network overlaps an earlier one exactly when it starts before the
    # furthest end seen so far: one pass, not every pair.
    ordered = sorted(placed, key=lambda p: (p[0].version, p[0].network_address, p[0].prefixlen))
    widest: tuple[Network, str] | None = None
    for network, owner, node, path in ordered:
        if widest is not None and widest[0].version == network.version and (
            int(network.network_address) <= int(widest[0].broadcast_address)
        ):  # fmt: skip
            reader.problem(node, path, f"{network} overlaps {widest[0]} of segment {widest[1]!r}")
            if int(network.broadcast_address) <= int(widest[0].broadcast_address):
                continue  # CIDR networks nest: the wider one still covers what follows
        widest = (network, owner)


def _read_flows(reader: YamlReader, node: yaml.Node, path: str, known: set[str]) -> list[Flow]:
    if isinstance(node, yaml.SequenceNode) and not node.value:
        return []  # no flow allowed at all
    out: list[Flow] = []
    for index, item in enumerate(reader.sequence(node, path) or ()):
        where = f"{path}[{index}]"
        fields = reader.mapping(item, where, ("from", "to", "proto"), ("ports",))
        if fields is None or len(fields) < 3:
            continue
        ends = []
        for key in ("from", "to"):
            value = reader.text(*fields[key])
            if value is not None and value != ANY and value not in known:
                reader.problem(fields[key][0], f"{where}.{key}", f"no segment {value!r}")
                value = None
            ends.append(value)
        proto = reader.text(*fields["proto"])
        if proto is not None and proto not in PROTOS:
            reader.problem(fields["proto"][0], f"{where}.proto", "must be tcp, udp or icmp")
            proto = None
        ports: list[int] = []
        if "ports" in fields:
            for i, port_node in enumerate(reader.sequence(*fields["ports"]) or ()):
                port = reader.number(port_node, f"{where}.ports[{i}]", low=1, high=65535)
                if port is not None and port != int(port):
                    reader.problem(port_node, f"{where}.ports[{i}]", "must be a whole number")
                elif port is not None:
                    ports.append(int(port))
            if proto == "icmp":
                reader.problem(fields["ports"][0], f"{where}.ports", "icmp has no ports")
        source, target = ends
        if source is None or target is None or proto is None:
            continue
        out.append(Flow(index, source, target, proto, tuple(sorted(set(ports))),
                        item.start_mark.line + 1))  # fmt: skip
    return out

"""The trust graph: vendor → product → artifact → certificate → host → identity, and the
blast radius of any node.

Nodes are ``(kind, key)`` pairs; edges point the way trust (and so compromise) flows:

- a vendor *supplies* its products, *holds* its signing certificates and its identities
  (accounts and API tokens it uses in our systems), and *operates* its own hosts that
  report to us (devices tagged ``vendor:<name>``);
- a product *ships* its artifacts; a certificate *signed* artifacts;
- an artifact *runs on* the hosts where it was seen;
- an identity *owns* its API tokens and *reaches* the hosts it logged into.

:meth:`TrustGraph.blast_radius` follows edges from a node and returns everything in reach,
by kind, each with the path that reached it first (shortest), so a report can say *why* a
host is in the radius. The graph is built by the service layer from the state store; this
module does no I/O.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

__all__ = ["KINDS", "Node", "Reach", "TrustGraph"]

KINDS = ("vendor", "product", "artifact", "certificate", "host", "identity", "token")


@dataclass(frozen=True, order=True, slots=True)
class Node:
    """One node: its kind (one of :data:`KINDS`) and its key (a name, digest or id)."""

    kind: str
    key: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.key}"


@dataclass(frozen=True)
class Reach:
    """What a node reaches: nodes by kind (sorted keys) and the path to each."""

    start: Node
    nodes: Mapping[str, tuple[str, ...]]
    paths: Mapping[Node, tuple[tuple[Node, str], ...]] = field(repr=False)

    def explain(self, node: Node) -> str:
        """``vendor:X -supplies-> product:Y -ships-> artifact:Z …`` for one reached node."""
        steps = self.paths.get(node)
        if steps is None:
            return f"{node} is not in reach of {self.start}"
        text = str(self.start)
        for target, relation in steps:
            text += f" -{relation}-> {target}"
        return text

    def as_dict(self) -> dict[str, list[str]]:
        """``{kind: [keys]}`` for every kind with something in reach."""
        return {kind: list(keys) for kind, keys in self.nodes.items() if keys}


class TrustGraph:
    """A directed graph of who trusts what; build with :meth:`add`, query with
    :meth:`blast_radius`."""

    def __init__(self) -> None:
        self._edges: dict[Node, dict[Node, str]] = {}

    def add(self, source: Node, relation: str, target: Node) -> None:
        """An edge ``source -relation-> target`` (the first relation given is kept)."""
        for node in (source, target):
            if node.kind not in KINDS:
                raise ValueError(f"unknown node kind {node.kind!r}")
        self._edges.setdefault(source, {}).setdefault(target, relation)
        self._edges.setdefault(target, {})

    def add_node(self, node: Node) -> None:
        """A node, with or without edges (a vendor nothing is linked to yet)."""
        if node.kind not in KINDS:
            raise ValueError(f"unknown node kind {node.kind!r}")
        self._edges.setdefault(node, {})

    def nodes(self, kind: str) -> list[Node]:
        """The nodes of one kind, sorted."""
        return sorted(n for n in self._edges if n.kind == kind)

    def add_all(self, edges: Iterable[tuple[Node, str, Node]]) -> None:
        """Several edges."""
        for source, relation, target in edges:
            self.add(source, relation, target)

    def __contains__(self, node: object) -> bool:
        return node in self._edges

    def blast_radius(self, start: Node, *, max_nodes: int = 1_000_000) -> Reach:
        """Everything ``start`` reaches (breadth first: each path is a shortest one)."""
        paths: dict[Node, tuple[tuple[Node, str], ...]] = {start: ()}
        queue = deque([start])
        while queue and len(paths) < max_nodes:
            node = queue.popleft()
            for target, relation in sorted(self._edges.get(node, {}).items()):
                if target not in paths:
                    paths[target] = (*paths[node], (target, relation))
                    queue.append(target)
        del paths[start]
        by_kind: dict[str, list[str]] = {kind: [] for kind in KINDS}
        for node in paths:
            by_kind[node.kind].append(node.key)
        return Reach(start, {k: tuple(sorted(v)) for k, v in by_kind.items()}, paths)

"""The one component model every SBOM format is read into, and the kept original documents.

:class:`Sbom` holds what Maat uses (components, dependencies, the metadata component) and the
parsed original (``document``), kept whole so that :func:`maat.sbom.dump_sbom` can write it
back without losing vendor extensions or fields Maat does not model:

* JSON and JSON-LD: the ``dict`` orjson parsed;
* XML: an :class:`XmlDocument` (an :mod:`xml.etree.ElementTree` tree whose tags and attributes
  are kept exactly as written, namespace prefixes and ``xmlns`` declarations included);
* SPDX tag-value: a :class:`TagValueDocument` (tag/value pairs and comments, in order).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any

from maat.core import Digest, Purl
from maat.errors import Location, Problem

__all__ = ["Component", "Sbom", "TagValueDocument", "TagValueEntry", "XmlDocument"]


@dataclass(frozen=True)
class Component:
    """One component of an SBOM, whatever the format it came from.

    ``ref`` is the component's ``bom-ref`` (CycloneDX), ``SPDXID`` (SPDX 2) or ``spdxId``
    (SPDX 3); when the document gives none, a stable one is made from the purl, or from name
    and version (suffixed ``#2``, ``#3`` … when taken). ``purl_text`` is the purl as written
    and is kept even when it does not parse; ``purl_problem`` then says why and ``purl`` is
    ``None``. ``parent`` is the ref of the enclosing component (CycloneDX nested components,
    SPDX ``hasFiles`` / ``CONTAINS`` / ``contains``). ``location`` points at the component in
    the source: file, JSON-pointer-like field path (``components[3].components[0]``) and, for
    XML and tag-value, the line.
    """

    ref: str
    name: str
    version: str | None
    purl: Purl | None
    purl_text: str | None
    purl_problem: str | None
    cpes: tuple[str, ...]
    supplier: str | None
    hashes: tuple[Digest, ...]
    licenses: tuple[str, ...]
    type: str | None
    parent: str | None
    location: Location


@dataclass(frozen=True)
class Sbom:
    """A parsed SBOM: the component model plus the original document.

    ``format`` is ``"cyclonedx"`` or ``"spdx"``; ``encoding`` is ``"json"``, ``"xml"``,
    ``"tag-value"`` or ``"json-ld"``. ``components`` is flat (nested components follow their
    parent, with ``parent`` set). For CycloneDX ``metadata_component`` is
    ``metadata.component`` and is not repeated in ``components``; for SPDX it is the element
    the document describes, which is also one of ``components``. ``dependencies`` maps a ref to
    the refs it depends on (or contains), in document order. ``problems`` lists entries that
    were skipped or only partly read, each located.
    """

    format: str
    encoding: str
    spec_version: str
    name: str | None
    serial: str | None
    metadata_component: Component | None
    components: tuple[Component, ...]
    dependencies: tuple[tuple[str, tuple[str, ...]], ...]
    problems: tuple[Problem, ...]
    document: Any

    @property
    def dependency_map(self) -> Mapping[str, tuple[str, ...]]:
        """``dependencies`` as a read-only mapping."""
        return MappingProxyType(dict(self.dependencies))

    @cached_property
    def _by_ref(self) -> Mapping[str, Component]:
        index = {component.ref: component for component in self.components}
        if self.metadata_component is not None:
            index.setdefault(self.metadata_component.ref, self.metadata_component)
        return MappingProxyType(index)

    def component(self, ref: str) -> Component | None:
        """The component (or metadata component) with this ref, or ``None``."""
        return self._by_ref.get(ref)


@dataclass
class XmlDocument:
    """A parsed XML document that can be written back as it was read.

    ``root`` is an ElementTree element whose tags and attribute names are kept exactly as
    written (``"bom"``, ``"ext:foo"``), ``xmlns`` declarations included as attributes, text and
    tails unchanged; comments and processing instructions are kept as ElementTree comment / PI
    nodes. ``prolog`` and ``epilog`` hold comments and processing instructions outside the
    root. ``declaration`` is ``(version, standalone)`` of the XML declaration, or ``None`` when
    there was none (the writer always writes UTF-8). ``root_line`` and ``prolog_lines`` are the
    lines the root element and the prolog nodes started on, so the writer can keep every line
    number (0: unknown, the node goes on a new line). ``namespace`` is the
    namespace URI of the root element.
    """

    root: ET.Element
    namespace: str | None = None
    declaration: tuple[str, str | None] | None = ("1.0", None)
    prolog: list[ET.Element[Any]] = field(default_factory=list)
    epilog: list[ET.Element[Any]] = field(default_factory=list)
    root_line: int = 0
    prolog_lines: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class TagValueEntry:
    """One SPDX tag-value line (or ``<text>`` block): ``tag`` is ``None`` for a comment.

    ``block`` says the value was written inside ``<text>…</text>``; ``line`` is where the
    entry starts in the source (0 when unknown). ``trailer`` is anything written after
    ``</text>`` on its line: not part of the value, but kept so a round trip changes nothing.
    """

    tag: str | None
    value: str
    line: int = 0
    block: bool = False
    trailer: str = ""


@dataclass(frozen=True)
class TagValueDocument:
    """An SPDX tag-value document as its ordered entries (comments kept, blank lines not)."""

    entries: tuple[TagValueEntry, ...]

    def pairs(self) -> list[tuple[str, str]]:
        """The ``(tag, value)`` pairs in document order, comments left out."""
        return [(e.tag, e.value) for e in self.entries if e.tag is not None]

"""SBOMs: CycloneDX 1.2–1.6 (JSON, XML), SPDX 2.2/2.3 (JSON, tag-value) and SPDX 3.0 (JSON-LD)
read into one component model, and written back without loss.

Pure capability code: functions take bytes and return value objects; callers read the files.

* :func:`detect_format` — ``(format, encoding)`` of some bytes, or
  :class:`~maat.errors.InvalidInput` saying what they look like;
* :func:`parse_sbom` — the :class:`Sbom`: components (flattened, with parents), the metadata
  component, dependencies, located problems, and the original document;
* :func:`dump_sbom` — the original document written back in its format and encoding.
"""

from __future__ import annotations

from maat.sbom.api import dump_sbom, parse_sbom
from maat.sbom.detect import detect_format
from maat.sbom.model import Component, Sbom, TagValueDocument, TagValueEntry, XmlDocument

__all__ = [
    "Component",
    "Sbom",
    "TagValueDocument",
    "TagValueEntry",
    "XmlDocument",
    "detect_format",
    "dump_sbom",
    "parse_sbom",
]

"""OSV schema 1.x advisories: the model, a parser for one advisory, a loader for many.

Advisories come as JSON (orjson) or YAML (libyaml through ``yaml.CSafeLoader``); the format is
told by the file name (``.json``, ``.yaml``, ``.yml``) or, failing that, by the first byte.
YAML is read with a narrow set of implicit types so that nothing in an advisory changes
meaning: plain scalars that look like floats or timestamps stay strings (a version ``1.10`` is
not the number 1.1, ``modified`` keeps its exact text), integers are decimal only, booleans
are ``true``/``false`` only, and aliases (``*name``) are refused, so a small file cannot
expand into a huge document.

Each advisory keeps its whole original document in ``raw``: :meth:`OsvAdvisory.to_dict`
returns a copy of it, so a round trip changes nothing, unknown fields included.

Validation follows the OSV schema: ``id`` and ``modified`` (RFC 3339) required; ranges of
type SEMVER, ECOSYSTEM or GIT (GIT needs ``repo``; GIT ranges are kept, matchers skip them);
each event has exactly one of ``introduced``, ``fixed``, ``last_affected``, ``limit``; each
range has an ``introduced``. Tolerated, since rejecting them would lose a real advisory and
matchers read events in order: ``limit`` outside GIT ranges, and ``fixed`` with
``last_affected`` in one range (the schema forbids it). A bad advisory raises
:class:`InvalidInput` naming the file and the field (``affected[0].ranges[1].events[2]``);
:func:`load_osv` turns that into a :class:`Problem` and keeps the other advisories.

A bad ``severity`` entry (a malformed CVSS vector, a vector not of its type, an entry that is
not an object) does not reject the advisory: severity says nothing about which versions are
affected, and dropping the advisory would hide every package it names. The entry is left out
of ``severity`` (``raw`` still has it) and reported as a located :class:`Problem` in
:attr:`OsvAdvisory.problems`, which :func:`load_osv` returns with its own. The advisory's
severity then comes from its other entries and ``database_specific.severity`` when they rate
it medium or more (a lower bound); with none of them, or when they rate it lower (the bad
entry may be critical), it is unknown, which a scan ranks as medium for priority and SLA and
flags as ``severity_unknown`` (:data:`maat.vulns.findings.UNKNOWN_SEVERITY`): fail safe,
never as low. The index applies this (:class:`maat.vulns.index.IndexedAdvisory`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, Literal

import orjson
import yaml

from maat.core._validate import parse_timestamp, type_name
from maat.errors import InvalidInput, Problem
from maat.vulns.severity import Severity, severity_from_database_specific, severity_from_osv

__all__ = [
    "EVENT_KINDS",
    "MAX_ADVISORY_BYTES",
    "RANGE_TYPES",
    "Affected",
    "Event",
    "EventKind",
    "OsvAdvisory",
    "Range",
    "fixed_versions",
    "load_document",
    "load_osv",
    "parse_osv",
]

EventKind = Literal["introduced", "fixed", "last_affected", "limit"]
EVENT_KINDS: tuple[EventKind, ...] = ("introduced", "fixed", "last_affected", "limit")
RANGE_TYPES = ("SEMVER", "ECOSYSTEM", "GIT")
MAX_ADVISORY_BYTES = 16 << 20
"""Default size limit of one advisory file."""
MAX_ID = 200
MAX_VERSION = 1024
MAX_NAME = 1024


# --- reading JSON and YAML --------------------------------------------------------------------


class _OsvYamlLoader(yaml.CSafeLoader):
    """``CSafeLoader`` with narrow implicit types and no aliases (see the module docstring)."""

    yaml_implicit_resolvers: dict[Any, Any] = {}

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        if node in self.constructed_objects or node in self.recursive_objects:
            raise yaml.constructor.ConstructorError(
                None, None, "YAML aliases (*name) are not accepted", node.start_mark
            )
        return super().construct_object(node, deep)


def _refuse(loader: _OsvYamlLoader, node: Any) -> Any:
    raise yaml.constructor.ConstructorError(
        None, None, f"the tag {node.tag} is not accepted (JSON types only)", node.start_mark
    )


for _tag in ("binary", "timestamp", "set", "omap", "pairs"):
    _OsvYamlLoader.add_constructor(f"tag:yaml.org,2002:{_tag}", _refuse)
_OsvYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_OsvYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^(?:0|-?[1-9][0-9]*)$"), list("-0123456789")
)
_OsvYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)


def _is_json(data: bytes, source: str) -> bool:
    name = source.lower()
    return name.endswith(".json") or (
        not name.endswith((".yaml", ".yml")) and data.lstrip()[:1] in (b"{", b"[")
    )


def load_document(data: bytes, *, source: str, max_bytes: int = MAX_ADVISORY_BYTES) -> Any:
    """Decode one JSON or YAML document (format by ``source``'s suffix, else by content).

    Raises :class:`InvalidInput` (with the line when known) for bytes that are not one
    well-formed document, and above ``max_bytes``.
    """
    if len(data) > max_bytes:
        raise InvalidInput(
            f"{len(data)} bytes, above the limit of {max_bytes} bytes",
            file=source,
            hint="raise the limit if this file is genuine",
        )
    data = bytes(data).removeprefix(b"\xef\xbb\xbf")
    if _is_json(data, source):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise InvalidInput(f"not valid JSON: {exc.msg}", file=source, line=exc.lineno) from None
    try:
        return yaml.load(data, Loader=_OsvYamlLoader)  # noqa: S506 (a safe loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        reason = exc.problem or exc.context or "malformed"
        raise InvalidInput(f"not valid YAML: {reason}", file=source, line=line) from None
    except yaml.YAMLError as exc:
        raise InvalidInput(f"not valid YAML: {str(exc)[:200]}", file=source) from None
    except (RecursionError, ValueError, TypeError, OverflowError) as exc:
        raise InvalidInput(f"not usable YAML: {type(exc).__name__}", file=source) from None


def _copy(value: Any) -> Any:
    """A deep copy of JSON-like data (mappings as dicts, sequences as lists), without
    recursion so that any nesting depth the decoders accept is safe."""
    if not isinstance(value, Mapping | list | tuple):
        return value
    root: Any = {} if isinstance(value, Mapping) else [None] * len(value)
    stack: list[tuple[Any, Any]] = [(value, root)]
    while stack:
        src, dst = stack.pop()
        pairs = src.items() if isinstance(src, Mapping) else enumerate(src)
        for key, item in pairs:
            if isinstance(item, Mapping):
                new: Any = {}
                stack.append((item, new))
            elif isinstance(item, list | tuple):
                new = [None] * len(item)
                stack.append((item, new))
            else:
                new = item
            dst[key] = new
    return root


# --- the model --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """One range event: ``kind`` is introduced, fixed, last_affected or limit."""

    kind: EventKind
    value: str


@dataclass(frozen=True)
class Range:
    """A range of affected versions: type SEMVER, ECOSYSTEM or GIT (``repo`` set for GIT)."""

    type: str
    events: tuple[Event, ...]
    repo: str | None = None

    def values(self, kind: EventKind) -> tuple[str, ...]:
        """The values of the events of ``kind``, in order."""
        return tuple(e.value for e in self.events if e.kind == kind)


@dataclass(frozen=True)
class Affected:
    """One affected package: ``ecosystem`` as written (``Debian:12``), its name and purl, the
    ranges, the explicitly listed versions and the package's own severity entries.

    ``ecosystem`` and ``name`` are empty when the entry names no package (GIT ranges only).
    """

    ecosystem: str
    name: str
    purl: str | None
    ranges: tuple[Range, ...]
    versions: tuple[str, ...]
    severity: tuple[Severity, ...] = ()

    @property
    def base_ecosystem(self) -> str:
        """The ecosystem without its release: ``Debian:12`` -> ``Debian``."""
        return self.ecosystem.split(":", 1)[0]


def fixed_versions(affected: Affected, *, include_git: bool = False) -> tuple[str, ...]:
    """Every ``fixed`` version of an affected package, in order, without repeats (GIT ranges,
    whose fixed values are commits, only with ``include_git``)."""
    ranges = [r for r in affected.ranges if include_git or r.type != "GIT"]
    return tuple(dict.fromkeys(v for r in ranges for v in r.values("fixed")))


@dataclass(frozen=True)
class OsvAdvisory:
    """One OSV advisory. ``raw`` is the whole original document (read-only view);
    ``problems`` are the entries that were read around (bad ``severity`` entries)."""

    id: str
    modified: datetime
    published: datetime | None
    withdrawn: datetime | None
    aliases: tuple[str, ...]
    related: tuple[str, ...]
    summary: str
    details: str
    affected: tuple[Affected, ...]
    severity: tuple[Severity, ...]
    database_specific: Mapping[str, Any] = field(default_factory=dict, hash=False, repr=False)
    raw: Mapping[str, Any] = field(default_factory=dict, hash=False, repr=False)
    source: str = ""
    problems: tuple[Problem, ...] = field(default=(), hash=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """A copy of the original document (equal to ``raw``: nothing added, nothing lost)."""
        copied: dict[str, Any] = _copy(self.raw)
        return copied

    @property
    def ids(self) -> tuple[str, ...]:
        """The id followed by the aliases."""
        return (self.id, *self.aliases)

    @property
    def is_withdrawn(self) -> bool:
        """Whether the advisory has been withdrawn."""
        return self.withdrawn is not None

    @property
    def database_severity(self) -> Severity | None:
        """``database_specific.severity`` (GHSA ``HIGH``, ``MODERATE`` ...) as a severity."""
        return severity_from_database_specific(self.database_specific)

    def fixed_versions_for(self, name: str, ecosystem: str | None = None) -> tuple[str, ...]:
        """Fixed versions named for package ``name`` (and ``ecosystem``, full or base name,
        when given) across the affected entries."""
        chosen = [
            a
            for a in self.affected
            if a.name == name and ecosystem in (None, a.ecosystem, a.base_ecosystem)
        ]
        return tuple(dict.fromkeys(v for a in chosen for v in fixed_versions(a)))


# --- parsing ----------------------------------------------------------------------------------


class _Fields:
    """Typed reads from one object of the advisory, errors located at ``path.key``."""

    __slots__ = ("data", "file", "path")

    def __init__(self, data: object, file: str, path: str) -> None:
        if not isinstance(data, Mapping):
            raise InvalidInput(
                f"expected an object, got {type_name(data)}", file=file, field=path or None
            )
        self.data: Mapping[Any, Any] = data
        self.file = file
        self.path = path

    def where(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str, message: str) -> InvalidInput:
        return InvalidInput(message, file=self.file, field=self.where(key))

    def text(self, key: str, *, required: bool = False, max_len: int | None = None) -> str:
        value = self.data.get(key)
        if value is None:
            if required:
                raise self.fail(key, "is required")
            return ""
        if not isinstance(value, str):
            raise self.fail(key, f"expected a string, got {type_name(value)}")
        if max_len is not None and len(value) > max_len:
            raise self.fail(key, f"longer than {max_len} characters")
        return value

    def ident(self, key: str, value: object) -> str:
        if not isinstance(value, str):
            raise self.fail(key, f"expected an id string, got {type_name(value)}")
        if not value or len(value) > MAX_ID:
            raise self.fail(key, f"an id must have 1 to {MAX_ID} characters")
        if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value):
            raise self.fail(key, f"an id must not contain spaces or control characters: {value!r}")
        return value

    def timestamp(self, key: str, *, required: bool = False) -> datetime | None:
        value = self.data.get(key)
        if value is None:
            if required:
                raise self.fail(key, "is required (an RFC 3339 timestamp)")
            return None
        return parse_timestamp(value, field=self.where(key), file=self.file)

    def items(self, key: str) -> list[Any]:
        value = self.data.get(key)
        if value is None:
            return []
        if not isinstance(value, list | tuple):
            raise self.fail(key, f"expected a list, got {type_name(value)}")
        return list(value)

    def mapping(self, key: str) -> Mapping[str, Any]:
        value = self.data.get(key)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self.fail(key, f"expected an object, got {type_name(value)}")
        return value


def _version_text(value: object, fail: Any, key: str) -> str:
    # YAML may hand over a plain decimal integer (``- 2``); its text is exact (see the loader).
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise fail(key, f"expected a version string, got {type_name(value)}")
    if not value or len(value) > MAX_VERSION:
        raise fail(key, f"a version must have 1 to {MAX_VERSION} characters")
    return value


def _event(data: object, file: str, path: str) -> Event:
    if not isinstance(data, Mapping):
        raise InvalidInput(
            f"an event must be an object with one key, got {type_name(data)}", file=file, field=path
        )
    if len(data) != 1:
        keys = ", ".join(sorted(str(k)[:40] for k in data)) or "none"
        raise InvalidInput(
            f"an event must have exactly one of {', '.join(EVENT_KINDS)}; found: {keys}",
            file=file,
            field=path,
        )
    ((kind, value),) = data.items()
    if kind not in EVENT_KINDS:
        raise InvalidInput(
            f"unknown event {str(kind)[:40]!r} (expected one of {', '.join(EVENT_KINDS)})",
            file=file,
            field=path,
        )

    def fail(key: str, message: str) -> InvalidInput:
        return InvalidInput(message, file=file, field=f"{path}.{key}")

    return Event(kind, _version_text(value, fail, kind))


def _range(data: object, file: str, path: str) -> Range:
    f = _Fields(data, file, path)
    kind = f.data.get("type")
    if kind not in RANGE_TYPES:
        shown = repr(kind[:40]) if isinstance(kind, str) else type_name(kind)
        raise f.fail("type", f"expected one of {', '.join(RANGE_TYPES)}; got {shown}")
    raw_events = f.items("events")
    if not raw_events:
        raise f.fail("events", "a range needs at least one event")
    events = tuple(_event(e, file, f"{f.where('events')}[{i}]") for i, e in enumerate(raw_events))
    if not any(e.kind == "introduced" for e in events):
        raise f.fail("events", "a range must have an 'introduced' event")
    repo = f.text("repo", max_len=MAX_NAME) or None
    if kind == "GIT" and repo is None:
        raise f.fail("repo", "a GIT range needs its repository URL")
    return Range(kind, events, repo)


def _severities(f: _Fields, problems: list[Problem]) -> tuple[Severity, ...]:
    """The readable severity entries; each bad one (or a bad list) is added to ``problems``."""
    found: list[Severity] = []
    try:
        entries = f.items("severity")
    except InvalidInput as exc:
        problems.append(Problem.from_error(exc))
        return ()
    for i, entry in enumerate(entries):
        try:
            found.append(severity_from_osv(entry, field=f"{f.where('severity')}[{i}]", file=f.file))
        except InvalidInput as exc:
            problems.append(Problem.from_error(exc))
    return tuple(found)


def _affected(data: object, file: str, path: str, problems: list[Problem]) -> Affected:
    f = _Fields(data, file, path)
    ecosystem = name = ""
    purl: str | None = None
    if f.data.get("package") is not None:
        p = _Fields(f.data["package"], file, f.where("package"))
        ecosystem = p.text("ecosystem", required=True, max_len=MAX_NAME)
        name = p.text("name", required=True, max_len=MAX_NAME)
        if not ecosystem.strip():
            raise p.fail("ecosystem", "must not be empty")
        if not name.strip():
            raise p.fail("name", "must not be empty")
        purl = p.text("purl", max_len=4096) or None
    ranges = tuple(
        _range(r, file, f"{f.where('ranges')}[{i}]") for i, r in enumerate(f.items("ranges"))
    )
    versions = tuple(
        _version_text(v, f.fail, f"versions[{i}]") for i, v in enumerate(f.items("versions"))
    )
    f.mapping("ecosystem_specific")
    f.mapping("database_specific")
    return Affected(ecosystem, name, purl, ranges, versions, _severities(f, problems))


def _related(f: _Fields) -> tuple[str, ...]:
    found: list[str] = []
    for i, item in enumerate(f.items("related")):
        key = f"related[{i}]"
        if isinstance(item, Mapping):  # the {"type": ..., "id": ...} form of later schemas
            found.append(f.ident(f"{key}.id", item.get("id")))
        else:
            found.append(f.ident(key, item))
    return tuple(found)


def _advisory(data: object, *, source: str, prefix: str = "") -> OsvAdvisory:
    f = _Fields(data, source, prefix)
    version = f.text("schema_version", max_len=40)
    if version and not version.startswith("1."):
        raise f.fail("schema_version", f"OSV schema {version!r} is not supported (1.x is)")
    if f.data.get("id") is None:
        raise f.fail("id", "is required")
    ident = f.ident("id", f.data["id"])
    modified = f.timestamp("modified", required=True)
    assert modified is not None  # required=True never gives None
    aliases = tuple(f.ident(f"aliases[{i}]", a) for i, a in enumerate(f.items("aliases")))
    problems: list[Problem] = []
    affected = tuple(
        _affected(a, source, f"{f.where('affected')}[{i}]", problems)
        for i, a in enumerate(f.items("affected"))
    )
    return OsvAdvisory(
        id=ident,
        modified=modified,
        published=f.timestamp("published"),
        withdrawn=f.timestamp("withdrawn"),
        aliases=aliases,
        related=_related(f),
        summary=f.text("summary"),
        details=f.text("details"),
        affected=affected,
        severity=_severities(f, problems),
        database_specific=f.mapping("database_specific"),
        raw=MappingProxyType(f.data) if isinstance(f.data, dict) else f.data,
        source=source,
        problems=tuple(problems),
    )


def parse_osv(document: Mapping[str, Any] | bytes, *, source: str) -> OsvAdvisory:
    """Parse one OSV advisory from a decoded mapping or from JSON / YAML bytes.

    ``source`` names the file (its suffix also picks the format). Raises
    :class:`InvalidInput` naming ``source`` and the field for a bad advisory; bad severity
    entries are left out and listed in the advisory's ``problems`` instead.
    """
    if isinstance(document, bytes | bytearray | memoryview):
        data = load_document(bytes(document), source=source)
        if isinstance(data, list):
            raise InvalidInput(
                f"holds a list of {len(data)} advisories; load it with load_osv", file=source
            )
        if not isinstance(data, Mapping):
            raise InvalidInput(
                f"expected an OSV advisory object, got {type_name(data)}", file=source
            )
        return _advisory(data, source=source)
    if not isinstance(document, Mapping):
        raise InvalidInput(
            f"expected an OSV advisory object or bytes, got {type_name(document)}", file=source
        )
    return _advisory(_copy(document), source=source)


def load_osv(
    items: Iterable[tuple[str, bytes]], *, max_bytes_per_item: int = MAX_ADVISORY_BYTES
) -> tuple[list[OsvAdvisory], list[Problem]]:
    """Load many advisory files, given as ``(name, bytes)`` (a folder or an OSV zip dump that
    the caller has read). A JSON or YAML file may hold one advisory or a list of them.

    A bad file or a bad advisory in a list becomes a :class:`Problem` and the rest is kept;
    the problems of kept advisories (bad severity entries) are returned too.
    When two files carry the same id, the one modified last is kept (in the place of the
    first) and the other is reported as a problem. Every item is parsed: callers filter out
    files that are not advisories (README, LICENSE) by name.
    """
    advisories: list[OsvAdvisory] = []
    problems: list[Problem] = []
    position: dict[str, int] = {}
    for name, data in items:
        try:
            document = load_document(data, source=name, max_bytes=max_bytes_per_item)
        except InvalidInput as exc:
            problems.append(Problem.from_error(exc))
            continue
        entries = [(document, "")]
        if isinstance(document, list):
            entries = [(entry, f"[{i}]") for i, entry in enumerate(document)]
            if not document:
                problems.append(Problem.at("holds an empty list: no advisories", file=name))
        for entry, prefix in entries:
            try:
                advisory = _advisory(entry, source=name, prefix=prefix)
            except InvalidInput as exc:
                problems.append(Problem.from_error(exc))
                continue
            problems.extend(advisory.problems)
            at = position.get(advisory.id)
            if at is None:
                position[advisory.id] = len(advisories)
                advisories.append(advisory)
                continue
            kept, dropped = advisories[at], advisory
            if advisory.modified > kept.modified:
                kept, dropped = advisory, kept
                advisories[at] = advisory
            problems.append(
                Problem.at(
                    f"duplicate advisory {advisory.id}: kept the one from {kept.source} "
                    f"(modified {kept.modified.isoformat()}), dropped this one "
                    f"(modified {dropped.modified.isoformat()})",
                    file=dropped.source,
                    field="id",
                )
            )
    return advisories, problems

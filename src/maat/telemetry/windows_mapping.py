"""How Windows event data maps to ECS: :class:`Spec`, its table notation and the steps.

A :class:`Spec` says, for one kind of Windows event, the ECS ``event.category``/``type``/
``action`` and which event-data field goes to which ECS field; :func:`apply` sets those
fields on one event with a handful of dictionary lookups. :func:`spec` builds a Spec from
the table notation, ``"Source>ecs.field, …"`` strings (Defender's field names contain
spaces, never ``>``), and the mapping steps here (:func:`hashes`, :func:`user`, …) do what
needs more than a copy. The tables themselves, and finding the spec of an event, are in
:mod:`maat.telemetry.windows_fields`.

Values read here are the event-data strings (``winlog.event_data.*``); ``""`` and ``"-"``
mean "no value" in Windows events and set no ECS field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from maat.errors import InvalidInput
from maat.telemetry.model import Event

__all__ = [
    "EVENT_DATA",
    "Extra",
    "Pairs",
    "Plan",
    "Spec",
    "apply",
    "basename",
    "compile_spec",
    "file_fields",
    "hashes",
    "plan_of",
    "registry",
    "signature",
    "spec",
    "to_int",
    "user",
]

EVENT_DATA = "winlog.event_data."
"""Prefix of the event-data fields: ``winlog.event_data.Image`` holds ``Image`` as text."""

Extra = Callable[[Event], None]
"""A mapping step that needs more than a copy: reads ``winlog.event_data.*``, sets ECS."""

Pairs = tuple[tuple[str, str], ...]

_MAX_INT = (1 << 63) - 1  # the lake stores int64


def to_int(value: str, field: str) -> int:
    """``value`` (decimal, or hexadecimal with ``0x`` as in Security events) as an int.

    Raises ``InvalidInput`` naming ``field`` for anything else, negatives and values beyond
    int64 included.
    """
    try:
        if "_" in value:  # int() would accept "1_000"
            raise ValueError(value)
        number = int(value, 16) if value[:2] in ("0x", "0X") else int(value)
    except ValueError:
        raise InvalidInput(f"not a number: {value[:40]!r}", field=field) from None
    if not 0 <= number <= _MAX_INT:
        raise InvalidInput(f"number out of range: {value[:40]!r}", field=field)
    return number


def basename(path: str) -> str:
    """The last component of a Windows or POSIX path."""
    name = path.rpartition("\\")[2]
    return name.rpartition("/")[2] if "/" in name else name


@dataclass(frozen=True, slots=True)
class Spec:
    """How one kind of event maps to ECS."""

    category: tuple[str, ...] = ()
    type: tuple[str, ...] = ()
    action: str | None = None
    kind: str | None = None
    outcome: str | None = None
    strings: Pairs = ()
    """``(winlog.event_data.<Name>, ECS field)`` copied as text."""
    ints: Pairs = ()
    """``(winlog.event_data.<Name>, ECS field)`` read as integers (decimal or ``0x`` hex)."""
    names: Pairs = ()
    """``(winlog.event_data.<Path>, ECS field)`` given the path's last component."""
    maps: tuple[tuple[str, str, Mapping[str, str]], ...] = ()
    """``(winlog.event_data.<Name>, ECS field, table)``: the value translated (unknown: none)."""
    constants: Pairs = ()
    extras: tuple[Extra, ...] = ()


def apply(spec: Spec, out: Event) -> None:
    """Set into ``out`` the ECS fields ``spec`` derives from its ``winlog.event_data.*``.

    Each spec runs as a function generated once from it (:func:`compile_spec`): straight
    assignments instead of loops over its pairs, which halves the cost of this step.
    """
    entry = _COMPILED.get(id(spec))
    if entry is None or entry[0] is not spec:
        entry = (spec, compile_spec(spec))
        if len(_COMPILED) < _MAX_COMPILED:  # specs come from the tables: a bounded set
            _COMPILED[id(spec)] = entry
    entry[1](out)


def plan_of(spec: Spec) -> Plan:
    """What :func:`compile_spec` does for ``spec``, as the data the C hot path runs
    (``src/native/mapping.c``): the same steps in the same order. Kept once made."""
    entry = _PLANS.get(id(spec))
    if entry is not None and entry[0] is spec:
        return entry[1]
    plan: Plan = (
        tuple((key, list(values)) for key, values in
              (("event.category", spec.category), ("event.type", spec.type)) if values),
        tuple((key, value) for key, value in (("event.action", spec.action),
              ("event.kind", spec.kind), ("event.outcome", spec.outcome)) if value is not None),
        spec.strings,
        tuple((source, target, source.removeprefix(EVENT_DATA)) for source, target in spec.ints),
        spec.names,
        tuple((source, target, dict(table)) for source, target, table in spec.maps),
        spec.constants,
        tuple(_NATIVE_STEPS.get(step, step) for step in spec.extras),
        to_int,
    )  # fmt: skip
    if len(_PLANS) < _MAX_COMPILED:
        _PLANS[id(spec)] = (spec, plan)
    return plan


Plan = tuple[Any, ...]
"""A :class:`Spec` as data for ``maat._native`` (:func:`plan_of`)."""
_PLANS: dict[int, tuple[Spec, Plan]] = {}
_MAX_COMPILED = 4096
_COMPILED: dict[int, tuple[Spec, Callable[[Event], None]]] = {}


def compile_spec(spec: Spec) -> Callable[[Event], None]:
    """A function doing what ``spec`` says, generated as Python source.

    Only the spec's own strings (from Maat's tables, never from input) are written into the
    source, as ``repr`` literals; tables, constants and extra steps are passed as arguments.
    """
    lines = ["def mapped(out):", "    get = out.get"]
    if spec.category:
        lines.append(f"    out['event.category'] = {list(spec.category)!r}")
    if spec.type:
        lines.append(f"    out['event.type'] = {list(spec.type)!r}")
    for key, value in (("event.action", spec.action), ("event.kind", spec.kind),
                       ("event.outcome", spec.outcome)):  # fmt: skip
        if value is not None:
            lines.append(f"    out[{key!r}] = {value!r}")
    for source, target in spec.strings:
        lines += [f"    v = get({source!r})", "    if v and v != '-':",
                  f"        out[{target!r}] = v"]  # fmt: skip
    for source, target in spec.ints:
        name = source.removeprefix(EVENT_DATA)
        lines += [f"    v = get({source!r})", "    if v and v != '-':",
                  "        if v.isdecimal() and len(v) < 19:",
                  f"            out[{target!r}] = int(v)", "        else:",
                  f"            out[{target!r}] = to_int(v, {name!r})"]  # fmt: skip
    for source, target in spec.names:
        lines += [f"    v = get({source!r})", "    if v and v != '-':",
                  "        v = v.rpartition(BACKSLASH)[2]",
                  f"        out[{target!r}] = v.rpartition('/')[2] if '/' in v else v"]  # fmt: skip
    for index, (source, target, _table) in enumerate(spec.maps):
        lines += [f"    v = get({source!r})", "    if v:",
                  f"        m = tables[{index}].get(v.lower())", "        if m is not None:",
                  f"            out[{target!r}] = m"]  # fmt: skip
    for index, (target, _constant) in enumerate(spec.constants):
        lines.append(f"    out[{target!r}] = constants[{index}]")
    for index in range(len(spec.extras)):
        lines.append(f"    extras[{index}](out)")
    namespace: dict[str, object] = {
        "to_int": to_int,
        "BACKSLASH": "\\",
        "tables": tuple(table for _, _, table in spec.maps),
        "constants": tuple(constant for _, constant in spec.constants),
        "extras": spec.extras,
    }
    exec(compile("\n".join(lines), f"<windows spec {spec.action}>", "exec"), namespace)  # noqa: S102
    mapped = namespace["mapped"]
    assert callable(mapped)
    return mapped


# --- mapping steps that need more than a copy ---------------------------------------------

_HASHES = {
    "sha1": "hash.sha1",
    "md5": "hash.md5",
    "sha256": "hash.sha256",
    "sha384": "hash.sha384",
    "sha512": "hash.sha512",
    "imphash": "pe.imphash",
}


# The extras the C mapping (src/native/mapping.c) runs itself, the most frequent: each
# step's data, with the step, which it runs for a value that is not exactly text.
_STEP_USER, _STEP_FILE = 1, 2
_NATIVE_STEPS: dict[Extra, tuple[Any, ...]] = {}


def hashes(source: str, prefix: str) -> Extra:
    """``"SHA1=..,MD5=..,SHA256=..,IMPHASH=.."`` into ``<prefix>.hash.*``, ``.pe.imphash``.

    The digests are lowercased (as ECS has them); one ``lower()`` of the whole value is
    cheaper than one per digest.
    """
    targets = {name: f"{prefix}.{target}" for name, target in _HASHES.items()}
    key = EVENT_DATA + source

    def step(out: Event) -> None:
        value = out.get(key)
        if not value:
            return
        for part in value.lower().split(","):
            name, _, digest = part.partition("=")
            target = targets.get(name)
            if target is None:
                target = targets.get(name.strip())
            if target is not None and digest:
                out[target] = digest.strip()

    return step


def _split_user(value: str, out: Event, name_key: str, domain_key: str) -> None:
    domain, sep, name = value.partition("\\")
    if not sep:
        out[name_key] = value
        return
    if domain:
        out[domain_key] = domain
    out[name_key] = name


def user(source: str, prefix: str = "user") -> Extra:
    """``"DOMAIN\\\\name"`` (or a bare ``name``) into ``<prefix>.domain`` and ``<prefix>.name``."""
    key, name_key, domain_key = EVENT_DATA + source, f"{prefix}.name", f"{prefix}.domain"

    def step(out: Event) -> None:
        value = out.get(key)
        if value and value != "-":
            _split_user(value, out, name_key, domain_key)

    _NATIVE_STEPS[step] = (_STEP_USER, step, key, name_key, domain_key)
    return step


def file_fields(source: str) -> Extra:
    """A file path into ``file.path``, ``file.name``, ``file.directory``, ``file.extension``."""
    key = EVENT_DATA + source

    def step(out: Event) -> None:
        path = out.get(key)
        if not path or path == "-":
            return
        cut = max(path.rfind("\\"), path.rfind("/"))
        name = path[cut + 1 :]
        out["file.path"] = path
        out["file.name"] = name
        if cut > 0:
            out["file.directory"] = path[:cut]
        stem, dot, extension = name.rpartition(".")
        if dot and stem and extension:
            out["file.extension"] = extension

    _NATIVE_STEPS[step] = (_STEP_FILE, step, key)
    return step


def signature(prefix: str) -> Extra:
    """Sysmon ``Signed``/``Signature``/``SignatureStatus`` into ``<prefix>.code_signature``."""

    def step(out: Event) -> None:
        signed = out.get("winlog.event_data.Signed")
        if signed:
            out[f"{prefix}.code_signature.signed"] = signed.lower() == "true"
        status = out.get("winlog.event_data.SignatureStatus")
        if status and status != "-":
            out[f"{prefix}.code_signature.status"] = status
            out[f"{prefix}.code_signature.valid"] = status == "Valid"
        subject = out.get("winlog.event_data.Signature")
        if subject and subject != "-":
            out[f"{prefix}.code_signature.subject_name"] = subject

    return step


_REGISTRY_ACTIONS = {
    "CreateKey": ("registry-key-created", "creation"),
    "DeleteKey": ("registry-key-deleted", "deletion"),
    "CreateValue": ("registry-value-created", "creation"),
    "DeleteValue": ("registry-value-deleted", "deletion"),
}


def registry(value_event: bool | None) -> Extra:
    """Sysmon ``TargetObject`` into ``registry.path``/``hive``/``key``/``value``.

    ``value_event`` says whether the path ends in a value name (Sysmon 13 always, 14 never);
    ``None`` (Sysmon 12) reads it from ``EventType`` (``CreateKey``, ``DeleteValue``, …).
    """

    def step(out: Event) -> None:
        path = out.get("winlog.event_data.TargetObject")
        if not path or path == "-":
            return
        out["registry.path"] = path
        is_value = value_event
        if is_value is None:
            kind = out.get("winlog.event_data.EventType", "")
            known = _REGISTRY_ACTIONS.get(kind)
            if known is not None:  # Sysmon 12 says what happened only in EventType
                out["event.action"], out["event.type"] = known[0], [known[1]]
            is_value = kind.endswith("Value")
        hive, sep, rest = path.partition("\\")
        if not sep:
            return
        out["registry.hive"] = hive
        if is_value:
            key, _, value = rest.rpartition("\\")
            out["registry.key"] = key
            out["registry.value"] = value
        else:
            out["registry.key"] = rest
        details = out.get("winlog.event_data.Details")
        if details and details != "-":
            out["registry.data.strings"] = [details]

    return step


# --- the table notation -------------------------------------------------------------------


def _pairs(text: str) -> Pairs:
    """``"A>x.y, B>z"`` as ``(("winlog.event_data.A", "x.y"), ("winlog.event_data.B", "z"))``."""
    pairs = (item.split(">") for item in text.split(",") if item.strip())
    return tuple((EVENT_DATA + source.strip(), target.strip()) for source, target in pairs)


def spec(
    category: str,
    kind: str,
    action: str | None,
    s: str = "",
    i: str = "",
    n: str = "",
    *extras: Extra,
    base: Spec = Spec(),
    event_kind: str | None = None,
    outcome: str | None = None,
    maps: tuple[tuple[str, str, Mapping[str, str]], ...] = (),
    constants: Pairs = (),
) -> Spec:
    """A :class:`Spec` from the table notation, on top of ``base`` (whose steps come first).

    ``category`` and ``kind`` are space-separated ECS ``event.category``/``event.type``
    values; ``s``, ``i`` and ``n`` are the string, integer and basename pairs.
    """
    return Spec(
        tuple(category.split()),
        tuple(kind.split()),
        action,
        event_kind,
        outcome,
        strings=base.strings + _pairs(s),
        ints=base.ints + _pairs(i),
        names=base.names + _pairs(n),
        maps=base.maps + tuple((EVENT_DATA + name, target, table) for name, target, table in maps),
        constants=base.constants + constants,
        extras=base.extras + extras,
    )

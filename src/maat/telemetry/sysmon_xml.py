"""Windows event XML (``<Event>…</Event>`` and ``<EventData>…</EventData>``), read safely.

Sysmon for Linux writes each event as the Windows ``<Event>`` XML inside a syslog line, and
Log Analytics ``SecurityEvent`` rows carry the ``<EventData>`` element as a string. Both come
from the network, so the text is treated as hostile: its size is bounded, and any document type
or entity declaration is refused before the parser sees it (without a DOCTYPE there is no
entity to expand, so neither "billion laughs" nor external entities can happen).

Two defects of real Sysmon for Linux output are tolerated, both seen in the Mordor Log4Shell
data: the predefined entities written with a space instead of their ``;`` (``&lt unknown
process&gt `` for ``<unknown process>``), which are repaired; and a message cut short by
syslog's line limit (about 2 KiB), which is read up to the cut when its ``<System>`` part is
complete (:attr:`XmlEvent.truncated` then says so; the value that was cut is left out).

The result is flat: ``system`` holds the ``<System>`` values by element name (``EventID``,
``Channel``, ``Computer``, ``EventRecordID``) with the useful attributes lifted to names of
their own (``Provider`` from ``Provider/@Name``, ``TimeCreated`` from
``TimeCreated/@SystemTime``, ``ProcessID``/``ThreadID`` from ``Execution``, ``UserID`` from
``Security``); ``data`` holds every ``<Data Name="…">`` value as text. Unnamed ``<Data>``
elements are named ``param1``, ``param2``, … (as Winlogbeat does); ``<UserData>`` children
are read like ``<EventData>``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from maat.errors import InvalidInput

__all__ = ["MAX_XML_BYTES", "XmlEvent", "parse_event_data_xml", "parse_event_xml"]

MAX_XML_BYTES = 1 << 20
"""Default bound on one event's XML: a Windows event record is at most 64 KiB of UTF-16."""

# Markup declarations an event never needs; comments and CDATA sections are harmless.
_ALLOWED_DECLARATIONS = ("<!--", "<![CDATA[")
# A predefined entity whose ';' is missing: Sysmon for Linux writes a space in its place
# ("&lt unknown process&gt " for "<unknown process>"), so one following space goes with it.
_UNTERMINATED_ENTITY = re.compile(r"&(lt|gt|amp|quot|apos)(?!;) ?")

# Attributes of <System> children that carry the value instead of the element text.
_SYSTEM_ATTRIBUTES: dict[str, tuple[tuple[str, str], ...]] = {
    "Provider": (("Name", "Provider"), ("Guid", "ProviderGuid")),
    "TimeCreated": (("SystemTime", "TimeCreated"),),
    "Execution": (("ProcessID", "ProcessID"), ("ThreadID", "ThreadID")),
    "Security": (("UserID", "UserID"), ("UserId", "UserID")),
    "Correlation": (("ActivityID", "ActivityID"),),
}


@dataclass(frozen=True, slots=True)
class XmlEvent:
    """One ``<Event>``: its ``<System>`` values and its event data, all as text."""

    system: dict[str, str]
    data: dict[str, str]
    truncated: bool = False
    """The text ended before ``</Event>``: ``data`` holds the values read up to the cut."""


@dataclass(slots=True)
class _Parsed:
    root: ET.Element
    truncated: bool
    closed: set[int]
    """``id()`` of the elements whose end tag was read (to tell where a cut fell)."""


def _local(tag: str) -> str:
    """The tag without its ``{namespace}`` prefix."""
    return tag.rpartition("}")[2]


def _check(text: str, *, field: str, max_bytes: int) -> None:
    """Refuse oversized text and any DOCTYPE or ENTITY declaration (see :func:`_parse`)."""
    if len(text) > max_bytes // 4 and len(text.encode("utf-8", "surrogatepass")) > max_bytes:
        raise InvalidInput(f"XML of more than {max_bytes} bytes refused", field=field)
    start = text.find("<!")
    while start >= 0:
        if not text.startswith(_ALLOWED_DECLARATIONS, start):
            raise InvalidInput(
                "XML with a DOCTYPE or ENTITY declaration refused",
                field=field,
                hint="Windows event XML never declares entities; the message was altered",
            )
        start = text.find("<!", start + 2)


def _read(text: str) -> _Parsed:
    """Parse ``text``: the plain parser first, the slower one that can tell a cut only on error."""
    try:
        # Safe: _check has refused any DOCTYPE, so expat has no entity it could expand.
        parser = ET.XMLParser()  # noqa: S314
        parser.feed(text)
        return _Parsed(parser.close(), truncated=False, closed=set())
    except ET.ParseError:
        return _feed(text)


def _feed(text: str) -> _Parsed:
    """Parse ``text``; a document that is well-formed but ends early comes back truncated."""
    # Safe: _check has refused any DOCTYPE, so expat has no entity it could expand.
    parser: ET.XMLPullParser[ET.Element] = ET.XMLPullParser(events=("start", "end"))
    root: ET.Element | None = None
    closed: set[int] = set()
    parser.feed(text)  # raises ParseError on malformed content
    # The stub's item type admits queued parse errors; read_events raises those instead.
    events: Iterator[tuple[str, Any]] = parser.read_events()  # type: ignore[assignment]
    for kind, element in events:
        if not isinstance(element, ET.Element):
            continue  # only start/end were asked for; namespace events carry tuples
        if kind == "start":
            if root is None:
                root = element
        else:
            closed.add(id(element))
    truncated = False
    try:
        parser.close()
    except ET.ParseError:  # no malformed content, only a missing end: the text was cut
        truncated = True
    if root is None:
        raise ET.ParseError("no element found")
    return _Parsed(root, truncated, closed)


def _parse(text: str, *, field: str, max_bytes: int) -> _Parsed:
    """The parsed document, after the safety checks.

    1. Refuse text over ``max_bytes`` (UTF-8), so a huge message cannot exhaust memory.
    2. Refuse any ``<!`` declaration other than a comment or a CDATA section: a DOCTYPE is
       the only way to declare entities, so without one nothing can expand or be fetched.
    3. Parse with expat through ElementTree; an undefined entity reference or malformed
       markup is a parse error, reported as ``InvalidInput`` naming ``field``.
    4. Only when that fails: terminate the five predefined entities that lack their ``;``
       (taking the space Sysmon for Linux writes instead) and parse once more; the repair
       cannot introduce an entity of its own.
    """
    _check(text, field=field, max_bytes=max_bytes)
    try:
        try:
            return _read(text)
        except ET.ParseError:
            repaired = _UNTERMINATED_ENTITY.sub(r"&\1;", text)
            if repaired == text:
                raise
            return _read(repaired)
    except (ET.ParseError, ValueError) as exc:
        # ValueError: text that cannot be encoded for expat (lone surrogates).
        raise InvalidInput(f"malformed XML: {exc}", field=field) from None


def _data_items(parent: ET.Element, out: dict[str, str], closed: set[int] | None = None) -> None:
    """The ``<Data>`` (and other) children of ``<EventData>``/``<UserData>`` into ``out``.

    With ``closed`` (a truncated document), a child whose end was not read is left out: its
    text is incomplete.
    """
    unnamed = 0
    for child in parent:
        if closed is not None and id(child) not in closed:
            continue
        name = child.get("Name")
        if name is None:
            tag = _local(child.tag)
            if tag == "Data":
                unnamed += 1
                name = f"param{unnamed}"
            else:
                name = tag
        out[name] = child.text or ""


def parse_event_data_xml(
    text: str, *, field: str = "EventData", max_bytes: int = MAX_XML_BYTES
) -> dict[str, str]:
    """The named values of an ``<EventData>`` element (found at the root or below it).

    Log Analytics wraps it as ``<DataItem …><EventData>…</EventData></DataItem>`` in its
    ``Event`` table and sends it bare in ``SecurityEvent``. Raises ``InvalidInput`` naming
    ``field`` for unsafe, oversized, malformed or truncated XML.
    """
    parsed = _parse(text, field=field, max_bytes=max_bytes)
    if parsed.truncated:
        raise InvalidInput("truncated XML: the document ends before its last end tag", field=field)
    root = parsed.root
    if _local(root.tag) in ("EventData", "UserData"):
        target: ET.Element | None = root
    else:
        target = next((e for e in root.iter() if _local(e.tag) == "EventData"), None)
    if target is None:
        raise InvalidInput("no <EventData> element in the XML", field=field)
    if _local(target.tag) == "UserData":
        target = next(iter(target), target)
    out: dict[str, str] = {}
    _data_items(target, out)
    return out


def parse_event_xml(
    text: str, *, field: str = "SyslogMessage", max_bytes: int = MAX_XML_BYTES
) -> XmlEvent:
    """The ``<System>`` values and event data of one ``<Event>`` document.

    Raises ``InvalidInput`` naming ``field`` for unsafe, oversized or malformed XML, when the
    root is not ``<Event>`` or has no ``<System>``, or when the text was cut before the end of
    ``<System>``. A text cut later gives an event with ``truncated`` set.
    """
    parsed = _parse(text.strip(), field=field, max_bytes=max_bytes)
    root = parsed.root
    if _local(root.tag) != "Event":
        raise InvalidInput(f"XML root is <{_local(root.tag)[:40]}>, not <Event>", field=field)
    closed = parsed.closed if parsed.truncated else None
    system: dict[str, str] = {}
    data: dict[str, str] = {}
    found_system = False
    for section in root:
        name = _local(section.tag)
        if name == "System":
            if closed is not None and id(section) not in closed:
                raise InvalidInput("truncated XML: the text ends inside <System>", field=field)
            found_system = True
            for child in section:
                tag = _local(child.tag)
                lifted = _SYSTEM_ATTRIBUTES.get(tag)
                if lifted is None:
                    system[tag] = (child.text or "").strip()
                    continue
                for attribute, key in lifted:
                    value = child.get(attribute)
                    if value is not None:
                        system[key] = value
        elif name == "EventData":
            _data_items(section, data, closed)
        elif name == "UserData":
            inner = next(iter(section), None)
            if inner is not None:
                _data_items(inner, data, closed)
    if not found_system:
        raise InvalidInput("<Event> without <System>", field=field)
    return XmlEvent(system=system, data=data, truncated=parsed.truncated)

"""The one form indicator and event values are put in before they are compared.

Both sides go through the same function, so an indicator matches however the log or the
feed happened to write the value:

- domain names: lower case, no final dot, internationalised labels as IDNA A-labels
  (``bücher.example`` and ``xn--bcher-kva.example`` are one name);
- addresses: the compressed text of the address, an IPv4-mapped IPv6 address as its IPv4
  address (``::ffff:cb00:7109`` is ``203.0.113.9``);
- URLs: scheme and host in lower case, no userinfo, no default port, no fragment, escapes
  of unreserved characters decoded (``%6C`` is ``l``) and the others in upper case, no
  ``.``/``..`` segments in the path (RFC 3986 6.2.2); the path and query keep their case
  (servers treat them as case-sensitive);
- times: aware datetimes, so ``10:00:00.500Z`` is later than ``10:00:00Z``.

HTTP logs (Zeek ``http.log``, web-server access logs) hold the request target
(``/payload/x?id=1``) in ``url.original`` and the host in ``url.domain``:
:func:`event_urls` rebuilds the absolute URL from them.
"""

from __future__ import annotations

import bisect
import functools
import ipaddress
import re
import unicodedata
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from encodings import idna
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "event_urls",
    "instant",
    "is_host",
    "like_domain",
    "newer_version",
    "normal_domain",
    "normal_ip",
    "normal_url",
    "text_names",
    "trail_url_prefix",
    "url_body",
    "valid_at",
]

URL_KEYS = ("url.original", "url.full")
_DOTS = re.compile("[.\u3002\uff0e\uff61]")  # the dots IDNA treats as label separators
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443, "ftp": 21}
_ESCAPE = re.compile(r"%[0-9a-f]{2}", re.IGNORECASE)
_HOST = re.compile(r"[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)+\.?")


def normal_domain(value: str) -> str:
    """``value`` as a lower-case name of A-labels without a final dot."""
    name = value.strip().lower()
    if not name.isascii():
        name = ".".join(_a_label(label) for label in _DOTS.split(name))
    return name.rstrip(".")


def _a_label(label: str) -> str:
    if label.isascii():
        return label
    try:
        return bytes(idna.ToASCII(label)).decode("ascii")  # IDNA 2003: nameprep, then punycode
    except UnicodeError:
        return label  # no A-label exists (too long, prohibited code point): it matches only itself


def like_domain(pattern: str) -> str:
    """A STIX ``LIKE`` pattern on a domain name in the form event names are compared in:
    lower case, each dot-separated part with non-ASCII letters as its A-label (``%`` and
    ``_`` kept: a part holding a wildcard and a U-label has no A-label and stays as it is)."""
    lowered = pattern.lower()
    if lowered.isascii():
        return lowered
    return ".".join(
        part if "%" in part or "_" in part else _a_label(part) for part in _DOTS.split(lowered)
    )


def is_host(name: str) -> bool:
    """Whether ``name`` (normalised) is a domain name of at least two labels."""
    return _HOST.fullmatch(name) is not None


def normal_ip(value: str) -> str | None:
    """The address's compressed text (IPv4-mapped IPv6 as IPv4), None when not an address."""
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def normal_url(value: str) -> str | None:
    """``scheme://host[:port]/path[?query]`` of an absolute URL; None when ``value`` is not
    one (no ``scheme://`` or no host, or a port that is not a number)."""
    text = value.strip()
    if "://" not in text:
        return None
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), parts.hostname  # hostname drops userinfo, lowercases
    if not scheme or not host:
        return None
    address = normal_ip(host)
    if address is not None:
        host = f"[{address}]" if ":" in address else address
    else:
        host = normal_domain(host)
    shown_port = f":{port}" if port is not None and port != _DEFAULT_PORTS.get(scheme) else ""
    path = _without_dot_segments(_escapes(parts.path or "/"))
    query = f"?{_escapes(parts.query)}" if parts.query else ""
    return f"{scheme}://{host}{shown_port}{path}{query}"


_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def _escape(match: re.Match[str]) -> str:
    char = chr(int(match.group(0)[1:], 16))
    return char if char in _UNRESERVED else match.group(0).upper()


def _escapes(text: str) -> str:
    """RFC 3986 6.2.2.2: an escaped unreserved character is that character (the client
    chooses the encoding: ``/pay%6Coad`` is ``/payload``); other escapes in upper case."""
    return _ESCAPE.sub(_escape, text)


def _without_dot_segments(path: str) -> str:
    """RFC 3986 5.2.4 on an absolute path: ``/a/./b/../c`` is ``/a/c`` (``..`` never climbs
    above the root)."""
    if "." not in path:
        return path
    segments = path.split("/")[1:]
    out: list[str] = []
    for segment in segments:
        if segment == "..":
            if out:
                out.pop()
        elif segment != ".":
            out.append(segment)
    trailing = segments[-1] in (".", "..")  # "/a/." and "/a/b/.." name a folder: "/a/"
    return "/" + "/".join(out) + ("/" if trailing and out else "")


def trail_url_prefix(entry: str) -> str | None:
    """The ``host[:port]/path`` prefix of a trail-list URL, in the form :func:`url_body`
    gives; None when there is no real host (an empty or path-only prefix would match every
    URL)."""
    scheme, sep, bare = entry.strip().partition("://")
    if not sep:
        scheme, bare = "", entry.strip()
    authority, slash, path = bare.partition("/")
    if not slash:
        return None
    authority = authority.rpartition("@")[2]  # userinfo is never part of what is matched
    name, colon, port = authority.rpartition(":") if authority.count(":") == 1 else ("", "", "")
    if not colon:
        name, port = authority, ""
    elif not port.isdigit():
        return None
    # Event URLs lose their default port (normal_url): so does the trail, for its scheme or,
    # when it names none, for either web scheme.
    defaults = (_DEFAULT_PORTS.get(scheme.lower()),) if scheme else (80, 443)
    if port and int(port) in defaults:
        port = ""
    address = normal_ip(name.strip("[]"))
    if address is not None:
        host = f"[{address}]" if ":" in address else address
    else:
        host = normal_domain(name)
        if not is_host(host):
            return None
    path = _without_dot_segments(_escapes("/" + path))[1:]  # as normal_url puts event paths
    return (f"{host}:{port}" if port else host) + "/" + path.lower()


def url_body(url: str) -> str:
    """What a trail URL prefix is compared with: the URL without its scheme, lower case (a
    Maltrail URL trail is case-insensitive)."""
    return url.split("://", 1)[-1].lower()


def event_urls(event: Mapping[str, Any]) -> Iterator[tuple[str, str, str | None]]:
    """``(field, value, normal URL or None)`` for each URL an event holds, the absolute URL
    rebuilt from ``url.domain`` (and ``url.scheme``, ``url.port``) when ``url.original`` is
    only the request target."""
    for key in URL_KEYS:
        value = event.get(key)
        if isinstance(value, str) and value:
            yield key, value, normal_url(value)
    target = event.get("url.original")
    host = event.get("url.domain")
    if not (isinstance(target, str) and target.startswith("/") and isinstance(host, str) and host):
        return
    try:
        parts = urlsplit(f"//{host}")  # Zeek's url.domain is the Host header: it may hold a port
        logged = event.get("url.port")
        port = int(logged) if logged is not None else parts.port
    except (ValueError, TypeError):
        return
    name = parts.hostname
    if not name:
        return
    authority = (f"[{name}]" if ":" in name else name) + (f":{port}" if port else "")
    for scheme in _schemes(event, port):
        rebuilt = f"{scheme}://{authority}{target}"
        normal = normal_url(rebuilt)
        if normal is not None:
            yield "url.original", rebuilt, normal


def _schemes(event: Mapping[str, Any], port: Any) -> tuple[str, ...]:
    """The scheme of a request whose log gives only the target: the logged one, else the one
    the port says; when neither says, both (an indicator names one host and path either way)."""
    scheme = event.get("url.scheme")
    if isinstance(scheme, str) and scheme:
        return (scheme.lower(),)
    for number in (port, event.get("destination.port")):
        if str(number) == "443":
            return ("https",)
        if str(number) == "80":
            return ("http",)
    return ("http", "https")


def instant(text: str) -> datetime | None:
    """An aware time (a time without a zone is UTC); None when ``text`` is not a time."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def valid_at(valid_from: str, valid_until: str, stamp: Any) -> bool:
    """Whether an indicator valid from ``valid_from`` until ``valid_until`` (either may be
    empty) is matched on an event at ``stamp``: not before it became valid nor after it
    expired."""
    if not isinstance(stamp, str) or not (valid_from or valid_until):
        return True
    moment = instant(stamp)
    if moment is None:
        return True  # an unreadable time never hides a hit
    start = instant(valid_from) if valid_from else None
    end = instant(valid_until) if valid_until else None
    return (start is None or moment >= start) and (end is None or moment < end)


def newer_version(candidate: Mapping[str, Any], current: Mapping[str, Any]) -> bool:
    """Whether the STIX object ``candidate`` replaces ``current``, another version of the same
    object: its ``modified`` time (``created`` when there is none) is the same or later.
    Times are compared as times, not text (``10:00:00.500Z`` is after ``10:00:00Z``); a
    version whose time cannot be read never replaces one whose time can."""
    new, old = _version_time(candidate), _version_time(current)
    if new is None or old is None:
        return old is None
    return new >= old


def _version_time(obj: Mapping[str, Any]) -> datetime | None:
    stamp = obj.get("modified") or obj.get("created")
    return instant(stamp) if isinstance(stamp, str) else None


_TEXT_NAME = re.compile(r"[a-z0-9_.-]+")
_MAX_NAME = 253  # the longest DNS name


@functools.cache
def _wide_name() -> re.Pattern[str]:
    """Names with U-labels: word characters and the combining marks (categories Mn, Mc,
    Me) that ``\\w`` leaves out, which Devanagari, Bengali or Thai names are full of, the
    zero-width joiners some scripts need, and the dots IDNA separates labels with. Built on
    first use (it walks every code point once)."""
    # Marks live below U+30000 and in plane 14 (variation selectors): the rest is unassigned.
    points = (*range(0x300, 0x30000), *range(0xE0000, 0xE1000))
    marks = [chr(c) for c in points if unicodedata.category(chr(c)) in ("Mn", "Mc", "Me")]
    ranges: list[str] = []
    for char in marks:
        if ranges and ord(char) == ord(ranges[-1][-1]) + 1:
            ranges[-1] = ranges[-1][0] + char
        else:
            ranges.append(char)
    marked = "".join(r if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in ranges)
    return re.compile(f"[\\w{marked}\u200c\u200d.\\-\u3002\uff0e\uff61]+")


def text_names(text: str) -> Iterator[tuple[str, bool]]:
    """The names a free text (a command line, a script) may hold: ``(name, True)`` for each
    whole token of name characters, ``(parent, False)`` for each of its parents. A name is
    only ever a whole token or, for a parent, the tail after a dot: ``xevil.example`` and
    ``evil.example.org`` hold no ``evil.example``, and the ASCII tail of a U-label
    (``cher.example`` in ``bücher.example``) is no name of its own. Scanning tokens (no
    regex per indicator) keeps matching linear in the text whatever the size of the feed."""
    lowered = text.lower()
    if lowered.isascii():
        for match in _TEXT_NAME.finditer(lowered):
            yield from _suffixes(match.group())
        return
    wide = _wide_name()
    inside: list[tuple[int, int]] = []  # spans of the tokens that hold non-ASCII characters
    for match in wide.finditer(lowered):
        if not match.group().isascii():
            inside.append(match.span())
            yield from _suffixes(normal_domain(match.group()))
    ends = [end for _, end in inside]
    for match in _TEXT_NAME.finditer(lowered):
        # A piece of a wider token is not a name: that token was looked up whole above.
        at = bisect.bisect_right(ends, match.start())
        if at < len(inside) and inside[at][0] <= match.start():
            continue
        yield from _suffixes(match.group())


def _suffixes(token: str) -> Iterator[tuple[str, bool]]:
    name = token.rstrip(".")
    whole = True
    if len(name) > _MAX_NAME:  # no name is longer: only the tail can be one (or its parents)
        tail = name[-_MAX_NAME - 1 :]
        name, whole = tail[tail.find(".") + 1 :], False
    if whole:
        yield name, True
    start = name.find(".")
    while start != -1:
        rest = name[start + 1 :]
        if "." not in rest:  # a top-level domain alone is never an indicator
            return
        yield rest, False
        start = name.find(".", start + 1)

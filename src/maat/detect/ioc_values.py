"""The one form indicator and event values are put in before they are compared.

Both sides go through the same function, so an indicator matches however the log or the
feed happened to write the value:

- domain names: lower case, no final dot, internationalised labels as IDNA A-labels
  (``bücher.example`` and ``xn--bcher-kva.example`` are one name);
- addresses: the compressed text of the address, an IPv4-mapped IPv6 address as its IPv4
  address (``::ffff:cb00:7109`` is ``203.0.113.9``);
- URLs: scheme and host in lower case, no userinfo, no default port, no fragment, ``%xx``
  escapes in upper case; the path and query keep their case (servers treat them as
  case-sensitive);
- times: aware datetimes, so ``10:00:00.500Z`` is later than ``10:00:00Z``.

HTTP logs (Zeek ``http.log``, web-server access logs) hold the request target
(``/payload/x?id=1``) in ``url.original`` and the host in ``url.domain``:
:func:`event_urls` rebuilds the absolute URL from them.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from encodings import idna
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "event_urls",
    "instant",
    "is_host",
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
    path = _ESCAPE.sub(lambda m: m.group(0).upper(), parts.path or "/")
    query = f"?{_ESCAPE.sub(lambda m: m.group(0).upper(), parts.query)}" if parts.query else ""
    return f"{scheme}://{host}{shown_port}{path}{query}"


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
_WIDE_NAME = re.compile(r"[\w.\-\u3002\uff0e\uff61]+")  # names with U-labels
_MAX_NAME = 253  # the longest DNS name


def text_names(text: str) -> Iterator[tuple[str, bool]]:
    """The names a free text (a command line, a script) may hold: ``(name, True)`` for each
    whole token of name characters, ``(parent, False)`` for each of its parents. A name is
    only ever a whole token or, for a parent, the tail after a dot: ``xevil.example`` and
    ``evil.example.org`` hold no ``evil.example``. Scanning tokens (no regex per indicator)
    keeps matching linear in the text whatever the size of the feed."""
    lowered = text.lower()
    for match in _TEXT_NAME.finditer(lowered):
        yield from _suffixes(match.group())
    if not lowered.isascii():
        for match in _WIDE_NAME.finditer(lowered):
            if not match.group().isascii():
                yield from _suffixes(normal_domain(match.group()))


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

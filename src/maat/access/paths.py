"""The resource a proxied request names: its path, decoded once and with dot-segments
resolved, or nothing when it is ambiguous.

A proxy serves ``/plm/../erp/x`` as ``/erp/x``; deciding on the raw text would let
``engineers may write plm/*`` cover the ERP. Encoded slashes and backslashes, NUL and a
``..`` that climbs above the root are refused outright: upstream servers disagree on them.
So is a ``;``: Tomcat, Jetty and Spring drop ``;params`` from each segment and serve
``/admin;x/users`` as ``/admin/users``, while others read it as a name.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

__all__ = ["resource_path"]

_AMBIGUOUS_ESCAPES = ("%2f", "%5c", "%00")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def resource_path(raw: str) -> str | None:
    """The resource id of a request target (``/a/b?q``): percent-decoded once, empty and
    ``.`` segments dropped, ``..`` applied, without the leading slash. None when the
    target is ambiguous (see the module docstring)."""
    if _CONTROL.search(raw):
        return None  # a tab or newline: parsers disagree on where the target ends
    if raw.lower().startswith(("http://", "https://")):
        # absolute form (a forward proxy's request line): the path starts after the authority
        rest = raw.split("://", 1)[1]
        raw = "/" + rest.split("/", 1)[1] if "/" in rest else "/"
    elif raw.startswith("//"):
        return None  # an authority where a path was expected: servers disagree on it
    path = raw.split("?", 1)[0].split("#", 1)[0]
    lowered = path.lower()
    if any(escape in lowered for escape in _AMBIGUOUS_ESCAPES) or "\\" in path:
        return None
    try:
        decoded = unquote(path, errors="strict") if "%" in path else path
    except UnicodeDecodeError:
        return None
    if "\x00" in decoded or "\\" in decoded or ("%" in decoded and _still_encoded(decoded)):
        return None
    if ";" in decoded:
        return None  # path parameters: "/admin;x/users" and "..;" differ by server (above)
    segments: list[str] = []
    for segment in decoded.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if not segments:
                return None
            segments.pop()
            continue
        segments.append(segment)
    return "/".join(segments)


def _still_encoded(text: str) -> bool:
    """True when decoding once left a percent escape (``%2541`` → ``%41``): a server that
    decodes again would see another path than the one decided."""
    return unquote(text) != text

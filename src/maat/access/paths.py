"""The resource a proxied request names: its path, decoded once and with dot-segments
resolved, or nothing when it is ambiguous.

A proxy serves ``/plm/../erp/x`` as ``/erp/x``; deciding on the raw text would let
``engineers may write plm/*`` cover the ERP. Encoded slashes and backslashes, NUL and a
``..`` that climbs above the root are refused outright: upstream servers disagree on them.
So is a ``;``: Tomcat, Jetty and Spring drop ``;params`` from each segment and serve
``/admin;x/users`` as ``/admin/users``, while others read it as a name. So is a ``%`` left
after decoding once (IIS and ASP.NET read ``%u002f`` as ``/``; a second decoding reads
``%252f`` as one), and a character that Unicode compatibility folding (NFKC) or Windows'
"best fit" conversion to a code page turns into ``/``, ``\\``, ``.``, ``;`` or ``%``: the
fullwidth solidus ``／`` makes ``/admin／users`` one segment here and ``/admin/users`` there.
A target must be ASCII (RFC 3986): anything else is percent-encoded UTF-8.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import unquote

__all__ = ["resource_path"]

_AMBIGUOUS_ESCAPES = ("%2f", "%5c", "%00")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PATH_SYNTAX = frozenset("/\\.;%")
# Best-fit look-alikes NFKC keeps: division, fraction and big slashes, set minus, and the
# currency signs that code pages 932 and 949 (Japan, Korea) put on the backslash's byte.
_BEST_FIT = frozenset("\u2215\u2044\u29f8\u2216\u29f5\u29f9\u00a5\u20a9")


def resource_path(raw: str) -> str | None:
    """The resource id of a request target (``/a/b?q``): percent-decoded once, empty and
    ``.`` segments dropped, ``..`` applied, without the leading slash. None when the
    target is ambiguous (see the module docstring)."""
    if _CONTROL.search(raw):
        return None  # a tab or newline: parsers disagree on where the target ends
    if not raw.isascii():
        # Raw bytes above 127 reach us read as latin-1 ("café" as "cafÃ©"): another
        # resource than "caf%C3%A9", which upstreams serve as the same file.
        return None
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
    if "\x00" in decoded or "\\" in decoded or "%" in decoded or _look_alike(decoded):
        return None  # "%": a literal percent, %uXXXX or a malformed escape (module docstring)
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


def _look_alike(text: str) -> bool:
    """True when a non-ASCII character of ``text`` folds into path syntax on some server
    (``／`` to ``/``, ``．`` to ``.``, ``∕`` to ``/``): names in any script stay decidable."""
    return any(
        not c.isascii() and (c in _BEST_FIT or _PATH_SYNTAX & set(unicodedata.normalize("NFKC", c)))
        for c in text
    )

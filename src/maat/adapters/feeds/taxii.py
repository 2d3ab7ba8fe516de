"""TAXII 2.1 pull: the objects of one collection, page by page, since a point in time.

Follows the TAXII 2.1 envelope (``objects``, ``more``, ``next``) and keeps the server's
``X-TAXII-Date-Added-Last`` so the next pull asks only for what was added after it.
Credentials are HTTP basic or a bearer token; only http(s) URLs are accepted, and the
credentials never follow a redirect to another origin. A pull is bounded as a whole (bytes
and objects, ``[detect] taxii_max_bytes`` and ``taxii_max_objects``), not only page by page,
and stops when the server hands back a ``next`` it already gave.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import orjson

from maat.adapters.feeds.http import get
from maat.config import DetectSettings
from maat.errors import InvalidInput, PayloadTooLarge

__all__ = ["TaxiiPull", "pull_collection"]

MEDIA = "application/taxii+json;version=2.1"
MAX_PAGES = 10_000  # a server that keeps saying "more" cannot keep Maat pulling for ever
# The callers pass settings.detect.taxii_max_bytes / taxii_max_objects; these are the defaults.
_DEFAULTS = DetectSettings()


@dataclass
class TaxiiPull:
    """What one pull brought: the objects, and where the next pull starts."""

    objects: list[dict[str, Any]] = field(default_factory=list)
    added_last: str | None = None
    pages: int = 0

    def bundle(self) -> dict[str, Any]:
        """The objects as a STIX 2.1 bundle (what ``--iocs`` and ``[detect] iocs`` read)."""
        return {"type": "bundle", "id": "bundle--maat-taxii-pull", "objects": self.objects}


def _headers(user: str | None, password: str | None, token: str | None) -> dict[str, str]:
    headers = {"Accept": MEDIA}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    elif user:
        raw = f"{user}:{password or ''}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
    return headers


def _pages(
    api_root: str, collection: str, headers: dict[str, str], added_after: str | None,
    max_bytes: int, timeout: float,
) -> Iterator[tuple[dict[str, Any], dict[str, str]]]:  # fmt: skip
    """The envelopes of a pull, whose bodies come to ``max_bytes`` at most in all."""
    base = f"{api_root.rstrip('/')}/collections/{quote(collection, safe='')}/objects/"
    params: dict[str, str] = {}
    if added_after:
        params["added_after"] = added_after
    used = 0
    given: set[str] = set()
    for _ in range(MAX_PAGES):
        url = base + (f"?{urlencode(params)}" if params else "")
        try:  # each page gets what the pull has left, so the pull as a whole is bounded
            data, answered = get(url, max_bytes=max_bytes - used, timeout=timeout,
                                 headers=headers, agent="maat-taxii")  # fmt: skip
        except PayloadTooLarge:
            raise PayloadTooLarge(
                f"TAXII pull of {base} passed {max_bytes:,} bytes in all",
                hint="raise [detect] taxii_max_bytes, or pull with --state so each pull "
                "brings only what was added since the last",
            ) from None
        used += len(data)
        try:
            envelope = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise InvalidInput(f"TAXII answer is not JSON: {exc}", field=url) from None
        if not isinstance(envelope, dict):
            raise InvalidInput("TAXII answer is not an envelope object", field=url)
        yield envelope, {k.lower(): v for k, v in answered.items()}
        if not envelope.get("more"):
            return
        following = envelope.get("next")
        if not isinstance(following, str) or not following:
            raise InvalidInput("TAXII envelope says more but gives no next", field=url)
        if following in given:  # the same page again: a server in a loop, not more data
            raise InvalidInput(f"TAXII server gave the next page {following[:60]!r} twice",
                               field=url)  # fmt: skip
        given.add(following)
        params["next"] = following
    raise InvalidInput(f"TAXII collection still had more after {MAX_PAGES} pages", field=base)


def pull_collection(
    api_root: str, collection: str, *, added_after: str | None = None, user: str | None = None,
    password: str | None = None, token: str | None = None,
    max_bytes: int = int(_DEFAULTS.taxii_max_bytes),
    max_objects: int = _DEFAULTS.taxii_max_objects, timeout: float = 30.0,
) -> TaxiiPull:  # fmt: skip
    """Every object of ``collection`` added after ``added_after`` (all when None): at most
    ``max_bytes`` of answers and ``max_objects`` objects in all (PayloadTooLarge beyond)."""
    out = TaxiiPull(added_last=added_after)
    headers = _headers(user, password, token)
    for envelope, answered in _pages(api_root, collection, headers, added_after, max_bytes,
                                     timeout):  # fmt: skip
        out.pages += 1
        objects = envelope.get("objects") or []
        if not isinstance(objects, list):
            raise InvalidInput("TAXII envelope objects is not a list", field="objects")
        out.objects.extend(o for o in objects if isinstance(o, dict))
        if len(out.objects) > max_objects:
            raise PayloadTooLarge(
                f"TAXII pull of collection {collection!r} passed {max_objects:,} objects",
                hint="raise [detect] taxii_max_objects, or pull with --state",
            )
        last = answered.get("x-taxii-date-added-last")
        if last:
            out.added_last = last
    return out

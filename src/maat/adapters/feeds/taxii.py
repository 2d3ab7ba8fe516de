"""TAXII 2.1 pull: the objects of one collection, page by page, since a point in time.

Follows the TAXII 2.1 envelope (``objects``, ``more``, ``next``) and keeps the server's
``X-TAXII-Date-Added-Last`` so the next pull asks only for what was added after it.
Credentials are HTTP basic or a bearer token; only http(s) URLs are accepted.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import orjson

from maat.adapters.feeds.http import get
from maat.errors import InvalidInput

__all__ = ["TaxiiPull", "pull_collection"]

MEDIA = "application/taxii+json;version=2.1"
MAX_PAGES = 10_000  # a server that keeps saying "more" cannot keep Maat pulling for ever


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
    base = f"{api_root.rstrip('/')}/collections/{quote(collection, safe='')}/objects/"
    params: dict[str, str] = {}
    if added_after:
        params["added_after"] = added_after
    for _ in range(MAX_PAGES):
        url = base + (f"?{urlencode(params)}" if params else "")
        data, answered = get(url, max_bytes=max_bytes, timeout=timeout, headers=headers,
                             agent="maat-taxii")  # fmt: skip
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
        params["next"] = following
    raise InvalidInput(f"TAXII collection still had more after {MAX_PAGES} pages", field=base)


def pull_collection(
    api_root: str, collection: str, *, added_after: str | None = None, user: str | None = None,
    password: str | None = None, token: str | None = None, max_bytes: int = 64 << 20,
    timeout: float = 30.0,
) -> TaxiiPull:  # fmt: skip
    """Every object of ``collection`` added after ``added_after`` (all when None)."""
    out = TaxiiPull(added_last=added_after)
    headers = _headers(user, password, token)
    for envelope, answered in _pages(api_root, collection, headers, added_after, max_bytes,
                                     timeout):  # fmt: skip
        out.pages += 1
        objects = envelope.get("objects") or []
        if not isinstance(objects, list):
            raise InvalidInput("TAXII envelope objects is not a list", field="objects")
        out.objects.extend(o for o in objects if isinstance(o, dict))
        last = answered.get("x-taxii-date-added-last")
        if last:
            out.added_last = last
    return out

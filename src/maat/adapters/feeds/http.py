"""Fetching feeds (CRLs, TAXII collections) over HTTP(S) with a timeout and a size limit."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Mapping
from urllib.parse import urlparse

from maat.errors import InvalidInput, PayloadTooLarge, StorageError


def fetch(url: str, *, max_bytes: int, timeout: float = 30.0) -> bytes:
    """GET ``url`` (http or https only); refuse bodies over ``max_bytes``."""
    return get(url, max_bytes=max_bytes, timeout=timeout)[0]


def get(
    url: str, *, max_bytes: int, timeout: float = 30.0, headers: Mapping[str, str] | None = None,
    agent: str = "maat-revocation-watch",
) -> tuple[bytes, Mapping[str, str]]:  # fmt: skip
    """GET ``url`` (http or https only) with ``headers``: the body (at most ``max_bytes``)
    and the response headers."""
    scheme = urlparse(url).scheme
    if scheme not in ("http", "https"):
        raise InvalidInput(f"only http and https URLs can be polled, not {scheme!r}", field=url)
    request = urllib.request.Request(url, headers={"User-Agent": agent, **(headers or {})})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - scheme checked
            data: bytes = response.read(max_bytes + 1)
            answered = dict(response.headers.items())
    except urllib.error.HTTPError as exc:
        raise StorageError(
            f"{url} answered HTTP {exc.code}", hint="check the URL and credentials"
        ) from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise StorageError(f"cannot fetch {url}: {getattr(exc, 'reason', exc)}") from None
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"{url} sent more than {max_bytes} bytes")
    return data, answered

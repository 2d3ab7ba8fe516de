"""Fetching feeds (CRLs) over HTTP(S) with a timeout and a size limit."""

from __future__ import annotations

import urllib.error
import urllib.request
from urllib.parse import urlparse

from maat.errors import InvalidInput, PayloadTooLarge, StorageError


def fetch(url: str, *, max_bytes: int, timeout: float = 30.0) -> bytes:
    """GET ``url`` (http or https only); refuse bodies over ``max_bytes``."""
    scheme = urlparse(url).scheme
    if scheme not in ("http", "https"):
        raise InvalidInput(f"only http and https URLs can be polled, not {scheme!r}", field=url)
    request = urllib.request.Request(url, headers={"User-Agent": "maat-revocation-watch"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - scheme checked
            data: bytes = response.read(max_bytes + 1)
    except urllib.error.HTTPError as exc:
        raise StorageError(f"{url} answered HTTP {exc.code}", hint="check the CRL URL") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise StorageError(f"cannot fetch {url}: {getattr(exc, 'reason', exc)}") from None
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"{url} sent more than {max_bytes} bytes")
    return data

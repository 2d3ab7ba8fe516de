"""Fetching feeds (CRLs, TAXII collections) over HTTP(S) with a timeout and a size limit.

Redirects are followed only to http(s) URLs, and credentials (``Authorization``,
``Cookie``) go only to the origin they were given for: a server that redirects elsewhere
never receives them.
"""

from __future__ import annotations

import http.client
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import IO, Any
from urllib.parse import urlsplit

from maat.errors import InvalidInput, PayloadTooLarge, StorageError

# Lower case: urllib stores a header as str.capitalize() gives it ("Proxy-authorization").
_CREDENTIALS = frozenset(("authorization", "cookie", "proxy-authorization"))


def fetch(url: str, *, max_bytes: int, timeout: float = 30.0) -> bytes:
    """GET ``url`` (http or https only); refuse bodies over ``max_bytes``."""
    return get(url, max_bytes=max_bytes, timeout=timeout)[0]


def _origin(url: str) -> tuple[str, str, int | None]:
    """``(scheme, host, port)``; InvalidInput when ``url`` is not an http(s) URL with a host."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:  # "http://[::1/", "http://host:abc/"
        raise InvalidInput(f"not a valid URL: {exc}", field=url) from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise InvalidInput(f"only http and https URLs can be polled, not {scheme!r}", field=url)
    if not parts.hostname:
        raise InvalidInput("the URL has no host", field=url)
    return scheme, parts.hostname, port or (443 if scheme == "https" else 80)


class _SameOriginCredentials(urllib.request.HTTPRedirectHandler):
    """Follows a redirect to http(s) only, without the credentials when it leaves the origin
    (another host, port or scheme: an https -> http downgrade loses them too)."""

    def redirect_request(
        self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str,
        headers: Any, newurl: str,
    ) -> urllib.request.Request | None:  # fmt: skip
        target = _origin(newurl)  # refuses file:, ftp: and malformed targets
        following = super().redirect_request(req, fp, code, msg, headers, newurl)
        if following is not None and target != _origin(req.full_url):
            for name in [*following.headers, *following.unredirected_hdrs]:
                if name.lower() in _CREDENTIALS:
                    following.remove_header(name)
        return following


_OPENER = urllib.request.build_opener(_SameOriginCredentials)


def get(
    url: str, *, max_bytes: int, timeout: float = 30.0, headers: Mapping[str, str] | None = None,
    agent: str = "maat-revocation-watch",
) -> tuple[bytes, Mapping[str, str]]:  # fmt: skip
    """GET ``url`` (http or https only) with ``headers``: the body (at most ``max_bytes``)
    and the response headers. Every failure is a MaatError naming the URL."""
    _origin(url)
    request = urllib.request.Request(url, headers={"User-Agent": agent, **(headers or {})})  # noqa: S310
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            data: bytes = response.read(max_bytes + 1)
            answered = dict(response.headers.items())
    except urllib.error.HTTPError as exc:
        raise StorageError(
            f"{url} answered HTTP {exc.code}", hint="check the URL and credentials"
        ) from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise StorageError(f"cannot fetch {url}: {getattr(exc, 'reason', exc)}") from None
    except http.client.InvalidURL as exc:  # a control character or space in the URL
        raise InvalidInput(f"not a valid URL: {exc!s:.120}", field=url) from None
    except http.client.HTTPException as exc:  # a bad status line, a truncated body
        raise StorageError(
            f"{url} did not answer in HTTP: {type(exc).__name__} {exc!s:.80}",
            hint="check that the URL is the feed's (and http/https is right)",
        ) from None
    except ValueError as exc:  # http.client.InvalidURL and the like, from a redirect target
        raise InvalidInput(f"cannot fetch: {exc!s:.120}", field=url) from None
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"{url} sent more than {max_bytes} bytes")
    return data, answered

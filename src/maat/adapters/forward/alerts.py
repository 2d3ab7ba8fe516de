"""Forward new alerts to a webhook (JSON POST) and to syslog (RFC 5424 framing, CEF body).

Both raise :class:`~maat.errors.Unavailable` on failure; the caller keeps the alert (it is
stored before forwarding) and records the failure, so a down receiver loses nothing. A target
that could never work (credentials in the URL, a host name no resolver takes) is refused with
:class:`~maat.errors.ConfigError` when the settings are loaded; errors name a webhook by
scheme, host and port only, never its path or query (where receivers put their secret).
"""

from __future__ import annotations

import http.client
import socket
import urllib.error
import urllib.request
from datetime import UTC
from urllib.parse import SplitResult, urlsplit

import orjson

from maat import __version__
from maat.detect.alerts import LEVEL_SEVERITY, cef_line
from maat.detect.records import AlertRecord
from maat.errors import ConfigError, Unavailable

__all__ = ["SyslogForwarder", "WebhookForwarder", "alert_json"]


def alert_json(alert: AlertRecord) -> bytes:
    """The alert as the webhook receives it."""
    return orjson.dumps(
        {
            "id": alert.id,
            "rule_id": alert.rule_id,
            "title": alert.title,
            "level": alert.level,
            "techniques": list(alert.techniques),
            "entities": dict(alert.entities),
            "event_ids": list(alert.event_ids),
            "count": alert.count,
            "created_at": alert.created_at.astimezone(UTC).isoformat(),
        }
    )


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect would turn the POST into a GET without the alert: refuse it instead."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def _host(parts: SplitResult, setting: str) -> str:
    """The target's host, checked when the setting is loaded rather than on the first alert.

    1. No ``user:password@``: urllib would take it as part of the host name and every alert
       would fail to forward (and it would be a secret in every error message).
    2. A name that can be resolved at all: each label at most 63 characters once encoded
       (IDNA), no spaces or control characters; otherwise ``send`` could never succeed.
    """
    if "@" in parts.netloc:
        raise ConfigError(
            f"detect.{setting} must not carry user:password@ before the host: it is not sent "
            "as credentials and no alert would be delivered",
            field=setting,
            hint="put a token in the URL path or query, which the receiver can check",
        )
    host = parts.hostname or ""
    if not host or any(ch.isspace() or not ch.isprintable() for ch in host):
        raise ConfigError(f"detect.{setting} has no valid host", field=setting)
    try:
        host.encode("idna")
    except UnicodeError:
        raise ConfigError(
            f"detect.{setting} has a host name that cannot be resolved (a label longer than "
            "63 characters, or an empty one)",
            field=setting,
        ) from None
    return host


def _port(parts: SplitResult, default: int, setting: str) -> int:
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port is None:
        return default
    if not 0 < port < 65536:
        raise ConfigError(f"detect.{setting} has no valid port", field=setting)
    return port


class WebhookForwarder:
    """POST each alert as JSON to one URL (http or https); redirects are failures."""

    name = "webhook"  # what an alert's forwarded_to records

    def __init__(self, url: str, *, timeout: float) -> None:
        if any(ch.isspace() or not ch.isprintable() for ch in url):
            # No request can carry it, and http.client's error would quote the secret path.
            raise ConfigError(
                "detect.webhook_url holds a space or control character: no request can carry it",
                field="webhook_url",
                hint="percent-encode it (a space is %20)",
            )
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError("detect.webhook_url must be an http(s) URL", field="webhook_url")
        host = _host(parts, "webhook_url")
        port = _port(parts, 443 if parts.scheme == "https" else 80, "webhook_url")
        self.url, self.timeout = url, timeout
        # What errors name: the path and query often hold the receiver's secret (a Slack
        # hook, a token), and errors are logged and returned to the caller.
        self.shown = f"{parts.scheme}://{f'[{host}]' if ':' in host else host}:{port}"
        self._secrets = sorted(
            (s for s in (url, parts.path, parts.query, parts.fragment) if len(s) > 1),
            key=len, reverse=True,
        )  # fmt: skip
        self._opener = urllib.request.build_opener(_NoRedirect)

    def _redacted(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "...")
        return text

    def send(self, alert: AlertRecord) -> None:
        """Deliver one alert; ``Unavailable`` when the receiver does not take it."""
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
            self.url,
            data=alert_json(alert),
            method="POST",
            headers={"Content-Type": "application/json", "User-Agent": f"maat/{__version__}"},
        )
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                if response.status >= 300:
                    raise Unavailable(f"webhook answered {response.status}")
        except urllib.error.HTTPError as exc:
            raise Unavailable(f"webhook {self.shown} answered {exc.code}") from None
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
            # ValueError includes UnicodeError (a host IDNA refuses); http.client's own
            # messages may quote the URL, so its secret parts are taken out, before the text
            # is cut (a cut secret would no longer be found, and its start would leak).
            reason = self._redacted(str(exc))[:200]
            raise Unavailable(f"webhook {self.shown} unreachable: {reason}") from None


class SyslogForwarder:
    """Send each alert as a CEF message in an RFC 5424 syslog frame (UDP, or TCP with
    octet counting)."""

    name = "syslog"  # what an alert's forwarded_to records

    def __init__(self, target: str, *, timeout: float) -> None:
        parts = urlsplit(target)
        if parts.scheme not in ("udp", "tcp") or not parts.hostname:
            raise ConfigError("detect.syslog_target must be udp://host:port or tcp://host:port",
                              field="syslog_target")  # fmt: skip
        self.protocol = parts.scheme
        self.address = (_host(parts, "syslog_target"), _port(parts, 514, "syslog_target"))
        self.timeout = timeout

    def message(self, alert: AlertRecord) -> bytes:
        """The syslog frame of one alert (facility security/authorization, 4)."""
        severity = {10: 2, 8: 3, 5: 4, 3: 5, 1: 6}.get(LEVEL_SEVERITY.get(alert.level, 5), 4)
        stamp = alert.created_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
        host = socket.gethostname() or "-"
        body = cef_line(alert, version=__version__)
        return f"<{4 * 8 + severity}>1 {stamp} {host} maat - alert - {body}".encode()

    def send(self, alert: AlertRecord) -> None:
        """Deliver one alert; ``Unavailable`` when the socket fails."""
        data = self.message(alert)
        try:
            if self.protocol == "udp":
                # The receiver's family (IPv4 or IPv6) decides the socket's.
                family, kind, proto, _, where = socket.getaddrinfo(
                    *self.address, type=socket.SOCK_DGRAM
                )[0]
                with socket.socket(family, kind, proto) as sock:
                    sock.sendto(data, where)
            else:
                with socket.create_connection(self.address, timeout=self.timeout) as sock:
                    sock.sendall(b"%d " % len(data) + data)
        except (OSError, ValueError) as exc:
            # ValueError includes UnicodeError: a host name IDNA refuses is not a MaatError
            # and would escape the caller's handling of a down receiver.
            raise Unavailable(f"syslog {self.protocol}://{self.address[0]}:{self.address[1]} "
                              f"unreachable: {exc!s:.200}") from None  # fmt: skip

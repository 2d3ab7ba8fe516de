"""Forward new alerts to a webhook (JSON POST) and to syslog (RFC 5424 framing, CEF body).

Both raise :class:`~maat.errors.Unavailable` on failure; the caller keeps the alert (it is
stored before forwarding) and records the failure, so a down receiver loses nothing.
"""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from datetime import UTC
from urllib.parse import urlsplit

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


class WebhookForwarder:
    """POST each alert as JSON to one URL (http or https)."""

    def __init__(self, url: str, *, timeout: float) -> None:
        if urlsplit(url).scheme not in ("http", "https"):
            raise ConfigError("detect.webhook_url must be an http(s) URL", field="webhook_url")
        self.url, self.timeout = url, timeout

    def send(self, alert: AlertRecord) -> None:
        """Deliver one alert; ``Unavailable`` when the receiver does not take it."""
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
            self.url,
            data=alert_json(alert),
            method="POST",
            headers={"Content-Type": "application/json", "User-Agent": f"maat/{__version__}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                if response.status >= 300:
                    raise Unavailable(f"webhook answered {response.status}")
        except (urllib.error.URLError, OSError) as exc:
            raise Unavailable(f"webhook {self.url} unreachable: {exc}") from exc


class SyslogForwarder:
    """Send each alert as a CEF message in an RFC 5424 syslog frame (UDP, or TCP with
    octet counting)."""

    def __init__(self, target: str, *, timeout: float) -> None:
        parts = urlsplit(target)
        if parts.scheme not in ("udp", "tcp") or not parts.hostname:
            raise ConfigError("detect.syslog_target must be udp://host:port or tcp://host:port",
                              field="syslog_target")  # fmt: skip
        self.protocol = parts.scheme
        self.address = (parts.hostname, parts.port or 514)
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
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                    sock.sendto(data, self.address)
            else:
                with socket.create_connection(self.address, timeout=self.timeout) as sock:
                    sock.sendall(b"%d " % len(data) + data)
        except OSError as exc:
            raise Unavailable(f"syslog {self.protocol}://{self.address[0]}:{self.address[1]} "
                              f"unreachable: {exc}") from exc  # fmt: skip

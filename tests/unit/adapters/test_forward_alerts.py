"""Alert forwarders (webhook, syslog): targets that can never work are refused when the
settings load, and a failure is reported as ``Unavailable`` without the webhook's secret."""

from __future__ import annotations

import http.client
import socket
from datetime import UTC, datetime

import pytest

from maat.adapters.forward.alerts import SyslogForwarder, WebhookForwarder
from maat.detect.alerts import new_alert
from maat.detect.records import AlertRecord
from maat.errors import ConfigError, Unavailable

LONG_LABEL = "a" * 64 + ".example"


def _alert() -> AlertRecord:
    return new_alert({"rule.id": "r", "rule.title": "t", "rule.level": "high"},
                     alert_id="alr_1", now=datetime.now(UTC))  # fmt: skip


def _closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    sock.close()  # nothing listens there now
    return port


def test_a_failed_webhook_does_not_leak_the_secret_in_its_url() -> None:
    port = _closed_port()
    hook = WebhookForwarder(f"http://127.0.0.1:{port}/services/T0/B0/XXSECRETXX?token=tok123",
                            timeout=2)  # fmt: skip
    with pytest.raises(Unavailable) as info:
        hook.send(_alert())
    text = info.value.diagnostics()
    assert f"http://127.0.0.1:{port}" in text  # which receiver, still said
    assert "XXSECRETXX" not in text and "tok123" not in text


def test_a_webhook_error_never_carries_part_of_the_secret_path() -> None:
    secret = "T0KEN" * 60
    # A space or control character in the URL: refused when the settings load, unquoted.
    for bad in (" x", "\r\nX-Injected: 1", "\x00"):
        with pytest.raises(ConfigError, match="space or control character") as refused:
            WebhookForwarder(f"http://127.0.0.1:9/hooks/{secret}{bad}", timeout=1)
        assert "T0KEN" not in refused.value.diagnostics()
    # An error that quotes the whole URL (http.client does) longer than the cut: the secret
    # is taken out before the text is cut, so no piece of it is left behind.
    hook = WebhookForwarder(f"http://127.0.0.1:9/hooks/{secret}", timeout=1)

    def quoting(*args: object, **kwargs: object) -> None:
        raise http.client.InvalidURL(f"cannot send to {hook.url!r} (found at least '~')")

    hook._opener.open = quoting  # type: ignore[method-assign]
    with pytest.raises(Unavailable) as info:
        hook.send(_alert())
    text = info.value.diagnostics()
    assert "T0KEN" not in text and "http://127.0.0.1:9" in text


def test_a_webhook_with_credentials_in_its_url_is_refused_without_echoing_them() -> None:
    with pytest.raises(ConfigError, match="user:password@") as info:
        WebhookForwarder("https://bot:hunter2@hooks.example/h", timeout=5)
    assert "hunter2" not in info.value.diagnostics()
    with pytest.raises(ConfigError):
        SyslogForwarder("tcp://bot:pw@siem.example:514", timeout=5)


@pytest.mark.parametrize("target", [f"udp://{LONG_LABEL}:514", "tcp://a..b:514"])
def test_a_syslog_host_no_resolver_takes_is_refused_when_the_settings_load(target: str) -> None:
    with pytest.raises(ConfigError, match="syslog_target"):
        SyslogForwarder(target, timeout=1)
    with pytest.raises(ConfigError, match="webhook_url"):
        WebhookForwarder(target.replace("udp", "http").replace("tcp", "http"), timeout=1)


def test_a_syslog_send_that_fails_in_the_resolver_is_reported_as_unavailable() -> None:
    forwarder = SyslogForwarder("udp://127.0.0.1:514", timeout=1)
    forwarder.address = (LONG_LABEL, 514)  # a name only the resolver refuses (UnicodeError)
    with pytest.raises(Unavailable, match="unreachable"):
        forwarder.send(_alert())

"""HTTP access and API-gateway logs in JSON, and Maat's own audit records.

Shapes read (all give ``event.module: access_log``, the shape in ``event.dataset``):

- nginx ``log_format … escape=json``: ``remote_addr``, ``time_local`` / ``time_iso8601`` /
  ``msec``, ``request`` (or ``request_method`` + ``request_uri``), ``status``,
  ``body_bytes_sent``, ``http_user_agent``, ``http_referer``, ``request_time``,
  ``upstream_addr``, ``host``, ``remote_user``, ``http_x_forwarded_for``;
- Envoy / Istio JSON access logs: ``start_time``, ``method``, ``path``, ``protocol``,
  ``response_code``, ``bytes_sent``, ``duration`` (ms), ``upstream_host``,
  ``x_forwarded_for``, ``user_agent``, ``authority``, ``request_id``,
  ``downstream_remote_address``, ``response_flags``;
- AWS API Gateway (REST and HTTP APIs): ``requestId``, ``ip``, ``requestTime`` /
  ``requestTimeEpoch``, ``httpMethod``, ``resourcePath`` / ``routeKey`` / ``path``,
  ``status``, ``protocol``, ``responseLength``, ``userAgent``, ``user``;
- a generic shape: a time, ``method``, ``path`` / ``url``, ``status``, a client address, a user;
- Maat's audit records (``GET /v1/audit``): ``seq``, ``at``, ``actor``, ``action``,
  ``target``, ``outcome``, ``details``, ``mac``.

Servers write numbers as text (``"status": "200"``) and ``-`` for nothing; both are read.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from maat.errors import InvalidInput
from maat.telemetry.model import Event, iso_utc, set_url_path

__all__ = [
    "JSON_SOURCES",
    "ApiGatewayLog",
    "EnvoyLog",
    "GenericAccessLog",
    "MaatAuditLog",
    "NginxLog",
]

_MONTHS = {
    "Jan": 1, "Feb": 2, "Mar": 3, "Apr": 4, "May": 5, "Jun": 6,
    "Jul": 7, "Aug": 8, "Sep": 9, "Oct": 10, "Nov": 11, "Dec": 12,
}  # fmt: skip
_IPV4 = re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}", re.A)
_NOTHING = (None, "", "-")
_GENERIC_TIME = ("@timestamp", "timestamp", "time", "date", "datetime")
_GENERIC_METHOD = ("method", "http_method", "verb")
_GENERIC_URL = ("path", "url", "uri", "request_uri")
_GENERIC_STATUS = ("status", "status_code", "statusCode")
_GENERIC_CLIENT = ("client_ip", "clientIp", "remote_ip", "remote_addr", "ip", "src_ip", "source_ip")
_GENERIC_USER = ("user", "username", "user_name", "userName")
_GENERIC_AGENT = ("user_agent", "userAgent", "http_user_agent")
_GENERIC_BYTES = ("bytes_sent", "body_bytes_sent", "response_bytes", "bytes", "size")
_GENERIC_ID = ("request_id", "requestId", "trace_id")
_GENERIC_MS = ("duration_ms", "latency_ms", "elapsed_ms", "response_time_ms")


def _get(record: dict[str, Any], key: str) -> Any:
    value = record.get(key)
    return None if value in _NOTHING else value


def _text(record: dict[str, Any], key: str) -> str | None:
    value = record.get(key)
    if value.__class__ is str:  # the common case first: one check, no call
        return None if value == "-" or not value else value
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise InvalidInput(f"{key} must be text, not {type(value).__name__}", field=key)


def _number(record: dict[str, Any], key: str) -> float | None:
    value = record.get(key)
    if value is None or value == "-" or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            raise InvalidInput(f"{key} is not a number: {value[:40]!r}", field=key) from None
    else:
        raise InvalidInput(f"{key} is not a number: {type(value).__name__}", field=key)
    if not 0 <= number < 1e15:  # also refuses NaN
        raise InvalidInput(f"{key} is out of range: {value!r}", field=key)
    return number


def _count(record: dict[str, Any], key: str) -> int | None:
    number = _number(record, key)
    if number is None:
        return None
    if number != int(number):
        raise InvalidInput(f"{key} is not a whole number: {number}", field=key)
    return int(number)


def _status(out: Event, record: dict[str, Any], key: str) -> None:
    code = _count(record, key)
    if code is None:
        return
    if code > 999:
        raise InvalidInput(f"{key} is not an HTTP status: {code}", field=key)
    if code:  # Envoy writes 0 when no response was sent
        out["http.response.status_code"] = code
    out["event.outcome"] = "success" if 0 < code < 400 else "failure"


def _clf_time(value: str, field: str) -> str | None:
    """``10/Oct/2000:13:55:36 -0700`` (nginx ``$time_local``, API Gateway) as ISO UTC, or
    ``None`` when ``value`` is not in that form."""
    if len(value) != 26 or value[2] != "/" or value[11] != ":":
        return None
    stamp = _clf_utc(value)
    if not stamp:
        raise InvalidInput(f"not a time: {value!r}", field=field)
    return stamp


@lru_cache(maxsize=1024)  # a busy server logs many requests in the same second
def _clf_utc(value: str) -> str:
    """ISO UTC text for a CLF time, ``""`` when it is no real time."""
    month = _MONTHS.get(value[3:6])
    sign = value[21]
    try:
        if month is None or sign not in "+-":
            raise ValueError(value)
        local = datetime(
            int(value[7:11]), month, int(value[0:2]),
            int(value[12:14]), int(value[15:17]), int(value[18:20]),
        )  # fmt: skip
        offset = timedelta(hours=int(value[22:24]), minutes=int(value[24:26]))
        t = local - offset if sign == "+" else local + offset
    except (ValueError, OverflowError):
        return ""
    # Formatted here: strftime costs more than the rest of the record.
    day = f"{t.year:04d}-{t.month:02d}-{t.day:02d}"
    return f"{day}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}.000000Z"


def _time(out: Event, value: object, field: str) -> None:
    if isinstance(value, str):
        digits = value.replace(".", "", 1)
        if digits.isascii() and digits.isdigit() and len(digits) < 30:  # nginx $msec
            value = float(value)
        else:
            clf = _clf_time(value, field)
            if clf is not None:
                out["@timestamp"] = clf
                return
    try:
        out["@timestamp"] = iso_utc(value)
    except InvalidInput as exc:
        raise InvalidInput(exc.message, field=field) from None


def _address(out: Event, prefix: str, address: str) -> None:
    """``ip``, ``ip:port`` or ``[v6]:port`` into ``<prefix>.ip`` / ``.port`` / ``.address``."""
    out[f"{prefix}.address"] = address
    host, port = address, ""
    if address.startswith("["):
        host, _, rest = address[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif address.count(":") == 1:
        host, _, port = address.partition(":")
    if _is_ip(host):
        out[f"{prefix}.ip"] = host
        if port.isascii() and port.isdigit() and len(port) <= 5 and int(port) <= 65535:
            out[f"{prefix}.port"] = int(port)


def _is_ip(text: str) -> bool:
    if _IPV4.fullmatch(text):
        return all(int(part) < 256 for part in text.split("."))
    if ":" not in text:
        return False
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _forwarded(out: Event, value: str | None) -> None:
    if value:
        first = value.split(",", 1)[0].strip()
        if _is_ip(first):
            out["network.forwarded_ip"] = first


def _url(out: Event, uri: str, authority: str | None = None) -> None:
    """``url.*`` from a request target (a path, or an absolute URL through a proxy) and the
    Host header or authority (``host[:port]``)."""
    out["url.original"] = uri
    if uri.startswith(("http://", "https://")):
        try:
            parts = urlsplit(uri)
            host, port = parts.hostname, parts.port
        except ValueError:  # a bracket or port that is not one: keep the original only
            return
        out["url.scheme"] = parts.scheme
        set_url_path(out, parts.path or "/")
        if parts.query:
            out["url.query"] = parts.query
        if host:
            out["url.domain"] = host
        if port is not None:
            out["url.port"] = port
        return
    path, sep, query = uri.partition("?")
    set_url_path(out, path)
    if sep and query:
        out["url.query"] = query
    if authority:
        host, colon, port_text = authority.rpartition(":")
        if colon and "]" not in port_text and port_text.isascii() and port_text.isdigit():
            out["url.domain"] = host.strip("[]")
            if len(port_text) <= 5 and int(port_text) <= 65535:
                out["url.port"] = int(port_text)
        else:
            out["url.domain"] = authority


def _version(out: Event, protocol: str | None) -> None:
    if protocol and protocol.startswith("HTTP/"):
        out["http.version"] = protocol[5:]


def _base(dataset: str) -> Event:
    return {
        "event.dataset": f"access_log.{dataset}",
        "event.category": ["web"],
        "event.type": ["access"],
    }


def _common(out: Event, record: dict[str, Any], keys: tuple[tuple[str, str], ...]) -> None:
    for key, field in keys:
        value = _text(record, key)
        if value is not None:
            out[field] = value


class NginxLog:
    """nginx JSON access logs."""

    name = "access_log"

    def accepts(self, record: dict[str, Any]) -> bool:
        """``remote_addr`` with ``status`` and ``request`` or ``request_uri``."""
        return (
            "remote_addr" in record
            and "status" in record
            and ("request" in record or "request_uri" in record)
        )

    def normalise(self, record: dict[str, Any]) -> Event:
        """ECS fields of one request."""
        out = _base("nginx")
        for key in ("time_iso8601", "time_local", "msec"):
            value = _get(record, key)
            if value is not None:
                _time(out, value, key)
                break
        else:
            raise InvalidInput("no time_iso8601, time_local or msec", field="time_local")
        method, uri, protocol = _text(record, "request_method"), None, None
        request = _text(record, "request")
        if request is not None:
            parts = request.split(" ")
            if len(parts) in (2, 3) and parts[0].isalpha() and parts[0].isupper():
                method, uri = parts[0], parts[1]
                protocol = parts[2] if len(parts) == 3 else None
            else:  # a scanner's garbage or a TLS handshake sent to a plain HTTP port
                out["access_log.request"] = request
        uri = _text(record, "request_uri") or uri
        protocol = _text(record, "server_protocol") or protocol
        if method:
            out["http.request.method"] = method
        if uri:
            _url(out, uri, _text(record, "host") or _text(record, "server_name"))
        _version(out, protocol)
        _status(out, record, "status")
        remote = _text(record, "remote_addr")
        if remote:
            _address(out, "source", remote)
        _forwarded(out, _text(record, "http_x_forwarded_for"))
        size = _count(record, "body_bytes_sent")
        if size is not None:
            out["http.response.body.bytes"] = size
        seconds = _number(record, "request_time")
        if seconds is not None:
            out["event.duration"] = round(seconds * 1e9)
        _common(
            out,
            record,
            (
                ("http_user_agent", "user_agent.original"),
                ("http_referer", "http.request.referrer"),
                ("remote_user", "user.name"),
                ("request_id", "http.request.id"),
                ("upstream_addr", "access_log.upstream.address"),
                ("upstream_status", "access_log.upstream.status"),
            ),
        )
        return out


class EnvoyLog:
    """Envoy (and Istio) JSON access logs."""

    name = "access_log"

    def accepts(self, record: dict[str, Any]) -> bool:
        """``start_time`` with ``response_code``."""
        return "start_time" in record and "response_code" in record

    def normalise(self, record: dict[str, Any]) -> Event:
        """ECS fields of one request."""
        out = _base("envoy")
        start = _get(record, "start_time")
        if start is None:
            raise InvalidInput("start_time is missing", field="start_time")
        _time(out, start, "start_time")
        method = _text(record, "method")
        if method:
            out["http.request.method"] = method
        path = _text(record, "path")
        if path:
            _url(out, path, _text(record, "authority"))
        _version(out, _text(record, "protocol"))
        _status(out, record, "response_code")
        remote = _text(record, "downstream_remote_address")
        if remote:
            _address(out, "source", remote)
        _forwarded(out, _text(record, "x_forwarded_for"))
        for key, field in (
            ("bytes_sent", "http.response.body.bytes"),
            ("bytes_received", "http.request.body.bytes"),
        ):
            size = _count(record, key)
            if size is not None:
                out[field] = size
        millis = _number(record, "duration")
        if millis is not None:
            out["event.duration"] = round(millis * 1e6)
        _common(
            out,
            record,
            (
                ("user_agent", "user_agent.original"),
                ("request_id", "http.request.id"),
                ("upstream_host", "access_log.upstream.address"),
                ("upstream_cluster", "access_log.upstream.cluster"),
                ("response_flags", "access_log.envoy.response_flags"),
                ("route_name", "access_log.route"),
            ),
        )
        return out


class ApiGatewayLog:
    """AWS API Gateway access logs (REST and HTTP APIs, JSON format)."""

    name = "access_log"

    def accepts(self, record: dict[str, Any]) -> bool:
        """``requestId`` with ``httpMethod`` or ``routeKey``."""
        return "requestId" in record and ("httpMethod" in record or "routeKey" in record)

    def normalise(self, record: dict[str, Any]) -> Event:
        """ECS fields of one request."""
        out = _base("aws_apigateway")
        epoch = _number(record, "requestTimeEpoch")
        if epoch is not None:
            # REST APIs log milliseconds, HTTP APIs seconds.
            _time(out, epoch / 1000 if epoch > 1e11 else epoch, "requestTimeEpoch")
        else:
            stamp = _get(record, "requestTime")
            if stamp is None:
                raise InvalidInput("no requestTime or requestTimeEpoch", field="requestTime")
            _time(out, stamp, "requestTime")
        method = _text(record, "httpMethod")
        route = _text(record, "resourcePath") or _text(record, "routeKey")
        if route:
            out["access_log.route"] = route
            if not method and " " in route:  # an HTTP API route key: "GET /pets/{id}"
                method = route.split(" ", 1)[0]
        if method:
            out["http.request.method"] = method
        path = _text(record, "path") or (route if route and route.startswith("/") else None)
        if path:
            _url(out, path, _text(record, "domainName"))
        _version(out, _text(record, "protocol"))
        _status(out, record, "status")
        ip = _text(record, "ip") or _text(record, "sourceIp")
        if ip:
            _address(out, "source", ip)
        size = _count(record, "responseLength")
        if size is not None:
            out["http.response.body.bytes"] = size
        millis = _number(record, "responseLatency")
        if millis is not None:
            out["event.duration"] = round(millis * 1e6)
        _common(
            out,
            record,
            (
                ("requestId", "http.request.id"),
                ("userAgent", "user_agent.original"),
                ("user", "user.name"),
                ("caller", "access_log.aws.caller"),
                ("apiId", "access_log.aws.api_id"),
                ("stage", "access_log.aws.stage"),
                ("extendedRequestId", "access_log.aws.extended_request_id"),
            ),
        )
        return out


def _first(record: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        if key in record:
            return key
    return None


def _filled(record: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    """The first of ``keys`` that holds a value (``-`` and empty hold none)."""
    for key in keys:
        if record.get(key) not in _NOTHING:
            return key
    return None


class GenericAccessLog:
    """Any JSON access log with a method, a path or URL and a status."""

    name = "access_log"

    def accepts(self, record: dict[str, Any]) -> bool:
        """A method, a URL or path and a status key; never a Zeek or Windows record."""
        return (
            _first(record, _GENERIC_METHOD) is not None
            and _first(record, _GENERIC_STATUS) is not None
            and _first(record, _GENERIC_URL) is not None
            and "id.orig_h" not in record
            and "EventID" not in record
            and not any(shape.accepts(record) for shape in _SPECIFIC)
        )

    def normalise(self, record: dict[str, Any]) -> Event:
        """ECS fields of one request."""
        out = _base("generic")
        key = _filled(record, _GENERIC_TIME)
        if key is None or _get(record, key) is None:
            raise InvalidInput("no timestamp, time or date", field="timestamp")
        _time(out, record[key], key)
        method_key = _filled(record, _GENERIC_METHOD)
        method = _text(record, method_key) if method_key else None
        if method:
            out["http.request.method"] = method.upper()
        url_key = _filled(record, _GENERIC_URL)
        url = _text(record, url_key) if url_key else None
        if url:
            _url(out, url, _text(record, "host"))
        status_key = _filled(record, _GENERIC_STATUS)
        if status_key:
            _status(out, record, status_key)
        for keys, field in (
            (_GENERIC_USER, "user.name"),
            (_GENERIC_AGENT, "user_agent.original"),
            (_GENERIC_ID, "http.request.id"),
        ):
            found = _filled(record, keys)
            value = _text(record, found) if found else None
            if value:
                out[field] = value
        client_key = _filled(record, _GENERIC_CLIENT)
        client = _text(record, client_key) if client_key else None
        if client:
            _address(out, "source", client)
        bytes_key = _filled(record, _GENERIC_BYTES)
        size = _count(record, bytes_key) if bytes_key else None
        if size is not None:
            out["http.response.body.bytes"] = size
        ms_key = _filled(record, _GENERIC_MS)
        millis = _number(record, ms_key) if ms_key else None
        if millis is not None:
            out["event.duration"] = round(millis * 1e6)
        _version(out, _text(record, "protocol"))
        return out


_AUDIT_CATEGORY = {"auth": "authentication", "user": "iam", "token": "iam"}
_AUDIT_OUTCOME = {"success": "success", "failure": "failure", "refused": "failure"}


class MaatAuditLog:
    """Maat's own audit records, as ``GET /v1/audit`` returns them."""

    name = "access_log"

    def accepts(self, record: dict[str, Any]) -> bool:
        """``seq``, ``actor``, ``action`` and ``mac`` keys."""
        return "seq" in record and "actor" in record and "action" in record and "mac" in record

    def normalise(self, record: dict[str, Any]) -> Event:
        """ECS fields of one audit record; ``details`` kept under ``maat.audit.details``."""
        out: Event = {"event.dataset": "access_log.maat_audit"}
        at = record.get("at")
        if at is None:
            raise InvalidInput("at (the record's time) is missing", field="at")
        _time(out, at, "at")
        seq = record.get("seq")
        if not isinstance(seq, int) or isinstance(seq, bool):
            raise InvalidInput("seq must be a whole number", field="seq")
        out["maat.audit.seq"] = seq
        for key in ("actor", "action", "target", "outcome", "mac"):
            value = record.get(key)
            if value is None and key in ("target", "outcome"):
                continue
            if not isinstance(value, str):
                raise InvalidInput(f"{key} must be text", field=key)
            out[f"maat.audit.{key}"] = value
        action = out["maat.audit.action"]
        out["event.action"] = action
        category = _AUDIT_CATEGORY.get(action.split(".", 1)[0])
        if category:
            out["event.category"] = [category]
        actor = out["maat.audit.actor"]
        kind, _, who = actor.partition(":")
        if kind == "user" and who:
            out["user.name"] = who
        outcome = _AUDIT_OUTCOME.get(str(out.get("maat.audit.outcome", "")))
        if outcome:
            out["event.outcome"] = outcome
        details = record.get("details")
        if details is not None:
            if not isinstance(details, dict):
                raise InvalidInput("details must be an object", field="details")
            for key, value in details.items():
                if isinstance(value, str | int | float | bool):
                    out[f"maat.audit.details.{key}"] = value
            client = details.get("client")
            if isinstance(client, str) and client:
                _address(out, "source", client)
        return out


_SPECIFIC = (NginxLog(), EnvoyLog(), ApiGatewayLog(), MaatAuditLog())

# The specific shapes first; the generic one also steps aside for them by itself, since the
# dispatcher asks the source of the previous record first.
JSON_SOURCES: tuple[NginxLog | EnvoyLog | ApiGatewayLog | MaatAuditLog | GenericAccessLog, ...] = (
    *_SPECIFIC,
    GenericAccessLog(),
)

"""Zeek logs as JSON lines, mapped to ECS (the TSV format is read by :mod:`.zeek_tsv`).

A JSON record does not name its log, so the log is recognised by its distinctive fields
(``_path`` wins when present): ``conn`` (``conn_state``, ``history``, ``orig_bytes``), ``dns``
(``query``, ``qtype_name``, ``rcode_name``), ``ssl`` (``cipher``, ``server_name``), ``x509``
(``certificate.subject``), ``smb_files`` (``action`` + ``times.*``), ``smb_mapping``
(``share_type``), ``http`` (``method``, ``status_code``), ``files``, ``notice``, ``weird``.

The TSV format starts with a header (``#separator \\x09``, ``#set_separator``,
``#empty_field``, ``#unset_field``, ``#path``, ``#fields``, ``#types``) that gives the log,
the column names and their types; unset (``-``) and empty (``(empty)``) values are dropped
and sets are split. A line whose column count differs from ``#fields`` is reported and the
next lines still parse.

Every log maps its connection to ``source.*`` / ``destination.*`` and ``zeek.session_id``
(the ``uid``), sets ``event.dataset`` to ``zeek.<log>``, maps its own fields to ECS and keeps
the rest under ``zeek.<log>.<field>``.
"""

from __future__ import annotations

import contextlib
import ipaddress
import math
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from maat.errors import InvalidInput
from maat.telemetry.model import Event, epoch_utc, iso_utc, set_url_path

__all__ = ["JSON_SOURCES", "ZeekJson", "log_type", "raw_field_keys"]

Record = dict[str, Any]
_ENDPOINTS = (
    ("id.orig_h", "source.ip", "id.orig_p", "source.port"),
    ("id.resp_h", "destination.ip", "id.resp_p", "destination.port"),
)
_COMMON = frozenset(
    {"ts", "uid", "_path", "_write_ts", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p"}
)
_TLS_PROTOCOLS = {"SSL": "ssl", "TLS": "tls", "DTLS": "dtls"}
_SMB_ACTION = {
    "SMB::FILE_OPEN": ["access"], "SMB::FILE_READ": ["access"], "SMB::FILE_CLOSE": ["access"],
    "SMB::FILE_WRITE": ["change"], "SMB::FILE_RENAME": ["change"],
    "SMB::FILE_SET_ATTRIBUTE": ["change"], "SMB::FILE_DELETE": ["deletion"],
}  # fmt: skip
_DIRECTION = {(True, True): "internal", (True, False): "outbound", (False, True): "inbound"}
_DN_PARTS = {
    "CN": "common_name", "O": "organization", "OU": "organizational_unit", "C": "country",
    "L": "locality", "ST": "state_or_province",
}  # fmt: skip
_DN_SPLIT = re.compile(r"(?<!\\),")
_IPV4 = re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}", re.A)
_ESCAPE = re.compile(rb"\\(\\|x[0-9A-Fa-f]{2})")


def log_type(record: Record) -> str:
    """The Zeek log ``record`` comes from: its ``_path``, else judged by its fields."""
    path = record.get("_path")
    if isinstance(path, str) and path:
        return path
    r = record
    if "certificate.subject" in r or "certificate.serial" in r:
        return "x509"
    if "share_type" in r:
        return "smb_mapping"
    if "action" in r and ("times.modified" in r or "prev_name" in r):
        return "smb_files"
    if "qtype_name" in r or "rcode_name" in r or ("query" in r and "trans_id" in r):
        return "dns"
    if "cipher" in r or "server_name" in r or "validation_status" in r or "ssl_history" in r:
        return "ssl"
    if "method" in r or "status_code" in r or ("uri" in r and "host" in r):
        return "http"
    if "conn_state" in r or "history" in r or "orig_bytes" in r or "duration" in r:
        return "conn"
    if "fuid" in r and ("mime_type" in r or "seen_bytes" in r or "analyzers" in r):
        return "files"
    if "note" in r and "msg" in r:
        return "notice"
    if "name" in r and "notice" in r:
        return "weird"
    return "unknown"


def _is_count(text: str) -> bool:
    """ASCII digits that fit a 64-bit count (``int()`` would take other digits, or raise)."""
    return text.isascii() and text.isdigit() and len(text) < 19


def _str(r: Record, key: str) -> str | None:
    value = r.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{key} must be text, not {type(value).__name__}", field=key)
    return value


def _int(r: Record, key: str) -> int | None:
    value = r.get(key)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _is_count(value):
        return int(value)
    raise InvalidInput(f"{key} must be a whole number: {str(value)[:40]!r}", field=key)


def _float(r: Record, key: str) -> float | None:
    value = r.get(key)
    if value is None:
        return None
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        with contextlib.suppress(ValueError):
            number = float(value)
    if number is not None and math.isfinite(number):  # JSON has no NaN or infinity
        return number
    raise InvalidInput(f"{key} must be a number: {str(value)[:40]!r}", field=key)


def _bool(r: Record, key: str) -> bool | None:
    value = r.get(key)
    return value if isinstance(value, bool) else None


def _time(r: Record, key: str) -> str | None:
    value = r.get(key)
    if value is None:
        return None
    try:
        if value.__class__ is float or value.__class__ is int:
            return epoch_utc(value)
        return iso_utc(value)
    except InvalidInput:
        raise InvalidInput(f"{key} is not a time: {str(value)[:40]!r}", field=key) from None


def _list(r: Record, key: str) -> list[str]:
    value = r.get(key)
    if isinstance(value, list):
        return [v if isinstance(v, str) else str(v) for v in value if v is not None]
    if isinstance(value, str):
        return [value]
    return []


def _nanoseconds(r: Record, key: str) -> int | None:
    seconds = _float(r, key)
    if seconds is None:
        return None
    if not 0 <= seconds < 1e10:
        raise InvalidInput(f"{key} out of range: {seconds}", field=key)
    return round(seconds * 1e9)


Table = tuple[tuple[str, str], ...]


def _table(text: str) -> Table:
    """``"zeek_field=ecs.field …"`` as pairs: the mapping tables below, kept compact."""
    return tuple((k, v) for k, _, v in (pair.partition("=") for pair in text.split()))


def _copy(
    out: Event, r: Record, table: Table, read: Callable[[Record, str], object] = _str
) -> None:
    """``out[field] = read(r, key)`` for each pair of ``table`` whose value is present."""
    for key, field in table:
        value = read(r, key)
        if value is not None and value != "":
            out[field] = value


def _kind(out: Event, category: list[str], kind: list[str], protocol: str | None) -> None:
    out["event.category"] = category
    out["event.type"] = kind
    if protocol:
        out["network.protocol"] = protocol


_CONN_INT = _table(
    "orig_bytes=source.bytes resp_bytes=destination.bytes"
    " orig_pkts=source.packets resp_pkts=destination.packets"
)
_CONN_TEXT = _table("community_id=network.community_id")
_DNS_TEXT = _table(
    "query=dns.question.name qtype_name=dns.question.type qclass_name=dns.question.class"
    " rcode_name=dns.response_code"
)
_SSL_TEXT = _table(
    "cipher=tls.cipher curve=tls.curve server_name=tls.client.server_name"
    " next_protocol=tls.next_protocol subject=tls.server.subject issuer=tls.server.issuer"
    " client_subject=tls.client.subject client_issuer=tls.client.issuer"
)
_X509_TEXT = _table(
    "certificate.serial=x509.serial_number certificate.key_alg=x509.public_key_algorithm"
    " certificate.sig_alg=x509.signature_algorithm certificate.curve=x509.public_key_curve"
)
_X509_DN = _table("certificate.subject=x509.subject certificate.issuer=x509.issuer")
_X509_TIME = _table(
    "certificate.not_valid_before=x509.not_before certificate.not_valid_after=x509.not_after"
)
_SMB_TIME = _table(
    "times.modified=file.mtime times.accessed=file.accessed times.created=file.created"
    " times.changed=file.ctime"
)
_HTTP_TEXT = _table(
    "host=url.domain version=http.version user_agent=user_agent.original"
    " referrer=http.request.referrer username=user.name"
)
_HTTP_INT = _table(
    "status_code=http.response.status_code request_body_len=http.request.body.bytes"
    " response_body_len=http.response.body.bytes"
)
_FILES_TEXT = _table(
    "md5=file.hash.md5 sha1=file.hash.sha1 sha256=file.hash.sha256 mime_type=file.mime_type"
    " filename=file.name"
)
_NOTICE_TEXT = _table("note=rule.name msg=message src=source.ip dst=destination.ip")


def _transport(out: Event, r: Record) -> None:
    proto = _str(r, "proto")
    if proto:
        out["network.transport"] = proto.lower()


def _conn(out: Event, r: Record) -> None:
    service = _str(r, "service")
    _kind(out, ["network"], ["connection"], service.lower() if service else None)
    _transport(out, r)
    duration = _nanoseconds(r, "duration")
    if duration is not None:
        out["event.duration"] = duration
    _copy(out, r, _CONN_INT, _int)
    _copy(out, r, _CONN_TEXT)
    local = (_bool(r, "local_orig"), _bool(r, "local_resp"))
    if local[0] is not None and local[1] is not None:
        out["network.direction"] = _DIRECTION.get((local[0], local[1]), "external")


def _dns(out: Event, r: Record) -> None:
    _kind(out, ["network"], ["protocol"], "dns")
    _transport(out, r)
    trans_id = _int(r, "trans_id")
    if trans_id is not None:
        out["dns.id"] = str(trans_id)
    _copy(out, r, _DNS_TEXT)
    answers = _list(r, "answers")
    if answers:
        out["dns.answers"] = answers
        resolved = [a for a in answers if _is_ip(a)]
        if resolved:
            out["dns.resolved_ip"] = resolved
    out["dns.type"] = "answer" if answers or "rcode_name" in r else "query"
    flags = [flag for flag in ("AA", "TC", "RD", "RA") if r.get(flag) is True]
    if flags:
        out["dns.header_flags"] = flags
    rtt = _nanoseconds(r, "rtt")
    if rtt is not None:
        out["event.duration"] = rtt


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


def _ssl(out: Event, r: Record) -> None:
    _kind(out, ["network"], ["protocol"], "tls")
    version = _str(r, "version")
    if version:
        # Zeek writes TLSv12, SSLv3, DTLSv10; ECS wants "1.2" and "tls".
        name, _, digits = version.partition("v")
        protocol = _TLS_PROTOCOLS.get(name)
        if protocol and digits.isascii() and digits.isdigit():
            out["tls.version"] = f"{digits[0]}.{digits[1:] or '0'}"
            out["tls.version_protocol"] = protocol
        else:
            out["tls.version"] = version
    _copy(out, r, _SSL_TEXT)
    for key, field in (("resumed", "tls.resumed"), ("established", "tls.established")):
        flag = _bool(r, key)
        if flag is not None:
            out[field] = flag


def _dn(out: Event, prefix: str, dn: str) -> None:
    out[f"{prefix}.distinguished_name"] = dn
    for part in _DN_SPLIT.split(dn):
        key, sep, value = part.partition("=")
        name = _DN_PARTS.get(key.strip())
        if sep and name:
            values = out.setdefault(f"{prefix}.{name}", [])
            values.append(value.replace("\\,", ","))


def _x509(out: Event, r: Record) -> None:
    version = _int(r, "certificate.version")
    if version is not None:
        out["x509.version_number"] = str(version)
    _copy(out, r, _X509_TEXT)
    for key, prefix in _X509_DN:
        dn = _str(r, key)
        if dn:
            _dn(out, prefix, dn)
    _copy(out, r, _X509_TIME, _time)
    _copy(out, r, (("certificate.key_length", "x509.public_key_size"),), _int)
    exponent = r.get("certificate.exponent")
    if (
        isinstance(exponent, str)
        and exponent.isascii()
        and exponent.isdigit()
        and len(exponent) < 19
    ):
        out["x509.public_key_exponent"] = int(exponent)
    names = [n for key in ("san.dns", "san.uri", "san.email", "san.ip") for n in _list(r, key)]
    if names:
        out["x509.alternative_names"] = names


def _smb_files(out: Event, r: Record) -> None:
    action = _str(r, "action")
    _kind(out, ["file"], list(_SMB_ACTION.get(action or "", ["info"])), "smb")
    if action:
        out["event.action"] = action
    path, name = _str(r, "path"), _str(r, "name")
    if name:
        out["file.name"] = name.rsplit("\\", 1)[-1]
        # The share path and the name within the share make the file's full path.
        out["file.path"] = path.rstrip("\\") + "\\" + name.lstrip("\\") if path else name
    if path:
        out["file.directory"] = path
    _copy(out, r, (("size", "file.size"),), _int)
    _copy(out, r, _SMB_TIME, _time)


def _smb_mapping(out: Event, r: Record) -> None:
    _kind(out, ["network"], ["access"], "smb")


def _http(out: Event, r: Record) -> None:
    _kind(out, ["network", "web"], ["access"], "http")
    method = _str(r, "method")
    if method:
        out["http.request.method"] = method
    _copy(out, r, _HTTP_TEXT)
    uri = _str(r, "uri")
    if uri:
        out["url.original"] = uri
        path, sep, query = uri.partition("?")
        set_url_path(out, path)
        if sep and query:
            out["url.query"] = query
    _copy(out, r, _HTTP_INT, _int)
    for key, field in (
        ("orig_mime_types", "http.request.mime_type"),
        ("resp_mime_types", "http.response.mime_type"),
    ):
        types = _list(r, key)
        if types:
            out[field] = types[0]


def _files(out: Event, r: Record) -> None:
    _kind(out, ["file"], ["info"], None)
    _copy(out, r, _FILES_TEXT)
    _copy(out, r, (("total_bytes", "file.size"),), _int)


def _notice(out: Event, r: Record) -> None:
    out["event.kind"] = "alert"
    _copy(out, r, _NOTICE_TEXT)
    _copy(out, r, (("p", "destination.port"),), _int)


def _weird(out: Event, r: Record) -> None:
    _copy(out, r, (("name", "rule.name"),))


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


_LOGS: dict[str, tuple[Callable[[Event, Record], None], frozenset[str]]] = {
    "conn": (
        _conn,
        _names("proto service duration orig_bytes resp_bytes orig_pkts resp_pkts community_id"),
    ),
    "dns": (_dns, _names("proto trans_id query qtype_name qclass_name rcode_name answers rtt")),
    "ssl": (
        _ssl,
        _names(
            "version cipher curve server_name next_protocol subject issuer client_subject"
            " client_issuer resumed established"
        ),
    ),
    "x509": (
        _x509,
        _names(
            "certificate.version certificate.serial certificate.subject certificate.issuer"
            " certificate.not_valid_before certificate.not_valid_after certificate.key_alg"
            " certificate.sig_alg certificate.key_length certificate.exponent certificate.curve"
            " san.dns san.uri san.email san.ip"
        ),
    ),
    "smb_files": (
        _smb_files,
        _names("action path name size times.modified times.accessed times.created times.changed"),
    ),
    "smb_mapping": (_smb_mapping, frozenset()),
    "http": (
        _http,
        _names(
            "method host uri version user_agent referrer username password status_code"
            " request_body_len response_body_len"
        ),
    ),
    "files": (_files, _names("md5 sha1 sha256 mime_type filename total_bytes")),
    "notice": (_notice, _names("note msg src dst p")),
    "weird": (_weird, _names("name")),
}


_SCALARS = frozenset({str, int, float, bool})


@lru_cache(maxsize=64)
def _skip(log: str) -> frozenset[str]:
    """The fields of ``log`` not kept under ``zeek.<log>.*``: mapped ones and the 4-tuple."""
    return _COMMON | _LOGS.get(log, (None, frozenset()))[1]


def _event(record: Record, log: str) -> Event:
    """ECS fields for one record of log ``log`` (typed values, dotted Zeek names)."""
    ts = record.get("ts")
    if ts is None or isinstance(ts, bool) or not isinstance(ts, int | float | str):
        raise InvalidInput("ts (the record's time) is missing or not a time", field="ts")
    out: Event = {"@timestamp": _time(record, "ts"), "event.dataset": f"zeek.{log}"}
    uid = record.get("uid")
    if uid is not None:
        if not isinstance(uid, str):
            raise InvalidInput("uid must be text", field="uid")
        out["zeek.session_id"] = uid
    for ip_key, ip_field, port_key, port_field in _ENDPOINTS:
        ip = _str(record, ip_key)
        if ip:
            out[ip_field] = ip
        port = _int(record, port_key)
        if port is not None:
            if not 0 <= port <= 65535:
                raise InvalidInput(f"{port_key} is not a port: {port}", field=port_key)
            out[port_field] = port
    mapper = _LOGS.get(log, (None, frozenset()))[0]
    skip = _skip(log)
    prefix = f"zeek.{log}."
    for key, value in record.items():
        if value.__class__ in _SCALARS:
            if key not in skip:
                out[prefix + key] = value
        elif isinstance(value, list):
            if value and key not in skip:  # an empty set is "(empty)" in TSV, dropped there too
                out[prefix + key] = [v if v.__class__ is str else str(v) for v in value]
        elif isinstance(value, dict):
            raise InvalidInput(f"{key} is a nested object", field=key)
    if mapper is not None:
        mapper(out, record)
    return out


class ZeekJson:
    """Zeek logs written as JSON lines (``LogAscii::use_json``)."""

    name = "zeek"

    def accepts(self, record: dict[str, Any]) -> bool:
        """A ``ts`` with a connection ``uid``, an endpoint, a file id, a certificate or
        a ``_path``."""
        return "ts" in record and (
            "uid" in record
            or "id.orig_h" in record
            or "_path" in record
            or "fuid" in record
            or "certificate.subject" in record
        )

    def normalise(self, record: dict[str, Any]) -> Event:
        """ECS fields of one Zeek record; its log recognised by :func:`log_type`."""
        nested = record.get("id")
        if isinstance(nested, dict):  # a writer that nests the 4-tuple: {"id": {"orig_h": …}}
            record = {k: v for k, v in record.items() if k != "id"}
            for key, value in nested.items():
                record[f"id.{key}"] = value
        return _event(record, log_type(record))


JSON_SOURCES: tuple[ZeekJson, ...] = (ZeekJson(),)


# Raw Zeek names that the mappers above move to ECS under another name (the rest of a log's
# fields stay under zeek.<log>.<name>): what a rule written for Zeek's names reads instead.
_MOVED = {
    "dns": {"answers": "dns.answers", "trans_id": "dns.id", "rtt": "event.duration"},
    "http": {"method": "http.request.method", "uri": "url.original"},
    "smb_files": {
        "action": "event.action",
        "name": "file.name",
        "path": "file.directory",
        "size": "file.size",
    },
    "conn": {"proto": "network.transport", "duration": "event.duration"},
    "notice": {"p": "destination.port"},
    "weird": {"name": "rule.name"},
    "files": {"total_bytes": "file.size"},
    "x509": {"certificate.key_length": "x509.public_key_size"},
}
_TABLES: dict[str, tuple[Table, ...]] = {
    "conn": (_CONN_INT, _CONN_TEXT),
    "dns": (_DNS_TEXT,),
    "ssl": (_SSL_TEXT,),
    "x509": (_X509_TEXT, _X509_DN, _X509_TIME),
    "smb_files": (_SMB_TIME,),
    "http": (_HTTP_TEXT, _HTTP_INT),
    "files": (_FILES_TEXT,),
    "notice": (_NOTICE_TEXT,),
}


def raw_field_keys(log: str) -> dict[str, str]:
    """Zeek field name -> the event key holding it, for the fields of ``log`` this parser
    moves to ECS (the connection 4-tuple and ``uid`` included)."""
    out = {
        "id.orig_h": "source.ip", "id.orig_p": "source.port", "id.resp_h": "destination.ip",
        "id.resp_p": "destination.port", "uid": "zeek.session_id", "ts": "@timestamp",
    }  # fmt: skip
    for table in _TABLES.get(log, ()):
        out.update(dict(table))
    out.update(_MOVED.get(log, {}))
    return out

"""Indicators of compromise: STIX 2.0/2.1 bundles and Maltrail-style trail lists, matched
against events.

Loading keeps every indicator it cannot run as an :class:`IocProblem` with its reason (a
pattern over several events, an object path no Maat event has, another pattern language).
Simple patterns (``[domain-name:value = 'x']``, ``OR`` lists of equalities on domains,
addresses, networks, URLs, hashes and file names) become set entries; every other
single-event pattern is evaluated with :mod:`maat.detect.stix_pattern`.

Domain semantics, the ones that matter for false positives:

- a STIX ``domain-name:value`` is exact: ``a.example.com`` matches only itself;
- a trail-list domain matches itself and its subdomains (what Maltrail does), never its
  parent: the trail ``onmondayr.s3.ap-east-1.amazonaws.com`` says nothing about
  ``amazonaws.com``;
- an ``ip:port`` trail matches the address on any port; the hit says whether the port was
  the one listed.

Values are compared in one form on both sides (IDNA names, IPv4-mapped addresses as IPv4,
URLs without userinfo or default port: :mod:`maat.detect.ioc_values`), and HTTP logs that
hold only the request target are matched on the URL rebuilt with their host.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from maat.detect.ioc_values import (
    URL_KEYS,
    event_urls,
    instant,
    is_host,
    like_domain,
    newer_version,
    normal_domain,
    normal_ip,
    normal_url,
    text_names,
    trail_url_prefix,
    url_body,
    valid_at,
)
from maat.detect.stix_pattern import (
    Comparison,
    CompOr,
    Observation,
    compile_pattern,
    parse_pattern,
    path_parts,
    single_event,
)
from maat.errors import InvalidInput

__all__ = ["Indicator", "IocHit", "IocIndex", "IocProblem", "IocSet", "instant", "load_iocs",
           "newer_version"]  # fmt: skip

# Where each kind of observable lives in Maat's events. A name reached through a CNAME is in
# dns.answers.data (Sysmon 22) or among Zeek's dns.answers.
DOMAIN_KEYS = ("dns.question.name", "destination.domain", "url.domain", "tls.client.server_name",
               "server.domain", "dns.answers.data", "dns.answers")  # fmt: skip
IP_KEYS = (("destination.ip", "destination.port"), ("source.ip", "source.port"),
           ("server.ip", "server.port"), ("client.ip", "client.port"),
           ("dns.resolved_ip", ""))  # fmt: skip
HASH_PREFIXES = ("process", "process.parent", "file", "dll")
HASH_KINDS = ("md5", "sha1", "sha256", "sha384", "sha512")  # what the event mappings carry
_DIGEST_DIGITS = {"md5": 32, "sha1": 40, "sha256": 64, "sha384": 96, "sha512": 128}
FILE_NAME_KEYS = ("file.name", "process.name", "dll.name")
TEXT_KEYS = ("process.command_line", "winlog.event_data.ScriptBlockText")
_ALGORITHMS = {"md5": "md5", "sha1": "sha1", "sha-1": "sha1", "sha256": "sha256",
               "sha-256": "sha256", "sha384": "sha384", "sha-384": "sha384",
               "sha512": "sha512", "sha-512": "sha512"}  # fmt: skip

# STIX object paths -> event keys (for patterns evaluated per event).
_PATHS: dict[str, tuple[str, ...]] = {
    "domain-name:value": DOMAIN_KEYS,
    "ipv4-addr:value": tuple(k for k, _ in IP_KEYS),
    "ipv6-addr:value": tuple(k for k, _ in IP_KEYS),
    "url:value": URL_KEYS,
    "file:name": FILE_NAME_KEYS,
    "file:parent_directory_ref.path": ("file.directory",),
    "process:name": ("process.name",),
    "process:command_line": ("process.command_line",),
    "process:pid": ("process.pid",),
    "network-traffic:dst_port": ("destination.port",),
    "network-traffic:src_port": ("source.port",),
    "network-traffic:dst_ref.value": ("destination.ip",),
    "network-traffic:src_ref.value": ("source.ip",),
    "x509-certificate:serial_number": ("x509.serial_number",),
    "x509-certificate:issuer": ("x509.issuer",),
    "x509-certificate:subject": ("x509.subject",),
    "user-account:user_id": ("user.name", "user.id"),
    "user-account:account_login": ("user.name",),
    "windows-registry-key:key": ("registry.path",),
    "mutex:name": ("winlog.event_data.Name",),
}
for _algo in HASH_KINDS:
    _keys = tuple(f"{p}.hash.{_algo}" for p in HASH_PREFIXES)
    for _name, _kind in _ALGORITHMS.items():
        if _kind == _algo:
            _PATHS[f"file:hashes.{_name}"] = _keys
            _PATHS[f"x509-certificate:hashes.{_name}"] = (f"x509.hash.{_algo}",)

_VT_FILE = re.compile(r"virustotal\.com/gui/file/([0-9a-fA-F]{64})\b")
_VT_IP = re.compile(r"virustotal\.com/gui/ip-address/([0-9a-fA-F.:]+)/")
_HEX = re.compile(r"[0-9a-f]+")


@dataclass(frozen=True, slots=True)
class Indicator:
    """One indicator: its id, what it is called, the kind and value it matches."""

    id: str
    name: str
    kind: (
        str  # domain | domain_tree | ip | cidr | url | url_prefix | md5 | ... | file_name | pattern
    )
    value: str
    source: str
    port: int | None = None
    valid_from: str = ""
    valid_until: str = ""
    labels: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class IocProblem:
    """An indicator (or a file) that will not run, and why."""

    source: str
    indicator: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        """JSON form."""
        return {"source": self.source, "indicator": self.indicator, "reason": self.reason}


@dataclass
class IocSet:
    """Indicators that run, and what did not load."""

    simple: list[Indicator] = field(default_factory=list)
    patterns: list[tuple[Indicator, Any]] = field(default_factory=list)
    problems: list[IocProblem] = field(default_factory=list)

    def extend(self, other: IocSet) -> None:
        """Add ``other``'s indicators and problems."""
        self.simple.extend(other.simple)
        self.patterns.extend(other.patterns)
        self.problems.extend(other.problems)

    def __len__(self) -> int:
        return len({i.id for i in self.simple} | {i.id for i, _ in self.patterns})


# --- trail lists ----------------------------------------------------------------------------


def load_trails(text: str, source: str) -> IocSet:
    """A Maltrail-style list: one domain, address (``ip`` or ``ip:port``), network or URL
    per line; ``#`` comments, whose VirusTotal file and address references are indicators
    too (that is where Maltrail keeps a campaign's hashes)."""
    out = IocSet()
    stem = source.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    name = f"maltrail {stem}"

    def add(kind: str, value: str, port: int | None = None) -> None:
        out.simple.append(Indicator(f"trail:{stem}:{kind}:{value}" + (f":{port}" if port else ""),
                                    name, kind, value, source, port))  # fmt: skip

    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            for digest in _VT_FILE.findall(line):
                add("sha256", digest.lower())
            for address in _VT_IP.findall(line):
                ip = normal_ip(address)
                if ip is not None:
                    add("ip", ip)
            continue
        entry = line.split()[0].lower()
        host, _, port_text = entry.rpartition(":") if entry.count(":") == 1 else (entry, "", "")
        ip = normal_ip(host)
        prefix = trail_url_prefix(entry) if "/" in entry else None
        if ip is not None:
            port = int(port_text) if port_text.isdigit() else None
            add("ip", ip, port)
        elif "/" in entry and _is_network(entry):
            add("cidr", str(ipaddress.ip_network(entry, strict=False)))
        elif prefix is not None:
            add("url_prefix", prefix)
        elif is_host(normal_domain(entry)):  # an internationalised name as its A-labels
            add("domain_tree", normal_domain(entry))
        else:
            out.problems.append(IocProblem(source, entry, f"line {number}: not a domain, "
                                                          "address or URL"))  # fmt: skip
    return out


def _is_network(text: str) -> bool:
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return True


# --- STIX ---------------------------------------------------------------------------------


def load_stix(data: Any, source: str) -> IocSet:
    """The indicators of a STIX 2.0 or 2.1 bundle (or a list of objects, or one object)."""
    out = IocSet()
    if isinstance(data, dict) and data.get("type") == "bundle":
        objects = data.get("objects") or []
    elif isinstance(data, list):
        objects = data
    else:
        objects = [data]
    if not isinstance(objects, list):
        out.problems.append(IocProblem(source, "", "bundle objects is not a list"))
        return out
    # Several versions of one indicator: the latest (``modified`` as a time) is the one in force.
    latest: dict[str, Mapping[str, Any]] = {}
    for obj in objects:
        if not isinstance(obj, dict) or obj.get("type") != "indicator":
            continue
        ident = str(obj.get("id", ""))
        known = latest.get(ident)
        if known is None or newer_version(obj, known):
            latest[ident] = obj
    for ident, obj in latest.items():
        if obj.get("revoked") is True:
            out.problems.append(IocProblem(source, ident, "revoked by its producer; not run"))
            continue
        pattern_type = str(obj.get("pattern_type", "stix"))  # 2.0 has only STIX patterns
        if pattern_type != "stix":
            out.problems.append(IocProblem(source, ident, f"pattern type {pattern_type[:40]!r} "
                                                          "is not STIX; not run"))  # fmt: skip
            continue
        try:
            _add_stix(out, obj, ident, source)
        except InvalidInput as exc:
            out.problems.append(IocProblem(source, ident, exc.message))
        except (ValueError, TypeError, RecursionError) as exc:  # a hostile or broken object
            out.problems.append(IocProblem(source, ident, f"unreadable indicator: {exc!s:.120}"))
    return out


def _add_stix(out: IocSet, obj: Mapping[str, Any], ident: str, source: str) -> None:
    pattern = obj.get("pattern")
    if not isinstance(pattern, str):
        raise InvalidInput("indicator without a pattern")
    tree = parse_pattern(pattern)
    why = single_event(tree)
    if why is not None:
        raise InvalidInput(f"{why}; not run")
    raw_labels = obj.get("indicator_types") or obj.get("labels") or ()
    if not isinstance(raw_labels, list | tuple):
        raise InvalidInput("indicator_types/labels must be a list")
    labels = tuple(str(x) for x in raw_labels)
    for name in ("valid_from", "valid_until"):
        if obj.get(name) is not None and instant(str(obj[name])) is None:
            raise InvalidInput(f"{name} is not a timestamp: {str(obj[name])[:40]!r}")
    base = Indicator(
        id=ident, name=str(obj.get("name") or ident), kind="pattern", value=pattern,
        source=source, valid_from=str(obj.get("valid_from", "")),
        valid_until=str(obj.get("valid_until", "")), labels=labels,
    )  # fmt: skip
    for path in _paths(tree):  # every observation, however deeply joined
        if path in _PATHS:
            continue
        if path.startswith(_HASHES):
            raise InvalidInput(f"hash algorithm {path.partition('.')[2]!r} is not in Maat's "
                               f"events (they carry {', '.join(HASH_KINDS)}); not run")  # fmt: skip
        raise InvalidInput(f"object path {path} has no field in Maat's events; not run")
    simple = _simple_entries(tree)
    if simple is not None:
        for kind, value in simple:
            if kind in _DIGEST_DIGITS and not _is_digest(kind, value):
                out.problems.append(IocProblem(source, ident, f"{value[:40]!r} is not a {kind} "
                                    f"digest ({_DIGEST_DIGITS[kind]} hex digits); never "
                                    "matches, not run"))  # fmt: skip
                continue
            out.simple.append(Indicator(base.id, base.name, kind, value, source,
                                        valid_from=base.valid_from,
                                        valid_until=base.valid_until, labels=labels))  # fmt: skip
        return
    out.patterns.append((base, compile_pattern(_normalised(tree))))


def _is_digest(kind: str, value: str) -> bool:
    return len(value) == _DIGEST_DIGITS[kind] and _HEX.fullmatch(value) is not None


def _paths(node: Any) -> list[str]:
    """The canonical object path of every comparison under ``node`` (observations and joins
    of observations included)."""
    if isinstance(node, Observation):
        return _paths(node.expression)
    if isinstance(node, Comparison) or (hasattr(node, "path") and not hasattr(node, "parts")):
        return [_canonical_path(node.path)]
    return [p for part in getattr(node, "parts", ()) for p in _paths(part)]


def _canonical_path(path: str) -> str:
    kind, prop = path_parts(path)
    if prop.startswith("hashes."):
        algorithm = _ALGORITHMS.get(prop[7:].lower())
        if algorithm is not None:
            prop = f"hashes.{algorithm}"
    return f"{kind}:{prop}"


def _simple_entries(tree: Any) -> list[tuple[str, str]] | None:
    """``(kind, value)`` pairs when the pattern is one observation that is an OR of plain
    equalities on indexable paths, else None."""
    if not isinstance(tree, Observation) or tree.qualifiers:
        return None
    node = tree.expression
    parts = node.parts if isinstance(node, CompOr) else (node,)
    entries = []
    for part in parts:
        if not isinstance(part, Comparison) or part.op != "=" or part.negated:
            return None
        if not isinstance(part.value, str):
            return None
        entry = _simple_entry(_canonical_path(part.path), part.value)
        if entry is None:
            return None
        entries.append(entry)
    return entries


def _simple_entry(path: str, value: str) -> tuple[str, str] | None:
    if path == "domain-name:value":
        return "domain", normal_domain(value)
    if path in ("ipv4-addr:value", "ipv6-addr:value"):
        if "/" in value:
            return (
                ("cidr", str(ipaddress.ip_network(value, strict=False)))
                if _is_network(value)
                else None
            )
        ip = normal_ip(value)
        return ("ip", ip) if ip is not None else None
    if path == "url:value":
        return "url", normal_url(value) or value
    if path.startswith("file:hashes."):
        return path[len("file:hashes.") :], value.lower()
    if path == "file:name":
        return "file_name", value.lower()
    return None


def load_iocs(texts: Iterable[tuple[str, bytes]]) -> IocSet:
    """Indicators from ``(path, bytes)``: JSON is STIX, anything else a trail list."""
    out = IocSet()
    for path, data in texts:
        data = data.removeprefix(b"\xef\xbb\xbf")  # a UTF-8 byte order mark
        head = data.lstrip()[:1]
        if head in (b"{", b"["):
            try:
                document = orjson.loads(data)
            except orjson.JSONDecodeError as exc:
                out.problems.append(IocProblem(path, "", f"not valid JSON: {exc}"))
                continue
            out.extend(load_stix(document, path))
        else:
            out.extend(load_trails(data.decode("utf-8", "replace"), path))
    return out


# --- matching ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IocHit:
    """One indicator matching one event: which, on which field, with which value."""

    indicator: Indicator
    field: str
    value: str
    note: str = ""


class IocIndex:
    """The indicators of an :class:`IocSet`, indexed for one pass per event."""

    def __init__(self, iocs: IocSet) -> None:
        self.problems = list(iocs.problems)
        self.count = len(iocs)
        self._exact: dict[str, dict[str, list[Indicator]]] = {}
        self._cidrs: dict[int, dict[Any, list[Indicator]]] = {}
        self._prefixes: dict[str, list[Indicator]] = {}  # by host[:port], the part before "/"
        for indicator in iocs.simple:
            if indicator.kind == "cidr":
                network = ipaddress.ip_network(indicator.value)
                bucket = self._cidrs.setdefault(network.prefixlen if network.version == 4
                                                else 1000 + network.prefixlen, {})  # fmt: skip
                bucket.setdefault(network.network_address, []).append(indicator)
            elif indicator.kind == "url_prefix":
                host = indicator.value.partition("/")[0]
                self._prefixes.setdefault(host, []).append(indicator)
            else:
                kind = "domain" if indicator.kind == "domain_tree" else indicator.kind
                self._exact.setdefault(kind, {}).setdefault(indicator.value, []).append(indicator)
        self._trees = {i.value for i in iocs.simple if i.kind == "domain_tree"}
        self._patterns = iocs.patterns

    def match(self, event: Mapping[str, Any]) -> list[IocHit]:
        """Every indicator ``event`` contains (each once)."""
        hits: dict[str, IocHit] = {}
        stamp = event.get("@timestamp")

        def hit(indicator: Indicator, key: str, value: str, note: str = "") -> None:
            if indicator.id in hits:
                return
            if valid_at(indicator.valid_from, indicator.valid_until, stamp):
                hits[indicator.id] = IocHit(indicator, key, value, note)

        exact = self._exact
        domains = exact.get("domain", {})
        if domains:
            for key in DOMAIN_KEYS:
                raw = event.get(key)
                for value in raw if isinstance(raw, list) else (raw,):
                    if isinstance(value, str) and value:
                        self._match_domain(value, key, hit)
        addresses = exact.get("ip", {})
        for key, port_key in IP_KEYS:
            raw = event.get(key)
            for value in raw if isinstance(raw, list) else (raw,):
                if not isinstance(value, str) or not value:
                    continue
                ip = normal_ip(value)
                if ip is None:
                    continue
                port = event.get(port_key) if port_key else None
                for indicator in addresses.get(ip, ()):
                    note = ""
                    if indicator.port is not None:
                        same = str(port) == str(indicator.port)
                        note = f"port {port} (listed: {indicator.port})" if not same else ""
                    hit(indicator, key, value, note)
                if self._cidrs:
                    self._match_cidr(ip, key, value, hit)
        urls = exact.get("url", {})
        if urls or self._prefixes:
            for key, value, normal in event_urls(event):
                for indicator in urls.get(normal or value, ()):
                    hit(indicator, key, value)
                body = url_body(normal or value)
                for indicator in self._prefixes.get(body.partition("/")[0], ()):
                    if body.startswith(indicator.value):
                        hit(indicator, key, value)
        for algorithm in HASH_KINDS:
            table = exact.get(algorithm)
            if table:
                for prefix in HASH_PREFIXES:
                    key = f"{prefix}.hash.{algorithm}"
                    value = event.get(key)
                    if isinstance(value, str):
                        for indicator in table.get(value.lower(), ()):
                            hit(indicator, key, value)
        names = exact.get("file_name")
        if names:
            for key in FILE_NAME_KEYS:
                value = event.get(key)
                if isinstance(value, str):
                    for indicator in names.get(value.lower(), ()):
                        hit(indicator, key, value)
        if domains:
            for key in TEXT_KEYS:
                value = event.get(key)
                if isinstance(value, str) and value:
                    for name, whole in text_names(value):
                        for indicator in domains.get(name, ()):
                            # a parent in the text is a trail's subdomain, never an exact name
                            if whole or indicator.kind == "domain_tree":
                                hit(indicator, key, value[:200])
        if self._patterns:
            values = _values(event)
            when = instant(stamp) if isinstance(stamp, str) else None
            for indicator, matcher in self._patterns:
                if indicator.id not in hits and matcher(values, when):
                    hit(indicator, "pattern", indicator.value)
        return list(hits.values())

    def _match_domain(self, value: str, key: str, hit: Any) -> None:
        domains = self._exact["domain"]
        name = normal_domain(value)
        for indicator in domains.get(name, ()):
            hit(indicator, key, value)
        labels = name.split(".")
        for cut in range(1, len(labels) - 1):  # parents, never the name's own TLD
            parent = ".".join(labels[cut:])
            if parent in self._trees:
                for indicator in domains.get(parent, ()):
                    if indicator.kind == "domain_tree":
                        hit(indicator, key, value)

    def _match_cidr(self, ip: str, key: str, value: str, hit: Any) -> None:
        address = ipaddress.ip_address(ip)
        for length, table in self._cidrs.items():
            if (length >= 1000) != (address.version == 6):
                continue
            bits = length - 1000 if length >= 1000 else length
            network = ipaddress.ip_network(f"{address}/{bits}", strict=False)
            for indicator in table.get(network.network_address, ()):
                hit(indicator, key, value)


def _values(event: Mapping[str, Any]) -> Any:
    def values(path: str) -> list[Any]:
        canonical = _canonical_path(path)
        if canonical == "url:value":  # absolute URLs, rebuilt from host and target if need be
            return [normal or value for _, value, normal in event_urls(event)]
        found: list[Any] = []
        for key in _PATHS.get(canonical, ()):
            value = event.get(key)
            if isinstance(value, list):
                found.extend(value)
            elif value is not None:
                found.append(value)
        normal = _normaliser(canonical)
        return [normal(v) if isinstance(v, str) else v for v in found] if normal else found

    return values


def _lower(value: str) -> str:
    return value.lower()


def _address(value: str) -> str:
    return normal_ip(value) or value  # a network ('10.0.0.0/8') stays as written


def _url(value: str) -> str:
    return normal_url(value) or value


_HASHES = ("file:hashes.", "x509-certificate:hashes.")


def _normaliser(canonical: str) -> Callable[[str], str] | None:
    """How a path's values are compared (on both sides: the indicator's at load, the event's
    at match): domains, addresses, URLs and hashes in their one form, the rest as given."""
    if canonical == "domain-name:value":
        return normal_domain
    if canonical in ("ipv4-addr:value", "ipv6-addr:value") or canonical.endswith("_ref.value"):
        return _address
    if canonical == "url:value":
        return _url
    return _lower if canonical.startswith(_HASHES) else None


def _normalised(node: Any) -> Any:
    """``node`` with the values its event values are compared with put in the same form.

    Only ``=``, ``!=`` and ``IN`` values are literal values: a ``MATCHES`` expression keeps
    its text (``\\D`` lower-cased would be ``\\d``) and runs without case on fields that have
    none; a ``LIKE`` pattern is lower-cased there (``%`` and ``_`` have no case), its domain
    labels as A-labels."""
    if isinstance(node, Comparison):
        normal = _normaliser(_canonical_path(node.path))
        value = node.value
        if normal is None:
            return node
        if node.op in ("=", "!=", "IN"):
            if isinstance(value, str):
                value = normal(value)
            elif isinstance(value, tuple):
                value = tuple(normal(v) if isinstance(v, str) else v for v in value)
        elif normal is not _url and isinstance(value, str) and node.op in ("MATCHES", "LIKE"):
            if node.op == "MATCHES":
                value = "(?i)" + value
            else:  # event domains are A-labels: so are a LIKE pattern's U-labels
                value = like_domain(value) if normal is normal_domain else value.lower()
        return dataclasses.replace(node, value=value)
    if isinstance(node, Observation):
        return dataclasses.replace(node, expression=_normalised(node.expression))
    parts = getattr(node, "parts", None)
    if parts is not None:
        return dataclasses.replace(node, parts=tuple(_normalised(p) for p in parts))
    return node

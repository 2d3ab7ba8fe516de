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
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import re2  # type: ignore[import-untyped]

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

__all__ = ["Indicator", "IocHit", "IocIndex", "IocProblem", "IocSet", "load_iocs"]

# Where each kind of observable lives in Maat's events.
DOMAIN_KEYS = ("dns.question.name", "destination.domain", "url.domain", "tls.client.server_name",
               "server.domain")  # fmt: skip
IP_KEYS = (("destination.ip", "destination.port"), ("source.ip", "source.port"),
           ("server.ip", "server.port"), ("client.ip", "client.port"),
           ("dns.resolved_ip", ""))  # fmt: skip
URL_KEYS = ("url.original", "url.full")
HASH_PREFIXES = ("process", "process.parent", "file", "dll")
HASH_KINDS = ("md5", "sha1", "sha256", "sha512")
FILE_NAME_KEYS = ("file.name", "process.name", "dll.name")
TEXT_KEYS = ("process.command_line", "winlog.event_data.ScriptBlockText")
_ALGORITHMS = {"md5": "md5", "sha1": "sha1", "sha-1": "sha1", "sha256": "sha256",
               "sha-256": "sha256", "sha512": "sha512", "sha-512": "sha512"}  # fmt: skip

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
_HOST = re.compile(r"[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)+\.?")


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


def _normal_domain(value: str) -> str:
    return value.strip().rstrip(".").lower()


def _normal_ip(value: str) -> str | None:
    text = value.strip().lower()
    if text.startswith("::ffff:") and "." in text:
        text = text[7:]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


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
                ip = _normal_ip(address)
                if ip is not None:
                    add("ip", ip)
            continue
        entry = line.split()[0].lower()
        host, _, port_text = entry.rpartition(":") if entry.count(":") == 1 else (entry, "", "")
        ip = _normal_ip(host)
        if ip is not None:
            port = int(port_text) if port_text.isdigit() else None
            add("ip", ip, port)
        elif "/" in entry and _is_network(entry):
            add("cidr", str(ipaddress.ip_network(entry, strict=False)))
        elif "/" in entry and _url_prefix(entry) is not None:
            add("url_prefix", _url_prefix(entry) or "")
        elif _HOST.fullmatch(entry):
            add("domain_tree", _normal_domain(entry))
        else:
            out.problems.append(IocProblem(source, entry, f"line {number}: not a domain, "
                                                          "address or URL"))  # fmt: skip
    return out


def _url_prefix(entry: str) -> str | None:
    """``host[:port]/path`` of a trail URL, or None when there is no real host (an empty or
    path-only prefix would match every URL)."""
    bare = entry.split("://", 1)[1] if "://" in entry else entry
    host, slash, path = bare.partition("/")
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    if not slash or not (_HOST.fullmatch(name) or _normal_ip(name) is not None):
        return None
    return f"{host}/{path}"


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
    # Several versions of one indicator: the latest (highest ``modified``) is the one in force.
    latest: dict[str, Mapping[str, Any]] = {}
    for obj in objects:
        if not isinstance(obj, dict) or obj.get("type") != "indicator":
            continue
        ident = str(obj.get("id", ""))
        known = latest.get(ident)
        if known is None or str(obj.get("modified", "")) >= str(known.get("modified", "")):
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
        if obj.get(name) is not None and _instant(str(obj[name])) is None:
            raise InvalidInput(f"{name} is not a timestamp: {str(obj[name])[:40]!r}")
    base = Indicator(
        id=ident, name=str(obj.get("name") or ident), kind="pattern", value=pattern,
        source=source, valid_from=str(obj.get("valid_from", "")),
        valid_until=str(obj.get("valid_until", "")), labels=labels,
    )  # fmt: skip
    simple = _simple_entries(tree)
    if simple is not None:
        for kind, value in simple:
            out.simple.append(Indicator(base.id, base.name, kind, value, source,
                                        valid_from=base.valid_from,
                                        valid_until=base.valid_until, labels=labels))  # fmt: skip
        return
    for path in _paths(tree.expression if isinstance(tree, Observation) else None):
        if path not in _PATHS:
            raise InvalidInput(f"object path {path} has no field in Maat's events; not run")
    if not isinstance(tree, Observation):
        for part in tree.parts:
            for path in _paths(part.expression if isinstance(part, Observation) else None):
                if path not in _PATHS:
                    raise InvalidInput(f"object path {path} has no field in Maat's events")
    out.patterns.append((base, compile_pattern(_normalised(tree))))


def _paths(node: Any) -> list[str]:
    if node is None:
        return []
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
        return "domain", _normal_domain(value)
    if path in ("ipv4-addr:value", "ipv6-addr:value"):
        if "/" in value:
            return (
                ("cidr", str(ipaddress.ip_network(value, strict=False)))
                if _is_network(value)
                else None
            )
        ip = _normal_ip(value)
        return ("ip", ip) if ip is not None else None
    if path == "url:value":
        return "url", value
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
        self._prefixes: list[Indicator] = []
        for indicator in iocs.simple:
            if indicator.kind == "cidr":
                network = ipaddress.ip_network(indicator.value)
                bucket = self._cidrs.setdefault(network.prefixlen if network.version == 4
                                                else 1000 + network.prefixlen, {})  # fmt: skip
                bucket.setdefault(network.network_address, []).append(indicator)
            elif indicator.kind == "url_prefix":
                self._prefixes.append(indicator)
            else:
                kind = "domain" if indicator.kind == "domain_tree" else indicator.kind
                self._exact.setdefault(kind, {}).setdefault(indicator.value, []).append(indicator)
        self._trees = {i.value for i in iocs.simple if i.kind == "domain_tree"}
        self._patterns = iocs.patterns
        self._text = self._text_matcher(iocs.simple)

    @staticmethod
    def _text_matcher(simple: Sequence[Indicator]) -> tuple[Any, list[Indicator]] | None:
        """Domains in free text (command lines, scripts): whole names only; a trail domain
        may be preceded by a subdomain, an exact one may not."""
        domains = [i for i in simple if i.kind in ("domain", "domain_tree")]
        if not domains:
            return None
        matcher = re2.Set.SearchSet(re2.Options())
        for indicator in domains:
            before = (
                r"(?:^|[^a-z0-9_-])" if indicator.kind == "domain_tree" else r"(?:^|[^a-z0-9_.-])"
            )
            matcher.Add(
                before + re2.escape(indicator.value) + r"(?:$|[^a-z0-9_.-]|\.(?:$|[^a-z0-9_-]))"
            )
        matcher.Compile()
        return matcher, domains

    def match(self, event: Mapping[str, Any]) -> list[IocHit]:
        """Every indicator ``event`` contains (each once)."""
        hits: dict[str, IocHit] = {}

        def hit(indicator: Indicator, key: str, value: str, note: str = "") -> None:
            if indicator.id not in hits and _valid_at(indicator, event.get("@timestamp")):
                hits[indicator.id] = IocHit(indicator, key, value, note)

        exact = self._exact
        domains = exact.get("domain", {})
        for key in DOMAIN_KEYS:
            value = event.get(key)
            if isinstance(value, str) and value:
                name = _normal_domain(value)
                for indicator in domains.get(name, ()):
                    hit(indicator, key, value)
                labels = name.split(".")
                for cut in range(1, len(labels) - 1):  # parents, never the name's own TLD
                    parent = ".".join(labels[cut:])
                    if parent in self._trees:
                        for indicator in domains.get(parent, ()):
                            if indicator.kind == "domain_tree":
                                hit(indicator, key, value)
        addresses = exact.get("ip", {})
        for key, port_key in IP_KEYS:
            raw = event.get(key)
            for value in raw if isinstance(raw, list) else (raw,):
                if not isinstance(value, str) or not value:
                    continue
                ip = _normal_ip(value)
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
        for key in URL_KEYS:
            value = event.get(key)
            if isinstance(value, str) and value:
                for indicator in exact.get("url", {}).get(value, ()):
                    hit(indicator, key, value)
                bare = value.split("://", 1)[-1].lower()
                for indicator in self._prefixes:
                    if bare.startswith(indicator.value):
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
        if self._text is not None:
            matcher, domain_list = self._text
            for key in TEXT_KEYS:
                value = event.get(key)
                if isinstance(value, str) and value:
                    text = value.lower().encode("utf-8", "surrogatepass")
                    for index in matcher.Match(text) or ():
                        hit(domain_list[index], key, value[:200])
        if self._patterns:
            values = _values(event)
            stamp = event.get("@timestamp")
            when = _instant(stamp) if isinstance(stamp, str) else None
            for indicator, matcher in self._patterns:
                if indicator.id not in hits and matcher(values, when):
                    hit(indicator, "pattern", indicator.value)
        return list(hits.values())

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
        found: list[Any] = []
        canonical = _canonical_path(path)
        for key in _PATHS.get(canonical, ()):
            value = event.get(key)
            if isinstance(value, list):
                found.extend(value)
            elif value is not None:
                found.append(value)
        normal = _NORMAL.get(canonical) or (_lower if canonical.startswith(_HASHES) else None)
        return [normal(v) if isinstance(v, str) else v for v in found] if normal else found

    return values


def _lower(value: str) -> str:
    return value.lower()


# Values compared as Maat stores them: hashes in lower case, domains without case or a final
# dot, on both sides (the indicator's values are normalised at load, the event's here).
_NORMAL = {"domain-name:value": _normal_domain}
_HASHES = ("file:hashes.", "x509-certificate:hashes.")


def _normalised(node: Any) -> Any:
    """``node`` with the values of hash and domain comparisons normalised."""
    if isinstance(node, Comparison):
        canonical = _canonical_path(node.path)
        normal = _NORMAL.get(canonical) or (_lower if canonical.startswith(_HASHES) else None)
        if normal is None:
            return node
        value = node.value
        if isinstance(value, str):
            value = normal(value)
        elif isinstance(value, tuple):
            value = tuple(normal(v) if isinstance(v, str) else v for v in value)
        return dataclasses.replace(node, value=value)
    if isinstance(node, Observation):
        return dataclasses.replace(node, expression=_normalised(node.expression))
    parts = getattr(node, "parts", None)
    if parts is not None:
        return dataclasses.replace(node, parts=tuple(_normalised(p) for p in parts))
    return node


def _valid_at(indicator: Indicator, stamp: Any) -> bool:
    """An indicator is not matched on events before it became valid or after it expired."""
    if not isinstance(stamp, str) or not (indicator.valid_from or indicator.valid_until):
        return True
    moment = _instant(stamp)
    if moment is None:
        return True  # an unreadable time never hides a hit
    start = _instant(indicator.valid_from) if indicator.valid_from else None
    end = _instant(indicator.valid_until) if indicator.valid_until else None
    return (start is None or moment >= start) and (end is None or moment < end)


def _instant(text: str) -> datetime | None:
    """An aware time (a time without a zone is UTC); None when it is not a time."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)

"""Linux audit records: raw ``audit.log`` lines and Azure Sentinel's AUOMS syslog records.

The kernel writes one *event* as several records sharing an id (``msg=audit(<epoch>:<id>)``):
``SYSCALL`` (who, which call, the outcome), ``EXECVE`` (the arguments), ``CWD``, one ``PATH``
per file touched, ``PROCTITLE``, and ``EOE`` when the kernel closes the event. Records of one
event are consecutive in practice but may interleave with another's, so
:class:`AuditdText` groups them by id and emits an event when its ``EOE`` arrives, when more
than ``max_pending`` events are open, when an event has been silent for ``max_gap`` lines, or
when it holds ``max_records`` records: memory stays bounded whatever the input. User-space
records (``USER_LOGIN``, ``ADD_USER``, …) are events of one record and leave at once.

Untrusted strings (``comm``, ``exe``, ``cwd``, file names, ``proctitle``, ``EXECVE``
arguments, ``key``) are written quoted when plain and hex-encoded when they hold spaces,
quotes or control characters; both forms are decoded here.

:class:`AuoMsJson` reads the Azure Monitor agent's AUOMS records, one JSON object per event,
whose ``SyslogMessage`` is ``type=AUOMS_EXECVE audit(<epoch>:<id>): key=value …``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from maat.errors import InvalidInput
from maat.telemetry.model import Event, utc_second

__all__ = ["JSON_SOURCES", "TEXT_SOURCES", "AuditdText", "AuoMsJson"]

_RECORD = re.compile(
    r"(?:node=(\S+) )?type=(\S+) msg=audit\((\d{1,12})\.(\d{1,9}):(\d{1,20})\):\s?(.*)", re.S | re.A
)
_AUOMS = re.compile(
    r"type=(AUOMS_\S+) audit\((\d{1,12})\.(\d{1,9}):(\d{1,20})\):\s?(.*)", re.S | re.A
)
# key=value; a value is "quoted", 'quoted' (the msg='…' of user-space records) or bare.
_PAIR = re.compile(r"""([A-Za-z0-9_\[\]-]+)=("[^"]*"|'[^']*'|\[[^\]]*\]|\S*)""")
_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})+")
_ARG = re.compile(r"a(\d{1,5})(?:\[(\d{1,5})\])?", re.A)

# Fields the kernel hex-encodes when they contain unsafe characters (auparse's "escaped" set).
_ENCODED = frozenset(
    {"comm", "exe", "cwd", "name", "proctitle", "key", "path", "acct", "cmd", "new", "old", "dir"}
)
EXECVE_ARGS = 10  # a0..a9 are also kept as auditd.a0..auditd.a9
_MAX_EPOCH = 253402300799  # 9999-12-31T23:59:59Z, the last time ISO 8601 can write
_UNSET_ID = "4294967295"  # (uid_t)-1: the login uid of a process never logged in
# User-space records (pam, sshd, useradd, systemd, auditd itself) are events of one record.
_STANDALONE = (
    "USER_",
    "CRED_",
    "DAEMON_",
    "SERVICE_",
    "SYSTEM_",
    "ADD_",
    "DEL_",
    "GRP_",
    "ANOM_LOGIN",
)

# Syscall numbers to names, for the two architectures seen in practice.
_SYSCALLS = {
    "c000003e": {  # x86_64
        0: "read", 1: "write", 2: "open", 41: "socket", 42: "connect", 43: "accept",
        49: "bind", 50: "listen", 56: "clone", 57: "fork", 58: "vfork", 59: "execve",
        62: "kill", 82: "rename", 83: "mkdir", 84: "rmdir", 85: "creat", 86: "link",
        87: "unlink", 88: "symlink", 90: "chmod", 92: "chown", 101: "ptrace", 105: "setuid",
        165: "mount", 175: "init_module", 176: "delete_module", 257: "openat",
        263: "unlinkat", 264: "renameat", 268: "fchmodat", 288: "accept4",
        313: "finit_module", 316: "renameat2", 319: "memfd_create", 322: "execveat",
        44: "sendto", 46: "sendmsg", 54: "setsockopt", 63: "uname", 91: "fchmod", 93: "fchown",
        94: "lchown", 99: "sysinfo", 103: "syslog", 106: "setgid", 113: "setreuid",
        117: "setresuid", 133: "mknod", 135: "personality", 157: "prctl", 161: "chroot",
        169: "reboot", 246: "kexec_load", 259: "mknodat", 272: "unshare", 308: "setns",
        317: "seccomp", 321: "bpf",
    },
    "c00000b7": {  # aarch64
        56: "openat", 35: "unlinkat", 38: "renameat", 53: "fchmodat", 198: "socket",
        200: "bind", 202: "accept", 203: "connect", 220: "clone", 221: "execve",
        242: "accept4", 279: "memfd_create", 281: "execveat", 117: "ptrace",
        33: "mknodat", 92: "personality", 116: "syslog", 179: "sysinfo", 51: "chroot",
        97: "unshare", 268: "setns", 277: "seccomp", 280: "bpf",
    },
}  # fmt: skip
_ARCHES = {"c000003e": "x86_64", "c00000b7": "aarch64", "40000003": "i386"}

# (event.category, event.type) by syscall name and by user-space record type.
_SYSCALL_KIND: dict[str, tuple[list[str], list[str]]] = {
    "execve": (["process"], ["start"]),
    "execveat": (["process"], ["start"]),
    "clone": (["process"], ["start"]),
    "fork": (["process"], ["start"]),
    "vfork": (["process"], ["start"]),
    "kill": (["process"], ["end"]),
    "ptrace": (["process"], ["access"]),
    "open": (["file"], ["access"]),
    "openat": (["file"], ["access"]),
    "creat": (["file"], ["creation"]),
    "mkdir": (["file"], ["creation"]),
    "link": (["file"], ["creation"]),
    "symlink": (["file"], ["creation"]),
    "memfd_create": (["file"], ["creation"]),
    "unlink": (["file"], ["deletion"]),
    "unlinkat": (["file"], ["deletion"]),
    "rmdir": (["file"], ["deletion"]),
    "rename": (["file"], ["change"]),
    "renameat": (["file"], ["change"]),
    "renameat2": (["file"], ["change"]),
    "chmod": (["file"], ["change"]),
    "fchmodat": (["file"], ["change"]),
    "chown": (["file"], ["change"]),
    "connect": (["network"], ["connection", "start"]),
    "accept": (["network"], ["connection", "start"]),
    "accept4": (["network"], ["connection", "start"]),
    "bind": (["network"], ["connection"]),
    "init_module": (["driver"], ["start"]),
    "finit_module": (["driver"], ["start"]),
    "delete_module": (["driver"], ["end"]),
}
_RECORD_KIND: dict[str, tuple[list[str], list[str]]] = {
    "USER_AUTH": (["authentication"], ["info"]),
    "USER_LOGIN": (["authentication", "session"], ["start"]),
    "USER_LOGOUT": (["authentication", "session"], ["end"]),
    "USER_ERR": (["authentication"], ["info"]),
    "ANOM_LOGIN_FAILURES": (["authentication"], ["info"]),
    "USER_START": (["session"], ["start"]),
    "USER_END": (["session"], ["end"]),
    "ADD_USER": (["iam"], ["user", "creation"]),
    "DEL_USER": (["iam"], ["user", "deletion"]),
    "ADD_GROUP": (["iam"], ["group", "creation"]),
    "DEL_GROUP": (["iam"], ["group", "deletion"]),
    "USER_MGMT": (["iam"], ["user", "change"]),
    "USER_CHAUTHTOK": (["iam"], ["user", "change"]),
    "GRP_MGMT": (["iam"], ["group", "change"]),
    "SERVICE_START": (["process"], ["start"]),
    "SERVICE_STOP": (["process"], ["end"]),
}
_OUTCOME = {"yes": "success", "no": "failure", "success": "success", "failed": "failure"}


def _timestamp(sec: str, frac: str) -> str:
    """ISO UTC text for ``<sec>.<frac>`` built exactly (no float rounding of milliseconds)."""
    seconds = int(sec)
    if seconds > _MAX_EPOCH:
        raise InvalidInput(f"audit time out of range: {sec}", field="@timestamp")
    try:
        prefix = utc_second(seconds)
    except (OverflowError, OSError, ValueError) as exc:
        raise InvalidInput(f"audit time out of range: {sec}", field="@timestamp") from exc
    return f"{prefix}.{frac[:6]:0<6}Z"


def _int(value: str, field: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise InvalidInput(f"not an integer: {value[:40]!r}", field=field) from None


def _digits(value: str) -> bool:
    return value.isascii() and value.isdigit() and len(value) < 20


def _decode_hex(value: str) -> str | None:
    if len(value) % 2 or not _HEX.fullmatch(value):
        return None
    return bytes.fromhex(value).decode("utf-8", "replace")


def _pairs(body: str) -> dict[str, str]:
    """The ``key=value`` pairs of ``body``, values as written (quotes kept, hex not decoded).

    The kernel hex-encodes any string holding a space or a quote, so splitting on spaces is
    exact for kernel records; anything else (user-space ``msg='…'``, a quoted value holding a
    space) takes the slower quote-aware reading. The first occurrence of a key wins, so a
    crafted value cannot shadow a field written before it.
    """
    if "\x1d" in body:  # enriched logs append translated fields after a GS character
        body = body.replace("\x1d", " ")
    if "'" not in body:
        fields: dict[str, str] = {}
        for token in body.split(" "):
            key, sep, value = token.partition("=")
            if not sep:
                if token:
                    break  # a value holding a space: read again, quote-aware
                continue
            if '"' in value and not _balanced(value):
                break
            if key not in fields:
                fields[key] = value
        else:
            return fields
    fields = {}
    _quoted_pairs(body, fields)
    return fields


def _balanced(value: str) -> bool:
    first = value[0]
    if first == '"':
        return len(value) >= 2 and value[-1] == '"' and value.count('"') == 2
    return first == "[" and value[-1] == "]" and value.count('"') % 2 == 0


def _quoted_pairs(body: str, into: dict[str, str]) -> None:
    for key, raw in _PAIR.findall(body):
        if raw[:1] == "'":
            # A user-space record: msg='op=… acct="…" res=success' carries the fields inside.
            _quoted_pairs(raw[1:-1], into)
        elif key not in into:
            into[key] = raw


def _text(f: dict[str, str], key: str) -> str | None:
    """The decoded text of field ``key``: unquoted, or hex-decoded where the kernel encodes."""
    value = f.get(key)
    if value is None:
        return None
    if value[:1] == '"':
        return value[1:-1]
    if value in ("(null)", "?", "(none)", ""):
        return None
    if key in _ENCODED:
        decoded = _decode_hex(value)
        return value if decoded is None else decoded
    return value


def _split_nul(text: str) -> list[str]:
    return [part for part in text.split("\x00") if part]


def _set_syscall(out: Event, f: dict[str, str]) -> str | None:
    """The syscall fields of ``f`` (SYSCALL record or AUOMS record); returns its name."""
    arch = f.get("arch")
    if arch is not None:
        out["auditd.arch"] = _ARCHES.get(arch, arch)
    syscall = _text(f, "SYSCALL") or _text(f, "syscall")  # enriched logs name it in SYSCALL
    name: str | None = None
    if syscall is not None:
        # Raw logs give the number (named here for the usual architectures), AUOMS the name.
        name = _SYSCALLS.get(arch or "", {}).get(int(syscall)) if _digits(syscall) else syscall
        out["auditd.syscall"] = name or syscall
    success = f.get("success")
    if success is not None:
        outcome = _OUTCOME.get(success)
        if outcome:
            out["event.outcome"] = outcome
    exit_code = f.get("exit")
    if exit_code is not None:
        out["auditd.exit"] = _int(exit_code, "exit")
    return name


# (record key, ECS field) for the text fields of the acting process and user.
_SUBJECT = (
    ("uid", "user.id"),
    ("euid", "user.effective.id"),
    ("gid", "group.id"),
    ("user", "user.name"),
    ("effective_user", "user.effective.name"),
    ("group", "group.name"),
    ("acct", "user.name"),
    ("UID", "user.name"),  # enriched logs translate ids to names in upper-case fields
    ("EUID", "user.effective.name"),
    ("GID", "group.name"),
    ("exe", "process.executable"),
    ("comm", "process.name"),
    ("cwd", "process.working_directory"),
    ("tty", "auditd.tty"),
    ("ses", "auditd.session"),
    ("hostname", "source.domain"),
    ("addr", "source.ip"),
    ("terminal", "auditd.terminal"),
    ("op", "auditd.op"),
    ("unit", "service.name"),  # SERVICE_START / SERVICE_STOP: the systemd unit
)


def _set_subject(out: Event, f: dict[str, str]) -> None:
    """Process and user fields common to SYSCALL, user-space and AUOMS records."""
    pid = f.get("pid")
    if pid is not None:
        out["process.pid"] = _int(pid.strip('"'), "pid")
    ppid = f.get("ppid")
    if ppid is not None:
        out["process.parent.pid"] = _int(ppid.strip('"'), "ppid")
    for key, target in _SUBJECT:
        if key in f:
            value = _text(f, key)
            if value is not None:
                out[target] = value
    auid = _text(f, "auid")
    if auid is not None and auid != _UNSET_ID:
        out["user.audit.id"] = auid
    rule_key = _text(f, "key")
    if rule_key is not None:
        # Several rule keys are joined by \x01 (the reason the kernel hex-encodes them).
        out["auditd.key"] = rule_key.replace("\x01", ",")
    res = _text(f, "res")
    if res is not None:
        outcome = _OUTCOME.get(res)
        if outcome:
            out["event.outcome"] = outcome


def _sockaddr(out: Event, saddr: str) -> None:
    """The peer of a SOCKADDR record (hex ``struct sockaddr``): IPv4 and IPv6 only."""
    if len(saddr) < 8 or _HEX.fullmatch(saddr) is None or len(saddr) % 2:
        return
    data = bytes.fromhex(saddr)
    family = int.from_bytes(data[0:2], "little")
    if family == 2 and len(data) >= 8:
        out["destination.port"] = int.from_bytes(data[2:4], "big")
        out["destination.ip"] = ".".join(str(b) for b in data[4:8])
        out["network.type"] = "ipv4"
    elif family == 10 and len(data) >= 24:
        out["destination.port"] = int.from_bytes(data[2:4], "big")
        words = [data[i : i + 2].hex() for i in range(8, 24, 2)]
        out["destination.ip"] = ":".join(w.lstrip("0") or "0" for w in words)
        out["network.type"] = "ipv6"


def _args(execve: dict[str, str]) -> list[str]:
    """EXECVE ``a0..aN`` in order; long arguments come in pieces ``a1[0]``, ``a1[1]``, …"""
    parts: dict[int, list[tuple[int, str]]] = {}
    for key, value in execve.items():
        match = _ARG.fullmatch(key)
        if match is None:
            continue
        if value[:1] == '"':
            text = value[1:-1]
        else:
            decoded = _decode_hex(value)
            text = value if decoded is None else decoded
        index = int(match.group(1))
        piece = int(match.group(2)) if match.group(2) is not None else 0
        parts.setdefault(index, []).append((piece, text))
    return ["".join(v for _, v in sorted(pieces)) for _, pieces in sorted(parts.items())]


def _categorise(out: Event, syscall: str | None, primary: str) -> None:
    kind = _SYSCALL_KIND.get(syscall) if syscall else _RECORD_KIND.get(primary)
    if kind is not None:
        out["event.category"] = list(kind[0])
        out["event.type"] = list(kind[1])
    out["event.action"] = syscall or primary.lower()


def _build(records: list[tuple[str, dict[str, str]]], stamp: str, seq: str) -> Event:
    """One event from the records of one audit id."""
    out: Event = {"@timestamp": stamp, "auditd.sequence": _int(seq, "msg")}
    types = [t for t, _ in records]
    out["auditd.record_types"] = types
    out["event.dataset"] = "auditd.log"
    syscall: str | None = None
    paths: list[str] = []
    nametypes: list[str] = []
    args: list[str] | None = None
    call_args: list[str] = []
    title: list[str] | None = None
    primary = types[0]
    for rtype, f in records:
        if rtype == "SYSCALL":
            primary = rtype
            syscall = _set_syscall(out, f) or f.get("syscall")
            _set_subject(out, f)
            call_args = [f.get(f"a{i}", "") for i in range(4)]
        elif rtype == "EXECVE":
            args = _args(f)
            # The first arguments by their record names too: Sigma's auditd rules read them.
            for index, arg in enumerate(args[:EXECVE_ARGS]):
                out[f"auditd.a{index}"] = arg
        elif rtype == "CWD":
            cwd = _text(f, "cwd")
            if cwd is not None:
                out["process.working_directory"] = cwd
        elif rtype == "PATH":
            name = _text(f, "name")
            nametype = f.get("nametype")
            if name is not None and nametype != "PARENT":
                paths.append(name)
            if nametype is not None and nametype not in nametypes:
                nametypes.append(nametype)
        elif rtype == "PROCTITLE":
            proctitle = _text(f, "proctitle")
            if proctitle is not None:
                title = _split_nul(proctitle)
        elif rtype == "SOCKADDR":
            saddr = f.get("saddr")
            if saddr is not None:
                _sockaddr(out, saddr)
        elif rtype != "EOE":
            _set_subject(out, f)
    if args is None:
        # No EXECVE: a0..a3 are the call's own arguments (hex in the log; decimal here, as
        # rules write them: syslog's action 4, socket's family 38).
        for index, value in enumerate(call_args):
            if value and len(value) <= 16 and all(c in "0123456789abcdefABCDEF" for c in value):
                out[f"auditd.a{index}"] = str(int(value, 16))
    if args is None and title:
        args = title
    if args:
        out["process.args"] = args
        out["process.args_count"] = len(args)
        out["process.command_line"] = " ".join(args)
    if title:
        out["process.title"] = " ".join(title)
    if paths:
        out["file.path"] = paths[0]
        out["auditd.paths"] = paths
    if nametypes:
        out["auditd.nametypes"] = nametypes
    _categorise(out, syscall, primary)
    return out


class _Pending:
    __slots__ = ("first", "last", "lines", "records", "seq", "stamp")

    def __init__(self, first: int, stamp: str, seq: str) -> None:
        self.first = first
        self.last = first
        self.stamp = stamp
        self.seq = seq
        self.lines: list[bytes] = []
        self.records: list[tuple[str, dict[str, str]]] = []


class AuditdText:
    """Raw ``audit.log`` lines (``type=… msg=audit(…): …``), one event per audit id."""

    name = "auditd"

    def __init__(self, *, max_pending: int = 64, max_gap: int = 256, max_records: int = 256):
        """Bounds: open events, lines an event may stay silent, and records per event."""
        self.max_pending = max_pending
        self.max_gap = max_gap
        self.max_records = max_records

    def sniff(self, first_line: bytes) -> bool:
        """A first line ``type=X msg=audit(…)`` (optionally after ``node=host``)."""
        return first_line.startswith((b"type=", b"node=")) and b" msg=audit(" in first_line[:200]

    def parse_lines(
        self, lines: Iterable[tuple[int, bytes]], *, received: str = ""
    ) -> Iterator[tuple[int, Event | str, bytes]]:
        """Events grouped by audit id; a line that is not an audit record is an error."""
        pending: dict[str, _Pending] = {}  # insertion order is arrival order
        for number, line in lines:
            text = line.decode("utf-8", "replace").rstrip("\r\n")
            match = _RECORD.fullmatch(text)
            if match is None:
                yield number, "not an audit record (expected 'type=… msg=audit(…): …')", line
                continue
            node, rtype, sec, frac, seq, body = match.groups()
            # Records of one event share host, time and serial; serials restart at boot.
            key = f"{node or ''}:{sec}.{frac}:{seq}"
            event = pending.get(key)
            if event is None:
                try:
                    event = _Pending(number, _timestamp(sec, frac), seq)
                except InvalidInput as exc:
                    yield number, exc.message, line
                    continue
                pending[key] = event
            fields = _pairs(body)
            if node:
                fields["node"] = node
            event.records.append((rtype, fields))
            event.lines.append(line)
            event.last = number
            if (
                rtype == "EOE"
                or (len(event.records) == 1 and rtype.startswith(_STANDALONE))
                or len(event.records) >= self.max_records
            ):
                flushed = self._flush(pending.pop(key), seq)
                if flushed is not None:
                    yield flushed
            while pending:
                oldest_key = next(iter(pending))
                oldest = pending[oldest_key]
                if len(pending) <= self.max_pending and number - oldest.last <= self.max_gap:
                    break
                flushed = self._flush(pending.pop(oldest_key), oldest.seq)
                if flushed is not None:
                    yield flushed
        for event in list(pending.values()):
            flushed = self._flush(event, event.seq)
            if flushed is not None:
                yield flushed

    @staticmethod
    def _flush(event: _Pending, seq: str) -> tuple[int, Event | str, bytes] | None:
        raw = b"\n".join(event.lines)
        records = [(t, f) for t, f in event.records if t != "EOE"]
        if not records:  # an end marker whose event already left (bounds): nothing to say
            return None
        try:
            fields = _build(records, event.stamp, seq)
        except InvalidInput as exc:
            field = exc.location.field
            return event.first, f"{exc.message} (field {field!r})" if field else exc.message, raw
        node = records[0][1].get("node")
        if node:
            fields["host.name"] = node
        return event.first, fields, raw


class AuoMsJson:
    """Azure Sentinel ``Syslog`` rows whose ``SyslogMessage`` is an AUOMS audit record."""

    name = "auditd"

    def accepts(self, record: dict[str, Any]) -> bool:
        """A ``SyslogMessage`` that starts ``type=AUOMS_``."""
        message = record.get("SyslogMessage")
        return isinstance(message, str) and message.startswith("type=AUOMS_")

    def normalise(self, record: dict[str, Any]) -> Event:
        """ECS fields of one AUOMS record (process, user, file, outcome, host)."""
        message = record.get("SyslogMessage")
        if not isinstance(message, str):
            raise InvalidInput("SyslogMessage must be text", field="SyslogMessage")
        match = _AUOMS.fullmatch(message)
        if match is None:
            raise InvalidInput("not an AUOMS audit record", field="SyslogMessage")
        rtype, sec, frac, seq, body = match.groups()
        f = _auoms_fields(body)
        out: Event = {
            "@timestamp": _timestamp(sec, frac),
            "auditd.sequence": _int(seq, "SyslogMessage"),
            "auditd.record_types": [rtype],
            "event.dataset": "auditd.auoms",
        }
        for key in ("Computer", "HostName"):
            host = record.get(key)
            if isinstance(host, str) and host:
                out["host.name"] = host
                break
        host_ip = record.get("HostIP")
        if isinstance(host_ip, str) and host_ip:
            out["host.ip"] = [host_ip]
        syscall = _set_syscall(out, f)
        _set_subject(out, f)
        cmdline = _text(f, "cmdline")
        if cmdline is not None:
            out["process.command_line"] = cmdline
        title = _text(f, "proctitle")
        if title is not None:
            # AUOMS sends proctitle already decoded and cut to 128 characters.
            out["process.title"] = title
            out.setdefault("process.command_line", title)
        paths = _auoms_paths(f)
        if paths:
            out["file.path"] = paths[0]
            out["auditd.paths"] = paths
        _categorise(out, syscall, rtype)
        return out


def _auoms_fields(body: str) -> dict[str, str]:
    """AUOMS pairs. ``cmdline`` and ``proctitle`` are not escaped (they may hold spaces and
    quotes), so they run from their key to the next known trailing key."""
    cut = len(body)
    for key in (" cmdline=", " proctitle="):
        at = body.find(key)
        if 0 <= at < cut:
            cut = at
    fields = _pairs(body[:cut])
    if cut < len(body):
        rest = body[cut + 1 :]
        key, _, value = rest.partition("=")
        end = len(value)
        for trailer in (" redactors=", " containerid="):
            at = value.rfind(trailer)
            if at >= 0:
                end = min(end, at)
        tail, value = value[end:], value[:end]
        if key == "cmdline" and len(value) >= 2 and value[0] == '"' and value[-1] == '"':
            value = value[1:-1]
        fields.setdefault(key, value)
        for name, extra in _pairs(tail).items():
            fields.setdefault(name, extra)
    return fields


def _auoms_paths(f: dict[str, str]) -> list[str]:
    listed = f.get("path_name")
    if listed is not None and listed.startswith("["):
        try:
            names = orjson.loads(listed)
        except orjson.JSONDecodeError:
            names = None
        if isinstance(names, list):
            return [n for n in names if isinstance(n, str) and n]
    name = _text(f, "name")
    return [name] if name else []


JSON_SOURCES: tuple[AuoMsJson, ...] = (AuoMsJson(),)
TEXT_SOURCES: tuple[AuditdText, ...] = (AuditdText(),)

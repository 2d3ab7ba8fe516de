"""Syslog lines: BSD (RFC 3164) and RFC 5424, network devices' messages, FortiGate logs.

Linux servers (a supplier's ERP host, a jump host) and network gear report through syslog,
and SigmaHQ has rules for both: keyword rules over sshd, sudo, cron, vsftpd or ClamAV
messages, Cisco IOS commands and BGP authentication failures, FortiGate configuration
changes. Each line is one event (module ``syslog``):

- ``<PRI>`` (optional) gives ``log.syslog.facility.code`` and ``log.syslog.severity.code``;
- the time is RFC 5424's ISO time, an ISO time (rsyslog's precise format) or the BSD
  ``Mmm dd HH:MM:SS``. BSD times have no year and no zone: they are read as UTC in the year
  that puts them at most a day after the time the line was received;
- then the host (``host.name``), the tag ``program[pid]:`` (``process.name``,
  ``process.pid``) and the message (``message``).

Messages of network devices are recognised by their own marks: Cisco IOS and ASA
``%FACILITY-SEVERITY-MNEMONIC:`` (``observer.vendor: cisco``, ``event.code`` the mnemonic,
the message from the mark on; an origin id or ASA device id is the host) and Huawei VRP
``%%01MODULE/severity/MNEMONIC`` (BSD times with a year and offset, or V8's ISO form);
messages of daemons only Junos runs (``rpd``, ``mgd``…) or with Juniper's structured data
are ``observer.vendor: juniper``. ``sudo`` messages also give their ``KEY=value`` parts as
``sudo.<KEY>`` (the first of each; ``COMMAND`` is the rest of the line). A FortiGate log
(starting ``date=`` or ``logver=``, with ``devid``, ``logid`` and ``type``; after a syslog
header or not) becomes a ``fortinet.fortigate`` event with every ``key=value`` under
``fortinet.fortigate.<key>``.

A line with no syslog header in a syslog file (a continued message) is kept as an event with
the whole line as its message, received now.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta, timezone, tzinfo

from maat.errors import InvalidInput
from maat.telemetry.model import Event, epoch_utc, iso_utc

__all__ = [
    "AUTH_PROGRAMS",
    "CISCO_COMMANDS",
    "FIREWALL_BLOCKED",
    "MONTHS",
    "TEXT_SOURCES",
    "SyslogText",
    "parse_line",
]

_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
MONTHS = {name: number for number, name in enumerate(_MONTH_NAMES, 1)}
"""Month abbreviations of BSD and web-server times -> month numbers."""
_PRI = re.compile(r"<(\d{1,3})>")
_RFC5424 = re.compile(r"1 (\S+) (\S+) (\S+) (\S+) (\S+) (-|(?:\[(?:[^\]\\]|\\.)*\])+) ?(.*)", re.S)
# Optional device sequence number, Cisco's origin id ("router1: ") and "*"/"." (clock not
# synchronised), then the time; Huawei VRP adds the year and may add a UTC offset.
_BSD_TIME = re.compile(
    r"(?:\d{1,10}: )?(?:([\w.-]{1,64}): )?[*.]?"
    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) {1,2}(\d{1,2})"
    r"(?: (\d{4}))? (\d\d):(\d\d):(\d\d)(\.\d{1,6})?([+-]\d\d:\d\d)?(?: [A-Z]{2,5})?:? "
)
_ISO_TIME = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:?\d\d)) ")
# Huawei VRP V8's default: "2026-11-26 09:00:00[+08:00] HOST %%01MODULE/4/MNEMONIC(l):".
_VRP_TIME = re.compile(
    r"(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(\.\d{1,6})?([+-]\d\d:\d\d)? (?=\S+ %%\d\d)"
)
_TAG = re.compile(r"([^\s:\[\]]{1,64})(?:\[([0-9]{1,10})\])?: ?")
_HOST_TAG = re.compile(r"(\S{1,255}) [^\s:\[\]]{1,64}(?:\[[0-9]{1,10}\])?: ")
# An application's own log: "2026-11-26T10:00:00Z INFO main: started" has a level, not a host.
_LEVELS = frozenset({"TRACE", "DEBUG", "INFO", "NOTICE", "WARN", "WARNING", "ERROR", "ERR",
                     "SEVERE", "FATAL", "CRITICAL", "CRIT", "ALERT", "EMERG"})  # fmt: skip
_CISCO = re.compile(r"(\d{1,10}: )?(%[A-Z0-9_]{1,32}-\d-[A-Z0-9_]{1,48}) ?:")
_HUAWEI = re.compile(r"%%\d\d([A-Z0-9_]{1,32})/(\d)/([A-Z0-9_]{1,48})")
_FORTI_PAIR = re.compile(r'([A-Za-z_][A-Za-z0-9_]{0,63})=("(?:[^"\\]|\\.)*"|\S*)')
_FORTI_START = ("date=", "logver=", "itime=")  # FortiOS (itime: FortiAnalyzer) first
_SUDO_KEY = re.compile(r"[A-Z]{2,16}")
_YEARLESS_SLACK = timedelta(days=1)
# Daemons only Junos runs: their messages are the router's.
_JUNOS_PROGRAMS = frozenset({"rpd", "mgd", "chassisd", "dcd", "jdhcpd", "l2ald"})
CISCO_COMMANDS = frozenset({("PARSER", "CFGLOG_LOGGEDCMD"), ("ASA", "111008"),
                            ("ASA", "111009"), ("ASA", "111010")})  # fmt: skip
"""Cisco messages (facility, mnemonic) that log a command an administrator typed: what
Cisco's AAA command accounting records, and SigmaHQ's ``aaa`` rules read."""

AUTH_PROGRAMS = frozenset(
    {"sshd", "sudo", "su", "pkexec", "login", "systemd-logind", "polkitd", "passwd", "useradd",
     "usermod", "userdel", "groupadd", "groupdel", "chpasswd", "chage", "gpasswd",
     "unix_chkpwd", "sshd-session"}
)  # fmt: skip
"""Programs whose messages go to the ``auth``/``authpriv`` facility (``/var/log/auth.log``)."""


def _received_moment(received: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(received.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _bsd_time(match: re.Match[str], received: datetime | None) -> str:
    """The UTC time of a BSD stamp (its offset applied when it has one, else read as UTC);
    without a year, the latest year that puts it at most a day after ``received`` (a
    December line read in January is last year's; Feb 29 goes back to a leap year)."""
    _, month, day, year, hour, minute, second, fraction, offset = match.groups()
    micro = int((fraction or ".0")[1:].ljust(6, "0")[:6])
    parts = (MONTHS[month], int(day), int(hour), int(minute), int(second), micro)
    zone = UTC if offset is None else _offset(offset)
    if year:
        return _moment(match, int(year), parts, zone)
    if received is None:
        raise InvalidInput("a syslog time without a year needs the time it was received")
    latest = received + _YEARLESS_SLACK
    for candidate in range(received.year, received.year - 9, -1):  # Feb 29: up to 8 back
        month, day, hour, minute, second, micro = parts
        try:
            moment = datetime(candidate, month, day, hour, minute, second, micro, tzinfo=zone)
        except ValueError:
            continue
        if moment <= latest:
            return iso_utc(moment)
    raise InvalidInput(f"not a valid syslog time: {match.group(0).strip()!r}")


def _moment(match: re.Match[str], year: int, parts: tuple[int, ...], zone: tzinfo) -> str:
    month, day, hour, minute, second, micro = parts
    try:
        return iso_utc(datetime(year, month, day, hour, minute, second, micro, tzinfo=zone))
    except ValueError as exc:  # Feb 30, hour 25
        raise InvalidInput(f"not a valid syslog time: {match.group(0).strip()!r}") from exc


def _offset(text: str) -> tzinfo:
    hours, minutes = int(text[1:3]), int(text[4:6])
    if hours > 23 or minutes > 59:
        raise InvalidInput(f"not a valid UTC offset: {text!r}")
    sign = -1 if text[0] == "-" else 1
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def _origin_ok(bsd: re.Match[str], rest: str) -> bool:
    """An origin id before the time is Cisco's only: a Cisco mark must follow (else
    ``ERROR: Nov 26 10:00:00 …`` of an application would read as a host)."""
    return not bsd.group(1) or rest[bsd.end() :].startswith("%")


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return value


def _fortigate(text: str, out: Event) -> bool:
    """``key=value`` pairs of a FortiGate log into ``out``; False when it is not one. Only
    a text that starts as FortiOS writes its logs counts, with its device id, log id and
    type: a syslog message that merely mentions ``logid=`` (an attacker's user name in an
    sshd line) stays that program's message."""
    if not text.startswith(_FORTI_START):
        return False
    pairs: dict[str, str] = {}
    for key, value in _FORTI_PAIR.findall(text):
        pairs.setdefault(key, _unquote(value))  # the first of a key: FortiOS writes each once
    if not {"logid", "devid", "type"} <= pairs.keys():
        return False
    out["event.dataset"] = "fortinet.fortigate"
    out["observer.vendor"] = "fortinet"
    for key, value in pairs.items():
        out[f"fortinet.fortigate.{key}"] = value
    if pairs.get("devname"):
        out["observer.name"] = pairs["devname"]
        out.setdefault("host.name", pairs["devname"])
    for key, ecs in (("action", "event.action"), ("user", "user.name"), ("srcip", "source.ip"),
                     ("dstip", "destination.ip"), ("msg", "message")):  # fmt: skip
        if pairs.get(key):
            out[ecs] = pairs[key]
    out["event.code"] = pairs["logid"]
    if pairs.get("type") == "traffic":
        _forti_traffic(pairs, out)
    moment = _forti_time(pairs)
    if moment is not None:
        out["@timestamp"] = moment
    return True


FIREWALL_BLOCKED = "maat.firewall.blocked"
"""``"true"`` or ``"false"``: whether a firewall's traffic log says the session was refused
(what SigmaHQ's firewall rules call ``blocked``)."""
_FORTI_REFUSED = frozenset({"deny", "blocked", "dropped"})  # the others end allowed sessions


def _forti_traffic(pairs: dict[str, str], out: Event) -> None:
    """A traffic log's ports (numbers) and whether the session was refused."""
    for key, ecs in (("srcport", "source.port"), ("dstport", "destination.port")):
        value = pairs.get(key, "")
        if _digits(value) and int(value) < 65536:
            out[ecs] = int(value)
    out["event.category"] = ["network"]
    out[FIREWALL_BLOCKED] = "true" if pairs.get("action") in _FORTI_REFUSED else "false"


def _forti_time(pairs: dict[str, str]) -> str | None:
    """``eventtime`` (epoch seconds to nanoseconds, FortiOS 6.2+), else ``date`` and ``time``
    with ``tz`` when given (without it, the device clock is read as UTC)."""
    epoch = pairs.get("eventtime", "")
    if _digits(epoch) and len(epoch) in (10, 13, 16, 19) and int(epoch) > 0:
        seconds, fraction = divmod(int(epoch), 10 ** (len(epoch) - 10))
        return epoch_utc(seconds + fraction / 10 ** (len(epoch) - 10))
    if pairs.get("date") and pairs.get("time"):
        zone = pairs.get("tz", "")
        zone = zone if re.fullmatch(r"[+-]\d\d:?\d\d", zone) else "Z"
        try:
            return iso_utc(f"{pairs['date']}T{pairs['time']}{zone}")
        except InvalidInput:
            return None
    return None


def _digits(text: str) -> bool:
    """ASCII digits only (``str.isdigit`` also takes ``²``, which ``int`` refuses)."""
    return text.isascii() and text.isdigit()


def _device_message(rest: str, out: Event) -> bool:
    """A Cisco or Huawei message (their own marks, not a program tag)."""
    cisco = _CISCO.match(rest)
    if cisco is not None:
        out["observer.vendor"] = "cisco"
        out["event.code"] = cisco.group(2)[1:]
        out["message"] = rest[cisco.start(2) :]  # from the mark: "%SYS-5-CONFIG_I: ..."
        return True
    huawei = _HUAWEI.match(rest)
    if huawei is not None:
        out["observer.vendor"] = "huawei"
        out["event.code"] = f"{huawei.group(1)}/{huawei.group(2)}/{huawei.group(3)}"
        out["message"] = rest
        return True
    return False


def _sudo(message: str, out: Event) -> None:
    """``user : TTY=pts/0 ; PWD=/x ; USER=root ; COMMAND=/bin/id`` as ``sudo.<KEY>``. The
    working directory and the command's arguments are the user's own text and may hold
    `` ; USER=…``: a key written more than once keeps every value (a list), so a rule on
    ``USER`` sees the real one wherever it stands; each ``COMMAND=`` is read to the end of
    the line."""
    user, sep, detail = message.partition(" : ")
    if not sep:
        return
    out["user.name"] = user.strip()
    parts = detail.split(" ; ")
    found: dict[str, list[str]] = {}
    for index, part in enumerate(parts):
        key, equals, value = part.partition("=")
        key = key.strip()
        if not equals or not _SUDO_KEY.fullmatch(key):
            continue  # "3 incorrect password attempts"
        if key == "COMMAND":  # the rest of the line: the command's own " ; " included
            value = " ; ".join([value, *parts[index + 1 :]])
        found.setdefault(key, []).append(value.strip())
    for key, values in found.items():
        unique = list(dict.fromkeys(values))
        out[f"sudo.{key}"] = unique[0] if len(unique) == 1 else unique


def _program_message(rest: str, out: Event) -> None:
    tag = _TAG.match(rest)
    if tag is None:
        out["message"] = rest
        return
    program, pid = tag.group(1), tag.group(2)
    out["process.name"] = program
    if pid:
        out["process.pid"] = int(pid)
    message = rest[tag.end() :]
    out["message"] = message
    if program == "sudo":
        _sudo(message, out)
    elif program in _JUNOS_PROGRAMS:
        out["observer.vendor"] = "juniper"


def _rfc5424(match: re.Match[str], out: Event) -> Event:
    stamp, host, app, procid, msgid, data, message = match.groups()
    if stamp != "-":
        out["@timestamp"] = iso_utc(stamp)
    for key, value in (("host.name", host), ("process.name", app), ("log.syslog.msgid", msgid)):
        if value != "-":
            out[key] = value
    if _digits(procid) and len(procid) <= 10:
        out["process.pid"] = int(procid)
    rest = message.removeprefix("\ufeff")
    if _fortigate(rest, out) or _device_message(rest, out):
        return out
    out["message"] = rest
    if "@2636" in data or app in _JUNOS_PROGRAMS:  # Juniper's enterprise number
        out["observer.vendor"] = "juniper"
    return out


def parse_line(text: str, received: datetime | None) -> Event:
    """The event of one syslog line (see the module)."""
    out: Event = {"event.dataset": "syslog"}
    rest = text
    pri = _PRI.match(rest)
    if pri is not None and int(pri.group(1)) <= 191:
        code = int(pri.group(1))
        out["log.syslog.facility.code"] = code >> 3
        out["log.syslog.severity.code"] = code & 7
        rest = rest[pri.end() :]
    if _fortigate(rest, out):
        return out
    rfc5424 = _RFC5424.match(rest) if pri is not None else None
    if rfc5424 is not None:
        return _rfc5424(rfc5424, out)
    iso = _ISO_TIME.match(rest)
    vrp = None if iso is not None else _VRP_TIME.match(rest)
    bsd = None if iso is not None or vrp is not None else _BSD_TIME.match(rest)
    if iso is not None:
        out["@timestamp"] = iso_utc(iso.group(1))
        rest = rest[iso.end() :]
    elif vrp is not None:
        day, clock, fraction, offset = vrp.groups()
        out["@timestamp"] = iso_utc(f"{day}T{clock}{fraction or ''}{offset or 'Z'}")
        rest = rest[vrp.end() :]
    elif bsd is not None and _origin_ok(bsd, rest):
        out["@timestamp"] = _bsd_time(bsd, received)
        if bsd.group(1):  # Cisco's origin id: the device's name
            out["host.name"] = bsd.group(1)
        rest = rest[bsd.end() :]
    else:
        out["message"] = text  # no header: a continued message, kept whole
        return out
    if rest.startswith("%") and _device_message(rest, out):  # a device, without a host field
        return out
    if _fortigate(rest, out):  # a FortiGate log after a bare time stamp
        return out
    host, _, after = rest.partition(" ")
    if not (host and after):
        out["message"] = rest
        return out
    out.setdefault("host.name", host)
    after = after.removeprefix(": ")  # ASA's "logging device-id": "asa1 : %ASA-..."
    inner = _BSD_TIME.match(after)  # a relay's header before the device's own
    if _device_message(after[inner.end() :] if inner else after, out) or _fortigate(after, out):
        return out
    _program_message(after, out)
    return out


class SyslogText:
    """Syslog files and streams, one event a line (see the module)."""

    name = "syslog"

    def sniff(self, first_line: bytes) -> bool:
        """A first line with a syslog header or a FortiGate log. A bare ISO time claims the
        line only with a host and a program tag after it (an application's own log starts
        with a time too)."""
        text = first_line[:512].decode("utf-8", "replace")
        pri = _PRI.match(text)
        rest = text[pri.end() :] if pri else text
        if rest.startswith(_FORTI_START) and "logid=" in text and "devid=" in text:
            return True
        if pri is not None and _RFC5424.match(rest):
            return True
        iso = _ISO_TIME.match(rest)
        if iso is not None:
            if pri is not None:
                return True
            host = _HOST_TAG.match(rest, iso.end())
            return host is not None and host.group(1).upper() not in _LEVELS
        bsd = _BSD_TIME.match(rest)
        return bool((bsd is not None and _origin_ok(bsd, rest)) or _VRP_TIME.match(rest))

    def parse_lines(
        self, lines: Iterable[tuple[int, bytes]], *, received: str = ""
    ) -> Iterator[tuple[int, Event | str, bytes]]:
        """One event per line; a line with an impossible time is an error."""
        moment = _received_moment(received)
        for number, line in lines:
            text = line.decode("utf-8", "replace").rstrip("\r\n")
            try:
                yield number, parse_line(text, moment), line
            except InvalidInput as exc:
                yield number, exc.message, line
            except Exception as exc:  # a parser's bug must cost this line only, and be said
                yield number, f"the parser failed on this line ({type(exc).__name__})", line


TEXT_SOURCES: tuple[SyslogText, ...] = (SyslogText(),)

"""Differential tests of the C hot path of flat Windows ingest (ADR 0020).

``maat._native.flat_windows`` (one NXLog/Mordor JSON line to a normalised event) and
``flat_windows_lines`` (a body, chunk by chunk, through ``parse_bytes``) are accelerators:
for every line they either decline (``None``: the Python path reads the line) or give exactly
the event the Python path gives. The Python path is the reference: ``orjson.loads``,
:meth:`FlatSource.normalise <maat.telemetry.windows.FlatSource.normalise>` and
:func:`~maat.telemetry.model.finish`; in ``parse_bytes`` it is forced by setting
``pipeline.FLAT_WINDOWS_LINES`` to ``None``.

Each test is named after the wrong answer it stops. The data: every line of the Mordor
datasets, generated records (odd types, escapes, lone surrogates, duplicate keys, odd
whitespace), byte-level mutations of real lines, and bodies mixing line endings, blank
lines, oversized lines and other JSON sources.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from maat.errors import InvalidInput, MaatError
from maat.native import NATIVE
from maat.telemetry import pipeline
from maat.telemetry.model import finish
from maat.telemetry.pipeline import ParseOutcome, parse_bytes
from maat.telemetry.windows import FLAT
from maat.telemetry.windows_fields import SPECS
from native_kit import require_native
from telemetry_kit import MORDOR

RECEIVED = "2024-05-01T12:00:00.000000Z"
LIMIT = 1 << 20
SETTINGS = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(autouse=True, scope="module")
def _native_built() -> None:
    """Nothing to compare without the extension: skip, unless CI requires it (then fail)."""
    require_native()
    assert NATIVE is not None
    # Else the pipeline must have the C path, or these tests would compare Python with itself.
    assert pipeline.FLAT_WINDOWS_LINES is NATIVE.flat_windows_lines


# --- the two paths ---------------------------------------------------------------------------

ERROR = "error"  # the Python path reports the line
NOT_FLAT = "not flat"  # the Python path gives the line to another reader (or none)


def reference(line: bytes, received: str = RECEIVED) -> dict[str, Any] | str:
    """What the Python path makes of ``line`` as a flat Windows record: the event, ERROR
    (a located error would be reported) or NOT_FLAT (FlatSource does not accept it)."""
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return ERROR
    if type(record) is not dict or not FLAT.accepts(record):
        return NOT_FLAT
    try:
        fields = FLAT.normalise(record)
        return finish(fields, module=FLAT.name, raw=line, received=received)
    except InvalidInput:
        return ERROR


def native(line: bytes, received: str = RECEIVED) -> dict[str, Any] | None:
    assert NATIVE is not None
    return NATIVE.flat_windows(line, received)  # type: ignore[no-any-return]


def assert_agrees(line: bytes, received: str = RECEIVED) -> dict[str, Any] | None:
    """The C answer for ``line`` is a decline or the Python path's event, exactly."""
    made = native(line, received)
    if made is None:
        return None
    expected = reference(line, received)
    assert expected != ERROR, f"C made an event of a line Python reports: {line!r}\n{made}"
    assert expected != NOT_FLAT, f"C made an event of a line FlatSource refuses: {line!r}"
    assert made == expected, f"C and Python events differ for {line!r}"
    return made


@contextmanager
def python_path() -> Iterator[None]:
    """parse_bytes without the C path (the module-level switch the pipeline reads)."""
    saved = pipeline.FLAT_WINDOWS_LINES
    pipeline.FLAT_WINDOWS_LINES = None
    try:
        yield
    finally:
        pipeline.FLAT_WINDOWS_LINES = saved


@contextmanager
def counted_c_calls() -> Iterator[list[int]]:
    """Count the calls parse_bytes makes to the C lines reader (that it really ran)."""
    saved = pipeline.FLAT_WINDOWS_LINES
    assert saved is not None
    calls: list[int] = []

    def counting(*args: Any) -> Any:
        calls.append(args[5])
        return saved(*args)

    pipeline.FLAT_WINDOWS_LINES = counting
    try:
        yield calls
    finally:
        pipeline.FLAT_WINDOWS_LINES = saved


Summary = tuple[Any, ...]


def _outcome(parse: Callable[[], ParseOutcome]) -> Summary:
    try:
        out = parse()
    except MaatError as exc:  # PayloadTooLarge, InvalidInput: the same on both paths
        return ("raised", type(exc).__name__, str(exc))
    return (
        out.events,
        out.lines,
        [(e.line, e.reason) for e in out.errors],
        out.errors.dropped,
        out.skipped,
    )


def both_paths(data: bytes, **options: Any) -> tuple[Summary, Summary]:
    """``parse_bytes`` of ``data`` by the C path and by the Python path."""
    kwargs: dict[str, Any] = {"path": "body", "received": RECEIVED, "max_event_bytes": LIMIT}
    kwargs.update(options)
    made = _outcome(lambda: parse_bytes(data, **kwargs))
    with python_path():
        expected = _outcome(lambda: parse_bytes(data, **kwargs))
    return made, expected


def assert_same_parse(data: bytes, **options: Any) -> Summary:
    made, expected = both_paths(data, **options)
    if made != expected:  # the first difference, readably
        names = ("events", "lines", "errors", "dropped errors", "skipped")
        if made[0] == "raised" or expected[0] == "raised":
            raise AssertionError(f"C: {made!r}\nPython: {expected!r}")
        for name, mine, theirs in zip(names, made, expected, strict=True):
            if mine != theirs and isinstance(mine, list) and isinstance(theirs, list):
                for index, (a, b) in enumerate(zip(mine, theirs, strict=False)):
                    assert a == b, f"{name}[{index}] differs:\nC: {a!r}\nPython: {b!r}"
            assert mine == theirs, f"{name} differ:\nC: {mine!r}\nPython: {theirs!r}"
    return made


# --- Mordor: every line --------------------------------------------------------------------

MORDOR_FILES = sorted(p for p in MORDOR.rglob("*") if p.is_file()) if MORDOR.exists() else []
needs_mordor = pytest.mark.skipif(
    not MORDOR_FILES, reason=f"shared test data absent: {MORDOR} (see shared/data/SOURCES.md)"
)


def _mordor_lines() -> list[bytes]:
    lines = []
    for path in MORDOR_FILES:
        if path.suffix == ".json":
            lines += [line.rstrip(b"\r") for line in path.read_bytes().split(b"\n") if line.strip()]
    return lines


@functools.cache
def mordor_lines() -> list[bytes]:
    return _mordor_lines()


@needs_mordor
@pytest.mark.parametrize("path", MORDOR_FILES, ids=lambda p: p.name)
def test_c_path_gives_no_other_events_lines_or_errors_than_python_on_a_mordor_file(
    path: Path,
) -> None:
    assert_same_parse(path.read_bytes())


@needs_mordor
def test_c_path_makes_no_mordor_event_unlike_python_s_and_declines_few() -> None:
    lines = mordor_lines()
    windows = [line for line in lines if isinstance(reference(line), dict)]
    assert len(windows) > 15_000  # the Windows datasets are there
    made = sum(assert_agrees(line) is not None for line in lines)
    # The C path must do the work, not pass these tests by declining everything.
    assert made >= 0.98 * len(windows), f"C made {made} of {len(windows)} Windows events"


@needs_mordor
def test_c_path_gives_the_same_events_under_a_forced_windows_source() -> None:
    data = b"\n".join(mordor_lines()[:3000])
    summary = assert_same_parse(data, source="windows")
    assert len(summary[0]) > 2000


# --- generated records ---------------------------------------------------------------------

_FAMILIES = {  # (provider, channel) spellings of each mapping family of windows_fields
    "sysmon": [("Microsoft-Windows-Sysmon", "Microsoft-Windows-Sysmon/Operational")],
    "security": [("Microsoft-Windows-Security-Auditing", "Security"),
                 ("Microsoft-Windows-Security-Auditing", "security")],
    "eventlog": [("Microsoft-Windows-Eventlog", "Security"), ("EventLog", "System")],
    "scm": [("Service Control Manager", "System")],
    "defender": [("Microsoft-Windows-Windows Defender",
                  "Microsoft-Windows-Windows Defender/Operational")],
    "powershell": [("Microsoft-Windows-PowerShell", "Microsoft-Windows-PowerShell/Operational")],
}  # fmt: skip
KINDS = sorted(
    (provider, channel, event_id)
    for family, event_id in SPECS
    for provider, channel in _FAMILIES.get(family, [])
)

# Characters where a JSON scanner goes wrong: quotes, escapes, controls, DEL, non-ASCII of
# every UTF-8 length, case pairs that lowercase oddly, lone surrogates.
ODD_CHARS = list('"\\/\x00\x01\x08\t\n\x0b\x0c\r\x1f\x7f \u00e9\u0130\u1e9e\u03a3\u03c2\u00df'
                 "\u2028\u4e2d\U0001f600\U0010ffff\ufeff\ufffd\ufffe\uffff\ud800\udbff\udc00\udfff"
                 "{}[],:-0")  # fmt: skip
ODD_TEXT = st.text(
    alphabet=st.one_of(st.sampled_from(ODD_CHARS), st.characters(codec="utf-8"),
                       st.sampled_from("aAzZ09 -_.\\:")),
    max_size=12,
)  # fmt: skip
NAMES = ["Image", "CommandLine", "ParentImage", "TargetFilename", "Hashes", "User",
         "ProcessId", "ParentProcessId", "DestinationPort", "SourcePort", "LogonType",
         "Initiated", "Protocol", "Direction", "SourceIsIpv6", "EventType", "AccountName",
         "Domain", "UserID", "AccountType", "TargetObject", "Details", "QueryResults",
         "ContextInfo", "ObjectName", "ObjectType", "Path", "Process Name", "Signed",
         "SignatureStatus", "Signature", "ServiceName", "ImagePath", "Message", "Keywords",
         "tags", "host", "Severity", "TimeGenerated", "winlog", "Event", "SyslogMessage",
         "Records", "@version", "", "EventId", "channel"]  # fmt: skip
TIMES = ["2020-10-18T07:50:06.220Z", "2020-10-18T07:50:06Z", "2020-10-18T07:50:06.123456Z",
         "2020-10-18T07:50:06.1234567Z", "2020-10-18T07:50:06.Z", "2020-10-18 07:50:06.220",
         "2020-10-18 07:50:06", "2020-10-18T07:50:06", "2020-10-18 07:50:06.123456",
         "2020-10-18 07:50:06.1", "2020-10-18t07:50:06", "2020-10-18T07:50:06+02:00",
         "2020-10-18T07:50:06.220-05:30", "2021-02-29 00:00:00", "2020-02-29T23:59:59Z",
         "2020-10-18T24:00:00Z", "2020-10-18T23:59:60Z", "0999-01-01 00:00:00",
         "0001-01-01T00:00:00Z", "0000-01-01T00:00:00Z", "9999-12-31 23:59:59.999999",
         "2020-13-01T00:00:00Z", "2020-10-18T07:50:06z", " 2020-10-18 07:50:06",
         "2020-10-18 07:50:06 ", "2020-W42-7", "\u0662020-10-18T07:50:06Z", "yesterday", ""]  # fmt: skip
PLAIN_TIMES = [None, "2020-10-18T07:50:06.220Z", "2020-10-18T07:50:06Z", "2020-10-18T07:50:06.1Z",
               "2020-10-18T07:50:06.123456Z", "2020-02-29T23:59:59Z", "2020-10-18 07:50:06.220",
               "2020-10-18 07:50:06", "2020-10-18T07:50:06", "2020-10-18 07:50:06.123456",
               "9999-12-31 23:59:59.999999"]  # fmt: skip
EVENT_IDS = ["4688", "04688", "1", "0", "65535", "65536", "123456", "1234567", " 4688",
             "4688 ", "-1", "+1", "0x10", "\u0664\u0666\u0668\u0668", "1.0", "", "4 688"]  # fmt: skip
NUMBERS = ["42", "0", "007", "0x1f", "0X1F", "-1", "-", "", " 12", "1_000", "+5", "1e3",
           "\u0661\u0662", "9" * 18, "9" * 19, "9223372036854775807", "9223372036854775808",
           "abc"]  # fmt: skip
WORDS = ["true", "false", "TRUE", "2", "3", "10", "tcp", "6", "%%14592", "%%14593", "INFO",
         "AUDIT_SUCCESS", "SetValue", "CreateKey", "DeleteValue", "Key", "File", "Valid",
         "SHA1=AB,MD5=CD,IMPHASH=EF", "C:\\Windows\\System32\\cmd.exe", "/usr/bin/sh",
         "a\\b/c", "HKLM\\Software\\Run\\x", "CORP\\alice", "type: 5 a.b.;::ffff:1.2.3.4;",
         "Host Application = pwsh\nUser = CORP\\bob", "file:_C:\\x.exe; process:_pid:4",
         "Unknown", "-", " ", "\u0130STANBUL", "STRA\u1e9eE", "\u03a3\u039f\u03a3"]  # fmt: skip

INTS = st.one_of(
    st.integers(-5, 70_000),
    st.sampled_from([10**17, 10**18 - 1, 10**18, 2**63 - 1, 2**63, 2**64, 10**30]),
)
SCALARS = st.one_of(
    st.none(), st.booleans(), INTS,
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.sampled_from(WORDS + NUMBERS + TIMES + EVENT_IDS), ODD_TEXT,
)  # fmt: skip
VALUES = st.one_of(
    SCALARS,
    st.lists(SCALARS, max_size=2),
    st.dictionaries(st.sampled_from(["#text", "a", "#attributes"]), SCALARS, max_size=2),
)


def _meta(name: str) -> st.SearchStrategy[Any]:
    if name == "EventID":
        special = st.sampled_from(EVENT_IDS) | st.builds(lambda n: {"#text": n}, INTS)
    elif name in ("RecordNumber", "EventRecordID"):
        special = st.sampled_from(NUMBERS) | INTS
    elif name in ("TimeCreated", "@timestamp", "EventTime"):
        special = st.sampled_from(TIMES) | st.integers(0, 2**40)
    elif name == "SourceModuleType":
        special = st.sampled_from(["im_msvistalog", ""])
    else:
        special = st.sampled_from(["", "Security", "System", "x"])
    return st.one_of(special, special, SCALARS, VALUES)


META = ["EventID", "Channel", "SourceName", "ProviderName", "Hostname", "RecordNumber",
        "EventRecordID", "TimeCreated", "@timestamp", "EventTime", "SourceModuleType",
        "Message", "Keywords", "host", "tags", "port", "Level", "Task"]  # fmt: skip


PLAIN_WORDS = st.sampled_from(WORDS) | st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=20
)
PLAIN_NAMES = [n for n in NAMES if n not in ("TimeGenerated", "winlog", "Event")]


@st.composite
def flat_records(draw: st.DrawFn, plain: bool = False) -> list[tuple[str, Any]]:
    """A flat record as (key, value) pairs, in order, duplicates possible. A plain record
    (text event data, a known kind, a canonical or naive time) is the kind the C path must
    make itself; otherwise up to four changes make it odd: a meta key's value of another
    type or form, odd event data, a key dropped, an event-data value of another type."""
    provider, channel, event_id = draw(st.sampled_from(KINDS))
    pairs: list[tuple[str, Any]] = [
        ("EventID", draw(st.sampled_from([event_id, str(event_id)]))),
        ("SourceName", provider),
        ("Channel", channel),
        ("Hostname", draw(st.sampled_from(["WS1", "dc01.corp", ""]))),
        ("RecordNumber", draw(st.integers(0, 10**12))),
    ]
    stamp = draw(st.sampled_from(PLAIN_TIMES))
    if stamp is not None:
        pairs.append((draw(st.sampled_from(["TimeCreated", "@timestamp", "EventTime"])), stamp))
    pairs += draw(st.lists(st.tuples(st.sampled_from(PLAIN_NAMES), PLAIN_WORDS), max_size=8))
    for _ in range(0 if plain else draw(st.integers(0, 4))):
        change = draw(st.integers(0, 4))
        if change <= 1:  # a meta key: set (or added) to an odd value
            name = draw(st.sampled_from(META))
            value = draw(_meta(name))
            at = [i for i, (k, _) in enumerate(pairs) if k == name]
            if at:
                pairs[at[0]] = (name, value)
            else:
                pairs.append((name, value))
        elif change == 2:  # odd event data
            key = draw(st.sampled_from(NAMES) | ODD_TEXT)
            pairs.append((key, draw(st.sampled_from(WORDS + NUMBERS) | VALUES)))
        elif change == 3:
            del pairs[draw(st.integers(0, len(pairs) - 1))]
        else:
            at = draw(st.integers(0, len(pairs) - 1))
            pairs[at] = (pairs[at][0], draw(VALUES))
        if not pairs:
            break
    order = draw(st.permutations(range(len(pairs))))
    pairs = [pairs[i] for i in order]
    if pairs and draw(st.integers(0, 3)) == 0:  # a key written twice (orjson keeps the last)
        if plain:
            key, again = draw(st.sampled_from(pairs))[0], draw(st.sampled_from(WORDS))
            key = key if key not in META else "Image"
        else:
            key = draw(st.sampled_from([k for k, _ in pairs]))
            again = draw(_meta(key)) if key in META else draw(VALUES)
        pairs.insert(draw(st.integers(0, len(pairs))), (key, again))
    return pairs


class Writer:
    """Hand-written JSON of (key, value) pairs: escapes, whitespace and number spellings
    chosen by a seeded generator; ``broken`` also writes what orjson refuses."""

    SPACE = [b"", b" ", b"\t", b"\r", b"  \t ", b"\r "]

    def __init__(self, seed: int, *, newline: bool, broken: bool, plain_keys: bool) -> None:
        self.rng = random.Random(seed)
        self.space = self.SPACE + ([b"\n", b" \n\t"] if newline else [])
        self.broken = broken
        self.plain_keys = plain_keys  # keys without escapes (the C path declines those)

    def ws(self) -> bytes:
        r = self.rng
        if self.broken and r.random() < 0.02:
            return r.choice([b"\x0c", b"\x0b", b"\x00", b"\xa0", b"\xc2\xa0"])
        return r.choice(self.space) if r.random() < 0.4 else b""

    def string(self, text: str) -> bytes:
        r = self.rng
        out = bytearray(b'"')
        for ch in text:
            code = ord(ch)
            roll = r.random()
            if ch == '"':
                out += b'\\"'
            elif ch == "\\":
                out += b"\\\\"
            elif code < 0x20:
                if self.broken and roll < 0.05:
                    out += ch.encode()  # a raw control character: not JSON
                elif roll < 0.5 and ch in "\b\f\n\r\t":
                    out += {"\b": b"\\b", "\f": b"\\f", "\n": b"\\n", "\r": b"\\r",
                            "\t": b"\\t"}[ch]  # fmt: skip
                else:
                    out += b"\\u%04x" % code
            elif 0xD800 <= code <= 0xDFFF:
                if roll < 0.2:
                    out += ch.encode("utf-8", "surrogatepass")  # invalid UTF-8
                else:
                    out += (b"\\u%04x" if roll < 0.6 else b"\\u%04X") % code
            elif code >= 0x10000 and roll < 0.4:
                high, low = 0xD800 + ((code - 0x10000) >> 10), 0xDC00 + ((code - 0x10000) & 0x3FF)
                out += b"\\u%04x\\u%04X" % (high, low)
            elif (code >= 0x80 and roll < 0.3) or roll < 0.03:
                out += b"\\u%04x" % code if code < 0x10000 else ch.encode()
            elif ch == "/" and roll < 0.5:
                out += b"\\/"
            else:
                out += ch.encode()
        if self.broken and r.random() < 0.01:
            out += r.choice([b"\\x", b"\\u12", b"\\"])
        out += b'"'
        return bytes(out)

    def number(self, value: int | float) -> bytes:
        r = self.rng
        if isinstance(value, float):
            return repr(value).encode() if r.random() < 0.5 else b"%.3e" % value
        if self.broken and r.random() < 0.03:
            return r.choice([b"0%d", b"+%d", b"%d.", b"%d.0", b"%de0", b"%dE+1"]) % value
        if value == 0 and r.random() < 0.3:
            return b"-0"
        return b"%d" % value

    def value(self, value: Any) -> bytes:
        if value is None:
            return b"null"
        if value is True:
            return b"true"
        if value is False:
            return b"false"
        if isinstance(value, int | float):
            return self.number(value)
        if isinstance(value, str):
            return self.string(value)
        if isinstance(value, list):
            items = (self.ws() + self.value(item) + self.ws() for item in value)
            return b"[" + b",".join(items) + self.ws() + b"]"
        assert isinstance(value, dict)
        return self.object(list(value.items()))

    def object(self, pairs: list[tuple[str, Any]]) -> bytes:
        key = (lambda k: orjson.dumps(k)) if self.plain_keys else self.string
        parts = [self.ws() + key(k) + self.ws() + b":" + self.ws() + self.value(v)
                 + self.ws() for k, v in pairs]  # fmt: skip
        body = b",".join(parts) if parts else self.ws()
        out = self.ws() + b"{" + body + b"}" + self.ws()
        if self.broken and self.rng.random() < 0.02:
            out += self.rng.choice([b",", b"}", b"x", b"{}"])
        return out


def serialised(
    pairs: list[tuple[str, Any]], style: int, seed: int, *, newline: bool, plain: bool = False
) -> bytes:
    """``pairs`` as one JSON line: by orjson (style 0, when it can), by hand, or by hand
    with what orjson refuses mixed in (style 2); ``plain``: keys written without escapes."""
    if style == 0:
        try:
            return orjson.dumps(dict(pairs))
        except TypeError:  # a lone surrogate: orjson will not write it
            pass
    writer = Writer(seed, newline=newline, broken=style == 2, plain_keys=plain)
    return writer.object(pairs)


LINES = st.builds(
    serialised,
    flat_records(),
    st.integers(0, 2),
    st.integers(0, 2**32),
    newline=st.booleans(),
    plain=st.booleans(),
)


@SETTINGS
@given(LINES)
@example(b'{"EventID":1,"Channel":"x","A":"\\ud800"}')
@example(b'{"EventID":1,"Channel":"x","A":"\\udc00\\ud800"}')
@example(b'{"EventID":1,"Channel":"x","A":"\\ud800\\u0041"}')
@example(b'{"EventID":1,"Channel":"x","A":"\xed\xa0\x80"}')
@example(b'{"EventID":1,"Channel":"x","A":"\\ud83d\\ude00\\u0000"}')
@example(b'{"EventID":1,"Channel":"x","A":1,"A":"2"}')
@example(b'{"EventID":1,"Channel":"x","EventID":"x"}')
@example(b'{"EventID":"x","Channel":"x","EventID":7}')
@example(b'{"EventID":1,"Channel":"x","Message":123456789012345678901234567890}')
@example(b'{"EventID":1,"Channel":"x","Message":1' + b"0" * 320 + b"}")
@example(b'{"EventID":1,"Channel":"x","Data":12345678901234567890}')
@example(b'{"EventID":1,"Channel":"x","tags":[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]}')
@example(b'{"EventID":1,"Channel":"x","TimeGenerated":null}')
@example(b'{"EventID":1,"Channel":"x"}\x0c')
@example(b'\x0c{"EventID":1,"Channel":"x"}')
@example(b'{"EventID":1,"Channel":"x",}')
@example(b'{"EventID":1 "Channel":"x"}')
@example(b'{"EventID":01,"Channel":"x"}')
@example(b'{"EventID":-0,"Channel":"x","X":-0}')
@example(b'{"EventID":1,"SourceName":"","ProviderName":"P","Channel":null}')
@example(b'{"EventID":1,"SourceName":0,"ProviderName":"P"}')
@example(b'{"EventID":1,"Channel":"x","RecordNumber":null,"EventRecordID":"abc"}')
@example(b'{"EventID":1,"Channel":"x","TimeCreated":"","@timestamp":0,"EventTime":false}')
@example(b'{"EventID":1,"Channel":"x","TimeCreated":[],"EventTime":"2020-01-01T00:00:00Z"}')
@example(b'{"EventID":4624,"Channel":"Security","LogonType":"\\u0661\\u0660"}')
@example(b'{"EventID":1,"Channel":"x","SourceModuleType":null,"EventType":"INFO","Domain":"d"}')
@example(b'{"EventID":1,"Channel":"x","\\u0041":"escaped key"}')
@example(b'{"EventID":1,"Channel":"x","tags":' + b"[" * 70 + b"]" * 70 + b"}")
@example(b'{"EventID":1,"Channel":"x","Message":-1' + b"0" * 299 + b"}")
@example(b'{"EventID":1,"Channel":"x","Message":1' + b"0" * 299 + b"}")
@example(b'{"EventID":1,"Channel":"x","SourceModuleType":100000000000000000000}')
@example(b'{"EventID":1,"Channel":"x","RecordNumber":1000000000000000000}')
@example(b'{"EventID":1,"Channel":"x","A":"\xef\xbf\xbe\xf4\x8f\xbf\xbf\xc2\x80"}')
@example(b'{"EventID":1,"Channel":"x","A":"\xf4\x90\x80\x80"}')
@example(b'{"EventID":1,"Channel":"x","A":"\xe0\x80\xaf"}')
@example(b'{"EventID":1,"Channel":"x"}\r')
@example(b'{"Records":"x","EventID":1,"Channel":"x"}')
def test_c_path_never_accepts_what_python_refuses_nor_makes_another_event(line: bytes) -> None:
    assert_agrees(line)


PLAIN_LINES = st.builds(
    serialised, flat_records(plain=True), st.integers(0, 1), st.integers(0, 2**32),
    newline=st.just(False), plain=st.just(True),
)  # fmt: skip


@SETTINGS
@given(PLAIN_LINES)
def test_c_path_declines_no_plain_flat_record_and_makes_python_s_event(line: bytes) -> None:
    """Generated plain records (text event data, a known kind, canonical or naive times):
    the C path makes every one itself, so the property above is not met by declining."""
    expected = reference(line)
    if not isinstance(expected, dict):  # e.g. a mapping step refusing a number: Python's
        assert native(line) is None
        return
    made = native(line)
    assert made is not None, f"C declined a plain record: {line!r}"
    assert made == expected


def _sweep(values: list[Any], key: str) -> int:
    """Each value under ``key`` of a small flat record, written by orjson and by hand; the
    number of lines the C path made."""
    made = 0
    for value in values:
        pairs = [("EventID", 4688), ("Channel", "Security"), ("NewProcessName", "C:\\x.exe")]
        pairs = [(k, v) for k, v in pairs if k != key] + [(key, value)]
        for style in (0, 1):
            made += (
                assert_agrees(serialised(pairs, style, 7, newline=False, plain=True)) is not None
            )
    return made


def test_c_path_reads_no_time_otherwise_than_python() -> None:
    dates = [
        "2020-10-18",
        "2020-02-29",
        "2021-02-29",
        "1900-02-29",
        "2000-02-29",
        "0001-01-01",
        "0999-12-31",
        "1000-01-01",
        "9999-12-31",
        "2020-00-10",
        "2020-12-00",
        "2020-04-31",
    ]
    clock = ["00:00:00", "23:59:59", "24:00:00", "23:60:00", "23:59:60", "07:05:09"]
    fractions = ["", *("." + "123456789"[:n] for n in range(10))]
    zones = ["Z", "", "z", "+00:00", "-05:30", " "]
    times = [f"{d}{sep}{t}{f}{z}" for d in dates for sep in "T t" for t in clock
             for f in fractions for z in zones]  # fmt: skip
    made = sum(_sweep(times, key) for key in ("TimeCreated", "@timestamp", "EventTime"))
    assert made > 1_000  # canonical and naive times are the C path's own


def test_c_path_reads_no_event_id_record_number_or_number_otherwise_than_python() -> None:
    numbers: list[Any] = [*EVENT_IDS, *NUMBERS, -1, 0, 1, 4688, 65535, 65536, 10**18 - 1,
                          10**18, 2**63 - 1, 2**63, 2**64, 10**25, True, False, None, 1.0,
                          {"#text": 4688}, [4688], ""]  # fmt: skip
    made = _sweep(numbers, "EventID") + _sweep(numbers, "RecordNumber")
    made += _sweep(numbers, "EventRecordID") + _sweep(numbers, "ProcessId")
    made += _sweep(numbers, "NewProcessId") + _sweep(numbers, "TargetUserName")
    assert made > 50


def _fnv1a(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for byte in data:
        h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def test_c_path_reads_keys_right_past_its_key_cache_and_when_their_hashes_collide() -> None:
    """The C path caches what each key is (meta, event data, a refusal) by the FNV-1a hash of
    its bytes, up to a bound: keys whose hashes share the low bits of the meta keys', and
    more distinct keys than the cache holds, must not change what a key is read as."""
    slots = 16_384
    wanted = {_fnv1a(name.encode()) % slots: name for name in
              ("EventRecordID", "SourceModuleType", "ProviderName", "TimeGenerated", "Hostname")}  # fmt: skip
    colliding: dict[str, list[str]] = {name: [] for name in wanted.values()}
    n = 0
    while min(len(keys) for keys in colliding.values()) < 40:
        key = f"k{n}"
        n += 1
        owner = wanted.get(_fnv1a(key.encode()) % slots)
        if owner is not None and len(colliding[owner]) < 40:
            colliding[owner].append(key)
    lines = []
    for owner, keys in colliding.items():
        for start in range(0, 40, 8):  # colliding keys first, then the meta key they crowd
            pairs = [("EventID", 1), ("Channel", "Security"), *((k, k) for k in keys[start:])]
            pairs.append((owner, "17" if owner != "Hostname" else "ws1"))
            lines.append(orjson.dumps(dict(pairs)))
    lines += [orjson.dumps({"EventID": 1, "Channel": "x", f"many{i}": i}) for i in range(9_000)]
    lines += lines[:25]  # the crowded keys again, the cache now full
    made = sum(assert_agrees(line) is not None for line in lines)
    assert made > 9_000


# --- byte-level mutations of real lines ------------------------------------------------------

_SAMPLE_LINES = [  # used when the Mordor data is absent
    b'{"SourceName":"Microsoft-Windows-Sysmon","EventID":1,"Channel":"Microsoft-Windows-Sysmon'
    b'/Operational","Hostname":"WS1","TimeCreated":"2020-10-18 07:50:06.220","Image":"C:\\\\Windo'
    b'ws\\\\System32\\\\cmd.exe","CommandLine":"cmd /c \\"whoami\\"","ProcessId":"4242","Hashes":'
    b'"SHA1=AB,MD5=CD","RecordNumber":12,"tags":["a",{"b":[1,2.5,null]}],"Message":"x\\u00e9"}',
    b'{"EventID":"4624","Channel":"Security","SourceModuleType":"im_msvistalog","LogonType":"3",'
    b'"TargetUserName":"alice","IpAddress":"10.0.0.1","IpPort":"0x1f","EventType":"AUDIT_SUCCES'
    b'S","Domain":"CORP","EventTime":"2020-10-18T07:50:06Z","Keywords":-9214364837600034816}',
]


def _mutation_sources() -> list[bytes]:
    if not MORDOR_FILES:
        return _SAMPLE_LINES
    lines = mordor_lines()
    by_kind: dict[bytes, bytes] = {}
    for line in lines:  # one line of each (channel, event id) and some more
        at = line.find(b'"EventID":')
        by_kind.setdefault(line[at : at + 16] + line[:12], line)
    picked = sorted(by_kind.values(), key=len)[:400]
    return picked + _SAMPLE_LINES


@functools.cache
def mutation_sources() -> list[bytes]:
    return _mutation_sources()


INTERESTING = b'"\\{}[],:0123456789-+.eEtfnu \t\r\n\x00\x0b\x0c\x1f\x7f\x80\xbf\xc0\xc2\xe0\xed\xef\xf0\xf4\xf5\xff'


def mutate(line: bytes, rng: random.Random, count: int) -> bytes:
    data = bytearray(line)
    for _ in range(count):
        if not data:
            data += bytes([rng.choice(INTERESTING)])
            continue
        at = rng.randrange(len(data))
        kind = rng.randrange(6)
        if kind == 0:
            data[at] ^= 1 << rng.randrange(8)
        elif kind == 1:
            data.insert(at, rng.choice(INTERESTING))
        elif kind == 2:
            del data[at]
        elif kind == 3:
            data[at] = rng.choice(INTERESTING)
        elif kind == 4:  # an escape where a plain character was
            data[at : at + 1] = rng.choice([b"\\u0022", b"\\ud800", b"\\u00e9", b"\\n", b"\\"])
        else:  # a stretch repeated or cut
            end = min(len(data), at + rng.randrange(1, 24))
            if rng.random() < 0.5:
                data[at:at] = data[at:end]
            else:
                del data[at:end]
    return bytes(data)


@SETTINGS
@given(st.integers(0, 10**6), st.integers(0, 2**32), st.integers(1, 4))
def test_a_mutated_line_is_never_accepted_by_c_when_python_refuses_it(
    pick: int, seed: int, count: int
) -> None:
    sources = mutation_sources()
    line = mutate(sources[pick % len(sources)], random.Random(seed), count)
    assert_agrees(line)


def test_many_seeded_mutations_of_real_lines_agree_with_python() -> None:
    """A bulk, seeded sweep beside the shrinking one above: 6,000 mutants."""
    rng = random.Random(20_201_018)
    sources = mutation_sources()
    made = 0
    for _ in range(6_000):
        line = mutate(rng.choice(sources), rng, rng.randint(1, 3))
        made += assert_agrees(line) is not None
    assert made > 500  # many mutants (inside values) are still events the C path makes


# --- parse_bytes: line numbers, dispatch and chunks -------------------------------------------

FLAT_LINE = (b'{"EventID":4688,"Channel":"Security","SourceName":"Microsoft-Windows-Security-'
             b'Auditing","Hostname":"WS1","NewProcessName":"C:\\\\x.exe","CommandLine":"x %d",'
             b'"TimeCreated":"2020-10-18 07:50:06.220"}')  # fmt: skip
SYSMON_LINE = (b'{"EventID":"1","Channel":"Microsoft-Windows-Sysmon/Operational","SourceName":'
               b'"Microsoft-Windows-Sysmon","Image":"C:\\\\y.exe","ProcessId":"%d","TimeCreated":'
               b'"2020-10-18T07:50:06.220Z"}')  # fmt: skip
LA_LINE = (b'{"TimeGenerated":"2020-10-18T07:50:06Z","Computer":"DC1","EventID":4624,"Channel":'
           b'"Security","EventSourceName":"Microsoft-Windows-Security-Auditing","TargetUserName":'
           b'"u%d"}')  # fmt: skip
WINLOGBEAT_LINE = (b'{"@timestamp":"2020-10-18T07:50:06Z","winlog":{"event_id":1,"channel":'
                   b'"Microsoft-Windows-Sysmon/Operational","event_data":{"Image":"z%d"}},'
                   b'"EventID":1,"Channel":"x"}')  # fmt: skip
SYSLOG_SYSMON_LINE = (b'{"EventID":1,"Channel":"x","SyslogMessage":"<Event><System><EventID>1'
                      b'</EventID></System></Event>","n":%d}')  # fmt: skip
OTHER_LINES = [
    b'{"name":"pack_processes","hostIdentifier":"h","unixTime":1603000000,"columns":{"pid":"%d"}'
    b',"action":"added"}',
    b'{"foo":%d}',
    b"[%d]",
    b'{"EventID":%d}',
    b'{"EventID":"x%d","Channel":"Security"}',
    b"not json %d",
    b'{"Records":[{"eventVersion":"1.08","eventTime":"2020-10-18T07:50:06Z","eventSource":"s3'
    b'.amazonaws.com","eventName":"GetObject","n":%d}]}',
]


def _lines(kinds: list[bytes], start: int = 0) -> list[bytes]:
    return [kind % (start + n) if b"%d" in kind else kind for n, kind in enumerate(kinds)]


@pytest.mark.parametrize("separator", [b"\n", b"\r\n"], ids=["lf", "crlf"])
@pytest.mark.parametrize("final", [b"", b"\n", b"\r\n", b"\n\n  \n"], ids=repr)
def test_c_path_numbers_no_line_otherwise_with_blank_lines_and_line_endings(
    separator: bytes, final: bytes
) -> None:
    lines = _lines([FLAT_LINE, b"", b"   ", b"\t", b"\x0b", b"\x0c", b" \x0b\x0c\r", FLAT_LINE,
                    b"\r", SYSMON_LINE, b"", FLAT_LINE])  # fmt: skip
    with counted_c_calls() as calls:
        summary = assert_same_parse(separator.join(lines) + final)
    assert calls and len(summary[0]) == 4
    assert summary[1] == [1, 8, 10, 12]


def test_c_path_reports_an_oversized_line_where_python_does() -> None:
    big = FLAT_LINE.replace(b"x %d", b"x" * 5_000)
    body = b"\n".join([FLAT_LINE % 1, big, FLAT_LINE % 3, big + b"\r", b"", FLAT_LINE % 6])
    summary = assert_same_parse(body, max_event_bytes=len(FLAT_LINE) + 10)
    assert summary[1] == [1, 3, 6]
    assert [line for line, _ in summary[2]] == [2, 4]
    at_limit = assert_same_parse(body, max_event_bytes=len(big))  # exactly at the limit
    assert at_limit[1] == [1, 2, 3, 4, 6]
    assert assert_same_parse(body, max_event_bytes=0)[1] == []  # every line too long


def test_c_path_hands_other_sources_lines_to_the_dispatcher_in_the_same_order() -> None:
    """Flat lines among Log Analytics rows, Winlogbeat records (which FlatSource would also
    accept), a syslog-carried Sysmon record, osquery, unknown JSON and broken lines: the
    dispatcher asks the previous record's reader first, so order decides the reader."""
    kinds = [LA_LINE, FLAT_LINE, LA_LINE, LA_LINE, FLAT_LINE, FLAT_LINE, WINLOGBEAT_LINE,
             FLAT_LINE, SYSLOG_SYSMON_LINE, SYSLOG_SYSMON_LINE, FLAT_LINE, SYSLOG_SYSMON_LINE,
             *OTHER_LINES, FLAT_LINE, *OTHER_LINES[::-1], SYSMON_LINE, WINLOGBEAT_LINE,
             WINLOGBEAT_LINE, FLAT_LINE]  # fmt: skip
    firsts = (FLAT_LINE, LA_LINE, SYSLOG_SYSMON_LINE, WINLOGBEAT_LINE, OTHER_LINES[0],
              b"a banner line, not JSON")  # fmt: skip
    for first in firsts:
        summary = assert_same_parse(b"\n".join(_lines([first, *kinds])))
        assert len(summary[0]) > 20 and summary[2]
        forced = assert_same_parse(b"\n".join(_lines([first, *kinds])), source="windows")
        assert len(forced[0]) > 10 and forced[2]  # the other sources' records: errors now


@pytest.mark.parametrize("count", [1023, 1024, 1025, 2047, 2048, 2049, 3100])
@pytest.mark.parametrize("final", [b"", b"\r\n", b"\n \n"], ids=repr)
def test_c_path_loses_or_renumbers_no_line_across_chunks(count: int, final: bytes) -> None:
    """``count`` non-blank lines (flat, Sysmon, broken, Log Analytics) with blank ones
    between: the C path reads them NATIVE_CHUNK_LINES at a time."""
    kinds = [FLAT_LINE, SYSMON_LINE, b"{bad", FLAT_LINE, LA_LINE, FLAT_LINE, FLAT_LINE]
    lines = []
    for n in range(count):
        lines.append(kinds[n % len(kinds)])
        if n % 9 == 4:
            lines.append(b"" if n % 2 else b" \t")
    lines = _lines(lines)
    with counted_c_calls() as calls:
        summary = assert_same_parse(b"\r\n".join(lines) + final)
    chunk = pipeline.NATIVE_CHUNK_LINES
    assert len(calls) >= -(-count // chunk)  # it did work in chunks
    assert all(limit == chunk for limit in calls)
    read = sorted(summary[1] + [line for line, _ in summary[2]])  # every line: event or error
    assert read == [n + 1 for n, line in enumerate(lines) if line.strip()]
    assert len(read) == count


def test_c_path_keeps_and_counts_errors_past_the_kept_limit_as_python_does() -> None:
    bad = [b"{bad %d", FLAT_LINE, b"[%d]", FLAT_LINE.replace(b"x %d", b"y" * 300)]
    lines = _lines(
        [bad[n % 4] if n % 7 else FLAT_LINE for n in range(pipeline.MAX_KEPT_ERRORS * 2)]
    )
    summary = assert_same_parse(b"\n".join(lines), max_event_bytes=280)
    assert summary[3] > 0  # errors were only counted past the limit


@pytest.mark.parametrize(
    "head", [b"\xef\xbb\xbf", b"\xef\xbb\xbf\r\n\n", b" \t\x0b\n", b""], ids=repr
)
def test_c_path_numbers_lines_after_a_byte_order_mark_or_leading_blanks_as_python(
    head: bytes,
) -> None:
    summary = assert_same_parse(head + b"\n".join(_lines([FLAT_LINE, SYSMON_LINE, b"", FLAT_LINE])))
    assert len(summary[0]) == 3


def test_c_path_raises_too_many_events_as_python_does() -> None:
    body = b"\n".join(_lines([FLAT_LINE] * 40 + [LA_LINE] * 3 + [FLAT_LINE] * 40))
    for limit in (0, 1, 39, 40, 41, 45, 83, 84):
        assert_same_parse(body, max_events=limit)


BODY_LINES = st.one_of(
    st.builds(serialised, flat_records(), st.integers(0, 2), st.integers(0, 2**32),
              newline=st.just(False)),
    st.builds(serialised, flat_records(plain=True), st.integers(0, 1), st.integers(0, 2**32),
              newline=st.just(False), plain=st.just(True)),
    st.sampled_from([LA_LINE % 1, WINLOGBEAT_LINE % 2, SYSLOG_SYSMON_LINE % 3, b"", b" ",
                     b"\x0b", b"\x0c", b"\r", b"{", *(line % 4 if b"%d" in line else line
                     for line in OTHER_LINES)]),
)  # fmt: skip


@SETTINGS
@given(
    st.lists(BODY_LINES, min_size=1, max_size=12),
    st.lists(st.sampled_from([b"\n", b"\r\n"]), min_size=12, max_size=12),
    st.sampled_from([b"", b"\n", b"\r\n"]),
    st.sampled_from([LIMIT, 120, 400]),
)
def test_c_path_parses_a_generated_body_as_python_does(
    lines: list[bytes], ends: list[bytes], final: bytes, limit: int
) -> None:
    lines = [line.replace(b"\n", b" ") for line in lines]
    body = b"".join(line + end for line, end in zip(lines, ends, strict=False))
    body = body[: -len(ends[len(lines) - 1])] + final
    assert_same_parse(body, max_event_bytes=limit)

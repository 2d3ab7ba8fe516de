"""The lake manifest: one HMAC-chained JSON line per file written, retired, held or released.

The manifest is the lake's source of truth: a Parquet file not listed in it does not exist
for queries, and one listed must hash to what the manifest says. Each entry's MAC is
HMAC-SHA256(key, prev || canonical JSON of the entry without ``mac``), ``prev`` being the MAC
of the entry before (64 zeros for the first), like the audit chain
(:mod:`maat.audit.chain`). The key derives from Maat's master secret, which is not in the
lake directory: someone who can write the lake but not read the secret can delete or edit
files and lines, and every such change is named, but cannot forge a consistent manifest.
Removing entries from the end is only visible against an *anchor* (a ``seq:mac`` kept from an
earlier verify), as for the audit log.

Kinds of entries: ``file`` (a Parquet file, with its SHA-256, row count, day, module and time
range; the batch's last one carries the ``commit`` the pipeline resumes from), ``retire`` (a
file deleted by retention, so it is not reported missing), ``hold`` and ``release`` (legal
holds: retention never deletes held data, see :mod:`maat.lake.retention`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import orjson

from maat.errors import InvalidInput

__all__ = [
    "GENESIS",
    "EntryKind",
    "FindingKind",
    "LakeFinding",
    "LakeReport",
    "LakeStats",
    "ManifestEntry",
    "ManifestState",
    "active_holds",
    "compare",
    "dump_entry",
    "live_files",
    "parse_anchor",
    "read_manifest",
    "seal",
    "summarise",
    "verify_manifest",
]

GENESIS = "0" * 64

EntryKind = Literal["file", "retire", "hold", "release"]
FindingKind = Literal[
    "changed", "missing", "inserted", "chain-broken", "truncated-line", "forged", "truncated"
]
_KINDS = ("file", "retire", "hold", "release")
_HEX64 = re.compile(r"[0-9a-f]{64}")
# A path the lake writes: day=YYYY-MM-DD/module=<m>/part-<seq>-<uuid hex>.parquet
_PATH = re.compile(
    r"day=\d{4}-\d{2}-\d{2}/module=[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}/part-\d+-[0-9a-f]{32}\.parquet"
)


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    """One manifest line. Unused fields are empty (``""``, ``0``, ``None``) for a kind.

    ``hold`` describes a hold (``id``, ``from``, ``to``, ``module``, ``reason``) or a release
    (``id``, ``reason``). ``last`` is false on every entry of one append but the final one:
    entries at the end of the manifest whose append has no final entry were cut short by a
    crash, and recovery drops them with their files.
    """

    seq: int
    kind: EntryKind
    path: str = ""
    sha256: str = ""
    rows: int = 0
    bytes: int = 0
    day: str = ""
    module: str = ""
    min_ts: str = ""
    max_ts: str = ""
    commit: Mapping[str, Any] | None = None
    hold: Mapping[str, Any] | None = None
    written_at: str = ""
    last: bool = True
    prev: str = GENESIS
    mac: str = ""

    def content(self) -> dict[str, Any]:
        """The fields the MAC covers (everything but ``mac``)."""
        data = asdict(self)
        del data["mac"]
        return data

    def describe(self) -> str:
        """A short human name for the entry, used in findings."""
        if self.kind in ("file", "retire"):
            return f"entry {self.seq} ({self.kind} {self.path})"
        hold_id = (self.hold or {}).get("id", "?")
        return f"entry {self.seq} ({self.kind} {hold_id})"


@dataclass(frozen=True, slots=True)
class LakeFinding:
    """One defect: a file changed, missing or inserted, or a manifest line broken.

    ``where`` is the file path (relative to the lake root) or ``manifest line N``.
    """

    kind: FindingKind
    where: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.where}: {self.detail}"


@dataclass(frozen=True, slots=True)
class LakeReport:
    """The outcome of verifying the lake; ``ok`` when nothing was found."""

    ok: bool
    files: int
    rows: int
    findings: tuple[LakeFinding, ...]
    head_seq: int = 0
    head_mac: str = GENESIS

    @property
    def anchor(self) -> str:
        """``SEQ:MAC`` of the last entry, to keep and give to a later ``verify --anchor``."""
        return f"{self.head_seq}:{self.head_mac}"

    def as_dict(self) -> dict[str, Any]:
        """The JSON form used by ``maat lake verify --format json``."""
        return {
            "ok": self.ok,
            "files": self.files,
            "rows": self.rows,
            "anchor": self.anchor,
            "findings": [
                {"kind": f.kind, "where": f.where, "detail": f.detail} for f in self.findings
            ],
        }


@dataclass(frozen=True, slots=True)
class ManifestState:
    """A manifest as read: its good entries, what is wrong with it, and where it may be cut.

    ``valid_length`` is the byte length of the manifest without a torn last line (the whole
    manifest when the last line is complete): what :meth:`ParquetLake.recover` truncates to.
    """

    entries: tuple[ManifestEntry, ...]
    findings: tuple[LakeFinding, ...]
    valid_length: int
    torn: bool = False

    @property
    def head(self) -> tuple[int, str]:
        """(seq, mac) of the last entry, (0, GENESIS) for an empty manifest."""
        if not self.entries:
            return 0, GENESIS
        last = self.entries[-1]
        return last.seq, last.mac

    @property
    def damaged(self) -> tuple[LakeFinding, ...]:
        """Findings other than a torn last line (which recovery repairs)."""
        return tuple(f for f in self.findings if f.kind != "truncated-line")


@dataclass(frozen=True, slots=True)
class LakeStats:
    """What the lake holds (``maat lake stats``)."""

    files: int
    rows: int
    bytes: int
    first_day: str
    last_day: str
    modules: Mapping[str, int]
    retired_files: int
    active_holds: tuple[Mapping[str, Any], ...]
    head_seq: int
    head_mac: str


def canonical(content: Mapping[str, Any]) -> bytes:
    """The bytes a MAC covers: sorted-key JSON of the entry without its MAC."""
    return orjson.dumps(content, option=orjson.OPT_SORT_KEYS)


def mac_of(key: bytes, content: Mapping[str, Any], prev: str) -> str:
    """HMAC-SHA256(key, prev || canonical(content)) as hex."""
    return hmac.new(key, prev.encode("ascii") + canonical(content), hashlib.sha256).hexdigest()


def seal(key: bytes, entry: ManifestEntry, prev: str) -> ManifestEntry:
    """``entry`` linked after the entry whose MAC is ``prev``, with its own MAC.

    Raises ``InvalidInput`` when a ``commit`` or ``hold`` value cannot be written as JSON.
    """
    unsealed = _replace(entry, prev=prev, mac="")
    try:
        mac = mac_of(key, unsealed.content(), prev)
    except (orjson.JSONEncodeError, TypeError) as exc:
        raise InvalidInput(f"a manifest entry cannot be written as JSON: {exc}") from None
    return _replace(unsealed, mac=mac)


def _replace(entry: ManifestEntry, **changes: Any) -> ManifestEntry:
    data = asdict(entry)
    data.update(changes)
    return ManifestEntry(**data)


def dump_entry(entry: ManifestEntry) -> bytes:
    """One manifest line for ``entry``, newline included."""
    return orjson.dumps(asdict(entry), option=orjson.OPT_SORT_KEYS) + b"\n"


def _entry_from(obj: Any) -> ManifestEntry:
    """A ManifestEntry from a decoded line; ValueError names the first bad field."""
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    names = set(ManifestEntry.__dataclass_fields__)
    if set(obj) != names:
        odd = sorted(set(obj) ^ names)
        raise ValueError(f"unexpected or missing fields: {', '.join(odd)}")
    ints = ("seq", "rows", "bytes")
    texts = ("path", "sha256", "day", "module", "min_ts", "max_ts", "written_at", "prev", "mac")
    for name in ints:
        if not isinstance(obj[name], int) or isinstance(obj[name], bool) or obj[name] < 0:
            raise ValueError(f"{name} is not a non-negative integer")
    for name in texts:
        if not isinstance(obj[name], str):
            raise ValueError(f"{name} is not text")
    if not isinstance(obj["last"], bool):
        raise ValueError("last is not true or false")
    for name in ("commit", "hold"):
        if obj[name] is not None and not isinstance(obj[name], dict):
            raise ValueError(f"{name} is not an object")
    if obj["kind"] not in _KINDS:
        raise ValueError(f"unknown kind {str(obj['kind'])[:20]!r}")
    if not _HEX64.fullmatch(obj["prev"]) or not _HEX64.fullmatch(obj["mac"]):
        raise ValueError("prev or mac is not 64 hex characters")
    if obj["kind"] in ("file", "retire"):
        if not _PATH.fullmatch(obj["path"]):
            raise ValueError(f"path {obj['path'][:80]!r} is not a lake file path")
        if not _HEX64.fullmatch(obj["sha256"]):
            raise ValueError("sha256 is not 64 hex characters")
    elif not isinstance(obj["hold"], dict) or not isinstance(obj["hold"].get("id"), str):
        raise ValueError("a hold or release without a hold id")
    return ManifestEntry(**obj)


def read_manifest(
    data: bytes,
    key: bytes,
    *,
    anchor: tuple[int, str] | None = None,
    after: tuple[int, str] = (0, GENESIS),
    first_line: int = 1,
) -> ManifestState:
    """Parse and verify a manifest (or, with ``after``, the lines appended after an entry
    already verified: its (seq, mac), the new lines numbered from ``first_line``).

    1. A last line without its newline is a torn append (a crash while writing):
       ``truncated-line``; it is left out and ``valid_length`` says where to cut. So are
       complete entries at the end whose append never wrote its final (``last``) entry.
    2. Each other line must decode to a well-formed entry; else ``chain-broken`` (the line is
       skipped, and the next entry's link then also names the gap).
    3. Its MAC must match its content and stated predecessor under ``key``: else ``forged``
       (edited by someone without the key, or written with another key). Forged entries are
       kept out of :attr:`ManifestState.entries`, so nothing trusts them; the next line is
       checked against the forged line's MAC as written, so one edit is named once.
    4. Its stated predecessor must be the entry before it and ``seq`` must count up by one:
       else ``chain-broken`` (lines deleted, inserted or moved).
    5. With ``anchor`` (seq, mac): the entry at ``seq`` must exist with that MAC; if the
       manifest ends before ``seq``, entries were removed from the end (``truncated``).
    """
    findings: list[LakeFinding] = []
    entries: list[ManifestEntry] = []
    lines = data.split(b"\n")
    tail = lines.pop()  # b"" when data ends with a newline
    torn = bool(tail)
    valid_length = len(data) - len(tail)
    if torn:
        findings.append(
            LakeFinding(
                "truncated-line",
                f"manifest line {len(lines) + first_line}",
                "the last line is incomplete (a crash while appending); recovery drops it",
            )
        )
    prev_seq, prev_mac = after
    seen: set[str] = set()
    starts: list[int] = []  # byte offset of each kept entry's line
    offset = 0
    for number, line in enumerate(lines, start=first_line):
        where = f"manifest line {number}"
        start, offset = offset, offset + len(line) + 1
        try:
            entry = _entry_from(orjson.loads(line))
        except (orjson.JSONDecodeError, ValueError, TypeError) as exc:
            findings.append(LakeFinding("chain-broken", where, f"not a manifest entry: {exc}"))
            continue
        forged = not hmac.compare_digest(mac_of(key, entry.content(), entry.prev), entry.mac)
        if forged:
            findings.append(
                LakeFinding(
                    "forged",
                    where,
                    f"{entry.describe()} does not match its MAC: edited, or not written "
                    "with this lake's key",
                )
            )
        elif entry.prev != prev_mac or entry.seq != prev_seq + 1:
            if entry.prev in seen:
                why = "it was appended elsewhere in the chain (lines moved or inserted)"
            elif entry.prev == GENESIS:
                why = "it was the first entry of a manifest"
            else:
                why = "the entry it was appended after is gone (lines deleted)"
            findings.append(
                LakeFinding(
                    "chain-broken",
                    where,
                    f"{entry.describe()} does not follow entry {prev_seq}: {why}",
                )
            )
        # The next line links to this one's MAC as written, so an edited line is named once.
        seen.add(entry.mac)
        prev_mac, prev_seq = entry.mac, entry.seq
        if not forged:
            entries.append(entry)
            starts.append(start)
    if anchor is not None:
        findings.extend(_check_anchor(entries, anchor))
    if entries and not entries[-1].last:
        keep = len(entries)
        while keep and not entries[keep - 1].last:
            keep -= 1
        cut = entries[keep:]
        findings.append(
            LakeFinding(
                "truncated-line",
                f"manifest entries {cut[0].seq}..{cut[-1].seq}",
                f"an append of {len(cut)}+ entries never completed (a crash while appending); "
                "recovery drops them and their files",
            )
        )
        valid_length, torn = starts[keep], True
        entries = entries[:keep]
    return ManifestState(tuple(entries), tuple(findings), valid_length, torn)


def _check_anchor(entries: Sequence[ManifestEntry], anchor: tuple[int, str]) -> list[LakeFinding]:
    anchor_seq, anchor_mac = anchor
    head_seq = entries[-1].seq if entries else 0
    if anchor_seq > head_seq:
        return [
            LakeFinding(
                "truncated",
                f"manifest entry {head_seq + 1}",
                f"entries {head_seq + 1}..{anchor_seq} were removed from the end "
                f"(the anchor names entry {anchor_seq})",
            )
        ]
    if anchor_seq > 0 and not any(
        e.seq == anchor_seq and hmac.compare_digest(e.mac, anchor_mac) for e in entries
    ):
        return [
            LakeFinding(
                "chain-broken",
                f"manifest entry {anchor_seq}",
                "the entry does not match the anchor's MAC (the manifest was replaced)",
            )
        ]
    return []


def verify_manifest(
    data: bytes, key: bytes, *, anchor: tuple[int, str] | None = None
) -> list[LakeFinding]:
    """The findings of :func:`read_manifest` alone (the chain, not the files)."""
    return list(read_manifest(data, key, anchor=anchor).findings)


def live_files(entries: Iterable[ManifestEntry]) -> dict[str, ManifestEntry]:
    """Files listed and not retired, by path, in manifest order."""
    live: dict[str, ManifestEntry] = {}
    for entry in entries:
        if entry.kind == "file":
            live[entry.path] = entry
        elif entry.kind == "retire":
            live.pop(entry.path, None)
    return live


def compare(
    entries: Sequence[ManifestEntry],
    present: Mapping[str, str | None],
    *,
    findings: Iterable[LakeFinding] = (),
    head: tuple[int, str] | None = None,
) -> LakeReport:
    """Compare the files the manifest lists with those on disk.

    ``present`` maps each file found under the lake root (relative posix path) to its SHA-256,
    or ``None`` when it could not be read as a regular file (a symlink, a directory named like
    a file). A listed file absent is ``missing``; one with another hash ``changed``; a file on
    disk the manifest does not list (or lists as retired) is ``inserted``. Retired files that
    are gone are expected. ``findings`` (the chain's) come first in the report.
    """
    out = list(findings)
    live = live_files(entries)
    retired = {e.path for e in entries if e.kind == "retire"}
    for path, entry in live.items():
        if path not in present:
            out.append(LakeFinding("missing", path, f"listed by entry {entry.seq}, not on disk"))
            continue
        actual = present[path]
        if actual is None:
            out.append(LakeFinding("changed", path, "no longer a regular file"))
        elif not hmac.compare_digest(actual, entry.sha256):
            out.append(
                LakeFinding(
                    "changed",
                    path,
                    f"SHA-256 is {actual[:16]}…, entry {entry.seq} recorded {entry.sha256[:16]}…",
                )
            )
    for path in sorted(set(present) - set(live)):
        why = (
            "retired by retention but still on disk"
            if path in retired
            else "not listed in the manifest"
        )
        out.append(LakeFinding("inserted", path, why))
    if head is None:
        head = (entries[-1].seq, entries[-1].mac) if entries else (0, GENESIS)
    return LakeReport(
        ok=not out,
        files=len(live),
        rows=sum(e.rows for e in live.values()),
        findings=tuple(out),
        head_seq=head[0],
        head_mac=head[1],
    )


def active_holds(entries: Iterable[ManifestEntry]) -> dict[str, Mapping[str, Any]]:
    """Holds placed and not released, by hold id, in the order they were placed."""
    holds: dict[str, Mapping[str, Any]] = {}
    for entry in entries:
        if entry.kind == "hold" and entry.hold is not None:
            holds[str(entry.hold["id"])] = entry.hold
        elif entry.kind == "release" and entry.hold is not None:
            holds.pop(str(entry.hold["id"]), None)
    return holds


def summarise(entries: Sequence[ManifestEntry]) -> LakeStats:
    """Counts over the live files, the modules, the active holds and the head."""
    live = list(live_files(entries).values())
    modules: dict[str, int] = {}
    for entry in live:
        modules[entry.module] = modules.get(entry.module, 0) + entry.rows
    days = sorted(e.day for e in live)
    head = entries[-1] if entries else None
    return LakeStats(
        files=len(live),
        rows=sum(e.rows for e in live),
        bytes=sum(e.bytes for e in live),
        first_day=days[0] if days else "",
        last_day=days[-1] if days else "",
        modules=dict(sorted(modules.items())),
        retired_files=sum(1 for e in entries if e.kind == "retire"),
        active_holds=tuple(active_holds(entries).values()),
        head_seq=head.seq if head else 0,
        head_mac=head.mac if head else GENESIS,
    )


def parse_anchor(text: str) -> tuple[int, str]:
    """Parse ``SEQ:MAC`` as printed by ``maat lake verify``."""
    seq, _, mac = text.strip().partition(":")
    if not seq.isdigit() or not _HEX64.fullmatch(mac):
        raise InvalidInput(
            "an anchor is SEQ:MAC (64 hex digits), as printed by 'maat lake verify'",
            field="anchor",
        )
    return int(seq), mac

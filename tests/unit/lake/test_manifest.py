"""The manifest's HMAC chain: every edit, deletion, reordering, forgery and torn write is named."""

from __future__ import annotations

from dataclasses import replace

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maat.errors import InvalidInput
from maat.lake.manifest import (
    GENESIS,
    ManifestEntry,
    compare,
    dump_entry,
    live_files,
    parse_anchor,
    read_manifest,
    seal,
    summarise,
    verify_manifest,
)

KEY = b"k" * 32


def _path(seq: int, day: str = "2024-03-01", module: str = "windows") -> str:
    return f"day={day}/module={module}/part-{seq}-{seq:032x}.parquet"


def _file(seq: int, **changes: object) -> ManifestEntry:
    entry = ManifestEntry(
        seq=seq,
        kind="file",
        path=_path(seq),
        sha256=f"{seq:064x}",
        rows=10 * seq,
        bytes=1000,
        day="2024-03-01",
        module="windows",
        min_ts="2024-03-01T00:00:00.000000Z",
        max_ts="2024-03-01T01:00:00.000000Z",
        written_at="2024-03-01T02:00:00.000000Z",
    )
    return replace(entry, **changes)  # type: ignore[arg-type]


def _chain(entries: list[ManifestEntry], key: bytes = KEY) -> list[ManifestEntry]:
    sealed, prev = [], GENESIS
    for entry in entries:
        item = seal(key, entry, prev)
        sealed.append(item)
        prev = item.mac
    return sealed


def _bytes(entries: list[ManifestEntry]) -> bytes:
    return b"".join(dump_entry(e) for e in entries)


def _kinds(data: bytes, **kw: object) -> list[tuple[str, str]]:
    return [(f.kind, f.where) for f in verify_manifest(data, KEY, **kw)]  # type: ignore[arg-type]


@pytest.fixture
def chain() -> list[ManifestEntry]:
    return _chain([_file(i) for i in range(1, 6)])


def test_an_intact_manifest_reads_back_whole(chain: list[ManifestEntry]) -> None:
    state = read_manifest(_bytes(chain), KEY)
    assert state.findings == ()
    assert state.entries == tuple(chain)
    assert state.head == (5, chain[-1].mac)
    assert state.valid_length == len(_bytes(chain))


def test_an_edited_manifest_line_is_named_forged(chain: list[ManifestEntry]) -> None:
    lines = _bytes(chain).splitlines(keepends=True)
    record = orjson.loads(lines[2])
    record["rows"] = 1  # hide how many events the file held
    lines[2] = orjson.dumps(record, option=orjson.OPT_SORT_KEYS) + b"\n"
    state = read_manifest(b"".join(lines), KEY)
    assert [(f.kind, f.where) for f in state.findings] == [("forged", "manifest line 3")]
    assert "entry 3" in state.findings[0].detail
    assert all(e.seq != 3 for e in state.entries)  # a forged entry is never trusted


def test_a_manifest_written_with_another_key_is_forged_everywhere(
    chain: list[ManifestEntry],
) -> None:
    forged = _bytes(_chain([_file(i) for i in range(1, 4)], key=b"x" * 32))
    assert _kinds(forged) == [("forged", f"manifest line {n}") for n in (1, 2, 3)]


def test_a_deleted_manifest_line_breaks_the_chain_at_the_next_one(
    chain: list[ManifestEntry],
) -> None:
    lines = _bytes(chain).splitlines(keepends=True)
    del lines[1]
    state = read_manifest(b"".join(lines), KEY)
    assert [(f.kind, f.where) for f in state.findings] == [("chain-broken", "manifest line 2")]
    assert "gone" in state.findings[0].detail


def test_moved_manifest_lines_are_named(chain: list[ManifestEntry]) -> None:
    lines = _bytes(chain).splitlines(keepends=True)
    lines[1], lines[3] = lines[3], lines[1]
    kinds = _kinds(b"".join(lines))
    assert kinds and {k for k, _ in kinds} == {"chain-broken"}
    assert ("chain-broken", "manifest line 2") in kinds


def test_a_line_that_is_not_an_entry_is_named(chain: list[ManifestEntry]) -> None:
    lines = _bytes(chain).splitlines(keepends=True)
    lines.insert(2, b'{"seq": "nonsense"}\n')
    kinds = _kinds(b"".join(lines))
    assert kinds[0] == ("chain-broken", "manifest line 3")


def test_an_entry_naming_a_path_outside_the_lake_is_refused_even_if_sealed() -> None:
    evil = _chain([_file(1, path="../../etc/passwd")])
    state = read_manifest(_bytes(evil), KEY)
    assert [f.kind for f in state.findings] == ["chain-broken"]
    assert "not a lake file path" in state.findings[0].detail
    assert state.entries == ()


def test_a_torn_last_line_is_distinct_and_cut_off(chain: list[ManifestEntry]) -> None:
    whole = _bytes(chain)
    torn = whole + dump_entry(seal(KEY, _file(6), chain[-1].mac))[:40]
    state = read_manifest(torn, KEY)
    assert [(f.kind, f.where) for f in state.findings] == [("truncated-line", "manifest line 6")]
    assert state.damaged == ()
    assert state.torn and state.valid_length == len(whole)
    assert state.entries == tuple(chain)


def test_an_append_cut_between_its_lines_is_dropped_whole(chain: list[ManifestEntry]) -> None:
    # Entries 6 and 7 of a three-entry batch made it; entry 8 (the one with the commit) did not.
    batch = [_file(6, last=False), _file(7, last=False)]
    sealed = _chain_after(chain, batch)
    data = _bytes(chain) + _bytes(sealed)
    state = read_manifest(data, KEY)
    assert [(f.kind, f.where) for f in state.findings] == [
        ("truncated-line", "manifest entries 6..7")
    ]
    assert state.entries == tuple(chain) and state.valid_length == len(_bytes(chain))


def _chain_after(chain: list[ManifestEntry], more: list[ManifestEntry]) -> list[ManifestEntry]:
    sealed, prev = [], chain[-1].mac
    for entry in more:
        item = seal(KEY, entry, prev)
        sealed.append(item)
        prev = item.mac
    return sealed


def test_a_cut_off_tail_is_caught_only_against_an_anchor(chain: list[ManifestEntry]) -> None:
    anchor = (5, chain[-1].mac)
    cut = _bytes(chain[:3])
    assert _kinds(cut) == []  # without an anchor a shorter chain is still a valid chain
    assert _kinds(cut, anchor=anchor) == [("truncated", "manifest entry 4")]
    assert _kinds(_bytes(chain), anchor=anchor) == []
    assert _kinds(_bytes(chain), anchor=(3, chain[2].mac)) == []  # older anchors still hold


def test_a_replaced_manifest_does_not_match_the_anchor(chain: list[ManifestEntry]) -> None:
    other = _chain([_file(i, rows=1) for i in range(1, 6)])
    assert _kinds(_bytes(other), anchor=(5, chain[-1].mac)) == [
        ("chain-broken", "manifest entry 5")
    ]


def test_reading_on_from_a_verified_head_continues_the_chain(
    chain: list[ManifestEntry],
) -> None:
    more = _chain_after(chain, [_file(6), _file(7)])
    state = read_manifest(_bytes(more), KEY, after=(5, chain[-1].mac), first_line=6)
    assert state.findings == () and [e.seq for e in state.entries] == [6, 7]
    wrong = read_manifest(_bytes(more), KEY, after=(5, "f" * 64), first_line=6)
    assert [(f.kind, f.where) for f in wrong.findings] == [("chain-broken", "manifest line 6")]


def test_compare_names_changed_missing_and_inserted_files(chain: list[ManifestEntry]) -> None:
    present: dict[str, str | None] = {e.path: e.sha256 for e in chain}
    present[chain[0].path] = "f" * 64  # edited
    del present[chain[1].path]  # deleted
    present[chain[2].path] = None  # replaced by a link
    present[_path(99)] = "a" * 64  # dropped in
    report = compare(chain, present)
    assert not report.ok
    assert [(f.kind, f.where) for f in report.findings] == [
        ("changed", chain[0].path),
        ("missing", chain[1].path),
        ("changed", chain[2].path),
        ("inserted", _path(99)),
    ]
    assert report.files == 5 and report.rows == sum(e.rows for e in chain)


def test_retired_files_are_not_missing_but_a_retired_file_left_behind_is_reported(
    chain: list[ManifestEntry],
) -> None:
    retire = _chain_after(chain, [replace(chain[0], seq=6, kind="retire", mac="", prev="")])
    entries = chain + retire
    present: dict[str, str | None] = {e.path: e.sha256 for e in chain[1:]}
    report = compare(entries, present)
    assert report.ok and report.files == 4
    present[chain[0].path] = chain[0].sha256
    report = compare(entries, present)
    assert [(f.kind, f.detail) for f in report.findings] == [
        ("inserted", "retired by retention but still on disk")
    ]
    assert list(live_files(entries)) == [e.path for e in chain[1:]]


def test_summary_counts_live_files_and_active_holds(chain: list[ManifestEntry]) -> None:
    hold = {"id": "hold-6", "from": "2024-03-01", "to": "2024-03-02", "module": None, "reason": "x"}
    extra = _chain_after(
        chain,
        [
            ManifestEntry(seq=6, kind="hold", hold=hold),
            ManifestEntry(seq=7, kind="hold", hold={**hold, "id": "hold-7"}),
            ManifestEntry(seq=8, kind="release", hold={"id": "hold-6", "reason": "closed"}),
        ],
    )
    stats = summarise(chain + extra)
    assert (stats.files, stats.rows, stats.bytes) == (5, 150, 5000)
    assert stats.modules == {"windows": 150}
    assert [h["id"] for h in stats.active_holds] == ["hold-7"]
    assert stats.head_seq == 8 and stats.first_day == stats.last_day == "2024-03-01"


def test_a_commit_that_is_not_json_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="JSON"):
        seal(KEY, _file(1, commit={"position": object()}), GENESIS)


def test_anchors_parse_as_printed() -> None:
    assert parse_anchor(f" 12:{'a' * 64} ") == (12, "a" * 64)
    for bad in ("12", f"x:{'a' * 64}", "3:abc", f"3:{'A' * 64}"):
        with pytest.raises(InvalidInput):
            parse_anchor(bad)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_any_single_byte_change_to_the_manifest_is_named(data: st.DataObject) -> None:
    hold = {"id": "hold-4", "from": "2024-01-01", "to": "2024-01-02", "module": None}
    entries = _chain(
        [
            _file(1),
            _file(2, commit={"bus": "spool", "position": 17}),
            _file(3, last=False),
            ManifestEntry(seq=4, kind="hold", hold={**hold, "reason": "affaire n° 12"}),
        ]
    )
    original = _bytes(entries)
    position = data.draw(st.integers(0, len(original) - 1))
    value = data.draw(st.integers(0, 255).filter(lambda b: b != original[position]))
    changed = bytearray(original)
    changed[position] = value
    assert verify_manifest(bytes(changed), KEY), f"byte {position} -> {value} went unnoticed"

"""EVTX files read record by record: every real file read whole, damage reported in place.

The real files are the Sigma regression cases and EVTX-ATTACK-SAMPLES (GPL data: read from
the shared folder, never copied into the project). Damaged files are made in memory from them.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import pytest

from maat.adapters.feeds.evtx_files import EVTX_MAGIC, is_evtx, iter_evtx
from maat.errors import InvalidInput
from maat.telemetry.model import finish
from maat.telemetry.windows import EvtxJsonSource
from telemetry_kit import EVTX_SAMPLES, SIGMA_REGRESSION, needs

evtx = pytest.importorskip("evtx")

INJECTION = EVTX_SAMPLES / "Defense Evasion" / "de_unmanagedpowershell_psinject_sysmon_7_8_10.evtx"


def evtx_files() -> list[Path]:
    found: list[Path] = []
    for folder in (SIGMA_REGRESSION, EVTX_SAMPLES):
        if folder.exists():
            found.extend(sorted(folder.rglob("*.evtx")))
    return found


def package_record_numbers(path: Path) -> list[int]:
    """The record numbers the ``evtx`` package itself reads from ``path``."""
    return [record["event_record_id"] for record in evtx.PyEvtxParser(str(path)).records_json()]


def record_offsets(data: bytes) -> list[tuple[int, int, int]]:
    """(offset, size, record number) of each record in the first chunk."""
    offset = 4096 + 512
    found = []
    while data[offset : offset + 4] == b"\x2a\x2a\x00\x00":
        size, number = struct.unpack_from("<IQ", data, offset + 4)
        found.append((offset, size, number))
        offset += size
    return found


def test_is_evtx_checks_the_magic() -> None:
    assert is_evtx(EVTX_MAGIC + b"\x00" * 8)
    assert is_evtx(EVTX_MAGIC)
    assert not is_evtx(b"ElfFile")
    assert not is_evtx(b'{"Event": {}}')
    assert not is_evtx(b"")


@pytest.mark.parametrize(
    "data",
    [b'{"EventID": 1}\n', b"", b"MZ\x90\x00" + b"\x00" * 5000, EVTX_MAGIC + b"\x00" * 100],
)
def test_data_that_is_not_evtx_raises_invalid_input_naming_the_file(data: bytes) -> None:
    with pytest.raises(InvalidInput, match="not an EVTX file") as caught:
        iter_evtx(data, source="upload.evtx")
    assert caught.value.location.file == "upload.evtx"


def test_evtx_magic_with_a_damaged_header_is_refused() -> None:
    with pytest.raises(InvalidInput, match="damaged file header"):
        iter_evtx(EVTX_MAGIC + b"\xff" * 70000, source="junk.evtx")


@needs(EVTX_SAMPLES)
@needs(SIGMA_REGRESSION)
def test_every_real_evtx_file_is_read_whole_and_normalised() -> None:
    files = evtx_files()
    assert len(files) >= 140
    source = EvtxJsonSource()
    total = 0
    for path in files:
        data = path.read_bytes()
        results = list(iter_evtx(data, source=str(path)))
        errors = [item for _, item in results if isinstance(item, InvalidInput)]
        assert errors == [], path
        assert [number for number, _ in results] == package_record_numbers(path), path
        for number, record in results:
            assert isinstance(record, dict)
            fields = source.normalise(record)
            assert isinstance(fields, dict)
            # The file's own record number can differ from System.EventRecordID (the number
            # in the log the record was exported from); both are kept.
            assert isinstance(fields["winlog.record_id"], int) and number >= 1
            event = finish(fields, module=source.name, raw=b"", received="2030-01-01T00:00:00Z")
            assert event["@timestamp"] < "2030"
        total += len(results)
    assert total >= 500


@needs(EVTX_SAMPLES)
def test_records_carry_the_events_of_the_attack() -> None:
    path = (
        EVTX_SAMPLES / "Credential Access" / "sysmon_10_lsass_mimikatz_sekurlsa_logonpasswords.evtx"
    )
    [(_, record)] = list(iter_evtx(path.read_bytes(), source=path.name))
    assert isinstance(record, dict)
    event = EvtxJsonSource().normalise(record)
    assert event["event.action"] == "process-accessed"
    assert event["target.process.name"].lower() == "lsass.exe"
    exit_monitor = (
        EVTX_SAMPLES
        / "Credential Access"
        / "LsassSilentProcessExit_process_exit_monitor_3001_lsass.evtx"
    )
    for _, item in iter_evtx(exit_monitor.read_bytes(), source=exit_monitor.name):
        assert isinstance(item, dict)
        fields = EvtxJsonSource().normalise(item)
        assert fields["event.code"] == "3001"  # EventID given as {"#text": 3001, ...}
        assert fields["winlog.event_data.param1"] == "C:\\Windows\\System32\\lsass.exe"


@needs(EVTX_SAMPLES)
def test_corrupt_record_is_reported_in_place_and_the_rest_is_read() -> None:
    data = bytearray(INJECTION.read_bytes())
    offset, _, number = record_offsets(bytes(data))[10]
    data[offset + 24 : offset + 84] = b"\xff" * 60  # the record's BinXML
    results = list(iter_evtx(bytes(data), source="injection.evtx"))
    errors = [(n, item) for n, item in results if isinstance(item, InvalidInput)]
    assert [n for n, _ in errors] == [number]
    error = errors[0][1]
    assert error.location.file == "injection.evtx" and error.location.line == number
    good = [n for n, item in results if isinstance(item, dict)]
    assert len(good) == len(package_record_numbers(INJECTION)) - 1
    assert good[-1] == 84


@needs(EVTX_SAMPLES)
def test_corrupt_record_size_loses_only_its_chunk_and_says_so() -> None:
    data = bytearray(INJECTION.read_bytes())
    offset, _, number = record_offsets(bytes(data))[10]
    struct.pack_into("<I", data, offset + 4, 0xFFFF)
    results = list(iter_evtx(bytes(data), source="injection.evtx"))
    assert [n for n, item in results if isinstance(item, dict)] == list(range(1, number))
    assert [n for n, item in results if isinstance(item, InvalidInput)] == [number]


@needs(EVTX_SAMPLES)
def test_damaged_chunk_header_is_reported() -> None:
    data = bytearray(INJECTION.read_bytes())
    data[4096 : 4096 + 8] = b"XXXXXXXX"
    results = list(iter_evtx(bytes(data), source="injection.evtx"))
    assert results and all(isinstance(item, InvalidInput) for _, item in results)
    assert "chunk" in str(results[0][1])


@needs(EVTX_SAMPLES)
@pytest.mark.parametrize("keep", [4096, 4096 + 512, 30000, 69632 - 1000])
def test_file_cut_short_is_reported_not_silently_empty(keep: int) -> None:
    data = INJECTION.read_bytes()[:keep]
    results = list(iter_evtx(data, source="cut.evtx"))
    assert results, "a cut file must not read as an empty log"
    _, error = results[-1]
    assert isinstance(error, InvalidInput) and "cut short" in str(error)
    assert error.location.file == "cut.evtx"


@needs(EVTX_SAMPLES)
def test_record_limit_stops_reading_and_says_so() -> None:
    data = INJECTION.read_bytes()
    results = list(iter_evtx(data, source="big.evtx", max_records=5))
    assert [n for n, item in results if isinstance(item, dict)] == [1, 2, 3, 4, 5]
    last: Any = results[-1][1]
    assert isinstance(last, InvalidInput) and "more than 5 records" in str(last)
    assert last.location.line == 6
    everything = list(iter_evtx(data, source="big.evtx", max_records=84))
    assert len(everything) == 84
    assert all(isinstance(item, dict) for _, item in everything)

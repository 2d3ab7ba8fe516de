"""Feed archives: OSV zip dumps are read, hostile archives are refused before expansion."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from maat.adapters.feeds.files import iter_items, read_file
from maat.errors import InvalidInput, PayloadTooLarge
from maat.services.vulns import load_index


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_osv_zip_dump_builds_an_index(tmp_path: Path) -> None:
    doc = {
        "id": "GHSA-aaaa-bbbb-cccc",
        "modified": "2024-01-01T00:00:00Z",
        "affected": [
            {
                "package": {"ecosystem": "npm", "name": "x"},
                "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.0.0"}]}],
            }
        ],
    }
    dump = _zip(
        tmp_path / "npm.zip",
        {"GHSA-aaaa-bbbb-cccc.json": json.dumps(doc).encode(), "README.txt": b"ignored"},
    )
    index = load_index(dump)
    assert [a.id for a in index.advisories] == ["GHSA-aaaa-bbbb-cccc"]


def test_zip_slip_member_is_refused(tmp_path: Path) -> None:
    dump = _zip(tmp_path / "evil.zip", {"../../etc/cron.d/x.json": b"{}"})
    with pytest.raises(InvalidInput, match="unsafe member path"):
        list(iter_items(dump))


def test_zip_bomb_is_refused_before_expansion(tmp_path: Path) -> None:
    dump = _zip(tmp_path / "bomb.zip", {"a.json": b"0" * 5_000_000})
    with pytest.raises(PayloadTooLarge):
        list(iter_items(dump, max_total=1_000_000))
    with pytest.raises(PayloadTooLarge):
        list(iter_items(dump, max_file=1_000_000))


def test_missing_and_oversized_files_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as missing:
        read_file(tmp_path / "nope.json")
    assert missing.value.location.file == str(tmp_path / "nope.json")
    big = tmp_path / "big.json"
    big.write_bytes(b"x" * 2048)
    with pytest.raises(PayloadTooLarge):
        read_file(big, max_bytes=1024)

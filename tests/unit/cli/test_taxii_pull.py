"""`maat iocs pull`: a TAXII 2.1 collection, paged, authenticated, incremental, into a
STIX bundle that detection reads. The server here speaks TAXII 2.1 over real HTTP."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from http_kit import QuietHandler, serving
from maat.cli.main import run
from maat.detect.iocs import IocIndex, load_iocs

INDICATORS = [
    {"type": "indicator", "spec_version": "2.1", "id": f"indicator--0000000{n}-0000-4000-8000-000000000000",
     "created": "2026-01-01T00:00:00Z", "modified": "2026-01-01T00:00:00Z", "pattern_type": "stix",
     "valid_from": "2026-01-01T00:00:00Z", "pattern": f"[domain-name:value = 'c2-{n}.example']"}
    for n in range(5)
]  # fmt: skip
ADDED = [f"2026-01-0{n + 1}T00:00:00.000Z" for n in range(5)]


class Taxii(QuietHandler):
    seen: list[tuple[str, dict[str, list[str]]]] = []

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        expected = "Basic " + base64.b64encode(b"maat:s3cret").decode()
        if self.headers.get("Authorization") != expected:
            self.send_response(401)
            self.end_headers()
            return
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        Taxii.seen.append((parts.path, query))
        assert parts.path == "/api1/collections/tidrone/objects/"
        assert self.headers["Accept"] == "application/taxii+json;version=2.1"
        after = query.get("added_after", [""])[0]
        pool = [(a, o) for a, o in zip(ADDED, INDICATORS, strict=True) if a > after]
        start = int(query.get("next", ["0"])[0])
        page = pool[start : start + 2]
        body = {"objects": [o for _, o in page], "more": start + 2 < len(pool)}
        if body["more"]:
            body["next"] = str(start + 2)
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/taxii+json;version=2.1")
        if page:
            self.send_header("X-TAXII-Date-Added-Last", page[-1][0])
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def server() -> Iterator[str]:
    Taxii.seen = []
    with serving(Taxii) as url:
        yield f"{url}/api1/"


def test_pull_pages_through_a_collection_then_only_what_was_added(
    server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TAXII_PASSWORD", "s3cret")
    out, state = tmp_path / "taxii.json", tmp_path / "taxii.state"
    args = ["iocs", "pull", server, "--collection", "tidrone", "--out", str(out),
            "--user", "maat", "--password-env", "TAXII_PASSWORD", "--state", str(state)]  # fmt: skip
    assert run(args) == 0
    assert "5 object(s), 5 indicator(s) in 3 page(s)" in capsys.readouterr().out
    index = IocIndex(load_iocs([(str(out), out.read_bytes())]))
    assert index.count == 5 and index.match({"dns.question.name": "c2-3.example"})
    assert state.read_text().strip() == ADDED[-1]
    # The next pull asks only for what came after the last one: nothing here.
    assert run(args) == 0
    assert Taxii.seen[-1][1]["added_after"] == [ADDED[-1]]
    assert len(json.loads(out.read_text())["objects"]) == 5  # the file keeps the collection


def pull(server: str, out: Path) -> int:
    """``maat iocs pull`` of the test collection into ``out``, with the password in
    ``$TAXII_PASSWORD``."""
    return run(["iocs", "pull", server, "--collection", "tidrone", "--out", str(out),
                "--user", "maat", "--password-env", "TAXII_PASSWORD"])  # fmt: skip


def test_wrong_credentials_are_an_error_not_an_empty_feed(
    server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TAXII_PASSWORD", "wrong")
    assert pull(server, tmp_path / "o.json") == 1
    assert "401" in capsys.readouterr().err
    assert not (tmp_path / "o.json").exists()


def test_a_pull_state_that_is_a_folder_is_a_clear_error(
    server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    code = run(["iocs", "pull", server, "--collection", "tidrone",
                "--out", str(tmp_path / "o.json"), "--state", str(state)])  # fmt: skip
    assert code == 1
    err = capsys.readouterr().err
    assert "cannot read the pull state" in err and str(state) in err


def test_a_pull_stops_at_the_configured_total_size(
    server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``[detect] taxii_max_bytes`` bounds the whole pull, not one page."""
    monkeypatch.setenv("TAXII_PASSWORD", "s3cret")
    monkeypatch.setenv("MAAT_DETECT_TAXII_MAX_BYTES", "1024")
    assert pull(server, tmp_path / "o.json") == 1
    assert "taxii_max_bytes" in capsys.readouterr().err
    assert not (tmp_path / "o.json").exists()

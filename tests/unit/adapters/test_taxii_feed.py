"""TAXII pulls against hostile or broken servers: credentials stay with their origin, a pull
is bounded as a whole, and every failure is a MaatError (the CLI's exit 1, not a traceback)."""

from __future__ import annotations

from typing import Any, ClassVar

import orjson
import pytest

from http_kit import QuietHandler, answering_garbage, serving
from maat.adapters.feeds import taxii
from maat.adapters.feeds.http import get
from maat.adapters.feeds.taxii import pull_collection
from maat.config import Settings
from maat.errors import ConfigError, InvalidInput, MaatError, PayloadTooLarge

EMPTY = b'{"objects": [], "more": false}'


class Collector(QuietHandler):
    """Where a redirect lands: records the credentials it was sent."""

    seen: ClassVar[list[str | None]] = []

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        Collector.seen.append(self.headers.get("Authorization"))
        self.send_response(200)
        self.send_header("Content-Length", str(len(EMPTY)))
        self.end_headers()
        self.wfile.write(EMPTY)


def redirector(location: str) -> type[QuietHandler]:
    class Redirector(QuietHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(302)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Redirector


def test_taxii_credentials_are_not_sent_to_another_host_on_redirect() -> None:
    Collector.seen = []
    with serving(Collector) as other:
        elsewhere = other.replace("127.0.0.1", "localhost") + "/steal"
        with serving(redirector(elsewhere)) as server:
            pulled = pull_collection(server + "/api1/", "c", token="SECRET-TOKEN")
    assert Collector.seen == [None] and pulled.objects == []


def test_proxy_credentials_are_not_sent_to_another_host_on_redirect() -> None:
    """urllib stores a header as "Proxy-authorization": the names are compared without case."""
    seen: list[tuple[str | None, ...]] = []

    class Recorder(QuietHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            seen.append(tuple(self.headers.get(h) for h in _SECRET_HEADERS))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    with serving(Recorder) as other:
        elsewhere = other.replace("127.0.0.1", "localhost") + "/steal"
        with serving(redirector(elsewhere)) as server:
            get(server + "/feed", max_bytes=1024, headers=dict.fromkeys(_SECRET_HEADERS, "s3"))
    assert seen == [(None, None, None)]


_SECRET_HEADERS = ("Proxy-Authorization", "authorization", "COOKIE")


def test_taxii_credentials_follow_a_redirect_within_the_same_origin() -> None:
    class Moved(Collector):
        def do_GET(self) -> None:  # noqa: N802
            if self.path.startswith("/old/"):
                self.send_response(301)
                self.send_header("Location", "/api1/collections/c/objects/")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            super().do_GET()

    Collector.seen = []
    with serving(Moved) as server:
        pull_collection(server + "/old/", "c", user="maat", password="pw")
    assert Collector.seen == ["Basic bWFhdDpwdw=="]


def test_a_redirect_to_a_file_url_is_refused() -> None:
    with serving(redirector("file:///etc/passwd")) as server, pytest.raises(MaatError):
        pull_collection(server + "/api1/", "c", token="SECRET-TOKEN")


@pytest.mark.parametrize("url", ["http://[::1/taxii/", "http://127.0.0.1:abc/taxii/",
                                 "http:///taxii/", "ftp://127.0.0.1/taxii/"])  # fmt: skip
def test_taxii_malformed_api_root_is_a_maat_error(url: str) -> None:
    with pytest.raises(InvalidInput):
        pull_collection(url, "c")


def test_taxii_server_with_a_bad_status_line_is_a_maat_error() -> None:
    with answering_garbage() as url, pytest.raises(MaatError, match="did not answer in HTTP"):
        pull_collection(f"{url}/api1/", "c")


def endless(monkeypatch: pytest.MonkeyPatch, *, same_next: bool, objects: int = 1) -> list[int]:
    """A server that always says "more": the sizes of the bodies Maat asked for."""
    asked: list[int] = []

    def fake_get(url: str, *, max_bytes: int, **_: Any) -> tuple[bytes, dict[str, str]]:
        asked.append(max_bytes)
        page = orjson.dumps({"more": True, "next": "n" if same_next else str(len(asked)),
                             "objects": [{"type": "indicator", "id": f"indicator--{len(asked)}-{i}",
                                          "pad": "x" * 800} for i in range(objects)]})  # fmt: skip
        if len(page) > max_bytes:
            raise PayloadTooLarge(f"{url} sent more than {max_bytes} bytes")
        return page, {}

    monkeypatch.setattr(taxii, "get", fake_get)
    return asked


def test_taxii_pull_has_a_total_size_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    asked = endless(monkeypatch, same_next=False)
    with pytest.raises(PayloadTooLarge, match="4,096 bytes in all"):
        pull_collection("http://taxii.example/api1/", "c", max_bytes=4096)
    assert len(asked) <= 5 and asked == sorted(asked, reverse=True)  # each page gets what is left


def test_taxii_pull_has_an_object_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    endless(monkeypatch, same_next=False, objects=3)
    with pytest.raises(PayloadTooLarge, match="10 objects"):
        pull_collection("http://taxii.example/api1/", "c", max_objects=10)


def test_a_taxii_server_that_repeats_its_next_page_is_stopped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked = endless(monkeypatch, same_next=True)
    with pytest.raises(InvalidInput, match="twice"):
        pull_collection("http://taxii.example/api1/", "c")
    assert len(asked) == 2


def test_the_taxii_pull_bounds_are_settings_with_bounds() -> None:
    settings = Settings.from_mapping(
        {"detect": {"taxii_max_bytes": "1MiB", "taxii_max_objects": 5}}
    )
    assert settings.detect.taxii_max_bytes == 1024**2 and settings.detect.taxii_max_objects == 5
    with pytest.raises(ConfigError, match="at least 1") as refused:
        Settings.from_mapping({"detect": {"taxii_max_objects": 0}})
    assert refused.value.location.field == "detect.taxii_max_objects"

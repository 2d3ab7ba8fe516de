"""`maat init && maat serve` with no configuration at all: SQLite under ~/.local/share/maat,
OpenAPI at /docs, and a real login over HTTP."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from maat.auth import totp


def _maat() -> list[str]:
    script = shutil.which("maat", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "maat.cli"]


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    """An environment with a fresh HOME and no MAAT_* variables: no configuration at all."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAAT_", "XDG_"))}
    env["HOME"] = str(tmp_path)
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str, token: str = "") -> tuple[int, bytes]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _post(url: str, body: dict[str, str]) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"content-type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture
def server(home: dict[str, str]) -> Iterator[tuple[str, str]]:
    init = subprocess.run(
        [*_maat(), "init"], env=home, capture_output=True, text=True, timeout=60, check=False
    )
    assert init.returncode == 0, init.stderr
    assert (Path(home["HOME"]) / ".local/share/maat/maat.db").is_file()
    password = re.search(r"initial password \(shown once\): (\S+)", init.stdout)
    assert password
    port = _free_port()
    log = Path(home["HOME"]) / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [*_maat(), "serve", "--port", str(port)], env=home, stdout=out, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if _get(base + "/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        else:
            proc.kill()
            proc.wait(timeout=10)
            pytest.fail(f"maat serve did not start: {log.read_text()}")
        yield base, password.group(1)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_serve_publishes_openapi_docs(server: tuple[str, str]) -> None:
    base, _ = server
    status, body = _get(base + "/docs")
    assert status == 200
    assert b"swagger" in body.lower()
    status, body = _get(base + "/openapi.json")
    spec = json.loads(body)
    assert "/v1/auth/login" in spec["paths"]
    assert spec["paths"]["/v1/users"]["get"]["x-maat-permission"] == "users:read"


def test_first_login_over_real_http(server: tuple[str, str]) -> None:
    base, password = server
    status, body = _post(base + "/v1/auth/login", {"username": "admin", "password": password})
    assert status == 200
    assert body["status"] == "totp_enrolment_required"
    enrolment = body["enrolment"]
    assert isinstance(enrolment, dict)
    params = totp.TotpParams()
    code = totp.code_at(
        enrolment["secret"],
        totp.current_step(datetime.now(UTC), params),
        params,
    )
    status, body = _post(base + "/v1/auth/enrol", {"ticket": enrolment["ticket"], "totp": code})
    assert status == 200
    status, raw = _get(base + "/v1/system", str(body["token"]))
    assert status == 200
    assert json.loads(raw)["database"] == "sqlite"
    assert _get(base + "/v1/system")[0] == 401

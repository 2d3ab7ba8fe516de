"""The platform walk-through of ``maat demo --walkthrough``.

It runs the real server on loopback and talks HTTP to it, as a user would: first login with
TOTP enrolment, a scoped agent token, refusals of a replayed code and a revoked token, and the
audit chain catching a record edited in the database.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import text

from maat.auth import totp
from maat.config import Settings
from maat.errors import Unavailable
from maat.services import audit
from maat.services.bootstrap import initialise
from maat.services.platform import Platform


@dataclass(frozen=True)
class DemoStep:
    """One thing the demo did and whether Maat behaved as it must."""

    title: str
    passed: bool
    detail: str


@contextlib.contextmanager
def serve_app(app: Any) -> Iterator[str]:
    """Serve ``app`` on a free loopback port in a thread; yields its base URL."""
    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="maat-demo-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    if not server.started:
        server.should_exit = True
        raise Unavailable("the demo's API server did not start on loopback")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _call(base: str, method: str, path: str, body: Any = None, token: str = "") -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)  # noqa: S310 - loopback
    request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def run_foundation_demo(data_dir: Path) -> list[DemoStep]:
    """Initialise Maat in ``data_dir`` and exercise the platform over HTTP."""
    settings = Settings.from_mapping({"data_dir": str(data_dir)})
    admin_password = secrets.token_urlsafe(16)
    initialise(settings, admin_password=admin_password, actor="demo")
    steps: list[DemoStep] = []
    platform = Platform.open(settings)
    params = totp.TotpParams()
    try:
        from maat.api.app import create_app

        with serve_app(create_app(platform, close_on_shutdown=False)) as base:
            status, body = _call(base, "GET", "/v1/users")
            steps.append(DemoStep("anonymous request refused", status == 401, f"HTTP {status}"))
            status, body = _call(
                base, "POST", "/v1/auth/login", {"username": "admin", "password": admin_password}
            )
            enrolment = body["enrolment"]
            steps.append(
                DemoStep(
                    "first login demands TOTP enrolment",
                    body["status"] == "totp_enrolment_required",
                    body["status"],
                )
            )
            step = totp.current_step(platform.now(), params)
            code = totp.code_at(enrolment["secret"], step, params)
            status, body = _call(
                base, "POST", "/v1/auth/enrol", {"ticket": enrolment["ticket"], "totp": code}
            )
            session = body["token"]
            steps.append(
                DemoStep("authenticator enrolled, session opened", status == 200, f"HTTP {status}")
            )
            status, _ = _call(
                base,
                "POST",
                "/v1/auth/login",
                {"username": "admin", "password": admin_password, "totp": code},
            )
            steps.append(DemoStep("replayed TOTP code refused", status == 401, f"HTTP {status}"))
            _call(base, "POST", "/v1/users", {"name": "edr-agent", "roles": ["agent"]}, session)
            status, body = _call(
                base,
                "POST",
                "/v1/tokens",
                {"name": "sensor", "owner": "edr-agent", "ttl_seconds": 86400},
                session,
            )
            agent_token, token_id = body["token"], body["id"]
            status, _ = _call(base, "GET", "/v1/users", token=agent_token)
            steps.append(DemoStep("agent token cannot read users", status == 403, f"HTTP {status}"))
            _call(base, "DELETE", f"/v1/tokens/{token_id}", token=session)
            status, _ = _call(base, "GET", "/v1/auth/me", token=agent_token)
            steps.append(DemoStep("revoked token refused", status == 401, f"HTTP {status}"))
            status, body = _call(base, "GET", "/v1/audit/verify", token=session)
            steps.append(
                DemoStep("audit chain intact", bool(body["ok"]), f"{body['checked']} records")
            )
        # The intruder edits the database directly, bypassing Maat.
        with platform.store.engine.begin() as connection:
            connection.execute(text("UPDATE audit_log SET actor = 'intruder' WHERE seq = 2"))
        report = audit.verify_audit(platform)
        named = "; ".join(p.message for p in report.problems)
        steps.append(DemoStep("record edited in the database is named", not report.ok, named))
    finally:
        platform.close()
    return steps

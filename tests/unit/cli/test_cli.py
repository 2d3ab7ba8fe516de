"""The ``maat`` command: init, users, tokens, audit verify; errors exit 1 with diagnostics."""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from maat import __version__
from maat.cli.main import run
from maat_testkit import PostgresSchema


@pytest.fixture
def env(backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Environment for one Maat installation; yields its database URL."""
    for name in list(__import__("os").environ):
        if name.startswith("MAAT_") and not name.startswith("MAAT_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("MAAT_DATA_DIR", str(tmp_path / "data"))
    if backend == "postgres":
        schema = PostgresSchema.create()
        monkeypatch.setenv("MAAT_DATABASE_URL", schema.url)
        yield schema.url
        schema.drop()
    else:
        yield f"sqlite:///{tmp_path / 'data' / 'maat.db'}"


def maat(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert maat(capsys, "version") == (0, f"maat {__version__}\n", "")


def test_init_creates_admin_and_is_idempotent(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = maat(capsys, "init")
    assert code == 0
    assert "administrator created: admin" in out and "initial password" in out
    code, out, _ = maat(capsys, "init")
    assert code == 0 and "administrator created" not in out


def test_user_and_token_lifecycle(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    maat(capsys, "init")
    code, out, _ = maat(capsys, "user", "add", "edr-agent", "--role", "agent")
    assert code == 0 and "edr-agent created (agent)" in out
    code, out, _ = maat(capsys, "token", "create", "-u", "edr-agent", "-n", "ingest", "--ttl", "7d")
    assert code == 0
    secret = out.strip().splitlines()[-1]
    assert secret.startswith("maat_t_tok_")
    token_id = out.split()[1]
    code, out, _ = maat(capsys, "token", "list")
    assert token_id in out and "active" in out
    assert maat(capsys, "token", "revoke", token_id)[0] == 0
    code, out, _ = maat(capsys, "token", "list", "--user", "edr-agent")
    assert "revoked" in out
    assert maat(capsys, "user", "disable", "edr-agent")[0] == 0
    code, out, _ = maat(capsys, "user", "list")
    assert "disabled" in out


def test_maat_error_prints_diagnostics_and_exits_1(
    env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    maat(capsys, "init")
    code, _, err = maat(capsys, "user", "add", "x", "--role", "overlord")
    assert code == 1
    assert "unknown role 'overlord'" in err
    assert "Traceback" not in err
    code, _, err = maat(capsys, "-v", "user", "add", "x", "--role", "overlord")
    assert code == 1 and "Traceback" in err


def test_commands_before_init_say_what_to_do(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = maat(capsys, "user", "list")
    assert code == 1
    assert "maat init" in err


def test_password_from_stdin(
    env: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    maat(capsys, "init")
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    code, _, err = maat(capsys, "user", "add", "bob", "-r", "analyst", "--password-stdin")
    assert code == 1 and "password shorter than" in err


def _tamper(url: str, statement: str) -> None:
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            conn.execute(statement)
        return
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(text(statement))
    engine.dispose()


def test_audit_verify_names_a_record_edited_in_the_database(
    env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    maat(capsys, "init")
    maat(capsys, "user", "add", "alice", "-r", "analyst")
    maat(capsys, "user", "add", "bob", "-r", "auditor")
    code, out, _ = maat(capsys, "audit", "verify")
    assert code == 0 and "4 records verified" in out
    _tamper(env, "UPDATE audit_log SET target = 'user:mallory' WHERE seq = 3")
    code, out, err = maat(capsys, "audit", "verify")
    assert code == 1
    assert "edited: record 3 (" in out and "user.create by" in out
    assert "1 problem(s) in 4 records" in err


def test_audit_verify_with_anchor_finds_truncation(
    env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    maat(capsys, "init")
    maat(capsys, "user", "add", "alice", "-r", "analyst")
    code, out, _ = maat(capsys, "audit", "verify")
    anchor = out.split("--anchor): ")[1].split()[0]
    # An intruder removes the last record and rewinds the stored head to match.
    _tamper(env, "DELETE FROM audit_log WHERE seq = 3")
    _tamper(env, "UPDATE audit_head SET seq = 2, mac = (SELECT mac FROM audit_log WHERE seq = 2)")
    # The rewound head lacks a valid keyed tag, so even without an outside anchor...
    code, out, _ = maat(capsys, "audit", "verify")
    assert code == 1 and "bad-anchor" in out
    code, out, _ = maat(capsys, "audit", "verify", "--anchor", anchor)
    assert code == 1 and "truncated" in out  # ...and the outside anchor names what is gone

"""Shared test helpers: a controllable clock, platforms on SQLite and PostgreSQL, logins."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from maat.auth import totp
from maat.config import Settings
from maat.services import auth, users
from maat.services.platform import Platform

DEFAULT_POSTGRES_URL = "postgresql://maat_test:maat_test@127.0.0.1:5432/maat_test"
PASSWORD = "correct horse battery staple"


def services_required() -> bool:
    """True in CI: an unavailable real service fails the test instead of skipping it."""
    return os.environ.get("MAAT_TEST_REQUIRE_SERVICES") == "1"


def unavailable(reason: str) -> None:
    """Skip (developer machine) or fail (CI) because a real service is missing."""
    if services_required():
        pytest.fail(f"required service unavailable: {reason}")
    pytest.skip(reason)


@dataclass
class FakeClock:
    """A clock tests move by hand."""

    current: datetime = field(default_factory=lambda: datetime(2026, 11, 25, 9, 0, tzinfo=UTC))

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


def postgres_url() -> str:
    return os.environ.get("MAAT_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


@dataclass
class PostgresSchema:
    """A throw-away schema per test, so tests never see each other's rows."""

    url: str
    schema: str

    @classmethod
    def create(cls) -> PostgresSchema:
        base = make_url(postgres_url()).set(drivername="postgresql+psycopg")
        schema = f"t_{uuid.uuid4().hex[:12]}"
        try:
            engine = create_engine(base, connect_args={"connect_timeout": 3})
            with engine.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            engine.dispose()
        except Exception as exc:  # any driver error means: no usable server
            unavailable(f"PostgreSQL at {base.render_as_string()} not usable: {exc}")
        url = base.update_query_dict({"options": f"-csearch_path={schema}"})
        return cls(url.render_as_string(hide_password=False), schema)

    def drop(self) -> None:
        base = make_url(postgres_url()).set(drivername="postgresql+psycopg")
        engine = create_engine(base)
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
        engine.dispose()


def make_settings(data_dir: Path, database_url: str = "", **sections: dict[str, Any]) -> Settings:
    values: dict[str, Any] = {"data_dir": str(data_dir), "database_url": database_url}
    values.update(sections)
    return Settings.from_mapping(values)


def open_platform(
    backend: str, data_dir: Path, clock: FakeClock, **sections: dict[str, Any]
) -> Iterator[Platform]:
    """An initialised platform on ``sqlite`` or ``postgres`` (generator for fixtures)."""
    schema = PostgresSchema.create() if backend == "postgres" else None
    settings = make_settings(data_dir, schema.url if schema else "", **sections)
    platform = Platform.open(settings, create=True, clock=clock)
    platform.store.migrate()
    try:
        yield platform
    finally:
        platform.close()
        if schema is not None:
            schema.drop()


def current_code(platform: Platform, secret: str) -> str:
    """The TOTP code for ``secret`` at the platform's current time."""
    params = totp.TotpParams(
        digits=platform.settings.auth.totp_digits, period=platform.settings.auth.totp_period
    )
    return totp.code_at(secret, totp.current_step(platform.now(), params), params)


@dataclass
class LoggedIn:
    """A user with an enrolled authenticator and an open session."""

    name: str
    password: str
    totp_secret: str
    token: str


def enrolled_user(
    platform: Platform, clock: FakeClock, name: str, roles: list[str], client: str = "10.0.0.1"
) -> LoggedIn:
    """Create a user, log in, enrol TOTP; moves the clock one TOTP period on."""
    users.add_user(platform, "test", name, roles, PASSWORD)
    started = auth.login(platform, name, PASSWORD, None, client=client)
    assert started.enrolment is not None
    secret = started.enrolment.secret
    done = auth.complete_enrolment(
        platform, started.enrolment.ticket, current_code(platform, secret), client=client
    )
    assert done.session_token is not None
    clock.advance(seconds=platform.settings.auth.totp_period)  # next code is a fresh step
    return LoggedIn(name, PASSWORD, secret, done.session_token)


def session_for(platform: Platform, name: str) -> str:
    """Open a session for an existing user directly in the store (skips the login flow)."""
    from maat.auth.records import SessionRecord
    from maat.auth.tokens import CredentialKind, issue
    from maat.core.ids import new_id

    credential = issue(CredentialKind.SESSION, new_id("ses"))
    with platform.transaction() as uow:
        user = uow.users.by_name(name)
        assert user is not None
        now = platform.now()
        uow.sessions.add(
            SessionRecord(
                id=credential.id,
                user_id=user.id,
                secret_hash=credential.secret_hash,
                created_at=now,
                last_seen_at=now,
            )
        )
    return credential.text

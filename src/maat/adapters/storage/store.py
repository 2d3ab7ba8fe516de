"""The SQL state store: engine set-up per backend, transactions, migrations."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DataError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import IntegrityError as DBAPIIntegrityError
from sqlalchemy.orm import Session, sessionmaker

from maat.adapters.storage.access_repositories import SqlDevices, SqlPolicyVersions, SqlWebAuthn
from maat.adapters.storage.repositories import (
    SqlAuditLog,
    SqlEnrolments,
    SqlSessions,
    SqlTokens,
    SqlUsers,
)
from maat.adapters.storage.signing_repositories import (
    SqlAlerts,
    SqlArtifacts,
    SqlCertificates,
    SqlCrls,
    SqlExecPolicies,
    SqlSightings,
)
from maat.adapters.storage.vendor_repositories import (
    SqlAssessments,
    SqlContracts,
    SqlVendorFindings,
    SqlVendorIncidents,
    SqlVendors,
)
from maat.adapters.storage.vuln_repositories import SqlFindings, SqlHosts, SqlProducts, SqlSboms
from maat.config import DatabaseSettings
from maat.errors import ConfigError, Conflict, InvalidInput, MaatError, StorageError

MIGRATIONS = Path(__file__).with_name("migrations")
_EPOCH_QUERY = "SELECT n FROM change_epochs WHERE name = 'access'"
log = logging.getLogger("maat.storage")


@dataclass
class SqlUnitOfWork:
    """Every repository over one transaction."""

    session: Session
    users: SqlUsers
    sessions: SqlSessions
    tokens: SqlTokens
    enrolments: SqlEnrolments
    audit: SqlAuditLog
    hosts: SqlHosts
    products: SqlProducts
    sboms: SqlSboms
    findings: SqlFindings
    certificates: SqlCertificates
    crls: SqlCrls
    artifacts: SqlArtifacts
    sightings: SqlSightings
    exec_policies: SqlExecPolicies
    alerts: SqlAlerts
    vendors: SqlVendors
    assessments: SqlAssessments
    contracts: SqlContracts
    devices: SqlDevices
    policy_versions: SqlPolicyVersions
    webauthn: SqlWebAuthn
    vendor_incidents: SqlVendorIncidents
    vendor_findings: SqlVendorFindings


def normalise_url(url: str) -> str:
    """Pick the psycopg 3 driver for PostgreSQL URLs; reject unsupported backends."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError("not a database URL", field="database_url") from None
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    if backend == "sqlite":
        return url
    raise ConfigError(
        f"unsupported database backend {backend!r}",
        field="database_url",
        hint="use sqlite:///PATH (single node) or postgresql://USER@HOST/DB (cluster)",
    )


def _sqlite_engine(url: str, settings: DatabaseSettings) -> Engine:
    engine = create_engine(
        url,
        hide_parameters=True,  # bound values (hashes, secrets) never reach error texts
        connect_args={"timeout": float(settings.sqlite_busy_timeout), "check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's begin event decide how transactions start (see below).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(float(settings.sqlite_busy_timeout) * 1000)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A write transaction takes the write lock up front: a deferred one that reads first
        # and writes later fails with SQLITE_BUSY under WAL instead of waiting its turn.
        write = conn.get_execution_options().get("maat_write", True)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def _postgres_engine(url: str, settings: DatabaseSettings) -> Engine:
    timeout_ms = int(float(settings.statement_timeout) * 1000)
    parsed = make_url(url)
    # Keep libpq options given in the URL (e.g. -csearch_path=...) next to the timeout.
    given = parsed.query.get("options", "")
    options = " ".join(
        [*(given if isinstance(given, tuple) else [given]), f"-c statement_timeout={timeout_ms}"]
    ).strip()
    return create_engine(
        parsed.difference_update_query(["options"]),
        pool_size=settings.pool_size,
        pool_pre_ping=True,
        hide_parameters=True,  # bound values (hashes, secrets) never reach error texts
        connect_args={
            "connect_timeout": max(1, int(float(settings.connect_timeout))),
            "options": options,
        },
    )


def _translate(exc: SQLAlchemyError, hint: str) -> MaatError:
    """A database error as a Maat error whose text holds no SQL and no values.

    The full error goes to the server log; the caller learns the kind of failure only.
    """
    log.error("state store error: %s", exc)
    if isinstance(exc, DBAPIIntegrityError):
        return Conflict(
            "the change conflicts with existing data (a duplicate or a missing reference)"
        )
    if isinstance(exc, DataError):
        return InvalidInput(
            "a value cannot be stored (too long, out of range or containing a NUL character)"
        )
    return StorageError(f"state store error ({type(exc).__name__})", hint=hint)


class SqlStore:
    """The state store on SQLite (WAL) or PostgreSQL, with the same models and migrations."""

    def __init__(self, url: str, *, audit_key: bytes, settings: DatabaseSettings | None = None):
        self.url = normalise_url(url)
        self._settings = settings or DatabaseSettings()
        self.audit_key = audit_key
        if self.url.startswith("sqlite"):
            database = make_url(self.url).database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            self.engine = _sqlite_engine(self.url, self._settings)
        else:
            self.engine = _postgres_engine(self.url, self._settings)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._epoch_lock = threading.Lock()
        self._epoch_conn: Any = None

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    def epoch(self) -> int:
        """The change counter of the data access decisions read (bumped by triggers)."""
        # One driver connection kept for this (in autocommit): it runs on every access
        # decision, and a pool checkout with its reset costs more than the SELECT.
        with self._epoch_lock:
            try:
                if self._epoch_conn is None:
                    raw = self.engine.raw_connection()
                    if self.backend == "postgresql":
                        raw.driver_connection.autocommit = True  # type: ignore[union-attr]
                    self._epoch_conn = raw
                cursor = self._epoch_conn.cursor()
                cursor.execute(_EPOCH_QUERY)
                row = cursor.fetchone()
                cursor.close()
            except SQLAlchemyError as exc:
                raise _translate(exc, self._hint()) from exc
            except Exception as exc:  # a DBAPI error: report it as the store's, without SQL
                self._drop_epoch_connection()
                log.error("state store error: %s", exc)
                raise StorageError(f"state store error ({type(exc).__name__})",
                                   hint=self._hint()) from exc  # fmt: skip
        return int(row[0]) if row else 0

    def _drop_epoch_connection(self) -> None:
        conn, self._epoch_conn = self._epoch_conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # it is broken already; the pool replaces it
                conn.invalidate()

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[SqlUnitOfWork]:
        """A unit of work: commits on normal exit, rolls back on any exception."""
        try:
            connection = self.engine.connect().execution_options(maat_write=write)
        except OperationalError as exc:
            raise StorageError(
                f"cannot connect to the state store: {exc.orig}", hint=self._hint()
            ) from exc
        with connection, Session(bind=connection, expire_on_commit=False) as session:
            uow = SqlUnitOfWork(
                session=session,
                users=SqlUsers(session),
                sessions=SqlSessions(session),
                tokens=SqlTokens(session),
                enrolments=SqlEnrolments(session),
                audit=SqlAuditLog(session, self.audit_key),
                hosts=SqlHosts(session),
                products=SqlProducts(session),
                sboms=SqlSboms(session),
                findings=SqlFindings(session),
                certificates=SqlCertificates(session),
                crls=SqlCrls(session),
                artifacts=SqlArtifacts(session),
                sightings=SqlSightings(session),
                exec_policies=SqlExecPolicies(session),
                alerts=SqlAlerts(session),
                vendors=SqlVendors(session),
                assessments=SqlAssessments(session),
                contracts=SqlContracts(session),
                devices=SqlDevices(session),
                policy_versions=SqlPolicyVersions(session),
                webauthn=SqlWebAuthn(session),
                vendor_incidents=SqlVendorIncidents(session),
                vendor_findings=SqlVendorFindings(session),
            )
            try:
                yield uow
                session.commit()
            except SQLAlchemyError as exc:
                session.rollback()
                raise _translate(exc, self._hint()) from exc
            except BaseException:
                session.rollback()
                raise

    def _alembic_config(self) -> AlembicConfig:
        config = AlembicConfig()
        config.set_main_option("script_location", str(MIGRATIONS))
        return config

    def migrate(self) -> str:
        """Bring the schema to the newest migration; returns the revision reached."""
        config = self._alembic_config()
        try:
            with self.engine.begin() as connection:
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        except SQLAlchemyError as exc:
            cause = getattr(exc, "orig", None) or exc
            raise StorageError(
                f"cannot migrate the state store: {str(cause).splitlines()[0]}", hint=self._hint()
            ) from exc
        return self.expected_revision()

    def expected_revision(self) -> str:
        """The newest migration this code knows."""
        head = ScriptDirectory.from_config(self._alembic_config()).get_current_head()
        if head is None:  # pragma: no cover - the package ships migrations
            raise StorageError("no migrations found in the package")
        return head

    def current_revision(self) -> str | None:
        """The migration the database is at (``None`` when never initialised)."""
        try:
            with self.engine.connect() as connection:
                return MigrationContext.configure(connection).get_current_revision()
        except OperationalError as exc:
            raise StorageError(
                f"cannot reach the state store: {exc.orig}", hint=self._hint()
            ) from exc

    def check_schema(self) -> None:
        """Raise unless the database is at the expected migration."""
        current, expected = self.current_revision(), self.expected_revision()
        if current != expected:
            raise StorageError(
                f"the state store is at schema {current or 'none'}, this Maat needs {expected}",
                hint="run 'maat init' to create or upgrade it",
            )

    def close(self) -> None:
        """Dispose of pooled connections."""
        with self._epoch_lock:
            if self._epoch_conn is not None:
                with contextlib.suppress(Exception):
                    self._epoch_conn.close()
                self._epoch_conn = None
        self.engine.dispose()

    def _hint(self) -> str:
        if self.backend == "sqlite":
            return f"check the database file and its directory ({make_url(self.url).database})"
        return "check that PostgreSQL is running and MAAT_DATABASE_URL is right"

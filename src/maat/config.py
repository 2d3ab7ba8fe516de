"""Typed settings from one TOML file and ``MAAT_*`` environment variables.

Precedence (lowest first): built-in defaults, the TOML file, the environment. The TOML file is
``$MAAT_CONFIG`` if set, else ``<data_dir>/maat.toml`` if it exists. Every resource limit of
Maat lives here. Environment names are ``MAAT_<SECTION>_<FIELD>`` (``MAAT_AUTH_LOCKOUT_THRESHOLD``),
plus the top-level ``MAAT_DATA_DIR``, ``MAAT_DATABASE_URL`` and ``MAAT_CONFIG``. Names starting
with ``MAAT_TEST_`` are reserved for the test suite and ignored here. An unknown key, in the
file or the environment, is an error that names it: a typo must not silently fall back to a
default.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from maat.errors import ConfigError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
_MAX_DURATION = 100 * 365 * 86400.0  # beyond this, timedelta arithmetic overflows soon
_SIZE = re.compile(r"^\s*(\d+)\s*(b|kib|mib|gib|kb|mb|gb)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    None: 1,
}


class Seconds(float):
    """A duration in seconds; accepts ``90``, ``"90s"``, ``"15m"``, ``"12h"``, ``"7d"``."""


class Bytes(int):
    """A size in bytes; accepts ``1048576``, ``"1MiB"``, ``"512kb"``."""


@dataclass(frozen=True)
class ApiSettings:
    """The HTTP API served by ``maat serve``."""

    host: str = "127.0.0.1"
    port: int = 8470
    max_request_bytes: Bytes = Bytes(8 * 1024 * 1024)
    public_url: str = ""


@dataclass(frozen=True)
class AuthSettings:
    """Sessions, tokens, TOTP and login throttling."""

    session_idle_timeout: Seconds = Seconds(30 * 60)
    session_absolute_timeout: Seconds = Seconds(12 * 3600)
    session_touch_interval: Seconds = Seconds(60)
    enrolment_timeout: Seconds = Seconds(10 * 60)
    totp_issuer: str = "Maat"
    totp_digits: int = 6
    totp_period: int = 30
    totp_valid_window: int = 1
    lockout_threshold: int = 5
    lockout_duration: Seconds = Seconds(15 * 60)
    login_rate_per_minute: int = 10
    login_rate_burst: int = 5
    token_default_ttl: Seconds = Seconds(30 * 86400)
    token_max_ttl: Seconds = Seconds(365 * 86400)
    password_min_length: int = 12
    webauthn_rp_id: str = ""  # the host name authenticators bind to (default: api.public_url's)
    webauthn_origins: str = ""  # comma-separated origins (default: api.public_url)
    webauthn_timeout: Seconds = Seconds(300)  # a ceremony's challenge is answered within this
    max_password_length: int = 1024


@dataclass(frozen=True)
class LimitSettings:
    """Batch and listing limits shared by API, CLI and pipeline."""

    max_batch: int = 10_000
    max_page_size: int = 1_000
    max_name_length: int = 200


@dataclass(frozen=True)
class VulnSettings:
    """Patch SLAs and the size limits of SBOM, inventory and advisory input."""

    sla_critical: Seconds = Seconds(72 * 3600)
    sla_high: Seconds = Seconds(7 * 86400)
    sla_medium: Seconds = Seconds(30 * 86400)
    sla_low: Seconds = Seconds(90 * 86400)
    max_sbom_bytes: Bytes = Bytes(64 * 1024 * 1024)
    max_sbom_components: int = 200_000
    max_inventory_bytes: Bytes = Bytes(32 * 1024 * 1024)
    max_inventory_packages: int = 200_000
    max_advisory_file_bytes: Bytes = Bytes(16 * 1024 * 1024)


@dataclass(frozen=True)
class Pkcs11Settings:
    """The PKCS#11 token holding signing keys (``MAAT_PKCS11_MODULE``, ``_TOKEN``, ``_PIN``)."""

    module: str = ""  # e.g. /usr/lib/softhsm/libsofthsm2.so
    token: str = ""  # token label
    pin: str = ""  # user PIN; prefer pin_file
    pin_file: str = ""


@dataclass(frozen=True)
class SigningSettings:
    """Certificate authority, signing and verification."""

    key_algorithm: str = "ec-p256"  # ec-p256 | ec-p384 | rsa-3072
    root_validity: Seconds = Seconds(20 * 365 * 86400)
    intermediate_validity: Seconds = Seconds(10 * 365 * 86400)
    leaf_validity: Seconds = Seconds(2 * 365 * 86400)
    crl_validity: Seconds = Seconds(7 * 86400)
    revocation_mode: str = "hard"  # hard: unknown revocation status fails; soft: it warns
    crl_urls: str = ""  # comma-separated URLs polled by the revocation watch
    crl_poll_interval: Seconds = Seconds(3600)
    max_crl_bytes: Bytes = Bytes(64 * 1024 * 1024)
    max_bundle_bytes: Bytes = Bytes(4 * 1024 * 1024)
    unsafe_file_keystore: bool = False


@dataclass(frozen=True)
class TelemetrySettings:
    """``[telemetry]``: ingest limits, the spool, the bus and the lake."""

    max_event_bytes: Bytes = Bytes(256 * 1024)  # one record; larger ones are rejected
    max_batch_events: int = 50_000  # events in one POST /v1/events request
    max_request_bytes: Bytes = Bytes(64 * 1024 * 1024)  # one POST /v1/events body, unzipped
    bus: str = "spool"  # spool (single node) | nats (cluster)
    spool_dir: str = ""  # default <data_dir>/spool
    spool_segment_bytes: Bytes = Bytes(64 * 1024 * 1024)
    # The spool writes batches straight to the device (O_DIRECT) where its filesystem allows
    # it, gathering this much at a time in one buffer; false: through the page cache (ADR 0022)
    spool_direct_io: bool = True
    spool_stage_bytes: Bytes = Bytes(16 * 1024 * 1024)
    max_spool_bytes: Bytes = Bytes(8 * 1024**3)  # beyond this ingest refuses with 503
    min_free_disk_bytes: Bytes = Bytes(512 * 1024**2)  # ingest refuses (503) below this
    dedupe_window: int = 500_000  # recent event ids remembered to drop replays (~80 MB)
    nats_url: str = "nats://127.0.0.1:4222"
    nats_stream: str = "MAAT_EVENTS"
    nats_subject_prefix: str = "maat.events"
    nats_partitions: int = 16  # subjects maat.events.<n>, by hash of host.name
    nats_timeout: Seconds = Seconds(5)
    nats_max_bytes: Bytes = Bytes(8 * 1024**3)  # the stream refuses (503) beyond this
    nats_max_age: Seconds = Seconds(14 * 86400)  # unconsumed events older than this expire
    nats_ack_wait: Seconds = Seconds(300)  # redelivery after this without an ack
    lake_dir: str = ""  # default <data_dir>/lake
    lake_batch_rows: int = 100_000  # rows per Parquet file at most
    retention_days: int = 180  # never less than 180 without --force
    # One hunt (maat lake query, a retro-hunt) at most: so long, so much memory, threads.
    hunt_timeout: Seconds = Seconds(300)
    hunt_memory_bytes: Bytes = Bytes(4 * 1024**3)
    hunt_threads: int = 2
    hunt_temp_bytes: Bytes = Bytes(16 * 1024**3)  # spilled to a private temporary folder
    lake_flush_interval: Seconds = Seconds(1)  # how often an idle lake writer looks again
    # Python's first-generation collection threshold in processes that run the pipeline
    # (serve, ingest, detect); 0 keeps Python's 700. Parsing makes some 40 short-lived
    # objects per event, so the default collects every few events and rescans the rules.
    gc_threshold: int = 100_000
    # Events just published to the spool are handed to this process's own lake writer and
    # detector as they are, instead of being decoded again; this many message bytes at most
    # (the events themselves take two to three times as much; 0: always decode).
    handoff_bytes: Bytes = Bytes(128 * 1024**2)
    # Where Arrow (the lake's columns and Parquet encoder) allocates: "system" (the C
    # library's malloc), "mimalloc" or "jemalloc" (each where this pyarrow build has it).
    # Arrow's own default, mimalloc, returns freed memory to the kernel between batches and
    # pays for it again in page faults: "system" writes the lake about a quarter faster
    # here, with less resident memory (bench/bench_ingest.py).
    arrow_memory_pool: str = "system"


@dataclass(frozen=True)
class DetectSettings:
    """``[detect]``: which rules and indicators the server runs, alert grouping, forwarding."""

    rules: str = ""  # Sigma rule files or folders, separated by ':' (none: no Sigma rules)
    iocs: str = ""  # STIX bundles or trail lists, separated by ':'
    alert_group_window: Seconds = Seconds(3600)  # hits of one rule on one host group this long
    alert_max_event_ids: int = 100  # event ids kept per alert (the count goes on)
    webhook_url: str = ""  # each new alert is POSTed here as JSON
    webhook_timeout: Seconds = Seconds(5)
    # An alert a receiver did not take is sent again this often, for this long after it was
    # raised, this many a time.
    forward_retry_interval: Seconds = Seconds(60)
    forward_retry_window: Seconds = Seconds(86400)
    forward_retry_batch: int = 100
    syslog_target: str = ""  # udp://host:514 or tcp://host:514: each new alert as CEF
    max_correlation_groups: int = 100_000  # state kept per correlation rule at most
    taxii_max_bytes: Bytes = Bytes(256 * 1024 * 1024)  # one TAXII pull, all pages together
    taxii_max_objects: int = 1_000_000  # objects one TAXII pull keeps at most
    max_correlation_entries: int = 1_000_000  # hits kept over every correlation group at most
    # An event dated further ahead of the server's clock stays out of correlation state.
    correlation_max_skew: Seconds = Seconds(300)
    # How late (behind a group's newest event) an event is still windowed by its own time.
    correlation_lateness: Seconds = Seconds(3600)
    # Hits one late event may be judged over at most (its windows' hits past it: the nearest).
    correlation_max_scan: int = 1000
    # Events `maat detect` matches at a time: its first alerts come out after this many, not
    # after a whole file, and matching holds no more than this many events' state.
    match_batch_events: int = 10_000
    # An alert this serious on a host a vendor operates (device tag "vendor:<name>") records
    # the vendor's breach, which moves its identities to step-up MFA; "" never does.
    vendor_breach_level: str = "high"


@dataclass(frozen=True)
class AccessSettings:
    """``[access]``: the zero-trust decision point (posture, policy reloads, proxies)."""

    heartbeat_max_age: Seconds = Seconds(600)  # older: the device is not trusted
    policy_check_interval: Seconds = Seconds(1)  # how often a server looks for a new policy
    read_methods: str = "GET,HEAD,OPTIONS"  # HTTP methods a proxy check treats as action read
    heartbeat_write_interval: Seconds = Seconds(10)  # events refresh a heartbeat this often
    # Trust X-Maat-Device-Cert from proxies (only when every proxy sets it from a client
    # certificate it verified, e.g. nginx `ssl_verify_client on`; else a client could send one).
    proxy_client_cert: bool = False


@dataclass(frozen=True)
class DatabaseSettings:
    """The state store connection (SQLite by default, PostgreSQL for the cluster profile)."""

    pool_size: int = 5
    connect_timeout: Seconds = Seconds(10)
    statement_timeout: Seconds = Seconds(30)
    sqlite_busy_timeout: Seconds = Seconds(15)


@dataclass(frozen=True)
class Settings:
    """All of Maat's settings. Build with :meth:`load` or :meth:`from_mapping`."""

    data_dir: Path = field(default_factory=lambda: default_data_dir())
    database_url: str = ""
    secret_key_file: str = ""
    log_level: str = "info"
    api: ApiSettings = field(default_factory=ApiSettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    limits: LimitSettings = field(default_factory=LimitSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    vulns: VulnSettings = field(default_factory=VulnSettings)
    pkcs11: Pkcs11Settings = field(default_factory=Pkcs11Settings)
    signing: SigningSettings = field(default_factory=SigningSettings)
    telemetry: TelemetrySettings = field(default_factory=TelemetrySettings)
    detect: DetectSettings = field(default_factory=DetectSettings)
    access: AccessSettings = field(default_factory=AccessSettings)

    @property
    def effective_database_url(self) -> str:
        """The database URL; SQLite in the data directory unless one is configured."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'maat.db'}"

    @property
    def spool_path(self) -> Path:
        """Where the durable ingest spool lives (``telemetry.spool_dir``)."""
        spool = self.telemetry.spool_dir
        return Path(spool) if spool else self.data_dir / "spool"

    @property
    def lake_path(self) -> Path:
        """Where the telemetry lake lives (``telemetry.lake_dir``)."""
        lake = self.telemetry.lake_dir
        return Path(lake) if lake else self.data_dir / "lake"

    @property
    def effective_secret_key_file(self) -> Path:
        """The master secret (encrypts TOTP secrets, keys the audit chain)."""
        return Path(self.secret_key_file) if self.secret_key_file else self.data_dir / "secret.key"

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], *, source: str = "settings") -> Settings:
        """Build settings from a nested mapping (TOML shape); unknown keys are errors."""
        settings: Settings = _build(cls, values, source=source, prefix="")
        return validate(settings, source=source)

    @classmethod
    def load(
        cls, *, environ: Mapping[str, str] | None = None, config_file: Path | None = None
    ) -> Settings:
        """Defaults, then the TOML file, then ``MAAT_*`` variables from ``environ``."""
        env = dict(os.environ if environ is None else environ)
        merged: dict[str, Any] = {}
        path = config_file or (Path(env["MAAT_CONFIG"]) if env.get("MAAT_CONFIG") else None)
        if path is None:
            data_dir = Path(env["MAAT_DATA_DIR"]) if env.get("MAAT_DATA_DIR") else None
            candidate = (data_dir or default_data_dir(env)) / "maat.toml"
            path = candidate if candidate.is_file() else None
        source = "defaults"
        if path is not None:
            merged = _read_toml(path)
            source = str(path)
        settings: Settings = _build(cls, merged, source=source, prefix="")
        # Environment values are checked on their own, so an error names the variable.
        return validate(_apply_environment(settings, _environment_overrides(env)), source=source)


def _apply_environment(settings: Settings, overrides: Mapping[str, tuple[str, str]]) -> Settings:
    sections: dict[str, dict[str, Any]] = {}
    top: dict[str, Any] = {}
    hints = _hints(Settings)
    for key, (variable, value) in overrides.items():
        section, _, name = key.partition(".")
        if name:
            hint = _hints(hints[section])[name]
            sections.setdefault(section, {})[name] = _coerce(
                hint, value, source="environment", where=variable
            )
        else:
            top[section] = _coerce(hints[section], value, source="environment", where=variable)
    for section, values in sections.items():
        top[section] = dataclasses.replace(getattr(settings, section), **values)
    return dataclasses.replace(settings, **top)


# Bounds of numeric settings: (section.field) -> (minimum, maximum or None).
_BOUNDS: dict[str, tuple[float, float | None]] = {
    "telemetry.max_event_bytes": (64, None),
    "telemetry.max_batch_events": (1, None),
    "telemetry.max_request_bytes": (1024, None),
    "telemetry.spool_segment_bytes": (4096, None),
    "telemetry.spool_stage_bytes": (64 * 1024, 1024**3),
    "telemetry.max_spool_bytes": (4096, None),
    "telemetry.min_free_disk_bytes": (0, None),
    "telemetry.dedupe_window": (0, None),
    "telemetry.nats_partitions": (1, 1024),
    "telemetry.nats_timeout": (0.1, 3600),
    "telemetry.nats_max_bytes": (1024**2, None),
    "telemetry.nats_max_age": (3600, None),
    "telemetry.nats_ack_wait": (1, 86400),
    "telemetry.lake_batch_rows": (1, None),
    "telemetry.retention_days": (1, 36_500),
    "telemetry.hunt_timeout": (1, 86_400),
    "telemetry.hunt_memory_bytes": (64 * 1024**2, None),
    "telemetry.hunt_threads": (1, 256),
    "telemetry.hunt_temp_bytes": (0, None),
    "telemetry.lake_flush_interval": (0.01, 3600),
    "telemetry.gc_threshold": (0, 10_000_000),
    "telemetry.handoff_bytes": (0, None),
    "detect.alert_group_window": (0, None),
    "detect.alert_max_event_ids": (1, 100_000),
    "detect.webhook_timeout": (0.1, 300),
    "detect.forward_retry_interval": (1, 86400),
    "detect.forward_retry_window": (0, 30 * 86400),
    "detect.forward_retry_batch": (1, 10_000),
    "detect.max_correlation_groups": (1, None),
    "detect.taxii_max_bytes": (1024, None),
    "detect.taxii_max_objects": (1, None),
    "detect.max_correlation_entries": (1, None),
    "detect.correlation_max_skew": (0, 86400),
    "detect.correlation_lateness": (0, 7 * 86400),
    "detect.correlation_max_scan": (10, 1_000_000),
    "detect.match_batch_events": (1, 10_000_000),
    "auth.webauthn_timeout": (10, 3600),
    "access.heartbeat_max_age": (1, None),
    "access.policy_check_interval": (0, 3600),
    "access.heartbeat_write_interval": (0, 3600),
    "api.port": (1, 65535),
    "api.max_request_bytes": (1, None),
    "auth.session_idle_timeout": (1, None),
    "auth.session_absolute_timeout": (1, None),
    "auth.enrolment_timeout": (1, None),
    "auth.totp_digits": (6, 8),
    "auth.totp_period": (15, 120),
    "auth.totp_valid_window": (0, 3),
    "auth.lockout_threshold": (1, 1000),
    "auth.lockout_duration": (1, None),
    "auth.login_rate_per_minute": (1, None),
    "auth.login_rate_burst": (1, None),
    "auth.token_default_ttl": (1, None),
    "auth.token_max_ttl": (1, None),
    "auth.password_min_length": (8, None),
    "limits.max_batch": (1, None),
    "limits.max_page_size": (1, None),
    "database.pool_size": (1, 1000),
}
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")
ALERT_LEVELS = ("informational", "low", "medium", "high", "critical")  # as Sigma orders them
ARROW_MEMORY_POOLS = ("system", "mimalloc", "jemalloc")


def validate(settings: Settings, *, source: str = "settings") -> Settings:
    """Refuse values outside their sensible range (a zero TOTP period, a port of 70000)."""
    for path, (low, high) in _BOUNDS.items():
        section, name = path.split(".")
        value = float(getattr(getattr(settings, section), name))
        if value < low or (high is not None and value > high):
            limit = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
            raise ConfigError(f"must be {limit}, got {value:g}", file=source, field=path)
    if settings.log_level not in LOG_LEVELS:
        raise ConfigError(
            f"unknown log level {settings.log_level!r}",
            file=source,
            field="log_level",
            hint=", ".join(LOG_LEVELS),
        )
    if settings.telemetry.bus not in ("spool", "nats"):
        raise ConfigError(
            f"unknown bus {settings.telemetry.bus!r}", file=source, field="telemetry.bus",
            hint="spool (single node) or nats (cluster)",
        )  # fmt: skip
    if settings.telemetry.arrow_memory_pool not in ARROW_MEMORY_POOLS:
        raise ConfigError(
            f"unknown memory pool {settings.telemetry.arrow_memory_pool!r}", file=source,
            field="telemetry.arrow_memory_pool", hint=", ".join(ARROW_MEMORY_POOLS),
        )  # fmt: skip
    if settings.detect.vendor_breach_level not in ("", *ALERT_LEVELS):
        raise ConfigError(
            f"unknown level {settings.detect.vendor_breach_level!r}", file=source,
            field="detect.vendor_breach_level", hint=", ".join(ALERT_LEVELS) + ' or ""',
        )  # fmt: skip
    if settings.auth.token_default_ttl > settings.auth.token_max_ttl:
        raise ConfigError(
            "token_default_ttl exceeds token_max_ttl", file=source, field="auth.token_default_ttl"
        )
    return settings


def default_data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_DATA_HOME/maat`` or ``~/.local/share/maat``."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "maat"


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError("configuration file not found", file=str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        # Python 3.14 has exc.lineno; older versions only say "(at line N, column M)".
        line = getattr(exc, "lineno", None)
        if line is None and (found := re.search(r"at line (\d+)", str(exc))):
            line = int(found.group(1))
        raise ConfigError(f"not valid TOML: {exc}", file=str(path), line=line) from None


def _environment_overrides(env: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """Map ``MAAT_SECTION_FIELD`` variables to ``section.field`` keys; reject unknown ones."""
    known: dict[str, str] = {}
    for f in dataclasses.fields(Settings):
        hint = _hints(Settings)[f.name]
        if dataclasses.is_dataclass(hint):
            for sub in dataclasses.fields(hint):
                known[f"MAAT_{f.name}_{sub.name}".upper()] = f"{f.name}.{sub.name}"
        else:
            known[f"MAAT_{f.name}".upper()] = f.name
    out: dict[str, tuple[str, str]] = {}
    for name, value in env.items():
        if not name.startswith("MAAT_") or name == "MAAT_CONFIG" or name.startswith("MAAT_TEST_"):
            continue
        if name not in known:
            raise ConfigError(
                f"unknown setting {name}",
                field=name,
                hint="known settings: " + ", ".join(sorted(known)),
            )
        out[known[name]] = (name, value)
    return out


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _validate_keys(cls: type, values: Mapping[str, Any], *, source: str, prefix: str) -> None:
    names = {f.name for f in dataclasses.fields(cls)}
    for key in values:
        if key not in names:
            raise ConfigError(
                f"unknown key; expected one of {', '.join(sorted(names))}",
                file=source,
                field=prefix + key,
            )


def _build(cls: type[Any], values: Mapping[str, Any], *, source: str, prefix: str) -> Any:
    if not isinstance(values, Mapping):
        raise ConfigError("expected a table", file=source, field=prefix.rstrip(".") or None)
    _validate_keys(cls, values, source=source, prefix=prefix)
    hints = _hints(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in values:
            continue
        hint = hints[f.name]
        where = prefix + f.name
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            kwargs[f.name] = _build(hint, values[f.name], source=source, prefix=where + ".")
        else:
            kwargs[f.name] = _coerce(hint, values[f.name], source=source, where=where)
    return cls(**kwargs)


def _coerce(hint: Any, value: Any, *, source: str, where: str) -> Any:
    """Convert a TOML or environment value to the declared type, or say where it is wrong."""
    if isinstance(hint, types.UnionType):  # only ``X | None`` is used
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    try:
        if hint is Seconds:
            return parse_duration(value)
        if hint is Bytes:
            return _parse_size(value)
        if hint is bool:
            return _parse_bool(value)
        if hint is int:
            if isinstance(value, bool):
                raise ValueError("expected an integer, got a boolean")
            if isinstance(value, float) and not value.is_integer():
                raise ValueError("expected a whole number")
            result = int(value)
            if result < 0:
                raise ValueError("must not be negative")
            return result
        if hint is Path:
            return Path(str(value)).expanduser()
        if hint is str:
            if not isinstance(value, str):
                raise ValueError(f"expected a string, got {type(value).__name__}")
            return value
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid value {value!r}: {exc}", file=source, field=where) from None
    raise ConfigError(f"unsupported setting type {hint!r}", file=source, field=where)


def parse_duration(value: Any) -> Seconds:
    """Seconds from a number or a text such as '90s', '15m', '12h', '7d' (ValueError if not)."""
    if isinstance(value, bool):
        raise ValueError("expected a duration")
    if isinstance(value, int | float):
        number, unit = float(value), None
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError("expected a duration such as 90, '90s', '15m', '12h' or '7d'")
        number, unit = float(match.group(1)), match.group(2)
    seconds = number * _DURATION_UNITS[unit]
    if not math.isfinite(seconds) or seconds < 0 or seconds > _MAX_DURATION:
        raise ValueError("must be a non-negative duration of at most 100 years")
    return Seconds(seconds)


def _parse_size(value: Any) -> Bytes:
    if isinstance(value, bool):
        raise ValueError("expected a size")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("must not be negative")
        return Bytes(value)
    match = _SIZE.match(str(value))
    if not match:
        raise ValueError("expected a size such as 1048576, '512KiB' or '8MiB'")
    unit = match.group(2).lower() if match.group(2) else None
    return Bytes(int(match.group(1)) * _SIZE_UNITS[unit])


def _parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise ValueError("expected true or false")

"""Settings: defaults, TOML file, environment; typos and bad values are errors that say where."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from maat.config import Bytes, Seconds, Settings, parse_duration
from maat.errors import ConfigError


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test reads the developer's real ~/.local/share/maat/maat.toml."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    return home


def _toml(tmp_path: Path, text: str, name: str = "maat.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _load_error(
    environ: dict[str, str] | None = None, config_file: Path | None = None
) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        Settings.load(environ=environ or {}, config_file=config_file)
    return caught.value


# --- defaults ------------------------------------------------------------------------------


def test_data_dir_defaults_under_xdg_data_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    xdg = tmp_path / "xdg"
    monkeypatch.setenv("XDG_DATA_HOME", str(xdg))
    settings = Settings.load(environ={"XDG_DATA_HOME": str(xdg)})
    assert settings.data_dir == xdg / "maat"


def test_data_dir_falls_back_to_local_share(isolated_home: Path) -> None:
    settings = Settings.load(environ={})
    assert settings.data_dir == isolated_home / ".local" / "share" / "maat"


def test_database_defaults_to_sqlite_in_data_dir(tmp_path: Path) -> None:
    settings = Settings.load(environ={"MAAT_DATA_DIR": str(tmp_path / "d")})
    assert settings.database_url == ""
    assert settings.effective_database_url == f"sqlite:///{tmp_path / 'd' / 'maat.db'}"
    assert settings.effective_secret_key_file == tmp_path / "d" / "secret.key"


def test_defaults_are_the_documented_secure_values() -> None:
    settings = Settings.load(environ={})
    assert settings.api.host == "127.0.0.1"
    assert settings.auth.lockout_threshold == 5
    assert settings.auth.session_idle_timeout == 30.0 * 60
    assert settings.auth.password_min_length == 12
    assert settings.api.max_request_bytes == 8 * 1024 * 1024


# --- sources and precedence ----------------------------------------------------------------


def test_toml_file_overrides_defaults(tmp_path: Path) -> None:
    path = _toml(
        tmp_path,
        'database_url = "postgresql://db/maat"\n'
        '[auth]\nlockout_threshold = 3\nsession_idle_timeout = "15m"\n'
        "[api]\nport = 9000\n",
    )
    settings = Settings.load(environ={}, config_file=path)
    assert settings.effective_database_url == "postgresql://db/maat"
    assert settings.auth.lockout_threshold == 3
    assert settings.auth.session_idle_timeout == 900.0
    assert settings.api.port == 9000
    assert settings.auth.lockout_duration == 15.0 * 60  # untouched default


def test_environment_overrides_toml(tmp_path: Path) -> None:
    path = _toml(tmp_path, '[auth]\nlockout_threshold = 3\ntotp_issuer = "File"\n')
    settings = Settings.load(
        environ={"MAAT_AUTH_LOCKOUT_THRESHOLD": "7", "MAAT_LOG_LEVEL": "debug"}, config_file=path
    )
    assert settings.auth.lockout_threshold == 7
    assert settings.auth.totp_issuer == "File"
    assert settings.log_level == "debug"


def test_maat_config_env_names_the_file(tmp_path: Path) -> None:
    path = _toml(tmp_path, "[limits]\nmax_batch = 50\n", name="custom.toml")
    settings = Settings.load(environ={"MAAT_CONFIG": str(path)})
    assert settings.limits.max_batch == 50


def test_toml_in_data_dir_is_found(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    _toml(data, "[limits]\nmax_page_size = 77\n")
    settings = Settings.load(environ={"MAAT_DATA_DIR": str(data)})
    assert settings.limits.max_page_size == 77


def test_missing_named_config_file_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    error = _load_error(config_file=missing)
    assert error.location.file == str(missing)


def test_maat_test_variables_are_ignored() -> None:
    settings = Settings.load(
        environ={"MAAT_TEST_POSTGRES_URL": "postgresql://x", "MAAT_TEST_ANYTHING": "1"}
    )
    assert settings.database_url == ""


def test_non_maat_variables_are_ignored() -> None:
    settings = Settings.load(
        environ={"PATH": "/bin", "MAATX": "1", "maat_auth_lockout_threshold": "x"}
    )
    assert settings.auth.lockout_threshold == 5


# --- durations and sizes -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("15m", 900),
        (90, 90),
        ("90", 90),
        ("90s", 90),
        ("12h", 12 * 3600),
        ("7d", 7 * 86400),
        ("250ms", 0.25),
        (1.5, 1.5),
        (" 2 h ", 7200),
    ],
)
def test_durations_parse(value: object, seconds: float) -> None:
    parsed = parse_duration(value)
    assert isinstance(parsed, Seconds)
    assert parsed == pytest.approx(seconds)


@pytest.mark.parametrize(("value", "seconds"), [("15m", 900.0), (90, 90.0), ("12h", 43200.0)])
def test_durations_parse_in_settings(value: object, seconds: float) -> None:
    settings = Settings.from_mapping({"auth": {"lockout_duration": value}})
    assert settings.auth.lockout_duration == seconds


@pytest.mark.parametrize(
    ("value", "size"),
    [("1MiB", 1024**2), (512, 512), ("512kb", 512_000), ("2GiB", 2 * 1024**3), ("10 b", 10)],
)
def test_sizes_parse(value: object, size: int) -> None:
    settings = Settings.from_mapping({"api": {"max_request_bytes": value}})
    assert settings.api.max_request_bytes == size
    assert isinstance(settings.api.max_request_bytes, Bytes)


# --- unknown keys --------------------------------------------------------------------------


def test_misspelt_toml_key_is_an_error_naming_file_and_field(tmp_path: Path) -> None:
    path = _toml(tmp_path, "[auth]\nlockout_treshold = 3\n")
    error = _load_error(config_file=path)
    assert error.location.file == str(path)
    assert error.location.field == "auth.lockout_treshold"
    assert "auth.lockout_treshold" in error.diagnostics()


def test_unknown_toml_section_is_an_error(tmp_path: Path) -> None:
    path = _toml(tmp_path, "[authentication]\nlockout_threshold = 3\n")
    error = _load_error(config_file=path)
    assert error.location.file == str(path)
    assert error.location.field == "authentication"


def test_unknown_top_level_toml_key_is_an_error(tmp_path: Path) -> None:
    path = _toml(tmp_path, 'databse_url = "sqlite://"\n')
    error = _load_error(config_file=path)
    assert error.location.field == "databse_url"


def test_toml_section_that_is_not_a_table_is_an_error(tmp_path: Path) -> None:
    path = _toml(tmp_path, "auth = 5\n")
    error = _load_error(config_file=path)
    assert error.location.field == "auth"


def test_section_that_is_not_a_table_with_env_override_is_a_config_error(
    tmp_path: Path,
) -> None:
    # Any exception other than ConfigError escaping load() is a crash at start-up.
    path = _toml(tmp_path, 'auth = "strict"\n')
    error = _load_error(environ={"MAAT_AUTH_LOCKOUT_THRESHOLD": "3"}, config_file=path)
    assert error.location.field is not None
    assert "auth" in error.location.field


@pytest.mark.parametrize(
    "name", ["MAAT_AUTH_LOCKOUT_TRESHOLD", "MAAT_DATADIR", "MAAT_AUTH", "MAAT_"]
)
def test_unknown_maat_environment_variable_is_an_error_naming_it(name: str) -> None:
    error = _load_error(environ={name: "1"})
    assert error.location.field == name
    assert name in error.diagnostics()


# --- bad values ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [
        ("auth", "lockout_threshold", True),  # bool is not an int
        ("auth", "lockout_threshold", -1),
        ("auth", "lockout_threshold", "three"),
        ("auth", "lockout_duration", "abc"),
        ("auth", "lockout_duration", -5),
        ("auth", "lockout_duration", "-5m"),
        ("auth", "lockout_duration", True),
        ("auth", "lockout_duration", "5 minutes"),
        ("api", "max_request_bytes", -1),
        ("api", "max_request_bytes", "1.5MiB"),
        ("api", "max_request_bytes", "lots"),
        ("api", "max_request_bytes", False),
        ("auth", "totp_issuer", 5),
    ],
)
def test_bad_value_is_refused_naming_the_field(
    tmp_path: Path, section: str, key: str, value: object
) -> None:
    literal = "true" if value is True else "false" if value is False else repr(value)
    literal = literal.replace("'", '"')
    path = _toml(tmp_path, f"[{section}]\n{key} = {literal}\n")
    error = _load_error(config_file=path)
    assert error.location.field == f"{section}.{key}"
    assert error.location.file == str(path)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MAAT_AUTH_LOCKOUT_THRESHOLD", "-3"),
        ("MAAT_AUTH_LOCKOUT_THRESHOLD", "many"),
        ("MAAT_AUTH_SESSION_IDLE_TIMEOUT", "abc"),
        ("MAAT_API_MAX_REQUEST_BYTES", "big"),
    ],
)
def test_bad_environment_value_is_refused_naming_the_field(name: str, value: str) -> None:
    error = _load_error(environ={name: value})
    field = error.location.field
    assert field is not None
    assert field.replace(".", "_").upper() in name


def test_bad_environment_value_is_not_blamed_on_the_toml_file(tmp_path: Path) -> None:
    # The file does not mention lockout_threshold: pointing the operator at it is wrong.
    path = _toml(tmp_path, '[auth]\nlockout_duration = "1m"\n')
    error = _load_error(environ={"MAAT_AUTH_LOCKOUT_THRESHOLD": "abc"}, config_file=path)
    assert error.location.file != str(path)
    assert error.location.field is not None
    assert "lockout_threshold" in error.location.field.lower()


@pytest.mark.parametrize("literal", ["inf", "nan"])
def test_non_finite_duration_is_refused(tmp_path: Path, literal: str) -> None:
    # TOML allows inf and nan; as a session lifetime they crash timedelta() at first use.
    path = _toml(tmp_path, f"[auth]\nsession_idle_timeout = {literal}\n")
    error = _load_error(config_file=path)
    assert error.location.field == "auth.session_idle_timeout"


def test_fractional_number_for_integer_setting_is_refused(tmp_path: Path) -> None:
    # 2.9 must not silently become 2 (lockout, TOTP window and rate limits are integers).
    path = _toml(tmp_path, "[auth]\nlockout_threshold = 2.9\n")
    error = _load_error(config_file=path)
    assert error.location.field == "auth.lockout_threshold"


def test_parse_duration_rejects_negative_and_bool() -> None:
    for bad in (-1, -0.5, True, "abc", "", "1w"):
        with pytest.raises(ValueError, match=r"."):
            parse_duration(bad)
    assert math.isclose(parse_duration(0), 0.0)


# --- TOML syntax ---------------------------------------------------------------------------


def test_invalid_toml_is_an_error_with_file_and_line(tmp_path: Path) -> None:
    path = _toml(tmp_path, "# settings\n[auth]\nlockout_threshold = = 3\n")
    error = _load_error(config_file=path)
    assert error.location.file == str(path)
    assert error.location.line == 3
    assert f"{path}:3" in error.diagnostics()


def test_invalid_toml_error_mentions_toml(tmp_path: Path) -> None:
    path = _toml(tmp_path, "[auth\n")
    error = _load_error(config_file=path)
    assert error.location.file == str(path)
    assert "TOML" in error.message

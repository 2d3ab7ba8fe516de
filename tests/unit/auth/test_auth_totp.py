"""RFC 6238 TOTP: the reference vectors, the validity window, replay refusal, malformed codes."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from maat.auth.totp import (
    TotpParams,
    check_code,
    code_at,
    current_step,
    new_secret,
    provisioning_uri,
)

# RFC 6238 Appendix B, SHA-1: the seed is the ASCII string "12345678901234567890".
RFC_SECRET = base64.b32encode(b"12345678901234567890").decode("ascii")
RFC_PARAMS = TotpParams(digits=8)
RFC_VECTORS = [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
]

PARAMS = TotpParams(digits=6, period=30, valid_window=1)
SECRET = base64.b32encode(b"maat-unit-test-seed!").decode("ascii")
NOW = datetime(2026, 11, 25, 9, 0, 10, tzinfo=UTC)
NOW_STEP = current_step(NOW, PARAMS)


def _code(step: int, params: TotpParams = PARAMS) -> str:
    return code_at(SECRET, step, params)


@pytest.mark.parametrize(("unix_time", "expected"), RFC_VECTORS)
def test_codes_match_rfc6238_reference_vectors(unix_time: int, expected: str) -> None:
    now = datetime.fromtimestamp(unix_time, tz=UTC)
    step = current_step(now, RFC_PARAMS)
    assert step == unix_time // 30
    assert code_at(RFC_SECRET, step, RFC_PARAMS) == expected


@pytest.mark.parametrize(("unix_time", "expected"), RFC_VECTORS)
def test_rfc6238_reference_codes_are_accepted_at_their_time(unix_time: int, expected: str) -> None:
    now = datetime.fromtimestamp(unix_time, tz=UTC)
    result = check_code(RFC_SECRET, expected, now=now, last_step=None, params=RFC_PARAMS)
    assert result.accepted
    assert result.step == unix_time // 30


def test_current_step_changes_exactly_at_period_boundary() -> None:
    start = datetime.fromtimestamp(30 * 1000, tz=UTC)
    assert current_step(start - timedelta(microseconds=1), PARAMS) == 999
    assert current_step(start, PARAMS) == 1000
    assert current_step(start + timedelta(seconds=29), PARAMS) == 1000


def test_code_of_current_step_is_accepted_and_reports_its_step() -> None:
    result = check_code(SECRET, _code(NOW_STEP), now=NOW, last_step=None, params=PARAMS)
    assert result.accepted
    assert result.reason == "ok"
    assert result.step == NOW_STEP


@pytest.mark.parametrize("offset", [-1, 1])
def test_code_within_clock_drift_window_is_accepted(offset: int) -> None:
    result = check_code(SECRET, _code(NOW_STEP + offset), now=NOW, last_step=None, params=PARAMS)
    assert result.accepted
    assert result.step == NOW_STEP + offset


@pytest.mark.parametrize("offset", [-3, -2, 2, 3])
def test_code_outside_window_is_refused(offset: int) -> None:
    result = check_code(SECRET, _code(NOW_STEP + offset), now=NOW, last_step=None, params=PARAMS)
    assert not result.accepted
    assert result.step is None


def test_wider_window_accepts_further_drift() -> None:
    wide = TotpParams(valid_window=2)
    assert check_code(SECRET, _code(NOW_STEP - 2), now=NOW, last_step=None, params=wide).accepted
    assert not check_code(
        SECRET, _code(NOW_STEP - 3), now=NOW, last_step=None, params=wide
    ).accepted


def test_zero_window_accepts_only_current_step() -> None:
    strict = TotpParams(valid_window=0)
    assert check_code(SECRET, _code(NOW_STEP), now=NOW, last_step=None, params=strict).accepted
    assert not check_code(
        SECRET, _code(NOW_STEP - 1), now=NOW, last_step=None, params=strict
    ).accepted


def test_code_for_another_secret_is_refused() -> None:
    other = base64.b32encode(b"another-user-seed-20").decode("ascii")
    code = code_at(other, NOW_STEP, PARAMS)
    assert code not in {_code(NOW_STEP + d) for d in (-1, 0, 1)}  # fixed seeds: no collision
    result = check_code(SECRET, code, now=NOW, last_step=None, params=PARAMS)
    assert not result.accepted
    assert result.reason == "wrong code"


def test_replayed_totp_code_is_refused() -> None:
    first = check_code(SECRET, _code(NOW_STEP), now=NOW, last_step=None, params=PARAMS)
    assert first.accepted
    replay = check_code(SECRET, _code(NOW_STEP), now=NOW, last_step=first.step, params=PARAMS)
    assert not replay.accepted
    assert "replay" in replay.reason
    assert replay.step is None


def test_replay_within_window_after_time_moves_on_is_refused() -> None:
    later = NOW + timedelta(seconds=PARAMS.period)
    replay = check_code(SECRET, _code(NOW_STEP), now=later, last_step=NOW_STEP, params=PARAMS)
    assert not replay.accepted
    assert "replay" in replay.reason


def test_older_code_after_a_newer_one_was_used_is_refused() -> None:
    # The newer code (step now+1, drift) was accepted; a still-valid older one must not be.
    older = check_code(SECRET, _code(NOW_STEP - 1), now=NOW, last_step=NOW_STEP + 1, params=PARAMS)
    assert not older.accepted
    current = check_code(SECRET, _code(NOW_STEP), now=NOW, last_step=NOW_STEP + 1, params=PARAMS)
    assert not current.accepted


def test_next_step_code_after_last_step_is_accepted() -> None:
    later = NOW + timedelta(seconds=PARAMS.period)
    result = check_code(SECRET, _code(NOW_STEP + 1), now=later, last_step=NOW_STEP, params=PARAMS)
    assert result.accepted
    assert result.step == NOW_STEP + 1


@pytest.mark.parametrize(
    "code",
    ["", "12345", "1234567", "12345a", "abcdef", "12-456", "+12345", "-12345", "１２３４５"],
)
def test_malformed_code_is_refused_as_malformed(code: str) -> None:
    result = check_code(SECRET, code, now=NOW, last_step=None, params=PARAMS)
    assert not result.accepted
    assert result.reason == "code must be 6 digits"


@pytest.mark.parametrize(
    "code",
    [
        "\u0661\u0662\u0663\u0664\u0665\u0666",  # Arabic-Indic digits
        "\uff11\uff12\uff13\uff14\uff15\uff16",  # full-width digits
        "\u00b2\u00b3\u00b9\u00b2\u00b3\u00b9",  # superscripts
    ],
)
def test_non_ascii_digit_code_is_refused_not_crashing(code: str) -> None:
    # str.isdigit() is true for these; they must be refused, never reach compare_digest
    # (which raises TypeError on non-ASCII text and would turn a login into a 500).
    result = check_code(SECRET, code, now=NOW, last_step=None, params=PARAMS)
    assert not result.accepted


DIGIT_LIKE = st.characters(categories=("Nd", "No", "Zs"))


@given(st.text(max_size=20) | st.text(DIGIT_LIKE, min_size=5, max_size=8))
def test_arbitrary_code_text_never_raises(code: str) -> None:
    result = check_code(SECRET, code, now=NOW, last_step=None, params=PARAMS)
    assert isinstance(result.accepted, bool)
    if result.accepted:
        assert re.fullmatch(r"[0-9]{6}", code.replace(" ", "").strip())


@pytest.mark.parametrize("shape", ["{0} {1}", " {0}{1} ", "{0}  {1}", "\t{0}{1}\n"])
def test_code_with_spaces_is_tolerated(shape: str) -> None:
    code = _code(NOW_STEP)
    typed = shape.format(code[:3], code[3:])
    result = check_code(SECRET, typed, now=NOW, last_step=None, params=PARAMS)
    assert result.accepted
    assert result.step == NOW_STEP


def test_provisioning_uri_has_otpauth_form() -> None:
    params = TotpParams(digits=8, period=60)
    uri = provisioning_uri(SECRET, account="alice@example.org", issuer="Maat Corp", params=params)
    parts = urlsplit(uri)
    assert parts.scheme == "otpauth"
    assert parts.netloc == "totp"
    assert parts.path == "/Maat%20Corp:alice%40example.org"
    query = parse_qs(parts.query)
    assert query == {
        "secret": [SECRET],
        "issuer": ["Maat Corp"],
        "digits": ["8"],
        "period": ["60"],
    }


def test_provisioning_uri_escapes_label_so_account_cannot_inject_parameters() -> None:
    uri = provisioning_uri(SECRET, account="eve?secret=AAAA&x=", issuer="Maat", params=TotpParams())
    query = parse_qs(urlsplit(uri).query)
    assert query["secret"] == [SECRET]
    assert "x" not in query


def test_new_secret_is_32_base32_chars_of_160_bits() -> None:
    secret = new_secret()
    assert len(secret) == 32
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    assert len(base64.b32decode(secret)) == 20


def test_new_secret_differs_each_time() -> None:
    secrets = {new_secret() for _ in range(50)}
    assert len(secrets) == 50


def test_new_secret_works_with_code_at() -> None:
    secret = new_secret()
    code = code_at(secret, NOW_STEP, PARAMS)
    assert check_code(secret, code, now=NOW, last_step=None, params=PARAMS).accepted

"""Passwords: argon2id hashes, verification that fails closed, and the password rules."""

from __future__ import annotations

import pytest

from maat.auth.passwords import (
    check_password_rules,
    hash_password,
    needs_rehash,
    verify_password,
)
from maat.errors import InvalidInput

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def stored() -> str:
    return hash_password(PASSWORD)


def test_hash_is_argon2id_and_not_the_password(stored: str) -> None:
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


def test_same_password_hashes_differently_each_time(stored: str) -> None:
    assert hash_password(PASSWORD) != stored


def test_right_password_verifies(stored: str) -> None:
    assert verify_password(stored, PASSWORD)


@pytest.mark.parametrize(
    "attempt", ["", "correct horse battery stapl", PASSWORD.upper(), PASSWORD + " ", "x" * 200]
)
def test_wrong_password_is_refused(stored: str, attempt: str) -> None:
    assert verify_password(stored, attempt) is False


def test_unknown_user_never_verifies() -> None:
    assert verify_password(None, PASSWORD) is False
    assert verify_password("", PASSWORD) is False


def test_unknown_user_is_refused_even_with_the_timing_dummy_password() -> None:
    # The dummy hash used for timing equalisation must not be a back door.
    assert verify_password(None, "maat-dummy-password-for-timing") is False


@pytest.mark.parametrize("garbage", ["not-a-hash", "$argon2id$v=19$broken", "$2b$12$abcdef"])
def test_corrupt_stored_hash_refuses_instead_of_crashing(garbage: str) -> None:
    assert verify_password(garbage, PASSWORD) is False


def test_fresh_hash_needs_no_rehash(stored: str) -> None:
    assert needs_rehash(stored) is False


def test_password_of_allowed_length_passes_rules() -> None:
    check_password_rules("a" * 12, min_length=12, max_length=64)
    check_password_rules("a" * 64, min_length=12, max_length=64)


def test_too_short_password_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        check_password_rules("a" * 11, min_length=12, max_length=64)
    assert caught.value.location.field == "password"
    assert "shorter than 12" in caught.value.message


def test_too_long_password_is_refused_before_hashing() -> None:
    with pytest.raises(InvalidInput) as caught:
        check_password_rules("a" * 65, min_length=12, max_length=64)
    assert caught.value.location.field == "password"
    assert "longer than 64" in caught.value.message


@pytest.mark.parametrize("blank", [" " * 12, "\t" * 12, " \n " * 5])
def test_blank_password_is_refused(blank: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_password_rules(blank, min_length=12, max_length=64)
    assert caught.value.location.field == "password"


def test_rule_errors_never_echo_the_password() -> None:
    secret = "hunter2-short"
    with pytest.raises(InvalidInput) as caught:
        check_password_rules(secret, min_length=20, max_length=64)
    assert secret not in caught.value.diagnostics()

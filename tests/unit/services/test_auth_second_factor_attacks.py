"""Attacks by someone holding a stolen session (but not the user's second factor): guessing
TOTP codes on step-up, guessing the password through the password change, and enrolling
their own passkey so that every later step-up is theirs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from maat.auth.principal import Principal
from maat.errors import AccountLocked, AuthenticationFailed, RateLimited
from maat.services import access, auth, webauthn
from maat.services.platform import Platform
from maat_testkit import PASSWORD, FakeClock, LoggedIn, current_code, enrolled_user, open_platform
from webauthn_kit import SoftAuthenticator

ORIGIN = "https://maat.example"


@pytest.fixture
def platform(backend: str, tmp_path: Path, clock: FakeClock) -> Iterator[Platform]:
    yield from open_platform(backend, tmp_path / "data", clock, api={"public_url": ORIGIN})


@pytest.fixture
def alice(platform: Platform, clock: FakeClock) -> LoggedIn:
    return enrolled_user(platform, clock, "alice", ["analyst"])


def _principal(platform: Platform, user: LoggedIn) -> Principal:
    return auth.authenticate(platform, user.token, client="10.0.0.1")


def _wrong_code(platform: Platform, secret: str) -> str:
    right = int(current_code(platform, secret))
    return f"{(right + 500_000) % 1_000_000:06d}"  # never a code of the window


def test_step_up_code_guessing_stops_at_the_lockout(
    platform: Platform, alice: LoggedIn, clock: FakeClock
) -> None:
    caller = _principal(platform, alice)
    threshold = platform.settings.auth.lockout_threshold
    for _ in range(threshold):
        clock.advance(seconds=7)  # slower than the rate limit: only the lockout stops this
        with pytest.raises(AuthenticationFailed):
            auth.step_up(platform, caller, _wrong_code(platform, alice.totp_secret),
                         client="10.9.9.9")  # fmt: skip
    # Locked: even the right code is refused, so guessing gains nothing more.
    with pytest.raises(AccountLocked):
        auth.step_up(platform, caller, current_code(platform, alice.totp_secret),
                     client="10.9.9.9")  # fmt: skip
    assert access.mfa_time(platform, caller) != platform.now()
    clock.advance(seconds=platform.settings.auth.lockout_duration + 30)
    caller = _principal(platform, enrolled_session(platform, alice))
    clock.advance(seconds=platform.settings.auth.totp_period)  # the login used this step's code
    auth.step_up(platform, caller, current_code(platform, alice.totp_secret), client="10.0.0.1")
    assert access.mfa_time(platform, caller) == platform.now()


def enrolled_session(platform: Platform, user: LoggedIn) -> LoggedIn:
    """A fresh login of ``user`` (the first session may have idled out meanwhile)."""
    result = auth.login(platform, user.name, user.password,
                        current_code(platform, user.totp_secret), client="10.0.0.1")  # fmt: skip
    assert result.session_token is not None
    return LoggedIn(user.name, user.password, user.totp_secret, result.session_token)


def test_step_up_guesses_are_rate_limited_before_any_lockout(
    tmp_path: Path, clock: FakeClock
) -> None:
    for platform in open_platform("sqlite", tmp_path / "d", clock,
                                  auth={"lockout_threshold": 1000}):  # fmt: skip
        user = enrolled_user(platform, clock, "alice", ["analyst"])
        caller = _principal(platform, user)
        for attempt in range(platform.settings.auth.login_rate_burst):
            with pytest.raises(AuthenticationFailed):  # each from another address
                auth.step_up(platform, caller, _wrong_code(platform, user.totp_secret),
                             client=f"10.9.9.{attempt}")  # fmt: skip
        with pytest.raises(RateLimited):
            auth.step_up(platform, caller, current_code(platform, user.totp_secret),
                         client="10.9.9.99")  # fmt: skip


def test_password_change_cannot_be_used_to_guess_the_password(
    platform: Platform, alice: LoggedIn
) -> None:
    caller = _principal(platform, alice)
    for attempt in range(platform.settings.auth.lockout_threshold):
        with pytest.raises(AuthenticationFailed):
            auth.change_own_password(platform, caller, f"guess-number-{attempt}",
                                     "a-new-password-123", client=f"10.9.9.{attempt}")  # fmt: skip
    with pytest.raises(AccountLocked):
        auth.change_own_password(platform, caller, PASSWORD, "a-new-password-123",
                                 client="10.9.9.99")  # fmt: skip


def test_stolen_session_cannot_enrol_its_own_passkey(
    platform: Platform, alice: LoggedIn, clock: FakeClock
) -> None:
    caller = _principal(platform, alice)
    clock.advance(seconds=platform.settings.auth.enrolment_timeout + 60)
    caller = _principal(platform, alice)  # still a valid session, its MFA is old
    with pytest.raises(AuthenticationFailed, match="second factor"):
        webauthn.begin(platform, caller, webauthn.REGISTER)
    # With a fresh second factor the owner registers a key.
    auth.step_up(platform, caller, current_code(platform, alice.totp_secret), client="10.0.0.1")
    started = webauthn.begin(platform, caller, webauthn.REGISTER)
    key = SoftAuthenticator()
    webauthn.finish_registration(platform, caller, started["ceremony"],
                                 key.create(started["publicKey"], ORIGIN), "yubikey")  # fmt: skip


def test_passkey_registration_finished_after_the_mfa_went_stale_is_refused(
    platform: Platform, alice: LoggedIn, clock: FakeClock
) -> None:
    caller = _principal(platform, alice)
    clock.advance(seconds=platform.settings.auth.enrolment_timeout - 60)
    started = webauthn.begin(platform, caller, webauthn.REGISTER)
    clock.advance(seconds=120)
    key = SoftAuthenticator()
    with pytest.raises(AuthenticationFailed, match="second factor"):
        webauthn.finish_registration(platform, caller, started["ceremony"],
                                     key.create(started["publicKey"], ORIGIN), "k")  # fmt: skip

"""WebAuthn as a second factor: a passkey is registered, then answers a step-up; phishing
(another origin), replays, cloned keys and expired ceremonies are refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from maat.auth.principal import Principal
from maat.errors import AuthenticationFailed, ConfigError, NotFound
from maat.services import access, auth, webauthn
from maat.services.platform import Platform
from maat_testkit import FakeClock, enrolled_user, open_platform
from webauthn_kit import SoftAuthenticator

ORIGIN = "https://maat.example"


@pytest.fixture
def platform(backend: str, tmp_path: Path, clock: FakeClock) -> Iterator[Platform]:
    yield from open_platform(backend, tmp_path / "data", clock, api={"public_url": ORIGIN})


@pytest.fixture
def alice(platform: Platform, clock: FakeClock) -> Principal:
    user = enrolled_user(platform, clock, "alice", ["analyst"])
    return auth.authenticate(platform, user.token, client="10.0.0.1")


def _register(platform: Platform, alice: Principal, key: SoftAuthenticator) -> None:
    started = webauthn.begin(platform, alice, webauthn.REGISTER)
    assert started["publicKey"]["rp"]["id"] == "maat.example"
    webauthn.finish_registration(platform, alice, started["ceremony"],
                                 key.create(started["publicKey"], ORIGIN), "yubikey")  # fmt: skip


def test_a_registered_passkey_steps_up_the_session(
    platform: Platform, alice: Principal, clock: FakeClock
) -> None:
    key = SoftAuthenticator()
    _register(platform, alice, key)
    clock.advance(hours=2)
    started = webauthn.begin(platform, alice, webauthn.STEP_UP)
    at = webauthn.finish_step_up(platform, alice, started["ceremony"],
                                 key.get(started["publicKey"], ORIGIN))  # fmt: skip
    assert at == platform.now()
    assert access.mfa_time(platform, alice) == platform.now()
    with platform.transaction(write=False) as uow:
        stored = uow.webauthn.credentials_of(alice.user_id)
        actions = [r.entry.action for r in uow.audit.records()]
    assert stored[0].sign_count == key.counter and stored[0].name == "yubikey"
    assert "auth.webauthn.register" in actions and actions[-1] == "auth.step_up"


def test_phishing_site_answer_is_refused(platform: Platform, alice: Principal) -> None:
    key = SoftAuthenticator()
    _register(platform, alice, key)
    started = webauthn.begin(platform, alice, webauthn.STEP_UP)
    phished = key.get(started["publicKey"], "https://maat-example.evil")
    with pytest.raises(AuthenticationFailed, match="refused"):
        webauthn.finish_step_up(platform, alice, started["ceremony"], phished)
    started = webauthn.begin(platform, alice, webauthn.STEP_UP)
    other_rp = key.get(started["publicKey"], ORIGIN, rp_id="evil.example")
    with pytest.raises(AuthenticationFailed):
        webauthn.finish_step_up(platform, alice, started["ceremony"], other_rp)


def test_replayed_answer_and_cloned_key_are_refused(platform: Platform, alice: Principal) -> None:
    key = SoftAuthenticator(counter=10)
    _register(platform, alice, key)
    started = webauthn.begin(platform, alice, webauthn.STEP_UP)
    answer = key.get(started["publicKey"], ORIGIN)
    webauthn.finish_step_up(platform, alice, started["ceremony"], answer)
    with pytest.raises(AuthenticationFailed, match="already answered"):
        webauthn.finish_step_up(platform, alice, started["ceremony"], answer)
    # A clone of the key whose counter lags behind the original's.
    started = webauthn.begin(platform, alice, webauthn.STEP_UP)
    with pytest.raises(AuthenticationFailed):
        webauthn.finish_step_up(platform, alice, started["ceremony"],
                                key.get(started["publicKey"], ORIGIN, counter=5))  # fmt: skip


def test_expired_ceremony_wrong_key_and_no_key_are_refused(
    platform: Platform, alice: Principal, clock: FakeClock
) -> None:
    with pytest.raises(NotFound, match="no WebAuthn authenticator"):
        webauthn.begin(platform, alice, webauthn.STEP_UP)
    key = SoftAuthenticator()
    _register(platform, alice, key)
    started = webauthn.begin(platform, alice, webauthn.STEP_UP)
    clock.advance(seconds=301)
    with pytest.raises(AuthenticationFailed, match="expired"):
        webauthn.finish_step_up(platform, alice, started["ceremony"],
                                key.get(started["publicKey"], ORIGIN))  # fmt: skip
    started = webauthn.begin(platform, alice, webauthn.STEP_UP)
    stranger = SoftAuthenticator()
    with pytest.raises(AuthenticationFailed, match="no authenticator of this user"):
        webauthn.finish_step_up(platform, alice, started["ceremony"],
                                stranger.get(started["publicKey"], ORIGIN))  # fmt: skip


def test_another_users_ceremony_cannot_be_answered(
    platform: Platform, alice: Principal, clock: FakeClock
) -> None:
    key = SoftAuthenticator()
    _register(platform, alice, key)
    started = webauthn.begin(platform, alice, webauthn.STEP_UP)
    bob = auth.authenticate(platform, enrolled_user(platform, clock, "bob", ["analyst"]).token,
                            client="10.0.0.2")  # fmt: skip
    with pytest.raises(AuthenticationFailed, match="no such WebAuthn ceremony"):
        webauthn.finish_step_up(platform, bob, started["ceremony"],
                                key.get(started["publicKey"], ORIGIN))  # fmt: skip


def test_without_a_public_url_webauthn_says_what_to_set(tmp_path: Path, clock: FakeClock) -> None:
    for platform in open_platform("sqlite", tmp_path / "d", clock):
        user = enrolled_user(platform, clock, "carol", ["analyst"])
        principal = auth.authenticate(platform, user.token, client="x")
        with pytest.raises(ConfigError) as caught:
            webauthn.begin(platform, principal, webauthn.REGISTER)
        assert "MAAT_API_PUBLIC_URL" in caught.value.diagnostics()


def test_an_mfa_reset_removes_a_passkey_a_stolen_session_registered(
    platform: Platform, alice: Principal
) -> None:
    from maat.services import users

    _register(platform, alice, SoftAuthenticator())
    users.reset_mfa(platform, "test", "alice")
    with platform.transaction(write=False) as uow:
        assert uow.webauthn.credentials_of(alice.user_id) == []
        last = [r.entry for r in uow.audit.records()][-1]
    assert last.action == "user.reset_mfa" and last.details["passkeys_removed"] == 1

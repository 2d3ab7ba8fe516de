"""Login, MFA, sessions and tokens against the real state store (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from maat.auth.permissions import Permission
from maat.errors import AccountLocked, AuthenticationFailed, InvalidInput, RateLimited
from maat.services import audit, auth, tokens, users
from maat.services.platform import Platform
from maat_testkit import PASSWORD, FakeClock, current_code, enrolled_user


def audit_actions(platform: Platform) -> list[tuple[str, str, str]]:
    return [
        (r.entry.action, r.entry.outcome, str(r.entry.details.get("reason", "")))
        for r in audit.list_audit(platform, limit=1000)
    ]


def test_first_login_yields_enrolment_not_session(platform: Platform) -> None:
    users.add_user(platform, "test", "alice", ["analyst"], PASSWORD)
    result = auth.login(platform, "alice", PASSWORD, None, client="c")
    assert result.session_token is None
    assert result.enrolment is not None
    assert result.enrolment.otpauth_uri.startswith("otpauth://totp/Maat:alice?")


def test_password_alone_does_not_open_a_session_once_enrolled(
    platform: Platform, clock: FakeClock
) -> None:
    enrolled_user(platform, clock, "alice", ["analyst"])
    with pytest.raises(AuthenticationFailed):
        auth.login(platform, "alice", PASSWORD, None, client="c")
    assert ("auth.login", "failure", "TOTP: code must be 6 digits") in audit_actions(platform)


def test_login_with_password_and_totp_opens_session(platform: Platform, clock: FakeClock) -> None:
    user = enrolled_user(platform, clock, "alice", ["analyst"])
    result = auth.login(
        platform, "alice", PASSWORD, current_code(platform, user.totp_secret), client="c"
    )
    assert result.session_token
    principal = auth.authenticate(platform, result.session_token, client="c")
    assert principal.name == "alice"
    assert principal.can(Permission.ALERTS_READ)
    assert not principal.can(Permission.USERS_WRITE)


def test_replayed_totp_code_is_refused_and_audited(platform: Platform, clock: FakeClock) -> None:
    user = enrolled_user(platform, clock, "alice", ["analyst"])
    code = current_code(platform, user.totp_secret)
    auth.login(platform, "alice", PASSWORD, code, client="c")
    clock.advance(seconds=5)  # same 30 s step: the code is still "valid" but already used
    with pytest.raises(AuthenticationFailed):
        auth.login(platform, "alice", PASSWORD, code, client="c")
    assert ("auth.login", "failure", "TOTP: code already used (replay)") in audit_actions(platform)


def test_wrong_totp_code_is_refused_and_audited(platform: Platform, clock: FakeClock) -> None:
    user = enrolled_user(platform, clock, "alice", ["analyst"])
    right = current_code(platform, user.totp_secret)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    with pytest.raises(AuthenticationFailed):
        auth.login(platform, "alice", PASSWORD, wrong, client="c")
    assert ("auth.login", "failure", "TOTP: wrong code") in audit_actions(platform)


def test_password_guessing_locks_the_account(platform: Platform, clock: FakeClock) -> None:
    user = enrolled_user(platform, clock, "alice", ["analyst"])
    threshold = platform.settings.auth.lockout_threshold
    for i in range(threshold):
        with pytest.raises(AuthenticationFailed):
            auth.login(platform, "alice", f"guess-{i}", None, client=f"10.1.0.{i}")
    # Locked: even the right password and code are refused, with a distinct answer.
    with pytest.raises(AccountLocked):
        auth.login(
            platform, "alice", PASSWORD, current_code(platform, user.totp_secret), client="x"
        )
    assert ("auth.lockout", "success", "") in audit_actions(platform)
    clock.advance(seconds=platform.settings.auth.lockout_duration + 1)
    result = auth.login(
        platform, "alice", PASSWORD, current_code(platform, user.totp_secret), client="x"
    )
    assert result.session_token


def test_one_client_hammering_login_is_rate_limited(platform: Platform) -> None:
    burst = platform.settings.auth.login_rate_burst
    for _ in range(burst):
        with pytest.raises(AuthenticationFailed):
            auth.login(platform, "nobody", "x", None, client="203.0.113.9")
    with pytest.raises(RateLimited) as caught:
        auth.login(platform, "nobody", "x", None, client="203.0.113.9")
    assert caught.value.retry_after > 0
    # another client is not affected
    with pytest.raises(AuthenticationFailed):
        auth.login(platform, "nobody", "x", None, client="203.0.113.10")


def test_unknown_user_and_wrong_password_get_the_same_answer(
    platform: Platform, clock: FakeClock
) -> None:
    enrolled_user(platform, clock, "alice", ["analyst"])
    with pytest.raises(AuthenticationFailed) as unknown:
        auth.login(platform, "mallory", PASSWORD, None, client="a")
    with pytest.raises(AuthenticationFailed) as wrong:
        auth.login(platform, "alice", "not-the-password", None, client="b")
    assert unknown.value.message == wrong.value.message


def test_enrolment_ticket_cannot_be_used_twice(platform: Platform) -> None:
    users.add_user(platform, "test", "bob", ["auditor"], PASSWORD)
    started = auth.login(platform, "bob", PASSWORD, None, client="c")
    assert started.enrolment
    code = current_code(platform, started.enrolment.secret)
    auth.complete_enrolment(platform, started.enrolment.ticket, code, client="c")
    with pytest.raises(AuthenticationFailed, match="already used"):
        auth.complete_enrolment(platform, started.enrolment.ticket, code, client="c")


def test_expired_enrolment_ticket_is_refused(platform: Platform, clock: FakeClock) -> None:
    users.add_user(platform, "test", "bob", ["auditor"], PASSWORD)
    started = auth.login(platform, "bob", PASSWORD, None, client="c")
    assert started.enrolment
    clock.advance(seconds=platform.settings.auth.enrolment_timeout + 1)
    code = current_code(platform, started.enrolment.secret)
    with pytest.raises(AuthenticationFailed, match="expired"):
        auth.complete_enrolment(platform, started.enrolment.ticket, code, client="c")


def test_enrolment_ticket_is_not_a_bearer_credential(platform: Platform) -> None:
    users.add_user(platform, "test", "bob", ["auditor"], PASSWORD)
    started = auth.login(platform, "bob", PASSWORD, None, client="c")
    assert started.enrolment
    with pytest.raises(AuthenticationFailed):
        auth.authenticate(platform, started.enrolment.ticket, client="c")


def test_idle_session_expires(platform: Platform, clock: FakeClock) -> None:
    user = enrolled_user(platform, clock, "alice", ["analyst"])
    clock.advance(seconds=platform.settings.auth.session_idle_timeout + 1)
    with pytest.raises(AuthenticationFailed, match="idle"):
        auth.authenticate(platform, user.token, client="c")
    assert ("auth.session", "refused", "session expired (idle)") in audit_actions(platform)


def test_active_session_still_ends_at_absolute_lifetime(
    platform: Platform, clock: FakeClock
) -> None:
    user = enrolled_user(platform, clock, "alice", ["analyst"])
    a = platform.settings.auth
    step = a.session_idle_timeout / 2
    elapsed = 0.0
    while elapsed + step < a.session_absolute_timeout - a.totp_period:
        clock.advance(seconds=step)
        elapsed += step
        auth.authenticate(platform, user.token, client="c")  # activity keeps it alive
    clock.advance(seconds=step)
    with pytest.raises(AuthenticationFailed, match="absolute"):
        auth.authenticate(platform, user.token, client="c")


def test_logout_ends_the_session(platform: Platform, clock: FakeClock) -> None:
    user = enrolled_user(platform, clock, "alice", ["analyst"])
    principal = auth.authenticate(platform, user.token, client="c")
    auth.logout(platform, principal)
    with pytest.raises(AuthenticationFailed, match="ended"):
        auth.authenticate(platform, user.token, client="c")


def test_forged_session_secret_is_refused_and_audited(platform: Platform, clock: FakeClock) -> None:
    user = enrolled_user(platform, clock, "alice", ["analyst"])
    forged = user.token[:-4] + ("AAAA" if not user.token.endswith("AAAA") else "BBBB")
    with pytest.raises(AuthenticationFailed):
        auth.authenticate(platform, forged, client="c")
    assert ("auth.session", "refused", "wrong session secret") in audit_actions(platform)


def test_disabled_user_loses_sessions_and_tokens(platform: Platform, clock: FakeClock) -> None:
    user = enrolled_user(platform, clock, "alice", ["analyst"])
    token = tokens.create_token(platform, "test", "alice", "ci")
    users.set_disabled(platform, "test", "alice", disabled=True)
    with pytest.raises(AuthenticationFailed):
        auth.authenticate(platform, user.token, client="c")
    with pytest.raises(AuthenticationFailed, match="owner disabled"):
        auth.authenticate(platform, token.text, client="c")
    users.set_disabled(platform, "test", "alice", disabled=False)
    # re-enabling does not resurrect the ended session
    with pytest.raises(AuthenticationFailed, match="ended"):
        auth.authenticate(platform, user.token, client="c")
    assert auth.authenticate(platform, token.text, client="c").name == "alice"


def test_expired_api_token_is_refused_and_audited(platform: Platform, clock: FakeClock) -> None:
    users.add_user(platform, "test", "agent-1", ["agent"], PASSWORD)
    token = tokens.create_token(platform, "test", "agent-1", "edr", ttl=timedelta(hours=1))
    assert auth.authenticate(platform, token.text, client="c").can(Permission.EVENTS_WRITE)
    clock.advance(hours=1)
    with pytest.raises(AuthenticationFailed, match="expired"):
        auth.authenticate(platform, token.text, client="c")
    assert ("auth.token", "refused", "token expired") in audit_actions(platform)


def test_revoked_api_token_is_refused_and_audited(platform: Platform) -> None:
    users.add_user(platform, "test", "agent-1", ["agent"], PASSWORD)
    token = tokens.create_token(platform, "test", "agent-1", "edr")
    tokens.revoke_token(platform, "test", token.record.id)
    with pytest.raises(AuthenticationFailed, match="revoked"):
        auth.authenticate(platform, token.text, client="c")
    assert ("auth.token", "refused", "token revoked") in audit_actions(platform)


def test_token_scope_narrows_the_owner_permissions(platform: Platform) -> None:
    users.add_user(platform, "test", "ops", ["admin"], PASSWORD)
    token = tokens.create_token(platform, "test", "ops", "reader", scopes=["audit:read"])
    principal = auth.authenticate(platform, token.text, client="c")
    assert principal.permissions == {Permission.AUDIT_READ}


def test_token_cannot_carry_more_than_its_owner_holds(platform: Platform) -> None:
    users.add_user(platform, "test", "agent-1", ["agent"], PASSWORD)
    with pytest.raises(InvalidInput, match="users:write") as caught:
        tokens.create_token(platform, "test", "agent-1", "x", scopes=["users:write"])
    assert caught.value.location.field == "scopes"


def test_token_lifetime_is_bounded(platform: Platform) -> None:
    users.add_user(platform, "test", "agent-1", ["agent"], PASSWORD)
    too_long = timedelta(seconds=platform.settings.auth.token_max_ttl + 1)
    with pytest.raises(InvalidInput):
        tokens.create_token(platform, "test", "agent-1", "x", ttl=too_long)


def test_role_change_after_token_creation_narrows_the_token(platform: Platform) -> None:
    # Effective permissions are computed at use time: scope ∩ the owner's current roles.
    users.add_user(platform, "test", "ana", ["analyst"], PASSWORD)
    token = tokens.create_token(platform, "test", "ana", "t", scopes=["alerts:read"])
    with platform.transaction() as uow:
        uow.session.execute(
            text("UPDATE users SET roles = :r WHERE name = 'ana'"), {"r": '["agent"]'}
        )
    assert auth.authenticate(platform, token.text, client="c").permissions == frozenset()


def test_totp_secrets_are_encrypted_at_rest(platform: Platform, clock: FakeClock) -> None:
    user = enrolled_user(platform, clock, "alice", ["analyst"])
    with platform.transaction(write=False) as uow:
        stored = uow.session.execute(text("SELECT totp_secret_enc, password_hash FROM users")).one()
    assert user.totp_secret.encode() not in bytes(stored[0])
    assert stored[1].startswith("$argon2id$")


def test_mfa_reset_forces_new_enrolment(platform: Platform, clock: FakeClock) -> None:
    user = enrolled_user(platform, clock, "alice", ["analyst"])
    users.reset_mfa(platform, "test", "alice")
    with pytest.raises(AuthenticationFailed):
        auth.authenticate(platform, user.token, client="c")
    assert auth.login(platform, "alice", PASSWORD, None, client="c").enrolment is not None


def test_a_token_minted_with_a_stolen_session_does_not_outlive_the_mfa_reset(
    platform: Platform, clock: FakeClock
) -> None:
    """The reset answers a compromise: every live API token the user minted before it (for
    themself, for a service account, as a device's agent) is revoked with it, since one needs
    no MFA to use. A fleet's agent token an administrator enrolled under the user stays, or
    the reset would blind the EDR; another user's own token stays too."""
    from maat.services import devices

    enrolled_user(platform, clock, "alice", ["admin"])
    enrolled_user(platform, clock, "bob", ["analyst"])
    users.add_user(platform, "test", "svc", ["agent"])
    stolen = "user:alice"  # what a session of alice's writes as the actor
    own = tokens.create_token(platform, stolen, "alice", "exfil")
    for_svc = tokens.create_token(platform, stolen, "svc", "backdoor")
    _, rogue_agent = devices.enrol_device(platform, stolen, "rogue", agent_user="svc")
    _, fleet_agent = devices.enrol_device(platform, "cli:root", "ws-1", agent_user="alice")
    bobs = tokens.create_token(platform, "user:bob", "bob", "ci")
    assert rogue_agent and fleet_agent
    users.reset_mfa(platform, "admin", "alice")
    for secret in (own.text, for_svc.text, rogue_agent):
        with pytest.raises(AuthenticationFailed):
            auth.authenticate(platform, secret, client="c")
    for secret in (fleet_agent, bobs.text):
        assert auth.authenticate(platform, secret, client="c").actor
    resets = [r.entry for r in audit.list_audit(platform, limit=1000)
              if r.entry.action == "user.reset_mfa"]  # fmt: skip
    assert len(resets[0].details["tokens_revoked"]) == 3


def test_every_change_is_audited_and_the_chain_verifies(
    platform: Platform, clock: FakeClock
) -> None:
    enrolled_user(platform, clock, "alice", ["analyst"])
    token = tokens.create_token(platform, "test", "alice", "ci")
    tokens.revoke_token(platform, "test", token.record.id)
    users.set_disabled(platform, "test", "alice", disabled=True)
    actions = [a for a, _, _ in audit_actions(platform)]
    for expected in (
        "user.create",
        "auth.totp_enrolment_started",
        "auth.totp_enrol",
        "token.create",
        "token.revoke",
        "user.disable",
    ):
        assert expected in actions
    report = audit.verify_audit(platform)
    assert report.ok, report.problems
    assert report.checked == len(actions)

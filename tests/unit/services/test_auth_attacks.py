"""Attacks found in review: password oracles, stale enrolment tickets, login races, SQL in
error answers, audit flooding, token minting by tokens."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from sqlalchemy import text

from maat.auth.principal import Principal
from maat.errors import (
    AuthenticationFailed,
    Conflict,
    MaatError,
    PermissionDenied,
    StorageError,
)
from maat.services import audit, auth, tokens, users
from maat.services.platform import Platform
from maat_testkit import PASSWORD, FakeClock, current_code, enrolled_user


def refusals(platform: Platform, action: str) -> list[str]:
    return [
        str(r.entry.details.get("reason"))
        for r in audit.list_audit(platform, limit=1000)
        if r.entry.action == action and r.entry.outcome == "refused"
    ]


def test_missing_code_answer_does_not_confirm_the_password(
    platform: Platform, clock: FakeClock
) -> None:
    enrolled_user(platform, clock, "alice", ["analyst"])
    answers = []
    for password in (PASSWORD, "wrong-password"):
        with pytest.raises(AuthenticationFailed) as caught:
            auth.login(platform, "alice", password, None, client=f"c-{password}")
        answers.append((caught.value.message, caught.value.hint, caught.value.status))
    with pytest.raises(AuthenticationFailed) as unknown:
        auth.login(platform, "nobody", PASSWORD, None, client="c-unknown")
    answers.append((unknown.value.message, unknown.value.hint, unknown.value.status))
    assert len(set(answers)) == 1


def test_enrolment_ticket_from_before_a_password_reset_is_worthless(
    platform: Platform, clock: FakeClock
) -> None:
    users.add_user(platform, "test", "bob", ["analyst"], PASSWORD)
    stolen = auth.login(platform, "bob", PASSWORD, None, client="attacker").enrolment
    assert stolen is not None
    clock.advance(seconds=1)
    users.set_password(platform, "admin", "bob", "a brand new password")
    with pytest.raises(AuthenticationFailed):
        auth.complete_enrolment(
            platform, stolen.ticket, current_code(platform, stolen.secret), client="attacker"
        )


def test_older_enrolment_ticket_cannot_replace_an_enrolled_authenticator(
    platform: Platform, clock: FakeClock
) -> None:
    users.add_user(platform, "test", "bob", ["analyst"], PASSWORD)
    first = auth.login(platform, "bob", PASSWORD, None, client="attacker").enrolment
    second = auth.login(platform, "bob", PASSWORD, None, client="bob").enrolment
    assert first is not None and second is not None
    auth.complete_enrolment(
        platform, second.ticket, current_code(platform, second.secret), client="bob"
    )
    with pytest.raises(AuthenticationFailed):
        auth.complete_enrolment(
            platform, first.ticket, current_code(platform, first.secret), client="x"
        )


def _race(n: int, work: Callable[[int], object]) -> list[object]:
    results: list[object] = [None] * n
    barrier = threading.Barrier(n)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except MaatError as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_one_totp_code_opens_one_session_even_when_raced(
    platform: Platform, clock: FakeClock
) -> None:
    user = enrolled_user(platform, clock, "alice", ["analyst"])
    code = current_code(platform, user.totp_secret)
    results = _race(
        4, lambda i: auth.login(platform, "alice", PASSWORD, code, client=f"10.9.0.{i}")
    )
    sessions = [r for r in results if isinstance(r, auth.LoginResult)]
    assert len(sessions) == 1, results


def test_parallel_password_guesses_are_all_counted(platform: Platform, clock: FakeClock) -> None:
    enrolled_user(platform, clock, "alice", ["analyst"])
    _race(4, lambda i: auth.login(platform, "alice", f"guess{i}", None, client=f"10.8.0.{i}"))
    with platform.transaction(write=False) as uow:
        user = uow.users.by_name("alice")
    assert user is not None
    assert user.failed_logins == 4


def test_a_lock_that_ran_out_starts_a_fresh_count(platform: Platform, clock: FakeClock) -> None:
    user = enrolled_user(platform, clock, "alice", ["analyst"])
    for i in range(platform.settings.auth.lockout_threshold):
        with pytest.raises(AuthenticationFailed):
            auth.login(platform, "alice", "wrong", None, client=f"10.7.0.{i}")
    clock.advance(seconds=platform.settings.auth.lockout_duration + 1)
    with pytest.raises(AuthenticationFailed) as one_more:
        auth.login(platform, "alice", "wrong", None, client="10.7.1.1")
    assert one_more.value.status == 401  # not locked again by a single failure
    assert auth.login(
        platform, "alice", PASSWORD, current_code(platform, user.totp_secret), client="x"
    )


def test_database_errors_never_carry_sql_or_values(platform: Platform) -> None:
    with pytest.raises(MaatError) as caught:
        auth.login(platform, "a\x00b", PASSWORD, None, client="c")
    assert not isinstance(caught.value, StorageError)
    assert "SELECT" not in caught.value.diagnostics()
    assert "password_hash" not in caught.value.diagnostics()


def test_longest_user_name_can_log_in(platform: Platform, clock: FakeClock) -> None:
    name = "u" * platform.settings.limits.max_name_length
    assert enrolled_user(platform, clock, name, ["analyst"]).token


def test_api_token_cannot_mint_tokens(platform: Platform) -> None:
    users.add_user(platform, "test", "ops", ["admin"], PASSWORD)
    parent = tokens.create_token(platform, "test", "ops", "parent")
    caller = auth.authenticate(platform, parent.text, client="c")
    with pytest.raises(PermissionDenied, match="cannot create tokens"):
        tokens.create_token(platform, caller.actor, "ops", "child", caller=caller)
    assert refusals(platform, "token.create") == ["an API token cannot create tokens"]


def test_token_for_another_user_is_refused_and_audited(
    platform: Platform, clock: FakeClock
) -> None:
    analyst = enrolled_user(platform, clock, "ana", ["analyst"])
    users.add_user(platform, "test", "victim", ["analyst"], PASSWORD)
    caller = auth.authenticate(platform, analyst.token, client="c")
    with pytest.raises(PermissionDenied):
        tokens.create_token(platform, caller.actor, "victim", "mine-now", caller=caller)
    victim_token = tokens.create_token(platform, "test", "victim", "v")
    with pytest.raises(PermissionDenied):
        tokens.revoke_token(platform, caller.actor, victim_token.record.id, caller=caller)
    assert len(refusals(platform, "token.create")) == 1
    assert len(refusals(platform, "token.revoke")) == 1


def test_actions_with_a_token_name_the_token(platform: Platform) -> None:
    users.add_user(platform, "test", "ops", ["admin"], PASSWORD)
    token = tokens.create_token(platform, "test", "ops", "automation")
    caller: Principal = auth.authenticate(platform, token.text, client="c")
    assert caller.actor == f"user:ops/token:{token.record.id}"


def test_hammering_a_known_token_id_does_not_flood_the_audit_log(platform: Platform) -> None:
    users.add_user(platform, "test", "agent", ["agent"], PASSWORD)
    token = tokens.create_token(platform, "test", "agent", "edr")
    tokens.revoke_token(platform, "test", token.record.id)
    for _ in range(50):
        with pytest.raises(AuthenticationFailed):
            auth.authenticate(platform, token.text, client="c")
    assert len(refusals(platform, "auth.token")) == 1


def test_last_administrator_cannot_be_disabled(platform: Platform) -> None:
    users.add_user(platform, "test", "root", ["admin"], PASSWORD)
    with pytest.raises(Conflict, match="last enabled administrator"):
        users.set_disabled(platform, "test", "root", disabled=True)
    users.add_user(platform, "test", "root2", ["admin"], PASSWORD)
    users.set_disabled(platform, "test", "root", disabled=True)


def test_row_counts_unchanged_by_refused_enrolment(platform: Platform) -> None:
    with platform.transaction(write=False) as uow:
        before = uow.session.execute(text("SELECT COUNT(*) FROM sessions")).scalar_one()  # type: ignore[attr-defined]
    with pytest.raises(AuthenticationFailed):
        auth.complete_enrolment(
            platform, "maat_e_enr_01ABCDEFGHJKMNPQRSTVWXYZ01_x", "123456", client="c"
        )
    with platform.transaction(write=False) as uow:
        after = uow.session.execute(text("SELECT COUNT(*) FROM sessions")).scalar_one()  # type: ignore[attr-defined]
    assert before == after

"""Login with password and TOTP, first-login enrolment, bearer authentication, logout.

Every refusal is audited with its precise reason, while the caller only learns a generic
"invalid credentials" so that answers do not reveal which part was wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from maat.auth import totp
from maat.auth.passwords import hash_password, needs_rehash, verify_password
from maat.auth.permissions import permissions_of
from maat.auth.principal import Principal
from maat.auth.records import EnrolmentRecord, SessionRecord, UserRecord
from maat.auth.sessions import SessionLimits, SessionTimes, session_refusal, should_touch
from maat.auth.throttle import LockoutPolicy
from maat.auth.tokens import CredentialKind, PresentedCredential, issue, parse, secret_matches
from maat.core.ids import new_id
from maat.errors import AccountLocked, AuthenticationFailed, Conflict, MaatError, RateLimited
from maat.ports import UnitOfWork
from maat.services.platform import Platform
from maat.services.users import set_password

GENERIC_FAILURE = "invalid user name, password or TOTP code"


@dataclass(frozen=True)
class Enrolment:
    """First login: the authenticator secret to enrol and the ticket to confirm it with."""

    ticket: str
    secret: str
    otpauth_uri: str
    expires_in: int


@dataclass(frozen=True)
class LoginResult:
    """Either a session credential or an enrolment to complete first."""

    session_token: str | None = None
    enrolment: Enrolment | None = None
    expires_in: int = 0


def _params(platform: Platform) -> totp.TotpParams:
    a = platform.settings.auth
    return totp.TotpParams(
        digits=a.totp_digits, period=a.totp_period, valid_window=a.totp_valid_window
    )


def _limits(platform: Platform) -> SessionLimits:
    a = platform.settings.auth
    return SessionLimits(
        idle=timedelta(seconds=a.session_idle_timeout),
        absolute=timedelta(seconds=a.session_absolute_timeout),
        touch_interval=timedelta(seconds=a.session_touch_interval),
    )


def _throttle(platform: Platform, key: str, *, message: str | None = None) -> None:
    """One attempt from the token bucket ``key`` (a client address, or ``step-up:<user id>``)."""
    wait = platform.login_limiter.take(key, platform.now().timestamp())
    if wait:
        raise RateLimited(message or f"too many login attempts from {key}", retry_after=wait,
                          hint=f"retry in {wait} s")  # fmt: skip


def _lock_expired(uow: UnitOfWork, user: UserRecord, now: datetime) -> UserRecord:
    """The user with a lock that has run out cleared: it starts a fresh count."""
    if user.locked_until is not None and user.locked_until <= now:
        user = replace(user, failed_logins=0, locked_until=None)
        uow.users.update(user)
    return user


def _locked(platform: Platform, uow: UnitOfWork, user: UserRecord, action: str,
            client: str) -> AccountLocked:  # fmt: skip
    """Audit a refusal because the account is locked; the error to raise after commit."""
    assert user.locked_until is not None
    wait = int((user.locked_until - platform.now()).total_seconds()) + 1
    platform.audit(uow, f"user:{user.name}", action, f"user:{user.name}", outcome="failure",
                   reason="account locked", client=client)  # fmt: skip
    return AccountLocked(
        "the account is locked after repeated failed logins",
        hint=f"try again in {wait} s or ask an administrator to reset the password",
    )


def _new_session(platform: Platform, uow: UnitOfWork, user: UserRecord, client: str) -> str:
    now = platform.now()
    credential = issue(CredentialKind.SESSION, new_id("ses"))
    uow.sessions.add(
        SessionRecord(
            id=credential.id,
            user_id=user.id,
            secret_hash=credential.secret_hash,
            created_at=now,
            last_seen_at=now,
            client=client[:200],
        )
    )
    return credential.text


def _failed_attempt(
    platform: Platform, uow: UnitOfWork, user: UserRecord, client: str, reason: str
) -> None:
    """Count a failure, lock the account at the threshold, audit both."""
    a = platform.settings.auth
    now = platform.now()
    failures = user.failed_logins + 1
    policy = LockoutPolicy(a.lockout_threshold, timedelta(seconds=a.lockout_duration))
    locked_until = policy.after_failure(failures, now) or user.locked_until
    uow.users.update(replace(user, failed_logins=failures, locked_until=locked_until))
    platform.audit(
        uow,
        f"user:{user.name}",
        "auth.login",
        f"user:{user.name}",
        outcome="failure",
        reason=reason,
        client=client,
        consecutive_failures=failures,
    )
    if locked_until is not None and locked_until != user.locked_until:
        platform.audit(
            uow,
            "system",
            "auth.lockout",
            f"user:{user.name}",
            until=locked_until.isoformat(),
            failures=failures,
        )


def login(
    platform: Platform, name: str, password: str, code: str | None, *, client: str
) -> LoginResult:
    """Log in with password and TOTP code.

    1. Throttle per client address (token bucket).
    2. Check the password outside any write transaction (argon2 takes ~50 ms; on SQLite a
       write transaction would hold the database lock that long). Unknown users cost the
       same hash, so timing does not reveal them.
    3. In one write transaction, with the user's row locked (concurrent logins queue here,
       so counters and the TOTP replay guard cannot be raced): refuse unknown, disabled or
       locked accounts; count a wrong password towards lockout; start an enrolment for a
       user without an authenticator; check the TOTP code (refusing replays); on success
       reset the failure count and open a session.

    Every refusal gives the same answer; the audit log has the precise reason. Refusals are
    raised after the transaction commits, so counters and audit records stay.
    """
    _throttle(platform, client)
    with platform.transaction(write=False) as uow:
        snapshot = uow.users.by_name(name)
    password_ok = verify_password(snapshot.password_hash if snapshot else None, password)
    now = platform.now()
    outcome: LoginResult | MaatError
    with platform.transaction() as uow:
        user = uow.users.by_name(name, for_update=True)
        if (
            user is not None
            and snapshot is not None
            and user.password_hash != snapshot.password_hash
        ):
            password_ok = False  # the password changed while we were hashing
        if user is not None:
            user = _lock_expired(uow, user, now)
        if user is None:
            platform.audit(
                uow,
                "anonymous",
                "auth.login",
                f"user:{name[:200]}",
                outcome="failure",
                reason="unknown user",
                client=client,
            )
            outcome = AuthenticationFailed(GENERIC_FAILURE)
        elif user.disabled:
            platform.audit(
                uow,
                f"user:{user.name}",
                "auth.login",
                f"user:{user.name}",
                outcome="failure",
                reason="user disabled",
                client=client,
            )
            outcome = AuthenticationFailed(GENERIC_FAILURE)
        elif user.locked_until is not None:
            outcome = _locked(platform, uow, user, "auth.login", client)
        elif not password_ok:
            _failed_attempt(platform, uow, user, client, "wrong password")
            outcome = AuthenticationFailed(GENERIC_FAILURE)
        else:
            if needs_rehash(user.password_hash or ""):
                user = replace(user, password_hash=hash_password(password))
                uow.users.update(user)
            if not user.totp_enrolled:
                outcome = _start_enrolment(platform, uow, user, client)
            else:
                outcome = _second_factor(platform, uow, user, code, client)
    if isinstance(outcome, MaatError):
        raise outcome
    return outcome


def _second_factor(
    platform: Platform, uow: UnitOfWork, user: UserRecord, code: str | None, client: str
) -> LoginResult | MaatError:
    assert user.totp_secret_enc is not None
    secret = platform.totp_box.open(user.totp_secret_enc, context=user.id).decode("ascii")
    check = totp.check_code(
        secret,
        code or "",
        now=platform.now(),
        last_step=user.totp_last_step,
        params=_params(platform),
    )
    if not check.accepted:
        _failed_attempt(platform, uow, user, client, f"TOTP: {check.reason}")
        return AuthenticationFailed(GENERIC_FAILURE)  # no hint: it would confirm the password
    uow.users.update(replace(user, failed_logins=0, locked_until=None, totp_last_step=check.step))
    token = _new_session(platform, uow, user, client)
    platform.audit(uow, f"user:{user.name}", "auth.login", f"user:{user.name}", client=client)
    return LoginResult(
        session_token=token, expires_in=int(platform.settings.auth.session_idle_timeout)
    )


def _start_enrolment(
    platform: Platform, uow: UnitOfWork, user: UserRecord, client: str
) -> LoginResult:
    a = platform.settings.auth
    now = platform.now()
    secret = totp.new_secret()
    credential = issue(CredentialKind.ENROLMENT, new_id("enr"))
    uow.enrolments.close_all_for_user(user.id, now)  # only the newest ticket is valid
    uow.enrolments.add(
        EnrolmentRecord(
            id=credential.id,
            user_id=user.id,
            secret_hash=credential.secret_hash,
            totp_secret_enc=platform.totp_box.seal(secret.encode("ascii"), context=user.id),
            created_at=now,
            expires_at=now + timedelta(seconds=a.enrolment_timeout),
        )
    )
    uow.users.update(replace(user, failed_logins=0, locked_until=None))
    platform.audit(
        uow, f"user:{user.name}", "auth.totp_enrolment_started", f"user:{user.name}", client=client
    )
    uri = totp.provisioning_uri(
        secret, account=user.name, issuer=a.totp_issuer, params=_params(platform)
    )
    return LoginResult(
        enrolment=Enrolment(
            ticket=credential.text,
            secret=secret,
            otpauth_uri=uri,
            expires_in=int(a.enrolment_timeout),
        )
    )


def complete_enrolment(platform: Platform, ticket: str, code: str, *, client: str) -> LoginResult:
    """Confirm the authenticator with a first code; opens the first session.

    1. The ticket must name a pending, unexpired, unused enrolment with the right secret
       (rows locked: one ticket completes once).
    2. The user must be enabled, not enrolled already, and the password unchanged since the
       ticket was issued (a ticket obtained with an old password is worthless).
    3. The code must be right for the new secret; the authenticator is then stored
       (encrypted) and every open ticket of the user is closed.
    """
    _throttle(platform, client)
    presented = parse(ticket)
    if presented.kind is not CredentialKind.ENROLMENT:
        raise AuthenticationFailed("not an enrolment ticket")
    now = platform.now()
    outcome: LoginResult | MaatError
    with platform.transaction() as uow:
        enrolment = uow.enrolments.get(presented.id, for_update=True)
        user = uow.users.get(enrolment.user_id, for_update=True) if enrolment else None
        reason = _enrolment_refusal(enrolment, presented, user, now)
        if reason is not None or enrolment is None or user is None:
            if enrolment is not None:
                platform.audit(
                    uow,
                    f"user:{user.name}" if user else "anonymous",
                    "auth.totp_enrol",
                    f"enrolment:{enrolment.id}",
                    outcome="refused",
                    reason=reason,
                    client=client,
                )
            outcome = AuthenticationFailed(
                f"enrolment refused: {reason or 'unknown ticket'}",
                hint="log in again to start a new enrolment",
            )
        else:
            secret = platform.totp_box.open(enrolment.totp_secret_enc, context=user.id).decode()
            check = totp.check_code(secret, code, now=now, last_step=None, params=_params(platform))
            if check.accepted:
                uow.enrolments.close_all_for_user(user.id, now)
                user = replace(
                    user,
                    totp_secret_enc=enrolment.totp_secret_enc,
                    totp_last_step=check.step,
                    failed_logins=0,
                    locked_until=None,
                )
                uow.users.update(user)
                token = _new_session(platform, uow, user, client)
                platform.audit(
                    uow, f"user:{user.name}", "auth.totp_enrol", f"user:{user.name}", client=client
                )
                outcome = LoginResult(
                    session_token=token, expires_in=int(platform.settings.auth.session_idle_timeout)
                )
            else:
                platform.audit(
                    uow,
                    f"user:{user.name}",
                    "auth.totp_enrol",
                    f"user:{user.name}",
                    outcome="failure",
                    reason=check.reason,
                    client=client,
                )
                outcome = AuthenticationFailed(f"enrolment refused: {check.reason}")
    if isinstance(outcome, MaatError):
        raise outcome
    return outcome


def _enrolment_refusal(
    enrolment: EnrolmentRecord | None,
    presented: PresentedCredential,
    user: UserRecord | None,
    now: datetime,
) -> str | None:
    if enrolment is None:
        return "unknown ticket"
    if not secret_matches(presented, enrolment.secret_hash):
        return "wrong ticket secret"
    if enrolment.used_at is not None:
        return "ticket already used"
    if enrolment.expires_at <= now:
        return "ticket expired"
    if user is None or user.disabled:
        return "user disabled"
    if user.totp_enrolled:
        return "an authenticator is already enrolled"
    if user.password_changed_at is not None and user.password_changed_at > enrolment.created_at:
        return "the password changed after the ticket was issued"
    return None


def authenticate(platform: Platform, bearer: str, *, client: str) -> Principal:
    """Turn a bearer credential into a principal, or refuse it (401), auditing refusals.

    1. The credential must be well formed and of kind session or API token.
    2. It must name a stored session or token whose secret matches.
    3. A session must be open and within its idle and absolute lifetimes; a token must be
       neither revoked nor expired.
    4. The owning user must exist and be enabled.
    5. Permissions are those of the user's roles, narrowed by the token's scopes.
    """
    presented = parse(bearer)
    if presented.kind is CredentialKind.SESSION:
        return _authenticate_session(platform, presented, client)
    if presented.kind is CredentialKind.API_TOKEN:
        return _authenticate_token(platform, presented, client)
    raise AuthenticationFailed("an enrolment ticket cannot be used as a credential")


def _authenticate_session(
    platform: Platform, presented: PresentedCredential, client: str
) -> Principal:
    limits = _limits(platform)
    now = platform.now()
    with platform.transaction(write=False) as uow:
        session = uow.sessions.get(presented.id)
        user = uow.users.get(session.user_id) if session else None
    if session is None:
        raise AuthenticationFailed("unknown session")
    times = SessionTimes(session.created_at, session.last_seen_at, session.ended_at)
    reason = None if secret_matches(presented, session.secret_hash) else "wrong session secret"
    reason = reason or session_refusal(times, now, limits)
    if reason is None and (user is None or user.disabled):
        reason = "user disabled"
    if reason is not None or user is None:
        platform.refuse(
            f"user:{user.name}" if user else "anonymous",
            "auth.session",
            f"session:{session.id}",
            reason or "no user",
            throttle_key=f"session:{session.id}",
            client=client,
        )
        raise AuthenticationFailed(f"session refused: {reason}", hint="log in again")
    if should_touch(times, now, limits):
        with platform.transaction() as uow:
            uow.sessions.update(replace(session, last_seen_at=now))
    return Principal(
        user_id=user.id,
        name=user.name,
        roles=user.roles,
        permissions=permissions_of(user.roles),
        credential=f"session:{session.id}",
    )


def _authenticate_token(
    platform: Platform, presented: PresentedCredential, client: str
) -> Principal:
    now = platform.now()
    with platform.transaction(write=False) as uow:
        token = uow.tokens.get(presented.id)
        user = uow.users.get(token.user_id) if token else None
    if token is None:
        raise AuthenticationFailed("unknown API token")
    reason = None
    if not secret_matches(presented, token.secret_hash):
        reason = "wrong token secret"
    elif token.revoked_at is not None:
        reason = "token revoked"
    elif token.expires_at <= now:
        reason = "token expired"
    elif user is None or user.disabled:
        reason = "token owner disabled"
    if reason is not None or user is None:
        platform.refuse(
            f"user:{user.name}" if user else "anonymous",
            "auth.token",
            f"token:{token.id}",
            reason or "no owner",
            throttle_key=f"token:{token.id}",
            client=client,
            token_name=token.name,
        )
        raise AuthenticationFailed(f"API token refused: {reason}")
    touch = timedelta(seconds=platform.settings.auth.session_touch_interval)
    if token.last_used_at is None or now - token.last_used_at >= touch:
        with platform.transaction() as uow:
            uow.tokens.update(replace(token, last_used_at=now))
    return Principal(
        user_id=user.id,
        name=user.name,
        roles=user.roles,
        permissions=permissions_of(user.roles) & token.scopes,
        credential=f"token:{token.id}",
    )


def logout(platform: Platform, principal: Principal) -> None:
    """End the caller's session (API tokens are revoked, not logged out)."""
    kind, _, credential_id = principal.credential.partition(":")
    if kind != "session":
        raise Conflict("only a session can log out", hint="revoke the token instead")
    with platform.transaction() as uow:
        session = uow.sessions.get(credential_id)
        if session is not None and session.ended_at is None:
            uow.sessions.update(replace(session, ended_at=platform.now(), end_reason="logout"))
        platform.audit(uow, principal.actor, "auth.logout", f"session:{credential_id}")


def change_own_password(
    platform: Platform, principal: Principal, current: str, new: str, *, client: str
) -> None:
    """Change the caller's password after checking the current one; ends every session.

    The current password is checked like at login (throttled per client, each failure
    counted towards lockout, refused while locked): otherwise whoever holds a stolen session
    could guess the password here without limit, then use it wherever it is reused.
    """
    _throttle(platform, client)
    with platform.transaction(write=False) as uow:
        snapshot = uow.users.get(principal.user_id)
    password_ok = verify_password(snapshot.password_hash if snapshot else None, current)
    refusal: MaatError | None = None
    with platform.transaction() as uow:
        user = uow.users.get(principal.user_id, for_update=True)
        if user is None or snapshot is None:
            raise AuthenticationFailed("the session's user no longer exists", hint="log in again")
        user = _lock_expired(uow, user, platform.now())
        if user.password_hash != snapshot.password_hash:
            password_ok = False  # the password changed while we were hashing
        if user.locked_until is not None:
            refusal = _locked(platform, uow, user, "auth.password_change", client)
        elif not password_ok:
            _failed_attempt(platform, uow, user, client, "password change: wrong current password")
            refusal = AuthenticationFailed("the current password is wrong")
    if refusal is not None:
        raise refusal
    set_password(platform, principal.actor, user.name, new)


def step_up(platform: Platform, principal: Principal, code: str, *, client: str) -> datetime:
    """A fresh second factor on the caller's session (an access decision's ``step_up``):

    1. only a session can step up (an API token has no second factor);
    2. attempts are throttled per user, and a locked account is refused: a stolen session
       must not be a way to guess TOTP codes without limit;
    3. the TOTP code is checked like at login (replays refused, failures count towards
       lockout);
    4. the session records the time, which access decisions read as the MFA age.
    """
    kind, _, session_id = principal.credential.partition(":")
    if kind != "session":
        raise AuthenticationFailed("only a login session can step up; API tokens have no MFA")
    # Per user, not per client: the guesses of one stolen session may come from many addresses.
    _throttle(platform, f"step-up:{principal.user_id}",
              message=f"too many step-up attempts by {principal.name}")  # fmt: skip
    now = platform.now()
    refusal: MaatError | None = None
    with platform.transaction() as uow:
        user = uow.users.get(principal.user_id, for_update=True)
        session = uow.sessions.get(session_id)
        if user is None or session is None or not user.totp_enrolled:
            raise AuthenticationFailed("the session cannot step up", hint="log in again")
        user = _lock_expired(uow, user, now)
        assert user.totp_secret_enc is not None
        if user.locked_until is not None:
            refusal = _locked(platform, uow, user, "auth.step_up", client)
        else:
            secret = platform.totp_box.open(user.totp_secret_enc, context=user.id).decode("ascii")
            check = totp.check_code(secret, code, now=now, last_step=user.totp_last_step,
                                    params=_params(platform))  # fmt: skip
            if not check.accepted:
                _failed_attempt(platform, uow, user, client, f"step-up TOTP: {check.reason}")
                refusal = AuthenticationFailed(GENERIC_FAILURE)
            else:
                uow.users.update(replace(user, failed_logins=0, totp_last_step=check.step))
                uow.sessions.update(replace(session, mfa_at=now))
                platform.audit(uow, principal.actor, "auth.step_up", f"session:{session.id}",
                               client=client)  # fmt: skip
    if refusal is not None:
        raise refusal
    return now

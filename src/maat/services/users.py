"""User management: create, list, disable, enable, reset MFA, set password."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from maat.auth.passwords import check_password_rules, hash_password
from maat.auth.permissions import Role, parse_roles
from maat.auth.records import UserRecord
from maat.core.ids import new_id
from maat.errors import Conflict, InvalidInput, NotFound
from maat.ports import UnitOfWork
from maat.services.platform import Platform

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]*$")


@dataclass(frozen=True)
class NewUser:
    """A created user and, when Maat chose it, the one-time initial password."""

    user: UserRecord
    generated_password: str | None


def validate_user_name(name: str, *, max_length: int) -> str:
    """A user name: letters, digits and ``._@+-``, starting with a letter or digit."""
    if not name or len(name) > max_length or not _NAME.match(name):
        raise InvalidInput(
            f"user names are 1-{max_length} characters of letters, digits and ._@+- "
            "starting with a letter or digit",
            field="name",
        )
    return name


def generate_password() -> str:
    """A random initial password (about 120 bits)."""
    return secrets.token_urlsafe(15)


def get_user(uow: UnitOfWork, name: str) -> UserRecord:
    """The user called ``name`` or ``NotFound``."""
    user = uow.users.by_name(name)
    if user is None:
        raise NotFound(f"no user named {name!r}")
    return user


def add_user(
    platform: Platform,
    actor: str,
    name: str,
    roles: Iterable[str],
    password: str | None = None,
) -> NewUser:
    """Create a user; a password is generated when none is given. TOTP comes at first login."""
    limits = platform.settings.auth
    validate_user_name(name, max_length=platform.settings.limits.max_name_length)
    role_set = parse_roles(roles)
    generated = None
    if password is None:
        password = generated = generate_password()
    check_password_rules(
        password, min_length=limits.password_min_length, max_length=limits.max_password_length
    )
    now = platform.now()
    user = UserRecord(
        id=new_id("usr"),
        name=name,
        roles=role_set,
        password_hash=hash_password(password),
        created_at=now,
        password_changed_at=now,
    )
    with platform.transaction() as uow:
        if uow.users.by_name(name) is not None:
            raise Conflict(f"a user named {name!r} already exists")
        uow.users.add(user)
        platform.audit(
            uow, actor, "user.create", f"user:{name}", roles=sorted(r.value for r in role_set)
        )
    return NewUser(user, generated)


def list_users(platform: Platform) -> Sequence[UserRecord]:
    """All users by name."""
    with platform.transaction(write=False) as uow:
        return uow.users.list()


def set_disabled(platform: Platform, actor: str, name: str, *, disabled: bool) -> UserRecord:
    """Disable (ending every session) or re-enable a user."""
    with platform.transaction() as uow:
        user = replace(get_user(uow, name), disabled=disabled)
        if disabled and Role.ADMIN in user.roles:
            others = [
                u
                for u in uow.users.list()
                if Role.ADMIN in u.roles and not u.disabled and u.id != user.id
            ]
            if not others:
                raise Conflict("refusing to disable the last enabled administrator")
        uow.users.update(user)
        ended = 0
        if disabled:
            ended = uow.sessions.end_all_for_user(user.id, platform.now(), "user disabled")
            uow.enrolments.close_all_for_user(user.id, platform.now())
        action = "user.disable" if disabled else "user.enable"
        platform.audit(uow, actor, action, f"user:{name}", sessions_ended=ended)
    return user


def set_groups(platform: Platform, actor: str, name: str, groups: Sequence[str]) -> UserRecord:
    """Set the organisation groups access policies match a user on (``engineer``)."""
    cleaned = sorted({g.strip() for g in groups if g.strip()})
    if any(len(g) > 100 or any(ord(c) < 33 for c in g) for g in cleaned) or len(cleaned) > 100:
        raise InvalidInput("groups are at most 100 names of 1 to 100 visible characters",
                           field="groups")  # fmt: skip
    with platform.transaction() as uow:
        user = replace(get_user(uow, name), groups=tuple(cleaned))
        uow.users.update(user)
        platform.audit(uow, actor, "user.groups", f"user:{name}", groups=cleaned)
    return user


def reset_mfa(platform: Platform, actor: str, name: str) -> UserRecord:
    """Answer a compromised authenticator; each step takes away what an attacker holding the
    user's session could have made with it:

    1. forget the TOTP secret: the next login must enrol a new authenticator;
    2. end every session and pending enrolment;
    3. remove every passkey (one registered with a stolen session);
    4. revoke the live API tokens the user minted, for anyone (with ``users:write`` a
       stolen session can mint them for a service account, or enrol a device), and the
       user's own, but for device agents' tokens someone else enrolled: those are a fleet's
       credentials, and cutting them would blind the EDR. The audit names every token
       revoked.
    """
    with platform.transaction() as uow:
        now = platform.now()
        user = replace(get_user(uow, name), totp_secret_enc=None, totp_last_step=None)
        uow.users.update(user)
        ended = uow.sessions.end_all_for_user(user.id, now, "MFA reset")
        uow.enrolments.close_all_for_user(user.id, now)
        passkeys = uow.webauthn.delete_all_for_user(user.id)
        agents = {d.token_id for d in uow.devices.list() if d.token_id}
        mine = f"user:{name}"
        revoked = []
        for token in uow.tokens.list():
            if token.revoked_at is not None or token.expires_at <= now:
                continue
            minted = token.created_by == mine or token.created_by.startswith(f"{mine}/")
            if minted or (token.user_id == user.id and token.id not in agents):
                uow.tokens.update(replace(token, revoked_at=now))
                revoked.append(token.id)
        platform.audit(uow, actor, "user.reset_mfa", f"user:{name}", sessions_ended=ended,
                       passkeys_removed=passkeys, tokens_revoked=revoked)  # fmt: skip
    return user


def set_password(platform: Platform, actor: str, name: str, password: str) -> None:
    """Set a new password, unlock the account and end the user's sessions."""
    limits = platform.settings.auth
    check_password_rules(
        password, min_length=limits.password_min_length, max_length=limits.max_password_length
    )
    hashed = hash_password(password)
    with platform.transaction() as uow:
        now = platform.now()
        user = replace(
            get_user(uow, name),
            password_hash=hashed,
            password_changed_at=now,
            failed_logins=0,
            locked_until=None,
        )
        uow.users.update(user)
        ended = uow.sessions.end_all_for_user(user.id, now, "password changed")
        uow.enrolments.close_all_for_user(user.id, now)
        platform.audit(uow, actor, "user.set_password", f"user:{name}", sessions_ended=ended)

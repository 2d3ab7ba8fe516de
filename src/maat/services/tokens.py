"""API tokens: create (scoped, expiring), list, revoke."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

from maat.auth.permissions import Permission, parse_permissions, permissions_of
from maat.auth.principal import Principal
from maat.auth.records import TokenRecord, UserRecord
from maat.auth.tokens import CredentialKind, issue
from maat.core.ids import new_id
from maat.errors import Conflict, InvalidInput, MaatError, NotFound, PermissionDenied
from maat.services.platform import Platform
from maat.services.users import get_user


@dataclass(frozen=True)
class NewToken:
    """A created token; ``text`` is shown once and never stored."""

    record: TokenRecord
    text: str


def create_token(
    platform: Platform,
    actor: str,
    owner: str,
    name: str,
    *,
    scopes: Iterable[str] | None = None,
    ttl: timedelta | None = None,
    caller: Principal | None = None,
) -> NewToken:
    """Create a token for ``owner``.

    1. Only an interactive session (or the CLI) may create tokens: a token cannot mint
       tokens that outlive it.
    2. A caller creating a token for someone else needs ``users:write``.
    3. Scopes default to the owner's permissions and may exceed neither the owner's nor
       the caller's.
    4. The lifetime defaults to ``auth.token_default_ttl`` and may not exceed
       ``auth.token_max_ttl``: every token expires.

    Refusals of steps 1-3 are audited.
    """
    a = platform.settings.auth
    if not name or len(name) > platform.settings.limits.max_name_length:
        raise InvalidInput("a token needs a name of 1-200 characters", field="name")
    lifetime = ttl if ttl is not None else timedelta(seconds=a.token_default_ttl)
    if lifetime <= timedelta(0) or lifetime > timedelta(seconds=a.token_max_ttl):
        raise InvalidInput(
            f"token lifetime must be between 1 s and {int(a.token_max_ttl)} s", field="ttl"
        )
    refusal: MaatError | None = None
    with platform.transaction() as uow:
        user = get_user(uow, owner)
        try:
            wanted = _allowed_scopes(user, scopes, caller)
        except (PermissionDenied, InvalidInput, Conflict) as exc:
            refusal = exc
        else:
            now = platform.now()
            credential = issue(CredentialKind.API_TOKEN, new_id("tok"))
            record = TokenRecord(
                id=credential.id,
                name=name,
                user_id=user.id,
                secret_hash=credential.secret_hash,
                scopes=wanted,
                created_at=now,
                expires_at=now + lifetime,
                created_by=actor,
            )
            uow.tokens.add(record)
            platform.audit(
                uow,
                actor,
                "token.create",
                f"token:{record.id}",
                owner=owner,
                name=name,
                scopes=sorted(wanted),
                expires_at=record.expires_at.isoformat(),
            )
    if refusal is not None:
        platform.refuse(actor, "token.create", f"user:{owner}", refusal.message, name=name)
        raise refusal
    return NewToken(record, credential.text)


def _allowed_scopes(
    user: UserRecord, scopes: Iterable[str] | None, caller: Principal | None
) -> frozenset[Permission]:
    if caller is not None and caller.via_token:
        raise PermissionDenied(
            "an API token cannot create tokens", hint="log in and create it from a session"
        )
    if caller is not None and caller.user_id != user.id and not caller.can(Permission.USERS_WRITE):
        raise PermissionDenied(
            f"{caller.actor} may only create tokens for themselves",
            hint="creating tokens for other users needs the users:write permission",
        )
    if user.disabled:
        raise Conflict(f"user {user.name!r} is disabled")
    granted = permissions_of(user.roles)
    wanted = granted if scopes is None else parse_permissions(scopes)
    if caller is not None:
        granted &= caller.permissions  # nobody hands out more than they hold
    excess = wanted - granted
    if excess:
        raise InvalidInput(
            "scopes exceed what the owner may do: " + ", ".join(sorted(excess)), field="scopes"
        )
    if not wanted:
        raise InvalidInput("a token needs at least one scope", field="scopes")
    return wanted


def list_tokens(platform: Platform, owner: str | None = None) -> Sequence[tuple[TokenRecord, str]]:
    """Tokens with their owner's name, optionally of one owner."""
    with platform.transaction(write=False) as uow:
        names = {u.id: u.name for u in uow.users.list()}
        user_id = get_user(uow, owner).id if owner else None
        return [(t, names.get(t.user_id, "?")) for t in uow.tokens.list(user_id)]


def revoke_token(
    platform: Platform, actor: str, token_id: str, *, caller: Principal | None = None
) -> tuple[TokenRecord, str]:
    """Revoke a token (the owner's own, or anyone's with ``users:write``); its next use is
    refused. Revoking twice is a conflict. Returns the token and its owner's name."""
    refusal: MaatError | None = None
    with platform.transaction() as uow:
        token = uow.tokens.get(token_id)
        if token is None:
            raise NotFound(f"no API token {token_id!r}")
        owner = uow.users.get(token.user_id)
        owner_name = owner.name if owner else token.user_id
        if (
            caller is not None
            and caller.user_id != token.user_id
            and not caller.can(Permission.USERS_WRITE)
        ):
            refusal = PermissionDenied(
                f"{caller.actor} may only revoke their own tokens",
                hint="revoking other users' tokens needs the users:write permission",
            )
        elif token.revoked_at is not None:
            raise Conflict(f"token {token_id!r} is already revoked")
        else:
            token = replace(token, revoked_at=platform.now())
            uow.tokens.update(token)
            platform.audit(uow, actor, "token.revoke", f"token:{token_id}", name=token.name)
    if refusal is not None:
        platform.refuse(actor, "token.revoke", f"token:{token_id}", refusal.message)
        raise refusal
    return token, owner_name

"""User administration."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from maat.api.schemas import UserCreate, UserCreated, UserOut
from maat.api.security import platform_of, requirement, requires
from maat.auth.permissions import Permission
from maat.auth.principal import Principal
from maat.services import users

router = APIRouter(prefix="/v1/users", tags=["users"])


@router.get("", **requires(Permission.USERS_READ))
def list_users(request: Request) -> list[UserOut]:
    """All users."""
    return [UserOut.of(u) for u in users.list_users(platform_of(request))]


@router.post("", status_code=201, **requires(Permission.USERS_WRITE))
def create_user(
    body: UserCreate,
    request: Request,
    caller: Principal = Depends(requirement(Permission.USERS_WRITE)),
) -> UserCreated:
    """Create a user; TOTP enrolment happens at the user's first login."""
    created = users.add_user(
        platform_of(request), caller.actor, body.name, body.roles, body.password
    )
    return UserCreated(
        **UserOut.of(created.user).model_dump(), initial_password=created.generated_password
    )


@router.get("/{name}", **requires(Permission.USERS_READ))
def get_user(name: str, request: Request) -> UserOut:
    """One user."""
    platform = platform_of(request)
    with platform.transaction(write=False) as uow:
        return UserOut.of(users.get_user(uow, name))


@router.post("/{name}/disable", **requires(Permission.USERS_WRITE))
def disable_user(
    name: str, request: Request, caller: Principal = Depends(requirement(Permission.USERS_WRITE))
) -> UserOut:
    """Disable a user: sessions end, tokens stop working."""
    return UserOut.of(users.set_disabled(platform_of(request), caller.actor, name, disabled=True))


@router.post("/{name}/enable", **requires(Permission.USERS_WRITE))
def enable_user(
    name: str, request: Request, caller: Principal = Depends(requirement(Permission.USERS_WRITE))
) -> UserOut:
    """Re-enable a disabled user."""
    return UserOut.of(users.set_disabled(platform_of(request), caller.actor, name, disabled=False))


@router.post("/{name}/reset-mfa", **requires(Permission.USERS_WRITE))
def reset_mfa(
    name: str, request: Request, caller: Principal = Depends(requirement(Permission.USERS_WRITE))
) -> UserOut:
    """Forget the user's authenticator; the next login enrols a new one."""
    return UserOut.of(users.reset_mfa(platform_of(request), caller.actor, name))

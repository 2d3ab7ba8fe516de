"""Login, TOTP enrolment, logout, the caller's own identity and password."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from maat.api.schemas import (
    EnrolmentOut,
    EnrolRequest,
    LoginRequest,
    LoginResponse,
    Me,
    PasswordChange,
)
from maat.api.security import client_of, platform_of, public, requirement, requires
from maat.auth.permissions import Permission
from maat.auth.principal import Principal
from maat.services import auth

router = APIRouter(prefix="/v1/auth", tags=["auth"])


def _response(result: auth.LoginResult) -> LoginResponse:
    if result.enrolment is not None:
        e = result.enrolment
        return LoginResponse(
            status="totp_enrolment_required",
            enrolment=EnrolmentOut(
                ticket=e.ticket, secret=e.secret, otpauth_uri=e.otpauth_uri, expires_in=e.expires_in
            ),
        )
    return LoginResponse(status="session", token=result.session_token, expires_in=result.expires_in)


@router.post("/login", **public())
def login(body: LoginRequest, request: Request) -> LoginResponse:
    """Log in with user name, password and TOTP code (first login: start enrolment)."""
    result = auth.login(
        platform_of(request), body.username, body.password, body.totp, client=client_of(request)
    )
    return _response(result)


@router.post("/enrol", **public())
def enrol(body: EnrolRequest, request: Request) -> LoginResponse:
    """Confirm a new authenticator with its first code; returns the first session."""
    result = auth.complete_enrolment(
        platform_of(request), body.ticket, body.totp, client=client_of(request)
    )
    return _response(result)


@router.post("/logout", status_code=204, **requires(Permission.SELF))
def logout(request: Request, caller: Principal = Depends(requirement(Permission.SELF))) -> None:
    """End the current session."""
    auth.logout(platform_of(request), caller)


@router.get("/me", **requires(Permission.SELF))
def me(caller: Principal = Depends(requirement(Permission.SELF))) -> Me:
    """Who the caller is and what it may do."""
    return Me(
        name=caller.name,
        roles=sorted(caller.roles),
        permissions=sorted(caller.permissions),
        credential=caller.credential,
    )


@router.post("/password", status_code=204, **requires(Permission.SELF))
def change_password(
    body: PasswordChange,
    request: Request,
    caller: Principal = Depends(requirement(Permission.SELF)),
) -> None:
    """Change one's own password; every session of the user ends."""
    auth.change_own_password(
        platform_of(request),
        caller,
        body.current_password,
        body.new_password,
        client=client_of(request),
    )

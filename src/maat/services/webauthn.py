"""WebAuthn second factor for people: register authenticators, step up a session with one.

Each ceremony has a challenge stored with its purpose, user and expiry, answered at most
once (a replayed answer finds its challenge used). The relying party comes from
``auth.webauthn_rp_id`` / ``auth.webauthn_origins``, or from ``api.public_url``.
"""

from __future__ import annotations

import dataclasses
import secrets
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from maat.auth.principal import Principal
from maat.auth.records import WebAuthnChallengeRecord, WebAuthnCredentialRecord
from maat.auth.webauthn_mfa import (
    RelyingParty,
    StoredCredential,
    authentication_options,
    registration_options,
    verify_assertion,
    verify_attestation,
)
from maat.core.ids import new_id
from maat.errors import AuthenticationFailed, ConfigError, Conflict, NotFound
from maat.ports import UnitOfWork
from maat.services.platform import Platform

__all__ = ["begin", "finish_registration", "finish_step_up", "relying_party"]

REGISTER, STEP_UP = "register", "step_up"
MAX_CREDENTIALS = 20


def relying_party(platform: Platform) -> RelyingParty:
    """The RP id and origins; ``ConfigError`` when neither they nor ``api.public_url`` are set."""
    auth = platform.settings.auth
    public = platform.settings.api.public_url.rstrip("/")
    origins = tuple(o.strip().rstrip("/") for o in auth.webauthn_origins.split(",") if o.strip())
    origins = origins or ((public,) if public else ())
    rp_id = auth.webauthn_rp_id or (urlsplit(origins[0]).hostname or "" if origins else "")
    if not rp_id or not origins:
        raise ConfigError(
            "WebAuthn needs the address users reach Maat at", field="api.public_url",
            hint="set api.public_url (MAAT_API_PUBLIC_URL), or auth.webauthn_rp_id and "
            "auth.webauthn_origins",
        )  # fmt: skip
    return RelyingParty(rp_id, origins)


def _session_user(principal: Principal) -> str:
    if principal.via_token:
        raise AuthenticationFailed("WebAuthn ceremonies need a login session, not an API token")
    return principal.user_id


def _require_fresh_mfa(platform: Platform, uow: UnitOfWork, principal: Principal,
                       now: datetime) -> None:  # fmt: skip
    """Refuse unless the session proved a second factor within ``auth.enrolment_timeout``.

    A new authenticator passes every later step-up: without this, whoever holds a stolen
    (hours-old) session could register their own key and never need the user's factor.
    """
    max_age = timedelta(seconds=float(platform.settings.auth.enrolment_timeout))
    session = uow.sessions.get(principal.credential.partition(":")[2])
    if session is None or now - session.last_mfa > max_age:
        raise AuthenticationFailed(
            "registering an authenticator needs a fresh second factor on this session",
            hint=f"step up with a TOTP code (POST /v1/auth/step-up), then register within "
            f"{int(max_age.total_seconds())} s",
        )


def begin(platform: Platform, principal: Principal, purpose: str) -> dict[str, Any]:
    """Start registering an authenticator (``register``; needs a second factor proved
    within ``auth.enrolment_timeout``) or a step-up (``step_up``):
    ``{"ceremony": id, "publicKey": options}`` for the browser."""
    user_id = _session_user(principal)
    rp = relying_party(platform)
    now = platform.now()
    timeout = float(platform.settings.auth.webauthn_timeout)
    challenge = secrets.token_bytes(32)
    with platform.transaction() as uow:
        if purpose != STEP_UP:
            _require_fresh_mfa(platform, uow, principal, now)
        existing = [c.id for c in uow.webauthn.credentials_of(user_id)]
        if purpose == STEP_UP:
            if not existing:
                raise NotFound(
                    "no WebAuthn authenticator is registered for this user",
                    hint="register one first (POST /v1/auth/webauthn/register)",
                )
            options = authentication_options(rp, challenge=challenge, credentials=existing,
                                             timeout_ms=int(timeout * 1000))  # fmt: skip
        else:
            if len(existing) >= MAX_CREDENTIALS:
                raise Conflict(f"a user has at most {MAX_CREDENTIALS} authenticators")
            options = registration_options(rp, user_id=user_id, user_name=principal.name,
                                           challenge=challenge, existing=existing,
                                           timeout_ms=int(timeout * 1000))  # fmt: skip
        ceremony = WebAuthnChallengeRecord(
            id=new_id("wac"), user_id=user_id, purpose=purpose, challenge=challenge,
            created_at=now, expires_at=now + timedelta(seconds=timeout),
        )  # fmt: skip
        uow.webauthn.add_challenge(ceremony)
    return {"ceremony": ceremony.id, "publicKey": options}


def _take(uow: UnitOfWork, ceremony_id: str, user_id: str, purpose: str,
          now: datetime) -> WebAuthnChallengeRecord:  # fmt: skip
    ceremony = uow.webauthn.take_challenge(ceremony_id)
    if ceremony is None or ceremony.user_id != user_id or ceremony.purpose != purpose:
        raise AuthenticationFailed("no such WebAuthn ceremony for this session")
    if ceremony.used_at is not None:
        raise AuthenticationFailed("this WebAuthn challenge was already answered")
    if now >= ceremony.expires_at:
        raise AuthenticationFailed("the WebAuthn challenge expired; start again")
    uow.webauthn.use_challenge(ceremony.id, now)
    return ceremony


def finish_registration(
    platform: Platform, principal: Principal, ceremony_id: str, credential: Any, name: str
) -> WebAuthnCredentialRecord:
    """Verify the browser's registration response and keep the authenticator (audited):

    1. the session proved a second factor within ``auth.enrolment_timeout``, and the
       ceremony is this user's, unused and not expired (it is used up now);
    2. the response answers its challenge for Maat's RP id and origin
       (:func:`maat.auth.webauthn_mfa.verify_attestation`);
    3. the authenticator is stored with its public key and counter.
    """
    user_id = _session_user(principal)
    rp = relying_party(platform)
    now = platform.now()
    with platform.transaction() as uow:
        _require_fresh_mfa(platform, uow, principal, now)  # it may have gone stale meanwhile
        ceremony = _take(uow, ceremony_id, user_id, REGISTER, now)
    key = verify_attestation(rp, credential, challenge=ceremony.challenge)
    record = WebAuthnCredentialRecord(
        id=key.credential_id, user_id=user_id, public_key=key.public_key,
        sign_count=key.sign_count, name=(name or "authenticator")[:200], created_at=now,
    )  # fmt: skip
    with platform.transaction() as uow:
        if any(c.id == record.id for c in uow.webauthn.credentials_of(user_id)):
            raise Conflict("this authenticator is already registered")
        uow.webauthn.add_credential(record)
        platform.audit(uow, principal.actor, "auth.webauthn.register", f"user:{principal.name}",
                       authenticator=record.name)  # fmt: skip
    return record


def finish_step_up(
    platform: Platform, principal: Principal, ceremony_id: str, credential: Any
) -> datetime:
    """Verify the browser's assertion and record a fresh second factor on the session:

    1. the ceremony is this user's step-up, unused and not expired (used up now);
    2. the assertion comes from one of the user's authenticators, answers the challenge
       and verifies with its key; its counter moved forward
       (:func:`maat.auth.webauthn_mfa.verify_assertion`);
    3. the counter and last use are stored, the session's MFA time is now (audited).
    """
    user_id = _session_user(principal)
    rp = relying_party(platform)
    now = platform.now()
    with platform.transaction() as uow:
        ceremony = _take(uow, ceremony_id, user_id, STEP_UP, now)
        stored = {c.id: c for c in uow.webauthn.credentials_of(user_id)}
    claimed = credential.get("id") if isinstance(credential, dict) else None
    record = stored.get(str(claimed))
    if record is None:
        raise AuthenticationFailed("the answer comes from no authenticator of this user")
    key = verify_assertion(rp, credential, challenge=ceremony.challenge,
                           stored=StoredCredential(record.id, record.public_key,
                                                   record.sign_count))  # fmt: skip
    session_id = principal.credential.partition(":")[2]
    with platform.transaction() as uow:
        uow.webauthn.update_credential(dataclasses.replace(record, sign_count=key.sign_count,
                                                           last_used_at=now))  # fmt: skip
        session = uow.sessions.get(session_id)
        if session is None:
            raise AuthenticationFailed("the session ended", hint="log in again")
        uow.sessions.update(dataclasses.replace(session, mfa_at=now))
        platform.audit(uow, principal.actor, "auth.step_up", f"session:{session_id}",
                       factor="webauthn", authenticator=record.name)  # fmt: skip
    return now

"""The stored shapes of users, sessions, API tokens and TOTP enrolments (value objects)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from maat.auth.permissions import Permission, Role


@dataclass(frozen=True)
class UserRecord:
    """A person or service account that can log in or own API tokens."""

    id: str
    name: str
    roles: frozenset[Role]
    password_hash: str | None
    created_at: datetime
    disabled: bool = False
    totp_secret_enc: bytes | None = None
    totp_last_step: int | None = None
    failed_logins: int = 0
    locked_until: datetime | None = None
    password_changed_at: datetime | None = None
    vendor: str | None = None
    """The vendor this account belongs to (a supplier's remote-access or API account)."""
    groups: tuple[str, ...] = ()
    """The organisation's groups (``engineer``, ``erp-admin``) access policies match on."""

    @property
    def totp_enrolled(self) -> bool:
        """True once the user has confirmed a TOTP authenticator."""
        return self.totp_secret_enc is not None


@dataclass(frozen=True)
class SessionRecord:
    """An interactive login session (after password and TOTP)."""

    id: str
    user_id: str
    secret_hash: str
    created_at: datetime
    last_seen_at: datetime
    client: str = ""
    ended_at: datetime | None = None
    end_reason: str | None = None
    mfa_at: datetime | None = None
    """The last fresh second factor (a step-up); the login itself when None."""

    @property
    def last_mfa(self) -> datetime:
        """When the session's user last proved a second factor."""
        return self.mfa_at or self.created_at


@dataclass(frozen=True)
class TokenRecord:
    """An API token for automation or an agent; scopes narrow the owner's permissions."""

    id: str
    name: str
    user_id: str
    secret_hash: str
    scopes: frozenset[Permission]
    created_at: datetime
    expires_at: datetime
    created_by: str
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None


@dataclass(frozen=True)
class EnrolmentRecord:
    """A pending TOTP enrolment: password checked, authenticator not yet confirmed."""

    id: str
    user_id: str
    secret_hash: str
    totp_secret_enc: bytes
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None


@dataclass(frozen=True)
class WebAuthnCredentialRecord:
    """A registered WebAuthn authenticator (passkey or security key) of a user."""

    id: str  # base64url credential id
    user_id: str
    public_key: bytes  # COSE
    sign_count: int
    name: str
    created_at: datetime
    last_used_at: datetime | None = None


@dataclass(frozen=True)
class WebAuthnChallengeRecord:
    """A ceremony in progress: the challenge a user's authenticator must answer once."""

    id: str
    user_id: str
    purpose: str  # register | step_up
    challenge: bytes
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None

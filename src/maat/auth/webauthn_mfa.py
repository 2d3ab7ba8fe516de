"""WebAuthn (passkeys, security keys) as a second factor: registration and step-up
ceremonies over the ``webauthn`` package, with its errors turned into Maat's.

Pure: challenges and stored credentials come in as values; the services layer keeps them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from maat.errors import AuthenticationFailed, InvalidInput

__all__ = [
    "RelyingParty",
    "StoredCredential",
    "VerifiedKey",
    "authentication_options",
    "registration_options",
    "verify_assertion",
    "verify_attestation",
]

MAX_CREDENTIAL_JSON = 64 * 1024


@dataclass(frozen=True)
class RelyingParty:
    """Who Maat is to authenticators: the RP id (a host name) and the origins it serves."""

    rp_id: str
    origins: tuple[str, ...]
    name: str = "Maat"


@dataclass(frozen=True)
class StoredCredential:
    """A registered authenticator: its id, public key (COSE) and signature counter."""

    id: str  # base64url credential id
    public_key: bytes
    sign_count: int


@dataclass(frozen=True)
class VerifiedKey:
    """A verified registration or assertion: the credential and its new counter."""

    credential_id: str
    public_key: bytes
    sign_count: int


def registration_options(
    rp: RelyingParty, *, user_id: str, user_name: str, challenge: bytes,
    existing: list[str], timeout_ms: int,
) -> dict[str, Any]:  # fmt: skip
    """PublicKeyCredentialCreationOptions (as the JSON a browser passes to
    ``navigator.credentials.create``); authenticators already registered are excluded."""
    options = generate_registration_options(
        rp_id=rp.rp_id, rp_name=rp.name, user_name=user_name, user_id=user_id.encode(),
        challenge=challenge, timeout=timeout_ms,
        exclude_credentials=[PublicKeyCredentialDescriptor(id=_b64(c)) for c in existing],
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.DISCOURAGED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
    )  # fmt: skip
    out: dict[str, Any] = json.loads(options_to_json(options))
    return out


def authentication_options(
    rp: RelyingParty, *, challenge: bytes, credentials: list[str], timeout_ms: int
) -> dict[str, Any]:
    """PublicKeyCredentialRequestOptions for the user's registered authenticators."""
    options = generate_authentication_options(
        rp_id=rp.rp_id, challenge=challenge, timeout=timeout_ms,
        allow_credentials=[PublicKeyCredentialDescriptor(id=_b64(c)) for c in credentials],
        user_verification=UserVerificationRequirement.PREFERRED,
    )  # fmt: skip
    out: dict[str, Any] = json.loads(options_to_json(options))
    return out


def _b64(text: str) -> bytes:
    return base64url_to_bytes(text)


def _credential_json(credential: Any) -> str:
    text = json.dumps(credential) if not isinstance(credential, str) else credential
    if len(text) > MAX_CREDENTIAL_JSON:
        raise InvalidInput(f"the credential is larger than {MAX_CREDENTIAL_JSON:,} bytes",
                           field="credential")  # fmt: skip
    return text


def verify_attestation(rp: RelyingParty, credential: Any, *, challenge: bytes) -> VerifiedKey:
    """Check a registration response (``navigator.credentials.create`` output):

    1. it answers ``challenge`` from one of the RP's origins, for its RP id;
    2. the user was present;
    3. the public key is of a supported algorithm (EdDSA, ES256, RS256).
    """
    try:
        verified = verify_registration_response(
            credential=_credential_json(credential), expected_challenge=challenge,
            expected_rp_id=rp.rp_id, expected_origin=list(rp.origins),
        )  # fmt: skip
    except WebAuthnException as exc:
        raise AuthenticationFailed(f"the authenticator's registration was refused: {exc}") from None
    except (ValueError, TypeError, KeyError) as exc:  # malformed JSON the library let through
        raise InvalidInput(f"not a WebAuthn registration response: {exc}",
                           field="credential") from None  # fmt: skip
    return VerifiedKey(bytes_to_base64url(verified.credential_id),
                       verified.credential_public_key, verified.sign_count)  # fmt: skip


def verify_assertion(
    rp: RelyingParty, credential: Any, *, challenge: bytes, stored: StoredCredential
) -> VerifiedKey:
    """Check an authentication response (``navigator.credentials.get`` output):

    1. it comes from the stored authenticator (same credential id);
    2. it answers ``challenge`` from one of the RP's origins, for its RP id, user present;
    3. the signature verifies with the stored public key;
    4. the signature counter moved forward when the authenticator keeps one (a clone
       replaying an old counter is refused).
    """
    try:
        verified = verify_authentication_response(
            credential=_credential_json(credential), expected_challenge=challenge,
            expected_rp_id=rp.rp_id, expected_origin=list(rp.origins),
            credential_public_key=stored.public_key,
            credential_current_sign_count=stored.sign_count,
        )  # fmt: skip
    except WebAuthnException as exc:
        raise AuthenticationFailed(f"the authenticator's answer was refused: {exc}") from None
    except (ValueError, TypeError, KeyError) as exc:
        raise InvalidInput(f"not a WebAuthn authentication response: {exc}",
                           field="credential") from None  # fmt: skip
    credential_id = bytes_to_base64url(verified.credential_id)
    if credential_id != stored.id:
        raise AuthenticationFailed("the answer comes from another authenticator")
    return VerifiedKey(credential_id, stored.public_key, verified.new_sign_count)

"""Bearer credentials: issue, parse, and constant-time secret checks that fail closed."""

from __future__ import annotations

import hashlib
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from maat.auth.tokens import (
    CredentialKind,
    PresentedCredential,
    hash_secret,
    issue,
    parse,
    secret_matches,
)
from maat.core.ids import new_id
from maat.errors import AuthenticationFailed

PREFIX = {
    CredentialKind.SESSION: "ses",
    CredentialKind.API_TOKEN: "tok",
    CredentialKind.ENROLMENT: "enr",
}


@pytest.mark.parametrize("kind", list(CredentialKind))
def test_issued_credential_parses_back_to_its_kind_id_and_secret(kind: CredentialKind) -> None:
    credential_id = new_id(PREFIX[kind])
    issued = issue(kind, credential_id)
    assert issued.kind is kind
    assert issued.id == credential_id
    assert issued.text.startswith(f"maat_{kind.value}_{credential_id}_")
    presented = parse(issued.text)
    assert presented.kind is kind
    assert presented.id == credential_id
    assert secret_matches(presented, issued.secret_hash)


def test_storage_keeps_only_the_sha256_of_the_secret() -> None:
    issued = issue(CredentialKind.API_TOKEN, new_id("tok"))
    secret = parse(issued.text).secret
    assert secret not in issued.secret_hash
    assert issued.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert hash_secret(secret) == issued.secret_hash


def test_issued_secret_has_at_least_256_bits_and_no_separator() -> None:
    secret = parse(issue(CredentialKind.SESSION, new_id("ses")).text).secret
    assert len(secret) >= 43  # 32 random bytes in URL-safe base64
    assert re.fullmatch(r"[A-Za-z0-9]+", secret)


def test_each_issue_has_a_fresh_secret() -> None:
    credential_id = new_id("ses")
    hashes = {issue(CredentialKind.SESSION, credential_id).secret_hash for _ in range(20)}
    assert len(hashes) == 20


def test_parse_tolerates_surrounding_whitespace() -> None:
    issued = issue(CredentialKind.SESSION, new_id("ses"))
    presented = parse(f"  {issued.text}\n")
    assert secret_matches(presented, issued.secret_hash)


def test_guessed_secret_for_a_known_id_does_not_match() -> None:
    issued = issue(CredentialKind.SESSION, new_id("ses"))
    forged = PresentedCredential(CredentialKind.SESSION, issued.id, "A" * 43)
    assert not secret_matches(forged, issued.secret_hash)


def test_secret_of_one_credential_does_not_open_another() -> None:
    first = issue(CredentialKind.API_TOKEN, new_id("tok"))
    second = issue(CredentialKind.API_TOKEN, new_id("tok"))
    assert not secret_matches(parse(first.text), second.secret_hash)


def test_presenting_the_stored_hash_as_secret_does_not_match() -> None:
    # Someone who reads the database must not be able to log in with what is stored.
    issued = issue(CredentialKind.API_TOKEN, new_id("tok"))
    stolen = PresentedCredential(CredentialKind.API_TOKEN, issued.id, issued.secret_hash)
    assert not secret_matches(stolen, issued.secret_hash)


def _valid_text() -> str:
    return issue(CredentialKind.SESSION, new_id("ses")).text


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "Bearer maat_s_ses_01ARZ3NDEKTSV4RRFFQ69G5FAV_secret",
        "maat_s_ses01ARZ3NDEKTSV4RRFFQ69G5FAV_secret",  # too few parts
        "maat_s_ses_01ARZ3NDEKTSV4RRFFQ69G5FAV_sec_ret",  # too many parts
        "MAAT_s_ses_01ARZ3NDEKTSV4RRFFQ69G5FAV_secret",  # wrong prefix (case)
        "mat_s_ses_01ARZ3NDEKTSV4RRFFQ69G5FAV_secret",  # wrong prefix
        "maat_x_ses_01ARZ3NDEKTSV4RRFFQ69G5FAV_secret",  # unknown kind
        "maat_S_ses_01ARZ3NDEKTSV4RRFFQ69G5FAV_secret",  # kind is case-sensitive
        "maat__ses_01ARZ3NDEKTSV4RRFFQ69G5FAV_secret",  # empty kind
        "maat_s_ses_01ARZ3NDEKTSV4RRFFQ69G5FAV_" + "a" * 600,  # longer than 512
    ],
)
def test_malformed_credential_is_an_authentication_failure(text: str) -> None:
    with pytest.raises(AuthenticationFailed):
        parse(text)


def test_credential_longer_than_512_characters_is_refused_even_if_well_formed() -> None:
    text = "maat_s_ses_01ARZ3NDEKTSV4RRFFQ69G5FAV_" + "a" * (513 - 38)
    assert len(text) == 513
    with pytest.raises(AuthenticationFailed):
        parse(text)
    assert parse(text[:512]).kind is CredentialKind.SESSION


def test_valid_text_with_swapped_kind_names_the_other_kind() -> None:
    # The kind travels in the text; services must check it (an enrolment ticket is not a
    # session). Parsing reports what was presented, never a default.
    text = _valid_text().replace("maat_s_", "maat_e_", 1)
    assert parse(text).kind is CredentialKind.ENROLMENT


@given(st.text(max_size=600))
def test_arbitrary_text_only_ever_fails_authentication(text: str) -> None:
    try:
        presented = parse(text)
    except AuthenticationFailed:
        return
    assert isinstance(presented.kind, CredentialKind)


PRINTABLE_LATIN1 = st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="_")


@given(st.text(max_size=200) | st.text(PRINTABLE_LATIN1, max_size=60))
def test_arbitrary_secret_part_only_ever_fails_authentication(secret: str) -> None:
    # A bearer header is latin-1 text chosen by the attacker. Whatever the secret part is,
    # parse-then-check must refuse (AuthenticationFailed or False), never raise anything else
    # (an unexpected exception is a 500 and a crash path on an unauthenticated route).
    issued = issue(CredentialKind.SESSION, new_id("ses"))
    text = f"maat_s_{issued.id}_{secret}"
    try:
        presented = parse(text)
        matched = secret_matches(presented, issued.secret_hash)
    except AuthenticationFailed:
        return
    assert matched is False


def test_non_ascii_secret_is_refused_not_crashing() -> None:
    issued = issue(CredentialKind.SESSION, new_id("ses"))
    text = f"maat_s_{issued.id}_s\u00e9cret"
    try:
        matched = secret_matches(parse(text), issued.secret_hash)
    except AuthenticationFailed:
        return
    assert matched is False

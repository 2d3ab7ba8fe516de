"""Encryption at rest: sealed secrets open only with the same key, purpose and context."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from maat.auth.secretbox import MASTER_SECRET_BYTES, SecretBox, derive_key
from maat.errors import IntegrityError

MASTER = bytes(range(MASTER_SECRET_BYTES))
OTHER_MASTER = bytes(reversed(range(MASTER_SECRET_BYTES)))
SEED = b"JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def test_sealed_secret_opens_with_same_key_purpose_and_context() -> None:
    box = SecretBox(MASTER, "totp")
    sealed = box.seal(SEED, context="usr_1")
    assert SEED not in sealed
    assert SecretBox(MASTER, "totp").open(sealed, context="usr_1") == SEED


def test_default_context_round_trip() -> None:
    box = SecretBox(MASTER, "totp")
    assert box.open(box.seal(b"")) == b""


def test_same_plaintext_seals_differently_each_time() -> None:
    box = SecretBox(MASTER, "totp")
    assert box.seal(SEED) != box.seal(SEED)


def test_secret_copied_to_another_user_row_does_not_open() -> None:
    box = SecretBox(MASTER, "totp")
    sealed = box.seal(SEED, context="usr_alice")
    with pytest.raises(IntegrityError):
        box.open(sealed, context="usr_mallory")


def test_missing_context_does_not_open() -> None:
    box = SecretBox(MASTER, "totp")
    sealed = box.seal(SEED, context="usr_alice")
    with pytest.raises(IntegrityError):
        box.open(sealed)


@given(st.data())
def test_any_tampered_byte_is_detected(data: st.DataObject) -> None:
    box = SecretBox(MASTER, "totp")
    sealed = box.seal(SEED, context="usr_1")
    index = data.draw(st.integers(0, len(sealed) - 1), label="index")
    flip = data.draw(st.integers(1, 255), label="xor")
    tampered = bytearray(sealed)
    tampered[index] ^= flip
    with pytest.raises(IntegrityError):
        box.open(bytes(tampered), context="usr_1")


@pytest.mark.parametrize("cut", [0, 1, 11, 12, 27])
def test_truncated_ciphertext_is_an_integrity_error(cut: int) -> None:
    box = SecretBox(MASTER, "totp")
    sealed = box.seal(SEED)
    with pytest.raises(IntegrityError):
        box.open(sealed[:cut])


def test_appended_bytes_are_detected() -> None:
    box = SecretBox(MASTER, "totp")
    with pytest.raises(IntegrityError):
        box.open(box.seal(SEED) + b"\x00")


def test_other_master_secret_cannot_open() -> None:
    sealed = SecretBox(MASTER, "totp").seal(SEED)
    with pytest.raises(IntegrityError) as caught:
        SecretBox(OTHER_MASTER, "totp").open(sealed)
    assert caught.value.hint


def test_value_sealed_for_one_purpose_cannot_be_opened_for_another() -> None:
    sealed = SecretBox(MASTER, "totp").seal(SEED)
    with pytest.raises(IntegrityError):
        SecretBox(MASTER, "webauthn").open(sealed)


def test_derived_keys_differ_per_purpose_and_are_stable() -> None:
    purposes = ["audit", "totp", "secretbox/totp", "audit-chain", ""]
    keys = [derive_key(MASTER, p) for p in purposes]
    assert all(len(k) == 32 for k in keys)
    assert len(set(keys)) == len(purposes)
    assert derive_key(MASTER, "audit") == derive_key(MASTER, "audit")


def test_derived_key_depends_on_master_and_does_not_reveal_it() -> None:
    assert derive_key(MASTER, "audit") != derive_key(OTHER_MASTER, "audit")
    assert derive_key(MASTER, "audit") != MASTER

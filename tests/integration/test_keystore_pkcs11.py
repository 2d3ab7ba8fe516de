"""The PKCS#11 key store against a real SoftHSM2 token (one throw-away token per test)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from hsm_kit import TokenInfo, softhsm, softhsm_token
from maat.errors import ConfigError, Conflict, InvalidInput, NotFound
from maat_testkit import make_settings, services_required

if not services_required():  # in CI a missing python-pkcs11 fails collection instead
    pytest.importorskip("pkcs11", reason="python-pkcs11 is not installed")

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11 import exceptions as p11

from maat.adapters.keystore import from_settings
from maat.adapters.keystore.pkcs11 import Pkcs11KeyStore

pytestmark = pytest.mark.hsm

DATA = b"maat artifact manifest \x00\x01\x02" * 10


@pytest.fixture
def token(tmp_path: Path) -> Iterator[TokenInfo]:
    with softhsm_token(tmp_path) as info:
        yield info


@pytest.fixture
def store(token: TokenInfo) -> Iterator[Pkcs11KeyStore]:
    with Pkcs11KeyStore(token.module, token.label, token.pin) as opened:
        yield opened


def verify(public: object, signature: bytes, data: bytes, algorithm: str) -> None:
    """Verify with cryptography the way a relying party would; raises InvalidSignature."""
    if algorithm == "rsa-3072":
        assert isinstance(public, rsa.RSAPublicKey)
        public.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        return
    assert isinstance(public, ec.EllipticCurvePublicKey)
    digest = hashes.SHA384() if algorithm == "ec-p384" else hashes.SHA256()
    public.verify(signature, data, ec.ECDSA(digest))


def attacker_session(token: TokenInfo) -> pkcs11.Session:
    """What someone holding the module and the PIN gets: a logged-in session of their own."""
    library = pkcs11.lib(token.module)
    return library.get_token(token_label=token.label).open(rw=True, user_pin=token.pin)


# --- generate, sign, verify -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("algorithm", "curve"), [("ec-p256", ec.SECP256R1), ("ec-p384", ec.SECP384R1)]
)
def test_ec_key_made_in_the_token_signs_what_cryptography_verifies(
    store: Pkcs11KeyStore, algorithm: str, curve: type[ec.EllipticCurve]
) -> None:
    store.generate("signer", algorithm)
    public = store.public_key("signer")
    assert isinstance(public, ec.EllipticCurvePublicKey)
    assert isinstance(public.curve, curve)

    signature = store.sign("signer", DATA)

    r, s = decode_dss_signature(signature)  # DER Ecdsa-Sig-Value, not raw r||s
    assert r > 0 and s > 0
    verify(public, signature, DATA, algorithm)
    with pytest.raises(InvalidSignature):
        verify(public, signature, DATA + b"!", algorithm)
    with pytest.raises(InvalidSignature):  # the hash is the one the port promises
        public.verify(
            signature,
            DATA,
            ec.ECDSA(hashes.SHA256() if algorithm == "ec-p384" else hashes.SHA384()),
        )
    assert store.sign("signer", DATA) != signature  # ECDSA is randomised
    assert store.labels() == ["signer"]


def test_rsa_3072_key_made_in_the_token_signs_pkcs1v15_sha256(store: Pkcs11KeyStore) -> None:
    store.generate("rsa-key", "rsa-3072")
    public = store.public_key("rsa-key")
    assert isinstance(public, rsa.RSAPublicKey)
    assert public.key_size == 3072
    assert public.public_numbers().e == 65537

    signature = store.sign("rsa-key", DATA)

    assert len(signature) == 384
    verify(public, signature, DATA, "rsa-3072")
    assert store.sign("rsa-key", DATA) == signature  # PKCS#1 v1.5 is deterministic
    with pytest.raises(InvalidSignature):
        verify(public, signature, b"other", "rsa-3072")


def test_empty_and_large_data_are_signed(store: Pkcs11KeyStore) -> None:
    store.generate("k", "ec-p256")
    public = store.public_key("k")
    for data in (b"", os.urandom(1 << 20)):
        verify(public, store.sign("k", data), data, "ec-p256")


# --- the private key stays in the token -----------------------------------------------------


def test_private_key_is_sensitive_non_extractable_and_sign_only(
    store: Pkcs11KeyStore, token: TokenInfo
) -> None:
    store.generate("k", "ec-p256")
    store.close()  # PKCS#11 logins are per process: let the inspector log in on its own

    session = attacker_session(token)
    try:
        private = session.get_key(object_class=ObjectClass.PRIVATE_KEY, label="k")
        assert private[Attribute.EXTRACTABLE] is False
        assert private[Attribute.SENSITIVE] is True
        assert private[Attribute.NEVER_EXTRACTABLE] is True
        assert private[Attribute.ALWAYS_SENSITIVE] is True
        assert private[Attribute.LOCAL] is True  # generated in the token, not imported
        assert private[Attribute.TOKEN] is True
        assert private[Attribute.PRIVATE] is True
        assert private[Attribute.SIGN] is True
        assert private[Attribute.DECRYPT] is False
        assert private[Attribute.UNWRAP] is False
        assert private[Attribute.DERIVE] is False
        public = session.get_key(object_class=ObjectClass.PUBLIC_KEY, label="k")
        assert public[Attribute.TOKEN] is True
        assert public[Attribute.ID] == private[Attribute.ID] != b""
    finally:
        session.close()


@pytest.mark.parametrize(
    ("algorithm", "secret"),
    [
        ("ec-p256", Attribute.VALUE),
        ("ec-p384", Attribute.VALUE),
        ("rsa-3072", Attribute.PRIVATE_EXPONENT),
    ],
)
def test_stolen_pin_still_cannot_export_the_signing_key(
    store: Pkcs11KeyStore, token: TokenInfo, algorithm: str, secret: Attribute
) -> None:
    """An attacker with the module and the user PIN tries every way out of the token."""
    store.generate("k", algorithm)
    public = store.public_key("k")
    store.close()  # PKCS#11 logins are per process: let the attacker log in on their own

    session = attacker_session(token)
    try:
        private = session.get_key(object_class=ObjectClass.PRIVATE_KEY, label="k")

        # 1. read the private value straight out
        with pytest.raises(p11.AttributeSensitive):
            _ = private[secret]
        # 2. switch the protections off (SoftHSM: CKR_ACTION_PROHIBITED, the key is not
        #    modifiable; and PKCS#11 never lets SENSITIVE go off or EXTRACTABLE go on)
        for attribute, value in ((Attribute.EXTRACTABLE, True), (Attribute.SENSITIVE, False)):
            with pytest.raises(p11.PKCS11Error):
                private[attribute] = value
        # 3. copy it into an object that is extractable
        with pytest.raises(p11.PKCS11Error):
            private.copy({Attribute.EXTRACTABLE: True, Attribute.SENSITIVE: False})
        # 4. wrap it under a key the attacker made
        wrapping = session.generate_key(
            KeyType.AES, 256, store=False, template={Attribute.WRAP: True}
        )
        assert isinstance(wrapping, pkcs11.types.WrapMixin)
        with pytest.raises(p11.KeyUnextractable):
            wrapping.wrap_key(private, mechanism=Mechanism.AES_KEY_WRAP_PAD)

        assert private[Attribute.EXTRACTABLE] is False
        assert private[Attribute.SENSITIVE] is True
        assert len(list(session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY}))) == 1
    finally:
        session.close()

    # The key is intact and still signs for Maat.
    verify(public, store.sign("k", DATA), DATA, algorithm)


# --- errors a person can act on ---------------------------------------------------------------


def test_wrong_pin_is_a_clear_error_and_is_not_retried(token: TokenInfo) -> None:
    store = Pkcs11KeyStore(token.module, token.label, "0000-wrong")
    with pytest.raises(ConfigError) as caught:
        store.labels()
    text = caught.value.diagnostics()
    assert "rejected the PIN" in text
    assert "MAAT_PKCS11_PIN" in text
    assert token.label in text
    with pytest.raises(ConfigError):  # remembered: the token is not asked again
        store.sign("k", DATA)
    store.close()

    with Pkcs11KeyStore(token.module, token.label, token.pin) as good:
        assert good.labels() == []  # the right PIN still works: nothing got locked


def test_wrong_pin_is_refused_while_another_store_is_logged_in(token: TokenInfo) -> None:
    with Pkcs11KeyStore(token.module, token.label, token.pin) as good:
        good.generate("k", "ec-p256")
        with (
            Pkcs11KeyStore(token.module, token.label, "0000-wrong") as bad,
            pytest.raises(ConfigError, match="PIN"),
        ):
            bad.sign("k", DATA)
        assert good.sign("k", DATA)


def test_unknown_token_is_a_config_error_listing_the_tokens(token: TokenInfo) -> None:
    with (
        Pkcs11KeyStore(token.module, "no-such-token", token.pin) as store,
        pytest.raises(ConfigError) as caught,
    ):
        store.labels()
    text = caught.value.diagnostics()
    assert "no-such-token" in text
    assert repr(token.label) in text  # says which tokens exist
    assert "MAAT_PKCS11_TOKEN" in text


def test_missing_or_foreign_module_is_a_config_error(tmp_path: Path, token: TokenInfo) -> None:
    with pytest.raises(ConfigError, match="does not exist") as caught:
        Pkcs11KeyStore(str(tmp_path / "nope.so"), token.label, token.pin).labels()
    assert "MAAT_PKCS11_MODULE" in caught.value.diagnostics()

    fake = tmp_path / "fake.so"
    fake.write_bytes(b"not a shared library")
    with pytest.raises(ConfigError, match="cannot be loaded"):
        Pkcs11KeyStore(str(fake), token.label, token.pin).labels()


def test_empty_settings_are_refused_at_construction() -> None:
    with pytest.raises(ConfigError, match="module"):
        Pkcs11KeyStore("", "t", "1")
    with pytest.raises(ConfigError, match="token"):
        Pkcs11KeyStore("/m.so", "", "1")
    with pytest.raises(ConfigError, match="PIN"):
        Pkcs11KeyStore("/m.so", "t", "")


def test_unknown_label_is_not_found(store: Pkcs11KeyStore) -> None:
    with pytest.raises(NotFound, match="nobody"):
        store.sign("nobody", DATA)
    with pytest.raises(NotFound, match="nobody"):
        store.public_key("nobody")


def test_duplicate_label_is_a_conflict_and_keeps_the_first_key(store: Pkcs11KeyStore) -> None:
    store.generate("k", "ec-p256")
    first = store.public_key("k")
    with pytest.raises(Conflict, match="'k'"):
        store.generate("k", "ec-p384")
    assert store.public_key("k") == first
    assert store.labels() == ["k"]


def test_bad_label_and_algorithm_are_invalid_input(store: Pkcs11KeyStore) -> None:
    with pytest.raises(InvalidInput, match="algorithm"):
        store.generate("k", "dsa-1024")
    for label in ("", "../etc", "x" * 129, "-dash", "tab\there"):
        with pytest.raises(InvalidInput):
            store.generate(label, "ec-p256")
    assert store.labels() == []


# --- persistence, sharing, threads ------------------------------------------------------------


def test_keys_persist_across_a_reopened_store(token: TokenInfo) -> None:
    with Pkcs11KeyStore(token.module, token.label, token.pin) as first:
        first.generate("a", "ec-p256")
        first.generate("b", "ec-p384")
        public_a = first.public_key("a")

    with Pkcs11KeyStore(token.module, token.label, token.pin) as second:
        assert second.labels() == ["a", "b"]
        assert second.public_key("a") == public_a
        verify(public_a, second.sign("a", DATA), DATA, "ec-p256")


def test_keys_survive_a_module_restart(tmp_path: Path) -> None:
    """The keys are in the token folder, not the process: finalise the module and reopen."""
    with softhsm(tmp_path) as hsm:
        info = hsm.add_token("persist")
        with Pkcs11KeyStore(info.module, info.label, info.pin) as store:
            store.generate("k", "ec-p256")
            public = store.public_key("k")
            pkcs11.lib(info.module).finalize()  # the module forgets every session
            verify(public, store.sign("k", DATA), DATA, "ec-p256")  # reopened transparently


def test_stores_on_one_token_share_the_login(token: TokenInfo) -> None:
    one = Pkcs11KeyStore(token.module, token.label, token.pin)
    two = Pkcs11KeyStore(token.module, token.label, token.pin)
    one.generate("k", "ec-p256")
    public = two.public_key("k")
    one.close()  # must not log the other store out
    verify(public, two.sign("k", DATA), DATA, "ec-p256")
    two.close()
    verify(public, one.sign("k", DATA), DATA, "ec-p256")  # a closed store reopens on use
    one.close()


def test_two_tokens_in_one_configuration(tmp_path: Path) -> None:
    with softhsm(tmp_path) as hsm:
        first = hsm.add_token("first")
        second = hsm.add_token("second", pin="4321-other")
        with (
            Pkcs11KeyStore(first.module, first.label, first.pin) as a,
            Pkcs11KeyStore(second.module, second.label, second.pin) as b,
        ):
            a.generate("k", "ec-p256")
            b.generate("k", "ec-p384")
            assert isinstance(a.public_key("k"), ec.EllipticCurvePublicKey)
            assert a.public_key("k") != b.public_key("k")
            verify(b.public_key("k"), b.sign("k", DATA), DATA, "ec-p384")


def test_the_kit_restores_softhsm2_conf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOFTHSM2_CONF", "/elsewhere/softhsm2.conf")
    with softhsm_token(tmp_path) as info:
        assert os.environ["SOFTHSM2_CONF"] == str(info.conf_path)
        assert info.conf_path.is_relative_to(tmp_path)
    assert os.environ["SOFTHSM2_CONF"] == "/elsewhere/softhsm2.conf"


def test_threads_share_one_store(store: Pkcs11KeyStore) -> None:
    store.generate("k", "ec-p256")
    public = store.public_key("k")
    failures: list[BaseException] = []

    def work() -> None:
        try:
            for i in range(50):
                data = f"thread data {i}".encode()
                verify(public, store.sign("k", data), data, "ec-p256")
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_from_settings_opens_the_configured_token(tmp_path: Path, token: TokenInfo) -> None:
    pin_file = tmp_path / "pin"
    pin_file.write_text(token.pin + "\n", encoding="utf-8")
    pin_file.chmod(0o600)
    settings = make_settings(
        tmp_path / "data",
        pkcs11={"module": token.module, "token": token.label, "pin_file": str(pin_file)},
    )
    store = from_settings(settings)
    try:
        assert isinstance(store, Pkcs11KeyStore)
        store.generate("k", "ec-p256")
        verify(store.public_key("k"), store.sign("k", DATA), DATA, "ec-p256")
    finally:
        store.close()

    pin_file.chmod(0o644)
    with pytest.raises(ConfigError, match="readable by other users"):
        from_settings(settings)


def test_from_settings_without_a_key_store_says_how_to_configure(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        from_settings(make_settings(tmp_path))
    text = caught.value.diagnostics()
    for variable in ("MAAT_PKCS11_MODULE", "MAAT_PKCS11_TOKEN", "MAAT_PKCS11_PIN"):
        assert variable in text


def test_key_deleted_behind_the_stores_back_is_not_found(
    store: Pkcs11KeyStore, token: TokenInfo
) -> None:
    store.generate("k", "ec-p256")
    store.sign("k", DATA)  # the store now holds a handle to the key
    # Logins are per process: a session without PIN sees the private objects too.
    library = pkcs11.lib(token.module)
    session = library.get_token(token_label=token.label).open(rw=True)
    try:
        for cls in (ObjectClass.PRIVATE_KEY, ObjectClass.PUBLIC_KEY):
            session.get_key(object_class=cls, label="k").destroy()
    finally:
        session.close()
    with pytest.raises(NotFound):
        store.sign("k", DATA)
    assert store.labels() == []


# --- throughput (printed, never asserted) -----------------------------------------------------


def test_p256_signing_rate(store: Pkcs11KeyStore) -> None:
    store.generate("bench", "ec-p256")
    store.sign("bench", DATA)  # warm: session, key handle
    count = 2000
    started = time.perf_counter()
    for _ in range(count):
        store.sign("bench", DATA)
    elapsed = time.perf_counter() - started
    print(f"\nPKCS#11 (SoftHSM2) ECDSA P-256 signing: {count / elapsed:,.0f} signatures/s")

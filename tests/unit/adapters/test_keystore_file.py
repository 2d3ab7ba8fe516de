"""The development file key store: round trip, files private and encrypted, a warning every time."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from maat.adapters.keystore import KeyStoreError, from_settings, read_pin
from maat.adapters.keystore.file import UnsafeFileKeyStore
from maat.errors import (
    ConfigError,
    Conflict,
    IntegrityError,
    InvalidInput,
    NotFound,
    UnsafeOptionWarning,
)
from maat.ports import KeyStore
from maat_testkit import make_settings

MASTER = bytes(range(32))
OTHER_MASTER = bytes(reversed(range(32)))
DATA = b"artifact bytes"


def open_store(directory: Path, master: bytes = MASTER) -> UnsafeFileKeyStore:
    with pytest.warns(UnsafeOptionWarning, match="unsafe_file_keystore"):
        return UnsafeFileKeyStore(directory, master)


@pytest.fixture
def store(tmp_path: Path) -> UnsafeFileKeyStore:
    return open_store(tmp_path / "keys")


def verify(public: object, signature: bytes, data: bytes, algorithm: str) -> None:
    if algorithm == "rsa-3072":
        assert isinstance(public, rsa.RSAPublicKey)
        public.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        return
    assert isinstance(public, ec.EllipticCurvePublicKey)
    digest = hashes.SHA384() if algorithm == "ec-p384" else hashes.SHA256()
    public.verify(signature, data, ec.ECDSA(digest))


def test_it_satisfies_the_port(store: UnsafeFileKeyStore) -> None:
    port: KeyStore = store
    assert port.labels() == []


@pytest.mark.parametrize(
    ("algorithm", "kind", "size"),
    [
        ("ec-p256", ec.EllipticCurvePublicKey, 256),
        ("ec-p384", ec.EllipticCurvePublicKey, 384),
        ("rsa-3072", rsa.RSAPublicKey, 3072),
    ],
)
def test_round_trip(store: UnsafeFileKeyStore, algorithm: str, kind: type, size: int) -> None:
    store.generate("signer", algorithm)
    public = store.public_key("signer")
    assert isinstance(public, kind)
    assert isinstance(public, (ec.EllipticCurvePublicKey, rsa.RSAPublicKey))
    assert public.key_size == size

    signature = store.sign("signer", DATA)

    verify(public, signature, DATA, algorithm)
    with pytest.raises(InvalidSignature):
        verify(public, signature, DATA + b"x", algorithm)
    assert store.labels() == ["signer"]


def test_files_are_private_and_encrypted(store: UnsafeFileKeyStore) -> None:
    store.generate("a", "ec-p256")
    store.generate("b", "rsa-3072")
    files = sorted(store.directory.iterdir())
    assert [f.name for f in files] == ["a.pem", "b.pem"]  # no temporary files left behind
    assert stat.S_IMODE(store.directory.stat().st_mode) == 0o700
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        text = path.read_bytes()
        assert b"BEGIN ENCRYPTED PRIVATE KEY" in text
        assert b"BEGIN PRIVATE KEY" not in text
        assert b"BEGIN EC PRIVATE KEY" not in text
        assert b"BEGIN RSA PRIVATE KEY" not in text


def test_the_warning_comes_on_every_construction(tmp_path: Path) -> None:
    for _ in range(3):
        with pytest.warns(UnsafeOptionWarning) as caught:
            UnsafeFileKeyStore(tmp_path / "keys", MASTER)
        assert len(caught) == 1
        assert "private keys live on disk, not in an HSM" in str(caught[0].message)


def test_keys_persist_across_instances(tmp_path: Path) -> None:
    first = open_store(tmp_path / "keys")
    first.generate("k", "ec-p256")
    public = first.public_key("k")
    first.close()

    second = open_store(tmp_path / "keys")
    assert second.labels() == ["k"]
    assert second.public_key("k") == public
    verify(public, second.sign("k", DATA), DATA, "ec-p256")


def test_another_master_secret_cannot_use_the_keys(tmp_path: Path) -> None:
    open_store(tmp_path / "keys").generate("k", "ec-p256")
    other = open_store(tmp_path / "keys", OTHER_MASTER)
    with pytest.raises(IntegrityError, match="cannot be decrypted") as caught:
        other.sign("k", DATA)
    assert "master secret changed" in caught.value.diagnostics()


def test_altered_file_is_an_integrity_error(store: UnsafeFileKeyStore) -> None:
    store.generate("k", "ec-p256")
    path = store.directory / "k.pem"
    path.write_bytes(path.read_bytes().replace(b"A", b"B", 5))
    with pytest.raises(IntegrityError):
        store.public_key("k")


def test_duplicate_label_is_a_conflict_and_keeps_the_first_key(store: UnsafeFileKeyStore) -> None:
    store.generate("k", "ec-p256")
    first = store.public_key("k")
    with pytest.raises(Conflict, match="'k'"):
        store.generate("k", "ec-p384")
    assert store.public_key("k") == first
    assert [p.name for p in store.directory.iterdir()] == ["k.pem"]


def test_concurrent_generation_of_one_label_has_one_winner(store: UnsafeFileKeyStore) -> None:
    outcomes: list[str] = []

    def make() -> None:
        try:
            store.generate("k", "ec-p256")
            outcomes.append("made")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=make) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict", "conflict", "conflict", "made"]


def test_unknown_label_is_not_found(store: UnsafeFileKeyStore) -> None:
    with pytest.raises(NotFound, match="nobody"):
        store.sign("nobody", DATA)
    with pytest.raises(NotFound):
        store.public_key("nobody")


@pytest.mark.parametrize("label", ["", "../escape", "a/b", ".hidden", "x" * 129, "nul\x00"])
def test_labels_that_could_escape_the_folder_are_refused(
    store: UnsafeFileKeyStore, label: str
) -> None:
    with pytest.raises(InvalidInput):
        store.generate(label, "ec-p256")
    with pytest.raises(InvalidInput):
        store.sign(label, DATA)
    assert list(store.directory.iterdir()) == []


def test_unknown_algorithm_is_invalid_input(store: UnsafeFileKeyStore) -> None:
    with pytest.raises(InvalidInput, match="algorithm") as caught:
        store.generate("k", "ed25519")
    assert "ec-p256" in caught.value.diagnostics()


def test_short_master_secret_is_refused(tmp_path: Path) -> None:
    with pytest.warns(UnsafeOptionWarning), pytest.raises(InvalidInput, match="master"):
        UnsafeFileKeyStore(tmp_path / "keys", b"short")


def test_unusable_folder_is_a_key_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder", encoding="utf-8")
    with pytest.warns(UnsafeOptionWarning), pytest.raises(KeyStoreError) as caught:
        UnsafeFileKeyStore(blocker / "keys", MASTER)
    assert str(blocker) in caught.value.diagnostics()


def test_from_settings_returns_the_file_store_when_asked_and_warns(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", signing={"unsafe_file_keystore": True})
    with pytest.warns(UnsafeOptionWarning):
        store = from_settings(settings, master=MASTER)
    assert isinstance(store, UnsafeFileKeyStore)
    assert store.directory == tmp_path / "data" / "keys"
    store.generate("k", "ec-p256")
    verify(store.public_key("k"), store.sign("k", DATA), DATA, "ec-p256")


def test_from_settings_reads_the_master_secret_file(tmp_path: Path) -> None:
    secret = tmp_path / "data" / "secret.key"
    secret.parent.mkdir()
    secret.write_text(MASTER.hex() + "\n", encoding="ascii")
    secret.chmod(0o600)
    settings = make_settings(tmp_path / "data", signing={"unsafe_file_keystore": True})
    with pytest.warns(UnsafeOptionWarning):
        from_settings(settings).generate("k", "ec-p256")
    # The same master given directly opens the same key.
    with pytest.warns(UnsafeOptionWarning):
        assert from_settings(settings, master=MASTER).labels() == ["k"]


def test_from_settings_without_any_key_store_says_how_to_configure(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        from_settings(make_settings(tmp_path))
    text = caught.value.diagnostics()
    for variable in ("MAAT_PKCS11_MODULE", "MAAT_PKCS11_TOKEN", "MAAT_PKCS11_PIN"):
        assert variable in text


def test_from_settings_names_what_is_missing(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, pkcs11={"module": "/usr/lib/softhsm/libsofthsm2.so"})
    with pytest.raises(ConfigError) as caught:
        from_settings(settings)
    text = caught.value.diagnostics()
    assert "MAAT_PKCS11_TOKEN" in text
    assert "not fully configured" in text


def test_pin_from_a_private_file(tmp_path: Path) -> None:
    pin_file = tmp_path / "pin"
    pin_file.write_text("12 34\n", encoding="utf-8")
    pin_file.chmod(0o600)
    assert read_pin("", str(pin_file)) == "12 34"
    assert read_pin("5678", "") == "5678"
    with pytest.raises(ConfigError, match="both"):
        read_pin("5678", str(pin_file))
    pin_file.chmod(0o640)
    with pytest.raises(ConfigError, match="readable by other users"):
        read_pin("", str(pin_file))
    with pytest.raises(ConfigError, match="does not exist"):
        read_pin("", str(tmp_path / "missing"))
    empty = tmp_path / "empty"
    empty.write_text("\n", encoding="utf-8")
    empty.chmod(0o600)
    with pytest.raises(ConfigError, match="empty"):
        read_pin("", str(empty))

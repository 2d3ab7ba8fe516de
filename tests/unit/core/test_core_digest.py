"""Tests for maat.core.digest."""

from __future__ import annotations

import hashlib

import pytest

from maat.core.digest import Digest
from maat.errors import InvalidInput

SHA256_EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_parse_lower_cases_and_prints() -> None:
    digest = Digest.parse("SHA256:" + SHA256_EMPTY.upper())
    assert digest.algorithm == "sha256"
    assert digest.hex == SHA256_EMPTY
    assert str(digest) == f"sha256:{SHA256_EMPTY}"
    assert Digest.parse(str(digest)) == digest


@pytest.mark.parametrize(
    ("algorithm", "data"),
    [("md5", b"x"), ("sha1", b"x"), ("sha256", b"x"), ("sha384", b"x"), ("sha512", b"x")],
)
def test_of_bytes_matches_hashlib(algorithm: str, data: bytes) -> None:
    digest = Digest.of_bytes(data, algorithm)
    assert digest.hex == hashlib.new(algorithm, data).hexdigest()
    assert Digest.from_hex(algorithm, digest.hex.upper()) == digest


def test_of_bytes_defaults_to_sha256() -> None:
    assert Digest.of_bytes(b"") == Digest.from_hex("sha256", SHA256_EMPTY)


def test_matches_is_exact_and_algorithm_aware() -> None:
    a = Digest.of_bytes(b"a")
    assert a.matches(Digest.parse(str(a)))
    assert not a.matches(Digest.of_bytes(b"b"))
    md5 = Digest.of_bytes(b"a", "md5")
    assert not md5.matches(Digest.from_hex("sha256", SHA256_EMPTY))


@pytest.mark.parametrize(
    "text",
    [
        "sha256:" + SHA256_EMPTY[:-1],  # too short
        "sha256:" + SHA256_EMPTY + "0",  # too long
        "sha256:" + "g" * 64,  # not hex
        "sha1:" + SHA256_EMPTY,  # length of another algorithm
        "crc32:deadbeef",  # unknown algorithm
        SHA256_EMPTY,  # no algorithm
        "",
        42,
    ],
)
def test_parse_rejects(text: object) -> None:
    with pytest.raises(InvalidInput) as info:
        Digest.parse(text, field="sha256", file="sbom.json")
    assert info.value.location.field == "sha256"
    assert info.value.location.file == "sbom.json"


def test_from_hex_rejects_bad_length() -> None:
    with pytest.raises(InvalidInput) as info:
        Digest.from_hex("md5", "abc", field="checksum")
    assert info.value.location.field == "checksum"


def test_constructor_validates() -> None:
    with pytest.raises(InvalidInput) as info:
        Digest("sha256", "abc")
    assert info.value.location.field == "digest"


def test_of_bytes_rejects_unknown_algorithm() -> None:
    with pytest.raises(InvalidInput) as info:
        Digest.of_bytes(b"", "whirlpool")
    assert info.value.location.field == "algorithm"


def test_digest_is_hashable_and_immutable() -> None:
    digest = Digest.of_bytes(b"a")
    assert {digest: 1}[Digest.parse(str(digest))] == 1
    with pytest.raises(AttributeError):
        digest.hex = "0"  # type: ignore[misc]

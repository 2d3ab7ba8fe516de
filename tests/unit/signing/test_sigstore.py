"""Offline Sigstore bundle verification, run on the sigstore-conformance ``bundle-verify`` cases.

Each case directory holds ``bundle.sigstore.json`` and optionally ``artifact`` (else the shared
``test/assets/a.txt`` is the artifact) and ``trusted_root.json``. A case without its own trusted
root is verified, as the conformance harness does, against the client's default production
root: here the production ``trusted_root.json`` snapshot shipped inside sigstore-python. The
expected identity/issuer are the harness's fixed values (the conformance OIDC beacon workflow).
Cases named ``*_fail`` must fail; every other case must pass. No case is skipped or
excused: :data:`KNOWN_UNSUPPORTED` is empty because every case gives the expected verdict.

Every test runs with the network disabled (``_no_network``), proving verification is offline.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import socket
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maat.errors import InvalidInput, UnsafeOptionWarning
from maat.signing.sigstore import (
    NO_IDENTITY_NOTE,
    NOT_INSTALLED,
    SigstoreVerdict,
    verify_sigstore_bundle,
)

ASSETS = (
    Path(__file__).resolve().parents[3].parent
    / "shared"
    / "data"
    / "sigstore-conformance"
    / "test"
    / "assets"
)
CASES_DIR = ASSETS / "bundle-verify"

IDENTITY = (
    "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/"
    ".github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
)
ISSUER = "https://token.actions.githubusercontent.com"

# Non-``_fail`` cases that cannot pass, with the reason fragment they must fail with.
# Empty: every case currently gets the expected verdict. Add an entry here, never a skip.
KNOWN_UNSUPPORTED: dict[str, str] = {}

# Why each ``_fail`` case fails: a fragment of the expected reason, so a case cannot "fail"
# for an unrelated reason (for example a network error) and still count as correct.
FAIL_REASONS: dict[str, str] = {
    "bundle-malformed-json_fail": "not a valid Sigstore bundle",
    "checkpoint-bad-keyhint_fail": "checkpoint",
    "checkpoint-wrong-roothash_fail": "root hash",
    "dsse-invalid-sig_fail": "DSSE: invalid signature",
    "dsse-mismatch-envelope_fail": "payload hash does not match",
    "dsse-mismatch-sig_fail": "signatures do not match",
    "incorrect-public-key_fail": "root hash",
    "intoto-missing-inclusion-proof_fail": "inclusionProof",
    "invalid-ct-key_fail": "SCT",
    "managed-key-no-key_fail": "expected certificate",
    "managed-key-wrong-key_fail": "expected certificate",
    "rekor2-checkpoint-missing-log-signature_fail": "at least one signature",
    "rekor2-checkpoint-missing-origin_fail": "malformed LogCheckpoint",
    "rekor2-checkpoint-missing-root-hash_fail": "malformed LogCheckpoint",
    "rekor2-dsse-mismatch-envelope_fail": "inconsistent",
    "rekor2-no-inclusion-proof_fail": "inclusionProof",
    "rekor2-timestamp-outside-trust-root-tsa-validity_fail": "sources of verified time",
    "rekor2-timestamp-payload-mismatch_fail": "sources of verified time",
    "rekor2-timestamp-untrusted-tsa-with-embedded-cert_fail": "Timestamp",
    "rekor2-timestamp-with-incorrect-time_fail": "timestamp certificate chain",
    "wrong-hashedrekord-entry_fail": "inconsistent",
    "wrong-material_fail": "digest mismatch",
}

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _sigstore_installed() -> bool:
    try:
        import sigstore  # noqa: F401
    except ImportError:
        return False
    return True


HAVE_SIGSTORE = _sigstore_installed()
needs_sigstore = pytest.mark.skipif(not HAVE_SIGSTORE, reason="sigstore is not installed")


def _case_names() -> list[str]:
    if not CASES_DIR.is_dir():
        return []
    return sorted(p.name for p in CASES_DIR.iterdir() if (p / "bundle.sigstore.json").is_file())


CASES = _case_names()
needs_data = pytest.mark.skipif(
    not CASES, reason=f"sigstore-conformance data is absent ({CASES_DIR})"
)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to resolve or connect fails the test: verification must be offline."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)


def _production_root() -> bytes:
    """sigstore-python's bundled snapshot of the production trusted root."""
    store = importlib.resources.files("sigstore") / "_store"
    return (store / "https%3A%2F%2Ftuf-repo-cdn.sigstore.dev" / "trusted_root.json").read_bytes()


def _case_inputs(name: str) -> tuple[bytes, bytes, bytes]:
    """(bundle, artifact, trusted root) of a conformance case."""
    case = CASES_DIR / name
    artifact = case / "artifact"
    root = case / "trusted_root.json"
    return (
        (case / "bundle.sigstore.json").read_bytes(),
        (artifact if artifact.is_file() else ASSETS / "a.txt").read_bytes(),
        root.read_bytes() if root.is_file() else _production_root(),
    )


def _verify_case(name: str, **overrides: Any) -> SigstoreVerdict:
    bundle, artifact, root = _case_inputs(name)
    kwargs: dict[str, Any] = {
        "artifact": artifact,
        "trusted_root_json": root,
        "identity": IDENTITY,
        "issuer": ISSUER,
    }
    kwargs.update(overrides)
    return verify_sigstore_bundle(bundle, **kwargs)


@needs_sigstore
@needs_data
@pytest.mark.parametrize("name", CASES or ["<no data>"])
def test_conformance_case(name: str) -> None:
    verdict = _verify_case(name)
    if name.endswith("_fail"):
        assert not verdict.passed, f"{name} must fail but passed"
        assert name in FAIL_REASONS, f"new _fail case {name}: record its expected reason"
        assert FAIL_REASONS[name] in verdict.reason, verdict.reason
        assert verdict.identity is None
        assert verdict.issuer is None
    elif name in KNOWN_UNSUPPORTED:
        assert not verdict.passed
        assert KNOWN_UNSUPPORTED[name] in verdict.reason, verdict.reason
    else:
        assert verdict.passed, f"{name} must pass: {verdict.reason}"
        assert verdict.reason == "verified"
        assert verdict.identity == IDENTITY
        assert verdict.issuer == ISSUER


@needs_sigstore
@needs_data
def test_conformance_case_counts() -> None:
    """The data set is the one this module was validated on: 22 fail cases, 11 pass cases."""
    failing = [n for n in CASES if n.endswith("_fail")]
    assert len(CASES) >= 33
    assert set(FAIL_REASONS) <= set(failing)
    assert not set(KNOWN_UNSUPPORTED) & set(failing)


HAPPY = "happy-path-v0.3"
DSSE_HAPPY = "rekor2-dsse-happy-path"


def _require(name: str) -> None:
    if name not in CASES:
        pytest.skip(f"conformance case {name} is absent")


@needs_sigstore
@needs_data
@pytest.mark.parametrize("name", [HAPPY, "rekor2-happy-path", DSSE_HAPPY])
def test_digest_is_accepted_in_place_of_artifact(name: str) -> None:
    _require(name)
    _, artifact, _ = _case_inputs(name)
    verdict = _verify_case(
        name, artifact=None, artifact_digest_sha256=hashlib.sha256(artifact).digest()
    )
    assert verdict.passed, verdict.reason


@needs_sigstore
@needs_data
@pytest.mark.parametrize("name", [HAPPY, "rekor2-happy-path", DSSE_HAPPY])
def test_other_artifact_fails(name: str) -> None:
    _require(name)
    verdict = _verify_case(name, artifact=b"not the signed artifact\n")
    assert not verdict.passed
    assert verdict.identity is None


@needs_sigstore
@needs_data
@pytest.mark.parametrize(
    ("identity", "issuer"),
    [
        ("https://github.com/attacker/repo/.github/workflows/x.yml@refs/heads/main", ISSUER),
        (IDENTITY, "https://accounts.google.com"),
    ],
)
def test_wrong_identity_or_issuer_fails(identity: str, issuer: str) -> None:
    _require(HAPPY)
    verdict = _verify_case(HAPPY, identity=identity, issuer=issuer)
    assert not verdict.passed
    assert verdict.reason


@needs_sigstore
@needs_data
@pytest.mark.parametrize(
    ("identity", "issuer"),
    [(None, "https://accounts.google.com"), ("someone@example.com", None)],
)
def test_wrong_half_of_a_relaxed_policy_still_fails(
    identity: str | None, issuer: str | None
) -> None:
    """``unsafe_any_identity`` waives only the missing half; the given half is still checked."""
    _require(HAPPY)
    with pytest.warns(UnsafeOptionWarning):
        verdict = _verify_case(HAPPY, identity=identity, issuer=issuer, unsafe_any_identity=True)
    assert not verdict.passed
    assert verdict.reason


@pytest.mark.parametrize(
    ("identity", "issuer", "field"),
    [(None, None, "identity"), (None, ISSUER, "identity"), (IDENTITY, None, "issuer")],
)
def test_bundle_signed_by_anyone_is_refused_without_identity_and_issuer(
    identity: str | None, issuer: str | None, field: str
) -> None:
    """Any Fulcio certificate (any GitHub user, any OIDC provider) makes a valid, logged
    signature: without both identity and issuer the caller would accept an attacker's."""
    with pytest.raises(InvalidInput) as info:
        verify_sigstore_bundle(
            b"{}", artifact=b"x", trusted_root_json=b"{}", identity=identity, issuer=issuer
        )
    assert info.value.location.field == field
    assert "unsafe_any_identity" in (info.value.hint or "")


@needs_sigstore
@needs_data
def test_issuer_only_policy_says_identity_unchecked() -> None:
    _require(HAPPY)
    with pytest.warns(UnsafeOptionWarning, match="unsafe_any_identity"):
        verdict = _verify_case(HAPPY, identity=None, unsafe_any_identity=True)
    assert verdict.passed, verdict.reason
    assert "identity (SAN) NOT checked" in verdict.reason
    assert verdict.identity == IDENTITY


@needs_sigstore
@needs_data
def test_identity_only_policy_says_issuer_unchecked() -> None:
    _require(HAPPY)
    with pytest.warns(UnsafeOptionWarning, match="unsafe_any_identity"):
        verdict = _verify_case(HAPPY, issuer=None, unsafe_any_identity=True)
    assert verdict.passed, verdict.reason
    assert "OIDC issuer NOT checked" in verdict.reason
    assert verdict.issuer == ISSUER


@needs_sigstore
@needs_data
def test_no_identity_is_integrity_only_and_says_so() -> None:
    """With unsafe_any_identity and no identity or issuer, no identity is checked (UnsafeNoOp);
    the reason says so and the option warns on every call."""
    _require(HAPPY)
    for _ in range(2):  # every use warns, not only the first
        with pytest.warns(UnsafeOptionWarning, match="unsafe_any_identity"):
            verdict = _verify_case(HAPPY, identity=None, issuer=None, unsafe_any_identity=True)
        assert verdict.passed, verdict.reason
        assert NO_IDENTITY_NOTE in verdict.reason
        assert (verdict.identity, verdict.issuer) == (IDENTITY, ISSUER)
    # ...but integrity is still enforced
    with pytest.warns(UnsafeOptionWarning):
        tampered = _verify_case(
            "wrong-material_fail", identity=None, issuer=None, unsafe_any_identity=True
        )
    assert not tampered.passed


@needs_sigstore
@needs_data
def test_wrong_trusted_root_fails() -> None:
    """A production bundle against the staging root (another Fulcio/Rekor) must fail."""
    _require(HAPPY)
    staging = CASES_DIR / "rekor2-happy-path" / "trusted_root.json"
    if not staging.is_file():
        pytest.skip("staging trusted root absent")
    verdict = _verify_case(HAPPY, trusted_root_json=staging.read_bytes())
    assert not verdict.passed


@needs_sigstore
@pytest.mark.parametrize(
    "root",
    [b"", b"not json", b"{}", json.dumps({"mediaType": "application/x-nope"}).encode()],
)
def test_unusable_trusted_root_is_invalid_input(root: bytes) -> None:
    with pytest.raises(InvalidInput) as info:
        verify_sigstore_bundle(
            b"{}", artifact=b"x", trusted_root_json=root, identity=IDENTITY, issuer=ISSUER
        )
    assert info.value.location.field == "trusted_root_json"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({}, "artifact"),
        ({"artifact": b"x", "artifact_digest_sha256": bytes(32)}, "artifact"),
        ({"artifact_digest_sha256": b"ab" * 32}, "artifact_digest_sha256"),
        ({"artifact_digest_sha256": "00" * 32}, "artifact_digest_sha256"),
        ({"artifact": "text"}, "artifact"),
        ({"artifact": b"x", "identity": ""}, "identity"),
        ({"artifact": b"x", "issuer": "  "}, "issuer"),
    ],
)
def test_unusable_arguments_are_invalid_input(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as info:
        verify_sigstore_bundle(
            b"{}", trusted_root_json=b"{}", **{"identity": IDENTITY, "issuer": ISSUER, **kwargs}
        )
    assert info.value.location.field == field


def test_network_is_really_disabled() -> None:
    with pytest.raises(AssertionError, match="network access attempted"):
        socket.create_connection(("rekor.sigstore.dev", 443))


def test_bundle_must_be_bytes() -> None:
    with pytest.raises(InvalidInput):
        verify_sigstore_bundle(
            "{}",  # type: ignore[arg-type]
            artifact=b"x",
            trusted_root_json=b"{}",
            identity=IDENTITY,
            issuer=ISSUER,
        )


def test_missing_sigstore_gives_failed_verdict(monkeypatch: pytest.MonkeyPatch) -> None:
    """With ``sigstore`` unavailable Maat keeps working: verification just fails."""
    for module in list(sys.modules):
        if module == "sigstore" or module.startswith("sigstore."):
            monkeypatch.delitem(sys.modules, module)
    monkeypatch.setitem(sys.modules, "sigstore", None)
    verdict = verify_sigstore_bundle(
        b"{}", artifact=b"x", trusted_root_json=b"{}", identity=IDENTITY, issuer=ISSUER
    )
    assert verdict == SigstoreVerdict(
        passed=False, reason=NOT_INSTALLED, identity=None, issuer=None
    )


@needs_sigstore
@needs_data
def test_oversized_bundle_fails_without_parsing() -> None:
    _require(HAPPY)
    _, artifact, root = _case_inputs(HAPPY)
    verdict = verify_sigstore_bundle(
        b" " * (16 * 1024 * 1024 + 1),
        artifact=artifact,
        trusted_root_json=root,
        identity=IDENTITY,
        issuer=ISSUER,
    )
    assert not verdict.passed
    assert "larger" in verdict.reason


@needs_sigstore
@needs_data
@FUZZ
@given(
    st.one_of(
        st.binary(max_size=2048),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=20),
            lambda inner: (
                st.lists(inner, max_size=4)
                | st.dictionaries(st.text(max_size=12), inner, max_size=4)
            ),
            max_leaves=12,
        ).map(lambda v: json.dumps(v).encode()),
    )
)
def test_arbitrary_bundle_bytes_fail_never_raise(data: bytes) -> None:
    _require(HAPPY)
    _, artifact, root = _case_inputs(HAPPY)
    verdict = verify_sigstore_bundle(
        data, artifact=artifact, trusted_root_json=root, identity=IDENTITY, issuer=ISSUER
    )
    assert not verdict.passed
    assert verdict.reason


@needs_sigstore
@needs_data
@FUZZ
@given(st.data())
def test_mutated_real_bundle_never_raises(data: st.DataObject) -> None:
    """Change one byte of a real bundle: verification never raises (whitespace edits may pass)."""
    _require(HAPPY)
    bundle, artifact, root = _case_inputs(HAPPY)
    position = data.draw(st.integers(0, len(bundle) - 1))
    replacement = data.draw(st.integers(0, 255).filter(lambda b: b != bundle[position]))
    mutated = bundle[:position] + bytes([replacement]) + bundle[position + 1 :]
    verdict = verify_sigstore_bundle(
        mutated, artifact=artifact, trusted_root_json=root, identity=IDENTITY, issuer=ISSUER
    )
    assert isinstance(verdict, SigstoreVerdict)

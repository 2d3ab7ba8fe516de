"""Artifact verification: each attack stops at its own numbered step with its own wording."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, cast

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ObjectIdentifier

from maat.core.decision import Decision, Verdict
from maat.errors import InvalidInput, VerificationFailed
from maat.signing.bundle import (
    BUNDLE_MEDIA_TYPE,
    PAYLOAD_TYPE,
    Bundle,
    Statement,
    pae,
    parse_bundle,
    statement_for,
)
from maat.signing.verify import (
    RevocationAnswer,
    RevocationMode,
    RevocationSource,
    SignerPolicy,
    build_chain,
    verify_artifact,
    verify_bundle,
    verify_chain,
)
from signing_kit import (
    AFTER,
    BEFORE,
    NOW,
    SERVER_AUTH,
    FakeRevocation,
    Issued,
    Pki,
    issue,
    new_key,
    pki,
    sha256,
    sign_file,
    signer_for,
)

DATA = b"MZ... Acme ERP 7.2.1 update payload"
NAME = "acme-erp-7.2.1.msi"
LIMIT = 1_000_000
KEY_COMPROMISE = x509.ReasonFlags.key_compromise
SUPERSEDED = x509.ReasonFlags.superseded


@pytest.fixture(scope="module")
def kit() -> Pki:
    return pki()


def parse(data: bytes) -> Bundle:
    return parse_bundle(data, source="test.maat-sig.json", max_bytes=LIMIT)


def verify(
    kit: Pki,
    bundle: bytes | Bundle,
    *,
    data: bytes = DATA,
    name: str = NAME,
    roots: list[x509.Certificate] | None = None,
    revocation: RevocationSource | None = None,
    mode: str = "hard",
    stamp: Callable[[bytes, bytes], datetime] | None = None,
    policy: SignerPolicy | None = None,
    now: datetime = NOW,
) -> Verdict:
    return verify_artifact(
        sha256(data),
        name,
        bundle if isinstance(bundle, Bundle) else parse(bundle),
        trust_roots=kit.roots if roots is None else roots,
        now=now,
        revocation=revocation if revocation is not None else FakeRevocation(),
        revocation_mode=cast(RevocationMode, mode),
        signing_time_verifier=stamp,
        policy=policy,
    )


def failed_at(verdict: Verdict) -> tuple[int, str]:
    """The one failed step's number and detail (steps stop at the first failure)."""
    assert not verdict.passed
    [step] = verdict.failed_steps
    assert step is verdict.steps[-1]
    return step.number, step.detail


def trusted_time(
    at: datetime, seen: list[bytes] | None = None
) -> Callable[[bytes, bytes], datetime]:
    """A stand-in for ``timestamp.verify_token``: accepts the token made for the imprint."""

    def verifier(token: bytes, imprint: bytes) -> datetime:
        if seen is not None:
            seen.append(imprint)
        if token != b"tsa:" + imprint:
            raise VerificationFailed("timestamp token does not cover this signature")
        return at

    return verifier


def stamped(kit: Pki, leaf: Issued | None = None, data: bytes = DATA) -> bytes:
    """A bundle whose fake RFC 3161 token covers its own signature."""
    unstamped = sign_file(data, NAME, kit, leaf=leaf)
    bundle = parse(unstamped)
    doc = json.loads(unstamped)
    token = b"tsa:" + bundle.timestamp_imprint()
    doc["verificationMaterial"]["timestamp"] = {"rfc3161": base64.b64encode(token).decode()}
    return json.dumps(doc).encode()


def forge(statement: dict[str, Any], leaf: Issued, chain: list[x509.Certificate]) -> bytes:
    """A bundle assembled by hand (what an attacker's tool could write), validly signed."""
    payload = json.dumps(statement).encode()
    sig = signer_for(leaf.key)(pae(PAYLOAD_TYPE, payload))
    from cryptography.hazmat.primitives.serialization import Encoding

    doc = {
        "mediaType": BUNDLE_MEDIA_TYPE,
        "dsseEnvelope": {
            "payloadType": PAYLOAD_TYPE,
            "payload": base64.b64encode(payload).decode(),
            "signatures": [{"keyid": "", "sig": base64.b64encode(sig).decode()}],
        },
        "verificationMaterial": {
            "certificates": [c.public_bytes(Encoding.PEM).decode() for c in chain]
        },
    }
    return json.dumps(doc).encode()


# --- the good path ----------------------------------------------------------------------------


def test_genuine_erp_update_passes_all_seven_steps(kit: Pki) -> None:
    revocation = FakeRevocation()
    verdict = verify(kit, sign_file(DATA, NAME, kit), revocation=revocation)
    assert verdict.passed, verdict.reasons
    assert [s.number for s in verdict.steps] == [1, 2, 3, 4, 5, 6, 7]
    assert verdict.steps[-1].detail == "no signer policy configured"
    assert revocation.asked == [kit.leaf.cert.serial_number, kit.intermediate.cert.serial_number]
    verdict.enforce()


@pytest.mark.parametrize("leaf_key", ["p384", "rsa2048"])
def test_p384_and_rsa_signers_are_accepted(leaf_key: str) -> None:
    other = pki(leaf_key=leaf_key)
    assert verify(other, sign_file(DATA, NAME, other)).passed


def test_renamed_copy_of_a_signed_file_passes_with_a_note(kit: Pki) -> None:
    verdict = verify(kit, sign_file(DATA, NAME, kit), name="setup.msi")
    assert verdict.passed
    assert "signed under the name 'acme-erp-7.2.1.msi'" in verdict.steps[0].detail


def test_signed_name_is_compared_without_its_folder(kit: Pki) -> None:
    bundle = sign_file(DATA, "dist/acme-erp-7.2.1.msi", kit)
    verdict = verify(kit, bundle, data=DATA + b"!", name="C:\\ERP\\acme-erp-7.2.1.msi")
    assert "tampered file" in failed_at(verdict)[1]


# --- step 1: digest ---------------------------------------------------------------------------


def test_tampered_erp_update_is_refused_at_the_digest_step(kit: Pki) -> None:
    number, detail = failed_at(verify(kit, sign_file(DATA, NAME, kit), data=DATA + b"\x90"))
    assert number == 1
    assert detail.startswith("tampered file:")
    assert "changed after it was signed" in detail


def test_signature_copied_from_another_file_is_refused(kit: Pki) -> None:
    bundle = sign_file(b"harmless readme", "readme.txt", kit)
    number, detail = failed_at(verify(kit, bundle, data=b"CXCLNT backdoor", name="wwlib.dll"))
    assert number == 1
    assert detail.startswith("signature over another file:")
    assert "'readme.txt'" in detail and "'wwlib.dll'" in detail


# --- step 2: envelope signature ---------------------------------------------------------------


def test_statement_swapped_under_a_valid_signature_is_refused(kit: Pki) -> None:
    genuine = json.loads(sign_file(DATA, NAME, kit))
    evil = json.loads(sign_file(b"trojan", NAME, kit))
    genuine["dsseEnvelope"]["payload"] = evil["dsseEnvelope"]["payload"]
    number, detail = failed_at(verify(kit, json.dumps(genuine).encode(), data=b"trojan"))
    assert number == 2
    assert "does not verify" in detail


def test_bundle_signed_by_a_key_other_than_the_leaf_is_refused(kit: Pki) -> None:
    thief = issue("CN=Thief", key=new_key())
    bundle = sign_file(DATA, NAME, kit, leaf=thief, chain=kit.chain, signer=kit.leaf.subject)
    number, detail = failed_at(verify(kit, bundle))
    assert (number, "does not verify" in detail) == (2, True)


def test_statement_claiming_another_signer_is_refused(kit: Pki) -> None:
    statement = statement_for(NAME, sha256(DATA).hex(), {"signer": "CN=Microsoft Corporation"})
    number, detail = failed_at(verify(kit, forge(statement, kit.leaf, kit.chain)))
    assert number == 2
    assert "claims signer 'CN=Microsoft Corporation'" in detail


def test_weak_rsa_1024_signing_key_is_refused() -> None:
    weak = pki(leaf_key="rsa1024")
    number, detail = failed_at(verify(weak, sign_file(DATA, NAME, weak)))
    assert number == 2
    assert "too weak" in detail


# --- step 3: chain ----------------------------------------------------------------------------


def test_certificate_from_an_unknown_root_is_refused(kit: Pki) -> None:
    rogue = pki(leaf_subject=kit.leaf.subject, root_subject="CN=Earth Ammit Root",
                ca_subject="CN=Earth Ammit Signing CA")  # fmt: skip
    number, detail = failed_at(verify(kit, sign_file(DATA, NAME, rogue)))
    assert number == 3
    assert detail.startswith("unknown root:")
    assert "issued by 'CN=Earth Ammit Root', which is not one of the 1 trust root(s)" in detail


def test_rogue_ca_copying_the_trusted_root_name_is_refused(kit: Pki) -> None:
    fake_root = issue(kit.root.subject, ca=True, path_length=1)
    inter = issue(kit.intermediate.subject, issuer=fake_root, ca=True, path_length=0)
    leaf = issue(kit.leaf.subject, issuer=inter)
    bundle = sign_file(DATA, NAME, kit, leaf=leaf, chain=[leaf.cert, inter.cert])
    number, detail = failed_at(verify(kit, bundle))
    assert number == 3
    assert "names the trusted issuer" in detail and "does not verify" in detail


def test_chain_cached_under_one_root_set_is_not_trusted_under_another(kit: Pki) -> None:
    """The chain cache is keyed by the roots: a pass under the real root set must not carry
    over to a verification whose roots do not include the issuing root."""
    bundle = parse(sign_file(DATA, NAME, kit))
    other = pki(root_subject="CN=Other Root", ca_subject="CN=Other CA")
    for _ in range(2):  # the second round runs on cached outcomes
        assert verify(kit, bundle).passed
        number, detail = failed_at(verify(kit, bundle, roots=list(other.roots)))
        assert number == 3 and detail.startswith("unknown root:")
        # fresh root objects with the same DER are the same roots
        assert verify(kit, bundle, roots=[x509.load_der_x509_certificate(
            kit.root.cert.public_bytes(Encoding.DER))]).passed  # fmt: skip


def test_bundle_copy_with_a_swapped_chain_is_judged_on_its_own_chain(kit: Pki) -> None:
    """A copy of a verified bundle whose certificates were replaced (``dataclasses.replace``)
    must not reuse the original chain's cached outcome."""
    bundle = parse(sign_file(DATA, NAME, kit))
    assert verify(kit, bundle).passed
    rogue = pki(leaf_subject=kit.leaf.subject, root_subject="CN=Earth Ammit Root",
                ca_subject="CN=Earth Ammit Signing CA")  # fmt: skip
    swapped = dataclasses.replace(bundle, certificates=(rogue.leaf.cert, rogue.intermediate.cert))
    assert swapped.chain_key != bundle.chain_key
    number, _ = failed_at(verify(kit, swapped))
    assert number == 2  # the rogue leaf's key did not make this signature


def test_no_trust_roots_means_no_trust(kit: Pki) -> None:
    number, detail = failed_at(verify(kit, sign_file(DATA, NAME, kit), roots=[]))
    assert (number, detail) == (3, "unknown root: no trust roots are configured")


def test_leaf_posing_as_a_ca_to_mint_signers_is_refused(kit: Pki) -> None:
    minted = issue("CN=Acme ERP Hotfix", issuer=kit.leaf)
    chain = [minted.cert, kit.leaf.cert, kit.intermediate.cert]
    number, detail = failed_at(verify(kit, sign_file(DATA, NAME, kit, leaf=minted, chain=chain)))
    assert number == 3
    assert "is not a CA (basicConstraints)" in detail


def test_sub_ca_beyond_the_path_length_constraint_is_refused(kit: Pki) -> None:
    sub = issue("CN=Rogue Sub CA", issuer=kit.intermediate, ca=True)
    leaf = issue(kit.leaf.subject, issuer=sub)
    chain = [leaf.cert, sub.cert, kit.intermediate.cert]
    number, detail = failed_at(verify(kit, sign_file(DATA, NAME, kit, leaf=leaf, chain=chain)))
    assert number == 3
    assert "pathLenConstraint" in detail


def test_ca_without_key_cert_sign_usage_is_refused(kit: Pki) -> None:
    inter = issue("CN=No Cert Sign CA", issuer=kit.root, ca=True, key_cert_sign=False)
    leaf = issue(kit.leaf.subject, issuer=inter)
    bundle = sign_file(DATA, NAME, kit, leaf=leaf, chain=[leaf.cert, inter.cert])
    number, detail = failed_at(verify(kit, bundle))
    assert (number, "keyCertSign" in detail) == (3, True)


def test_leaf_with_an_unknown_critical_extension_is_refused(kit: Pki) -> None:
    odd = x509.UnrecognizedExtension(ObjectIdentifier("1.3.6.1.4.1.99999.1"), b"\x05\x00")
    leaf = issue(kit.leaf.subject, issuer=kit.intermediate, extra=[(odd, True)])
    number, detail = failed_at(verify(kit, sign_file(DATA, NAME, kit, leaf=leaf)))
    assert (number, "unsupported critical extension" in detail) == (3, True)


def test_leaf_that_is_itself_a_ca_is_refused(kit: Pki) -> None:
    leaf = issue("CN=Signing CA As Leaf", issuer=kit.root, ca=True, path_length=0)
    bundle = sign_file(DATA, NAME, kit, leaf=leaf, chain=[leaf.cert])
    number, detail = failed_at(verify(kit, bundle))
    assert number in (3, 4)
    assert "CA" in detail


# --- step 4: EKU ------------------------------------------------------------------------------


def test_tls_server_certificate_cannot_sign_code(kit: Pki) -> None:
    leaf = issue(kit.leaf.subject, issuer=kit.intermediate, eku=[SERVER_AUTH])
    number, detail = failed_at(verify(kit, sign_file(DATA, NAME, kit, leaf=leaf)))
    assert number == 4
    assert detail.startswith("wrong EKU:") and "serverAuth" in detail


def test_certificate_without_any_eku_cannot_sign_code(kit: Pki) -> None:
    leaf = issue(kit.leaf.subject, issuer=kit.intermediate, eku=None)
    number, detail = failed_at(verify(kit, sign_file(DATA, NAME, kit, leaf=leaf)))
    assert number == 4
    assert "has no extended key usage" in detail


# --- step 5: validity -------------------------------------------------------------------------


def test_expired_signing_certificate_without_timestamp_is_refused(kit: Pki) -> None:
    leaf = issue(kit.leaf.subject, issuer=kit.intermediate, not_after=NOW - timedelta(days=1))
    number, detail = failed_at(verify(kit, sign_file(DATA, NAME, kit, leaf=leaf)))
    assert number == 5
    assert detail.startswith("expired:") and "no timestamp" in detail


def test_not_yet_valid_signing_certificate_is_refused(kit: Pki) -> None:
    leaf = issue(kit.leaf.subject, issuer=kit.intermediate, not_before=NOW + timedelta(days=1))
    number, detail = failed_at(verify(kit, sign_file(DATA, NAME, kit, leaf=leaf)))
    assert number == 5
    assert detail.startswith("not yet valid:")


def test_expired_certificate_is_fine_when_a_trusted_timestamp_shows_it_signed_in_time(
    kit: Pki,
) -> None:
    leaf = issue(kit.leaf.subject, issuer=kit.intermediate, not_after=NOW - timedelta(days=30))
    seen: list[bytes] = []
    bundle = stamped(kit, leaf)
    verdict = verify(kit, bundle, stamp=trusted_time(NOW - timedelta(days=60), seen))
    assert verdict.passed, verdict.reasons
    assert seen == [parse(bundle).timestamp_imprint()]
    assert "trusted RFC 3161 timestamp" in verdict.steps[4].detail


def test_timestamp_lifted_from_another_signature_is_rejected(kit: Pki) -> None:
    other = parse(stamped(kit, data=b"other file"))
    doc = json.loads(sign_file(DATA, NAME, kit))
    doc["verificationMaterial"]["timestamp"] = {
        "rfc3161": base64.b64encode(other.timestamp or b"").decode()
    }
    verdict = verify(kit, json.dumps(doc).encode(), stamp=trusted_time(NOW - timedelta(days=1)))
    number, detail = failed_at(verdict)
    assert number == 5
    assert detail.startswith("the RFC 3161 timestamp is rejected")


def test_timestamp_from_the_future_is_rejected(kit: Pki) -> None:
    verdict = verify(kit, stamped(kit), stamp=trusted_time(NOW + timedelta(days=2)))
    number, detail = failed_at(verdict)
    assert number == 5 and "in the future" in detail


def test_timestamp_without_a_verifier_falls_back_to_now(kit: Pki) -> None:
    verdict = verify(kit, stamped(kit))
    assert verdict.passed
    assert "no verifier configured" in verdict.steps[4].detail


# --- step 6: revocation -----------------------------------------------------------------------


def test_trojanised_erp_update_signed_by_revoked_certificate_is_blocked(kit: Pki) -> None:
    revocation = FakeRevocation()
    revocation.revoke(kit.leaf.cert, NOW - timedelta(days=3), KEY_COMPROMISE)
    verdict = verify(kit, stamped(kit), revocation=revocation,
                     stamp=trusted_time(NOW - timedelta(days=10)))  # fmt: skip
    number, detail = failed_at(verdict)
    assert number == 6
    assert detail.startswith("revoked:") and "keyCompromise" in detail
    assert "invalidates every signature" in detail


def test_signature_made_before_a_superseded_revocation_stays_valid(kit: Pki) -> None:
    revocation = FakeRevocation()
    revocation.revoke(kit.leaf.cert, NOW - timedelta(days=3), SUPERSEDED)
    verdict = verify(kit, stamped(kit), revocation=revocation,
                     stamp=trusted_time(NOW - timedelta(days=10)))  # fmt: skip
    assert verdict.passed
    assert "after the trusted signing time" in verdict.steps[5].detail
    assert "stays valid" in verdict.steps[5].detail


def test_backdating_past_a_revocation_needs_a_trusted_timestamp(kit: Pki) -> None:
    revocation = FakeRevocation()
    revocation.revoke(kit.leaf.cert, NOW - timedelta(days=3), SUPERSEDED)
    number, detail = failed_at(verify(kit, sign_file(DATA, NAME, kit), revocation=revocation))
    assert number == 6
    assert "no trusted timestamp" in detail


def test_signature_timestamped_after_the_revocation_is_refused(kit: Pki) -> None:
    revocation = FakeRevocation()
    revocation.revoke(kit.leaf.cert, NOW - timedelta(days=3), SUPERSEDED)
    verdict = verify(kit, stamped(kit), revocation=revocation,
                     stamp=trusted_time(NOW - timedelta(days=1)))  # fmt: skip
    number, detail = failed_at(verdict)
    assert number == 6 and "is not before it" in detail


def test_revoked_intermediate_ca_blocks_its_signers(kit: Pki) -> None:
    revocation = FakeRevocation()
    revocation.revoke(
        kit.intermediate.cert, NOW - timedelta(days=3), x509.ReasonFlags.ca_compromise
    )
    number, detail = failed_at(verify(kit, sign_file(DATA, NAME, kit), revocation=revocation))
    assert number == 6
    assert "Maat Test Code Signing CA" in detail


def test_unknown_revocation_status_fails_closed_in_hard_mode(kit: Pki) -> None:
    unknown = FakeRevocation(default=RevocationAnswer("unknown", source="stale CRL"))
    number, detail = failed_at(verify(kit, sign_file(DATA, NAME, kit), revocation=unknown))
    assert number == 6
    assert "unknown per stale CRL; hard mode fails closed" in detail


def test_unknown_revocation_status_warns_in_soft_mode(kit: Pki) -> None:
    unknown = FakeRevocation(default=RevocationAnswer("unknown", source="stale CRL"))
    verdict = verify(kit, sign_file(DATA, NAME, kit), revocation=unknown, mode="soft")
    assert verdict.passed
    assert verdict.steps[5].detail.startswith("warning: revocation status")


def test_missing_revocation_source_fails_in_hard_mode_and_warns_in_soft(kit: Pki) -> None:
    bundle = parse(sign_file(DATA, NAME, kit))

    def run(mode: str) -> Verdict:
        return verify_artifact(
            sha256(DATA),
            NAME,
            bundle,
            trust_roots=kit.roots,
            now=NOW,
            revocation=None,
            revocation_mode=cast(RevocationMode, mode),
        )

    assert failed_at(run("hard")) == (6, "no revocation source configured; hard mode requires one")
    soft = run("soft")
    assert soft.passed and "warning: not checked" in soft.steps[5].detail


# --- step 7: policy ---------------------------------------------------------------------------


class OnlyProduct:
    def __init__(self, product: str) -> None:
        self.product = product

    def decide(self, leaf_cert: x509.Certificate, statement: Statement) -> Decision:
        if statement.predicate.product == self.product:
            return Decision.allow(f"signer may ship {self.product}")
        return Decision.deny(f"signer may only ship {self.product}")


def test_signer_signing_a_product_it_does_not_own_is_denied_by_policy(kit: Pki) -> None:
    verdict = verify(kit, sign_file(DATA, NAME, kit), policy=OnlyProduct("Acme CAD"))
    assert failed_at(verdict) == (7, "signer policy denies: signer may only ship Acme CAD")
    with pytest.raises(VerificationFailed) as caught:
        verdict.enforce()
    assert caught.value.reasons == (
        "step 7 (policy) FAILED: signer policy denies: signer may only ship Acme CAD",
    )


def test_signer_policy_allowing_the_product_passes(kit: Pki) -> None:
    verdict = verify(kit, sign_file(DATA, NAME, kit), policy=OnlyProduct("Acme ERP"))
    assert verdict.passed
    assert verdict.steps[-1].detail == "signer policy allows: signer may ship Acme ERP"


# --- distinct verdicts, inputs, shared chain helper -------------------------------------------


def test_each_attack_gets_a_distinct_verdict(kit: Pki) -> None:
    expired = issue(kit.leaf.subject, issuer=kit.intermediate, not_after=NOW - timedelta(days=1))
    future = issue(kit.leaf.subject, issuer=kit.intermediate, not_before=NOW + timedelta(days=1))
    tls = issue(kit.leaf.subject, issuer=kit.intermediate, eku=[SERVER_AUTH])
    revoked = FakeRevocation()
    revoked.revoke(kit.leaf.cert, NOW - timedelta(days=1), KEY_COMPROMISE)
    rogue = pki()
    verdicts = [
        verify(kit, sign_file(DATA, NAME, kit), data=b"x"),
        verify(kit, sign_file(b"y", "other.bin", kit)),
        verify(kit, sign_file(DATA, NAME, rogue)),
        verify(kit, sign_file(DATA, NAME, kit, leaf=tls)),
        verify(kit, sign_file(DATA, NAME, kit, leaf=expired)),
        verify(kit, sign_file(DATA, NAME, kit, leaf=future)),
        verify(kit, sign_file(DATA, NAME, kit), revocation=revoked),
    ]
    heads = [failed_at(v)[1].split(":")[0] for v in verdicts]
    assert heads == [
        "tampered file",
        "signature over another file",
        "unknown root",
        "wrong EKU",
        "expired",
        "not yet valid",
        "revoked",
    ]


def test_truncated_bundle_bytes_give_a_failed_step_zero(kit: Pki) -> None:
    data = sign_file(DATA, NAME, kit)
    verdict = verify_bundle(
        sha256(DATA),
        NAME,
        data[:200],
        source="x.maat-sig.json",
        max_bytes=LIMIT,
        trust_roots=kit.roots,
        now=NOW,
        revocation=None,
    )
    number, detail = failed_at(verdict)
    assert number == 0 and "truncated" in detail and "x.maat-sig.json" in detail


def test_malformed_pem_in_bundle_bytes_gives_a_failed_step_zero(kit: Pki) -> None:
    doc = json.loads(sign_file(DATA, NAME, kit))
    doc["verificationMaterial"]["certificates"][0] = (
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    )
    verdict = verify_bundle(
        sha256(DATA),
        NAME,
        json.dumps(doc).encode(),
        source="x",
        max_bytes=LIMIT,
        trust_roots=kit.roots,
        now=NOW,
        revocation=None,
    )
    number, detail = failed_at(verdict)
    assert number == 0 and "malformed PEM certificate" in detail


def test_good_bundle_bytes_pass_steps_zero_to_seven(kit: Pki) -> None:
    verdict = verify_bundle(
        sha256(DATA),
        NAME,
        sign_file(DATA, NAME, kit),
        source="x",
        max_bytes=LIMIT,
        trust_roots=kit.roots,
        now=NOW,
        revocation=FakeRevocation(),
    )
    assert verdict.passed and [s.number for s in verdict.steps] == list(range(8))


@pytest.mark.parametrize(
    ("digest", "now", "mode", "field"),
    [
        (b"\x00" * 31, NOW, "hard", "data_digest_sha256"),
        (b"\x00" * 32, NOW.replace(tzinfo=None), "hard", "now"),
        (b"\x00" * 32, NOW, "lenient", "revocation_mode"),
    ],
)
def test_unusable_arguments_raise_invalid_input(
    kit: Pki, digest: bytes, now: datetime, mode: str, field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        verify_artifact(
            digest,
            NAME,
            parse(sign_file(DATA, NAME, kit)),
            trust_roots=kit.roots,
            now=now,
            revocation=None,
            revocation_mode=cast(RevocationMode, mode),
        )
    assert caught.value.location.field == field


def test_verify_chain_is_steps_three_to_five_for_other_signature_formats(kit: Pki) -> None:
    steps = verify_chain(kit.leaf.cert, [kit.intermediate.cert], kit.roots, NOW)
    assert [(s.number, s.passed) for s in steps] == [(3, True), (4, True), (5, True)]
    late = verify_chain(kit.leaf.cert, [kit.intermediate.cert], kit.roots, AFTER + timedelta(1))
    assert [(s.number, s.passed) for s in late] == [(3, True), (4, True), (5, False)]
    early = verify_chain(kit.leaf.cert, [], kit.roots, BEFORE)
    assert [(s.number, s.passed) for s in early] == [(3, False)]


def test_chain_building_ignores_unrelated_and_embedded_root_certificates(kit: Pki) -> None:
    noise = [issue("CN=Noise CA", ca=True).cert, kit.root.cert, kit.intermediate.cert]
    assert build_chain(kit.leaf.cert, noise, kit.roots) == (
        kit.leaf.cert,
        kit.intermediate.cert,
        kit.root.cert,
    )
    assert build_chain(kit.leaf.cert, [kit.root.cert], [issue("CN=Other", ca=True).cert]) is None


def test_revocation_source_errors_count_as_unknown(kit: Pki) -> None:
    class Broken:
        def status(self, cert: x509.Certificate, at: datetime) -> RevocationAnswer:
            raise InvalidInput("CRL cannot be parsed")

    number, detail = failed_at(verify(kit, sign_file(DATA, NAME, kit), revocation=Broken()))
    assert number == 6 and "error: CRL cannot be parsed" in detail


def test_file_digest_helper_matches_hashlib() -> None:
    assert sha256(b"abc") == hashlib.sha256(b"abc").digest()


# --- with Maat's own CRL and RFC 3161 modules ---------------------------------------------------


@pytest.mark.parametrize(("reason", "passes"), [(SUPERSEDED, True), (KEY_COMPROMISE, False)])
def test_revoked_vendor_certificate_with_real_crl_and_rfc3161_timestamp(
    kit: Pki, reason: x509.ReasonFlags, passes: bool
) -> None:
    crl = pytest.importorskip("maat.signing.crl")
    timestamp = pytest.importorskip("maat.signing.timestamp")
    x509build = pytest.importorskip("maat.signing.x509build")
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509.oid import ExtendedKeyUsageOID

    from maat.signing.bundle import add_timestamp
    from maat.signing.verify import CrlRevocation

    tsa_eku = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING])
    tsa = issue("CN=Maat Test TSA", issuer=kit.root, eku=None, extra=[(tsa_eku, True)])
    unstamped = sign_file(DATA, NAME, kit)
    token = timestamp.build_token(
        parse(unstamped).timestamp_imprint(),
        tsa_cert=tsa.cert,
        tsa_key=x509build.software_key(tsa.key),
        gen_time=NOW - timedelta(days=10),
        serial=1,
    )
    bundle = add_timestamp(unstamped, token)
    revoked = crl.build_crl(
        kit.intermediate.cert,
        x509build.software_key(kit.intermediate.key),
        [crl.RevokedEntry(kit.leaf.cert.serial_number, NOW - timedelta(days=3), reason)],
        this_update=NOW - timedelta(hours=1),
        next_update=NOW + timedelta(days=1),
        number=7,
    )
    index = crl.CrlIndex.load(revoked.public_bytes(Encoding.DER), issuer=kit.intermediate.cert)

    def verifier(token: bytes, imprint: bytes) -> datetime:
        gen_time: datetime = timestamp.verify_token(
            token, expected_imprint=imprint, trusted_tsa=[tsa.cert]
        )
        return gen_time

    verdict = verify(kit, bundle, revocation=CrlRevocation([index]), mode="soft", stamp=verifier)
    assert verdict.passed is passes, verdict.reasons
    step6 = verdict.steps[5]
    assert step6.number == 6
    assert ("stays valid" in step6.detail) is passes
    if passes:  # the root published no CRL for the intermediate: soft mode only warns
        assert "warning: revocation status of 'CN=Maat Test Code Signing CA" in step6.detail

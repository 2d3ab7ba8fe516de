"""Windows Authenticode on PE files, read with ``lief``; chain and revocation checked by Maat.

:func:`inspect_pe` answers what a PE says about itself: whether it carries a signature, whether
the Authenticode digest (the "authentihash", computed over the file minus its checksum and
certificate table) matches the signed one, whether the PKCS#7 signer's signature verifies,
lief's flags, and the embedded certificates as ``cryptography`` objects, leaf first.

It does **not** decide whether to trust the signer: that is
:func:`maat.signing.verify.verify_chain` (chain to Maat's trust roots, codeSigning EKU,
validity) and :func:`maat.signing.verify.check_revocation`, exactly as for signature bundles.
lief's own certificate-time checks are switched off (``SKIP_CERT_TIME``) so the answer does
not depend on the machine's clock; the caller checks validity at a time it chooses.

Unsigned and tampered PEs are results, not errors (a flipped byte in a signed PE gives
``BAD_DIGEST|BAD_SIGNATURE``); bytes that are not a PE raise :class:`InvalidInput`.
Authenticode countersignatures (signing timestamps) are not evaluated yet.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

import lief
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from maat.errors import InvalidInput, PayloadTooLarge
from maat.signing.bundle import load_certificate

__all__ = ["MAX_PE_BYTES", "AuthenticodeResult", "inspect_pe", "order_chain"]

MAX_PE_BYTES = 512 * 1024 * 1024

_FLAGS = lief.PE.Signature.VERIFICATION_FLAGS
_CHECKS = lief.PE.Signature.VERIFICATION_CHECKS


@dataclass(frozen=True)
class AuthenticodeResult:
    """What a PE file's Authenticode signature says, before any trust decision."""

    signed: bool
    digest_ok: bool
    signature_ok: bool
    flags: str
    certificates: tuple[x509.Certificate, ...]
    signer_subject: str | None
    signer_issuer: str | None
    sha256_of_file: str
    authentihash_sha256: str = ""

    @property
    def leaf(self) -> x509.Certificate | None:
        """The signer's certificate, when the PE is signed."""
        return self.certificates[0] if self.certificates else None

    @property
    def intermediates(self) -> tuple[x509.Certificate, ...]:
        """The other embedded certificates (candidate intermediates, maybe a root)."""
        return self.certificates[1:]

    @property
    def intact(self) -> bool:
        """Signed, with a matching digest and a verifying signer signature."""
        return self.signed and self.digest_ok and self.signature_ok


def _flag_text(flags: object) -> str:
    text = str(flags)
    return text.split(".", 1)[1] if "." in text else text


def order_chain(
    leaf: x509.Certificate, others: list[x509.Certificate]
) -> tuple[x509.Certificate, ...]:
    """``leaf`` first, then each issuer found among ``others`` (by name), then the rest."""
    ordered = [leaf]
    rest = [c for c in others if c != leaf]
    while True:
        issuer = next((c for c in rest if c.subject == ordered[-1].issuer), None)
        if issuer is None or issuer.subject == ordered[-1].subject:
            break
        ordered.append(issuer)
        rest.remove(issuer)
    return (*ordered, *rest)


def inspect_pe(data: bytes, *, source: str, max_bytes: int = MAX_PE_BYTES) -> AuthenticodeResult:
    """Inspect the Authenticode signature of the PE image ``data``.

    1. Refuse oversized input, then parse with lief from memory; not a PE → InvalidInput.
    2. No signature → ``signed=False`` (flags ``NO_SIGNATURE``).
    3. For every signature: the authentihash with its digest algorithm must equal the
       signed content-info digest (``digest_ok``), and the PKCS#7 signer must verify
       (``signature_ok``, lief ``Signature.check`` without certificate times). Like lief,
       a digest mismatch also counts as a bad signature: ``signature_ok`` is then false.
    4. Convert the embedded certificates from DER; order them leaf (the signer) first.
    """
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"{source}: PE file is larger than {max_bytes} bytes")
    sha256 = hashlib.sha256(data).hexdigest()
    if data[:2] != b"MZ":
        raise InvalidInput("not a PE file (no MZ header)", file=source)
    lief.logging.disable()
    binary = lief.PE.parse(io.BytesIO(data))
    if binary is None:
        raise InvalidInput("not a PE file (lief cannot parse it)", file=source)
    signatures = list(binary.signatures)
    flags = binary.verify_signature(_CHECKS.SKIP_CERT_TIME)
    if not signatures:
        return AuthenticodeResult(
            False, False, False, _flag_text(flags), (), None, None, sha256,
            binary.authentihash(lief.PE.ALGORITHMS.SHA_256).hex(),
        )  # fmt: skip
    digest_ok = all(
        binary.authentihash(sig.digest_algorithm) == bytes(sig.content_info.digest)
        for sig in signatures
    )
    signature_ok = _FLAGS.BAD_SIGNATURE not in flags and all(
        sig.check(_CHECKS.SKIP_CERT_TIME) == _FLAGS.OK for sig in signatures
    )
    first = signatures[0]
    certs = [
        load_certificate(bytes(c.raw), source=source, field=f"certificates[{i}]")
        for i, c in enumerate(first.certificates)
    ]
    signer_cert = first.signers[0].cert if first.signers else None
    leaf = None
    if signer_cert is not None:
        raw = bytes(signer_cert.raw)
        leaf = next((c for c in certs if c.public_bytes(Encoding.DER) == raw), None)
    ordered = order_chain(leaf, certs) if leaf is not None else tuple(certs)
    return AuthenticodeResult(
        signed=True,
        digest_ok=digest_ok,
        signature_ok=signature_ok and leaf is not None,
        flags=_flag_text(flags),
        certificates=ordered,
        signer_subject=leaf.subject.rfc4514_string() if leaf is not None else None,
        signer_issuer=leaf.issuer.rfc4514_string() if leaf is not None else None,
        sha256_of_file=sha256,
        authentihash_sha256=binary.authentihash(lief.PE.ALGORITHMS.SHA_256).hex(),
    )

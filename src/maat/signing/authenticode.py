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

A PE whose certificate table carries bytes besides its one signature (CVE-2013-3900), whose
signer carries unauthenticated attributes other than timestamps and nested signatures that
verify over the same file, or whose digest is MD5/SHA-1 is reported with ``digest_ok`` false.
Bytes inside the timestamps and inside embedded certificates are still nobody's checked claim:
Maat does not judge them (see the notes of :func:`inspect_pe`).
Unsigned and tampered PEs are results, not errors (a flipped byte in a signed PE gives
``BAD_DIGEST|BAD_SIGNATURE``); bytes that are not a PE raise :class:`InvalidInput`.
Authenticode countersignatures (signing timestamps) are not evaluated yet.
"""

from __future__ import annotations

import hashlib
import io
import struct
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
# Digests a chosen-prefix collision cannot move onto another file (MD5 and SHA-1 can).
_STRONG_DIGESTS = frozenset(
    {lief.PE.ALGORITHMS.SHA_256, lief.PE.ALGORITHMS.SHA_384, lief.PE.ALGORITHMS.SHA_512}
)
_WIN_CERT_HEADER = 8  # dwLength (4), wRevision (2), wCertificateType (2)
_ATTRIBUTE = lief.PE.Attribute.TYPE
# The unauthenticated attributes signtool writes: timestamps (RFC 3161 and PKCS #9) and nested
# signatures. Any other is bytes that neither the digest nor a signature covers.
_UNSIGNED_KINDS = frozenset(
    {_ATTRIBUTE.MS_COUNTER_SIGN, _ATTRIBUTE.PKCS9_COUNTER_SIGNATURE, _ATTRIBUTE.MS_SPC_NESTED_SIGN}
)
_MAX_NESTING = 4  # signtool nests one level; more is no real file's need


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
    notes: tuple[str, ...] = ()
    """Why ``digest_ok`` is false beyond lief's flags (e.g. where the unsigned bytes are)."""

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


def _der_length(blob: bytes) -> int | None:
    """The length of the DER SEQUENCE at the start of ``blob`` (tag and length included)."""
    if len(blob) < 2 or blob[0] != 0x30:
        return None
    first = blob[1]
    if first < 0x80:
        return 2 + first
    count = first & 0x7F
    if count == 0 or count > 4 or len(blob) < 2 + count:  # 0: BER indefinite length
        return None
    return 2 + count + int.from_bytes(blob[2 : 2 + count], "big")


def _unauthenticated_data(data: bytes, offset: int, size: int) -> str | None:
    """Why the certificate table carries bytes no signature covers, or None.

    The Authenticode digest skips the whole table, so anything in it besides the one PKCS#7
    blob is unsigned: CVE-2013-3900, used by the 3CX supply-chain attack to ship an encrypted
    payload inside a validly signed DLL. Allowed: one WIN_CERTIFICATE holding one DER blob,
    then at most 7 zero bytes of alignment, the table ending the file.
    """
    if offset + size != len(data):
        return "the certificate table does not end the file"
    if size < _WIN_CERT_HEADER:
        return "the certificate table is too short"
    (length,) = struct.unpack_from("<I", data, offset)
    if not _WIN_CERT_HEADER <= length <= size or size - length >= 8:
        return "the certificate table is not exactly one WIN_CERTIFICATE"
    blob = data[offset + _WIN_CERT_HEADER : offset + size]
    der = _der_length(blob)
    if der is None or der > length - _WIN_CERT_HEADER:
        return "the WIN_CERTIFICATE does not hold one DER PKCS#7 blob"
    if len(blob) - der >= 8 or any(blob[der:]):
        return "bytes follow the PKCS#7 blob inside the WIN_CERTIFICATE"
    return None


def _weak(sig: lief.PE.Signature) -> bool:
    """Whether the file digest or a signer's digest of ``sig`` is MD5 or SHA-1."""
    used = {sig.digest_algorithm, sig.content_info.digest_algorithm}
    return not (used | {signer.digest_algorithm for signer in sig.signers}) <= _STRONG_DIGESTS


def _attribute_problems(
    binary: lief.PE.Binary, sig: lief.PE.Signature, depth: int = 0
) -> list[tuple[str, str]]:
    """(flag, note) for each unauthenticated attribute of ``sig``'s signers that may hide data.

    The digest and the signature skip these attributes, so an attribute of any other kind is a
    place for a payload as good as CVE-2013-3900's padding ("Authenticode stuffing"). A nested
    signature is a signature only if it verifies over this very file with a strong digest
    (checked as the outer one is, recursively); else it is a blob carried along.
    """
    problems: list[tuple[str, str]] = []
    for signer in sig.signers:
        for attribute in signer.unauthenticated_attributes:
            if attribute.type not in _UNSIGNED_KINDS:
                oid = getattr(attribute, "oid", attribute.type.name)
                note = f"the signer carries an unauthenticated attribute {oid} no signature covers"
                problems.append(("UNAUTHENTICATED_DATA", note))
                continue
            if attribute.type != _ATTRIBUTE.MS_SPC_NESTED_SIGN:
                continue  # a timestamp: not evaluated yet (see the module notes)
            nested = getattr(attribute, "signature", None)
            if (
                nested is None
                or depth >= _MAX_NESTING
                or binary.authentihash(nested.digest_algorithm) != bytes(nested.content_info.digest)
                or nested.check(_CHECKS.SKIP_CERT_TIME) != _FLAGS.OK
            ):
                note = "a nested signature does not verify over this file"
                problems.append(("UNAUTHENTICATED_DATA", note))
                continue
            if _weak(nested):
                problems.append(("WEAK_DIGEST", "a nested signature's digest is MD5 or SHA-1"))
            problems.extend(_attribute_problems(binary, nested, depth + 1))
    return problems


def inspect_pe(data: bytes, *, source: str, max_bytes: int = MAX_PE_BYTES) -> AuthenticodeResult:
    """Inspect the Authenticode signature of the PE image ``data``.

    1. Refuse oversized input, then parse with lief from memory; not a PE → InvalidInput.
    2. No signature → ``signed=False`` (flags ``NO_SIGNATURE``).
    3. For every signature: the authentihash with its digest algorithm must equal the
       signed content-info digest (``digest_ok``), and the PKCS#7 signer must verify
       (``signature_ok``, lief ``Signature.check`` without certificate times). Like lief,
       a digest mismatch also counts as a bad signature: ``signature_ok`` is then false.
       ``digest_ok`` is also false when the digest is MD5 or SHA-1 (``WEAK_DIGEST``), or
       the certificate table carries bytes besides the signature, or a signer carries an
       unauthenticated attribute that is neither a timestamp nor a nested signature verifying
       over this file (``UNAUTHENTICATED_DATA``): the digest then does not prove all the
       file holds. Not judged: what timestamps and embedded certificates (any may be added
       after signing) contain; whoever acts on them must check them first.
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
    problems: list[tuple[str, str]] = []
    if any(_weak(sig) for sig in signatures):
        note = "the Authenticode digest or signer digest is not SHA-256/384/512"
        problems.append(("WEAK_DIGEST", note))
    table = binary.data_directory(lief.PE.DataDirectory.TYPES.CERTIFICATE_TABLE)
    unsigned_bytes = (  # the certificate table's "rva" is a file offset
        "no certificate table" if table is None
        else _unauthenticated_data(data, table.rva, table.size)
    )  # fmt: skip
    if unsigned_bytes is not None:
        problems.append(("UNAUTHENTICATED_DATA", unsigned_bytes))
    for sig in signatures:
        problems.extend(_attribute_problems(binary, sig))
    extra = list(dict.fromkeys(flag for flag, _ in problems))
    notes = tuple(dict.fromkeys(note for _, note in problems))
    digest_ok = digest_ok and not extra
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
        flags=_flags_with(_flag_text(flags), extra),
        certificates=ordered,
        signer_subject=leaf.subject.rfc4514_string() if leaf is not None else None,
        signer_issuer=leaf.issuer.rfc4514_string() if leaf is not None else None,
        sha256_of_file=sha256,
        authentihash_sha256=binary.authentihash(lief.PE.ALGORITHMS.SHA_256).hex(),
        notes=notes,
    )


def _flags_with(text: str, extra: list[str]) -> str:
    """lief's flags followed by Maat's own (``OK`` dropped when Maat found a problem)."""
    if not extra:
        return text
    return "|".join(extra if text == "OK" else [text, *extra])

"""Authenticode: real PEs built with mingw, signed with osslsigncode by a Maat test CA."""

from __future__ import annotations

import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

import lief
import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

import maat_testkit
from maat.errors import InvalidInput
from maat.signing.authenticode import inspect_pe, order_chain
from maat.signing.verify import verify_chain
from signing_kit import NOW, Issued, Pki, issue, new_key, pki

MAIN_C = "int main(void) { return 0; }\n"
DLL_C = "__declspec(dllexport) int wdCommandDispatch(void) { return 1; }\n"


@dataclass(frozen=True)
class Built:
    kit: Pki
    unsigned: bytes
    signed: bytes
    wwlib: bytes
    rogue_signed: bytes


def tools() -> tuple[str, str]:
    gcc = shutil.which("x86_64-w64-mingw32-gcc")
    sign = shutil.which("osslsigncode")
    if gcc is None or sign is None:
        maat_testkit.unavailable("x86_64-w64-mingw32-gcc and osslsigncode are needed for PE tests")
    assert gcc is not None and sign is not None
    return gcc, sign


def compile_pe(gcc: str, folder: Path, name: str, source: str, *, shared: bool = False) -> Path:
    src = folder / f"{name}.c"
    src.write_text(source)
    out = folder / name
    args = [gcc, "-O2", "-s", "-o", str(out), str(src)]
    subprocess.run([*args, "-shared"] if shared else args, check=True, capture_output=True)
    return out


def sign_pe(tool: str, folder: Path, pe: Path, leaf: Issued, chain: list[Issued]) -> bytes:
    certs = folder / f"{pe.name}.certs.pem"
    key = folder / f"{pe.name}.key.pem"
    certs.write_bytes(b"".join(c.cert_pem() for c in [leaf, *chain]))
    key.write_bytes(leaf.key_pem())
    out = folder / f"signed-{pe.name}"
    subprocess.run(
        [tool, "sign", "-certs", str(certs), "-key", str(key), "-h", "sha256",
         "-n", "Acme ERP", "-in", str(pe), "-out", str(out)],
        check=True, capture_output=True,
    )  # fmt: skip
    return out.read_bytes()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    gcc, sign = tools()
    folder = tmp_path_factory.mktemp("pe")
    kit = pki(leaf_key="rsa2048", leaf_subject="CN=Microsoft Office Test Signing,O=Maat Test")
    exe = compile_pe(gcc, folder, "winword.exe", MAIN_C)
    dll = compile_pe(gcc, folder, "wwlib.dll", DLL_C, shared=True)
    rogue_root = issue("CN=Earth Ammit Root", ca=True, path_length=0)
    rogue_leaf = issue("CN=Microsoft Office Test Signing,O=Maat Test", issuer=rogue_root,
                       key=new_key("rsa2048"))  # fmt: skip
    return Built(
        kit=kit,
        unsigned=exe.read_bytes(),
        signed=sign_pe(sign, folder, exe, kit.leaf, [kit.intermediate]),
        wwlib=dll.read_bytes(),
        rogue_signed=sign_pe(
            sign, folder, compile_pe(gcc, folder, "rogue.exe", MAIN_C), rogue_leaf, []
        ),
    )


def test_signed_pe_reports_digest_signature_and_signer(built: Built) -> None:
    result = inspect_pe(built.signed, source="winword.exe")
    assert (result.signed, result.digest_ok, result.signature_ok, result.flags) == (
        True,
        True,
        True,
        "OK",
    )
    assert result.intact
    assert result.signer_subject == built.kit.leaf.subject
    assert result.signer_issuer == built.kit.intermediate.subject
    assert result.certificates == (built.kit.leaf.cert, built.kit.intermediate.cert)
    assert len(result.sha256_of_file) == 64


def test_signed_pe_chain_verifies_to_the_test_root(built: Built) -> None:
    result = inspect_pe(built.signed, source="winword.exe")
    assert result.leaf is not None
    steps = verify_chain(result.leaf, result.intermediates, built.kit.roots, NOW)
    assert [(s.number, s.passed) for s in steps] == [(3, True), (4, True), (5, True)], steps


def test_pe_signed_under_a_rogue_root_with_a_copied_name_fails_the_chain(built: Built) -> None:
    result = inspect_pe(built.rogue_signed, source="rogue.exe")
    assert result.intact
    assert result.signer_subject == built.kit.leaf.subject
    assert result.leaf is not None
    steps = verify_chain(result.leaf, result.intermediates, built.kit.roots, NOW)
    assert [(s.number, s.passed) for s in steps] == [(3, False)]
    assert steps[0].detail.startswith("unknown root:")


def test_byte_flipped_in_the_code_section_gives_bad_digest(built: Built) -> None:
    binary = lief.PE.parse(list(built.signed))
    assert binary is not None
    text = binary.get_section(".text")
    assert text is not None
    tampered = bytearray(built.signed)
    tampered[text.offset + 16] ^= 0xFF
    result = inspect_pe(bytes(tampered), source="winword.exe")
    assert result.signed
    assert not result.digest_ok
    assert not result.signature_ok
    assert not result.intact
    assert result.flags == "BAD_DIGEST|BAD_SIGNATURE"
    assert result.signer_subject == built.kit.leaf.subject


def test_unsigned_pe_is_reported_unsigned(built: Built) -> None:
    result = inspect_pe(built.unsigned, source="winword.exe")
    assert (result.signed, result.digest_ok, result.signature_ok) == (False, False, False)
    assert result.flags == "NO_SIGNATURE"
    assert result.certificates == () and result.signer_subject is None
    signed = inspect_pe(built.signed, source="winword.exe")
    assert result.authentihash_sha256 == signed.authentihash_sha256


def test_tidrone_sideloaded_unsigned_wwlib_next_to_signed_winword_is_reported_unsigned(
    built: Built,
) -> None:
    host = inspect_pe(built.signed, source="C:/ERP/winword.exe")
    dll = inspect_pe(built.wwlib, source="C:/ERP/wwlib.dll")
    assert host.intact and host.signer_subject == built.kit.leaf.subject
    assert not dll.signed
    assert dll.signer_subject is None
    assert dll.flags == "NO_SIGNATURE"


@pytest.mark.parametrize(
    "data",
    [b"", b"not a program", b"MZ", b"MZ" + b"\x00" * 200, b"\x7fELF\x02\x01\x01" + b"\x00" * 100],
)
def test_non_pe_bytes_are_invalid_input(data: bytes) -> None:
    with pytest.raises(InvalidInput) as caught:
        inspect_pe(data, source="upload.bin")
    assert caught.value.location.file == "upload.bin"


def test_truncated_signed_pe_is_a_result_or_invalid_input(built: Built) -> None:
    for cut in (len(built.signed) - 100, len(built.signed) // 2, 1024):
        try:
            result = inspect_pe(built.signed[:cut], source="cut.exe")
        except InvalidInput:
            continue
        assert not result.intact


def test_order_chain_puts_the_leaf_first_then_its_issuers() -> None:
    kit = pki()
    assert order_chain(kit.leaf.cert, [kit.root.cert, kit.intermediate.cert, kit.leaf.cert]) == (
        kit.leaf.cert,
        kit.intermediate.cert,
        kit.root.cert,
    )


# --- unauthenticated bytes and weak digests (CVE-2013-3900, the 3CX d3dcompiler_47.dll) ------

PAYLOAD = b"ENCRYPTED-SHELLCODE-" * 4  # 80 bytes: a multiple of 8, as a WIN_CERTIFICATE needs


def _security_entry(pe: bytes | bytearray) -> tuple[int, int, int]:
    """(offset of the security directory entry, its table's file offset, its size)."""
    header = struct.unpack_from("<I", pe, 0x3C)[0]
    optional = header + 24
    plus = struct.unpack_from("<H", pe, optional)[0] == 0x20B
    entry = optional + (112 if plus else 96) + 4 * 8
    offset, size = struct.unpack_from("<II", pe, entry)
    return entry, offset, size


def _grow_table(pe: bytes, extra: bytes, *, grow_entry: bool) -> bytes:
    """``pe`` with ``extra`` appended inside its certificate table, the table size grown."""
    out = bytearray(pe + extra)
    entry, offset, size = _security_entry(out)
    struct.pack_into("<II", out, entry, offset, size + len(extra))
    if grow_entry:
        (length,) = struct.unpack_from("<I", out, offset)
        struct.pack_into("<I", out, offset, length + len(extra))
    return bytes(out)


def test_payload_hidden_in_the_padding_of_the_signature_entry_is_not_intact(built: Built) -> None:
    # What the 3CX attack shipped: a validly signed DLL whose WIN_CERTIFICATE was lengthened
    # to carry an encrypted payload that the Authenticode digest does not cover.
    result = inspect_pe(_grow_table(built.signed, PAYLOAD, grow_entry=True), source="wwlib.dll")
    assert not result.digest_ok and not result.intact
    assert "UNAUTHENTICATED_DATA" in result.flags


def test_payload_in_a_second_certificate_table_entry_is_not_intact(built: Built) -> None:
    entry = struct.pack("<IHH", 8 + len(PAYLOAD), 0x0200, 0x0002) + PAYLOAD
    result = inspect_pe(_grow_table(built.signed, entry, grow_entry=False), source="wwlib.dll")
    assert not result.digest_ok and not result.intact
    assert "UNAUTHENTICATED_DATA" in result.flags


def test_payload_in_slack_after_the_signature_entry_is_not_intact(built: Built) -> None:
    result = inspect_pe(_grow_table(built.signed, PAYLOAD, grow_entry=False), source="wwlib.dll")
    assert not result.digest_ok and not result.intact
    assert "UNAUTHENTICATED_DATA" in result.flags


def test_payload_appended_after_the_certificate_table_is_not_intact(built: Built) -> None:
    result = inspect_pe(built.signed + PAYLOAD, source="wwlib.dll")
    assert not result.digest_ok and not result.intact


def test_truncated_certificate_table_is_not_intact(built: Built) -> None:
    out = bytearray(built.signed)
    entry, offset, size = _security_entry(out)
    struct.pack_into("<II", out, entry, offset, size + 64)  # claims bytes beyond the file
    try:
        result = inspect_pe(bytes(out), source="cut.exe")
    except InvalidInput:
        return
    assert not result.intact


@pytest.mark.parametrize("digest", ["md5", "sha1"])
def test_pe_signed_with_a_collision_prone_digest_is_not_intact(
    built: Built, tmp_path: Path, digest: str
) -> None:
    # A chosen-prefix collision on MD5 (or SHA-1) lets a signature made over one file's
    # authentihash be moved onto another file: the digest proves nothing.
    _, sign = tools()
    source, certs, key = tmp_path / "in.exe", tmp_path / "certs.pem", tmp_path / "key.pem"
    source.write_bytes(built.unsigned)
    certs.write_bytes(built.kit.leaf.cert_pem() + built.kit.intermediate.cert_pem())
    key.write_bytes(built.kit.leaf.key_pem())
    out = tmp_path / "out.exe"
    subprocess.run(
        [sign, "sign", "-certs", str(certs), "-key", str(key), "-h", digest,
         "-in", str(source), "-out", str(out)],
        check=True, capture_output=True,
    )  # fmt: skip
    result = inspect_pe(out.read_bytes(), source="old.exe")
    assert result.signed and not result.digest_ok and not result.intact
    assert "WEAK_DIGEST" in result.flags


# --- unauthenticated attributes: the same unsigned bytes, inside the PKCS#7 blob --------------


def _osslsigncode(tmp_path: Path, *args: str, source: bytes) -> bytes:
    """``osslsigncode`` run on ``source`` with ``args``; the bytes it wrote."""
    _, tool = tools()
    given, out = tmp_path / "in.exe", tmp_path / "out.exe"
    given.write_bytes(source)
    out.unlink(missing_ok=True)
    subprocess.run([tool, *args, "-in", str(given), "-out", str(out)], capture_output=True)
    if not out.exists():
        pytest.fail(f"osslsigncode {args[0]} wrote nothing")
    return out.read_bytes()


def _sign(tmp_path: Path, built: Built, source: bytes, digest: str, *, nest: bool) -> bytes:
    """``source`` signed by the test leaf (``nest``: as a second signature, nested)."""
    certs, key = tmp_path / "certs.pem", tmp_path / "key.pem"
    certs.write_bytes(built.kit.leaf.cert_pem() + built.kit.intermediate.cert_pem())
    key.write_bytes(built.kit.leaf.key_pem())
    how = ("sign", "-nest") if nest else ("sign",)
    return _osslsigncode(
        tmp_path, *how, "-certs", str(certs), "-key", str(key), "-h", digest, source=source
    )


def _nest(tmp_path: Path, built: Built, digest: str) -> bytes:
    """``built.signed`` with a second signature by the leaf nested in its signer's attributes."""
    return _sign(tmp_path, built, built.signed, digest, nest=True)


def test_payload_in_an_unauthenticated_attribute_of_the_signer_is_not_intact(
    built: Built, tmp_path: Path
) -> None:
    # "Authenticode stuffing": an attribute of any OID in the signer's unauthenticated set is
    # covered by neither the file digest nor the signature, like the 3CX padding.
    stuffed = _osslsigncode(tmp_path, "add", "-addUnauthenticatedBlob", source=built.signed)
    result = inspect_pe(stuffed, source="wwlib.dll")
    assert result.signed and not result.digest_ok and not result.intact
    assert "UNAUTHENTICATED_DATA" in result.flags
    assert any("unauthenticated attribute" in note for note in result.notes)


def test_nested_signature_copied_from_another_file_is_not_intact(
    built: Built, tmp_path: Path
) -> None:
    # A nested signature whose digest is another file's is bytes carried along, not a
    # signature of this file: it can hold anything.
    other_file = _sign(tmp_path, built, built.wwlib, "sha256", nest=False)
    other = _osslsigncode(tmp_path, "extract-signature", source=other_file)
    (tmp_path / "other.sig").write_bytes(other)
    carried = _osslsigncode(
        tmp_path, "attach-signature", "-nest", "-sigin", str(tmp_path / "other.sig"),
        source=built.signed,
    )  # fmt: skip
    result = inspect_pe(carried, source="wwlib.dll")
    assert result.signed and not result.digest_ok and not result.intact
    assert "UNAUTHENTICATED_DATA" in result.flags
    assert any("nested signature" in note for note in result.notes)


def test_nested_signature_with_a_collision_prone_digest_is_not_intact(
    built: Built, tmp_path: Path
) -> None:
    result = inspect_pe(_nest(tmp_path, built, "sha1"), source="winword.exe")
    assert not result.digest_ok and not result.intact
    assert "WEAK_DIGEST" in result.flags


def test_a_valid_nested_signature_and_a_timestamp_keep_a_signed_pe_intact(
    built: Built, tmp_path: Path
) -> None:
    # What real dual-signed, timestamped Windows binaries carry must still verify.
    tsa_root = issue("CN=Maat Test TSA Root", ca=True, key=new_key("rsa2048"))
    tsa = issue(
        "CN=Maat Test TSA", issuer=tsa_root, key=new_key("rsa2048"), eku=None,
        extra=[(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), True)],
    )  # fmt: skip
    (tmp_path / "tsa.pem").write_bytes(tsa.cert_pem() + tsa_root.cert_pem())
    (tmp_path / "tsa.key").write_bytes(tsa.key_pem())
    nested = _nest(tmp_path, built, "sha384")
    stamped = _osslsigncode(
        tmp_path, "sign", "-nest", "-certs", str(tmp_path / "certs.pem"),
        "-key", str(tmp_path / "key.pem"), "-h", "sha256",
        "-TSA-certs", str(tmp_path / "tsa.pem"), "-TSA-key", str(tmp_path / "tsa.key"),
        "-TSA-time", str(int(NOW.timestamp())), source=nested,
    )  # fmt: skip
    for data in (nested, stamped):
        result = inspect_pe(data, source="winword.exe")
        assert result.intact and result.flags == "OK", (result.flags, result.notes)
        assert result.certificates == (built.kit.leaf.cert, built.kit.intermediate.cert)

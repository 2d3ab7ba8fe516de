"""`maat verify` on Windows PEs: Authenticode checked against Maat's trust roots and revocation
records. The TIDRONE side-load: an unsigned wwlib.dll beside a signed winword.exe."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from maat.services import revocation, signing
from maat.services.platform import Platform
from maat.signing.crl import RevokedEntry, build_crl
from maat.signing.x509build import software_key
from maat_testkit import FakeClock
from signing_kit import pki

HERE = Path(__file__).resolve().parents[1] / "signing"


@pytest.fixture(scope="module")
def pe_kit(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, bytes, bytes]:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "authenticode_tests", HERE / "test_authenticode.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    gcc, sign = module.tools()
    folder = tmp_path_factory.mktemp("pe")
    kit = pki(leaf_key="rsa2048", leaf_subject="CN=Microsoft Office Test Signing,O=Maat Test")
    exe = module.compile_pe(gcc, folder, "winword.exe", module.MAIN_C)
    dll = module.compile_pe(gcc, folder, "wwlib.dll", module.DLL_C, shared=True)
    return kit, module.sign_pe(sign, folder, exe, kit.leaf, [kit.intermediate]), dll.read_bytes()


def _trust(platform: Platform, kit: object) -> None:
    pem = serialization.Encoding.PEM
    k: Any = kit
    revocation.import_certificate(
        platform, "test", k.root.cert.public_bytes(pem), role="trusted-root"
    )
    revocation.import_certificate(platform, "test", k.intermediate.cert.public_bytes(pem))
    now = platform.now()
    # Hard revocation mode needs an answer for the intermediate too: the root's CRL.
    root_crl = build_crl(
        k.root.cert,
        software_key(k.root.key),
        [],
        this_update=now,
        next_update=now + timedelta(days=7),
        number=1,
    )
    revocation.import_crl(
        platform, "test", root_crl.public_bytes(serialization.Encoding.DER), source="root.crl"
    )


def test_signed_winword_verifies_and_sideloaded_unsigned_wwlib_is_refused(
    platform: Platform, clock: FakeClock, pe_kit: tuple[object, bytes, bytes]
) -> None:
    kit, winword, wwlib = pe_kit
    _trust(platform, kit)
    crl = build_crl(
        kit.intermediate.cert,
        software_key(kit.intermediate.key),
        [],  # type: ignore[attr-defined]
        this_update=clock.current,
        next_update=clock.current + timedelta(days=7),
        number=1,
    )
    revocation.import_crl(
        platform, "test", crl.public_bytes(serialization.Encoding.DER), source="ca.crl"
    )
    assert signing.verify_pe(platform, winword, name="winword.exe").passed
    refused = signing.verify_pe(platform, wwlib, name="wwlib.dll")
    assert not refused.passed
    assert refused.steps[0].detail == "the file is not signed"


def test_tampered_or_revoked_pe_is_refused(
    platform: Platform, clock: FakeClock, pe_kit: tuple[object, bytes, bytes]
) -> None:
    kit, winword, _ = pe_kit
    _trust(platform, kit)
    tampered = bytearray(winword)
    tampered[0x400] ^= 0xFF
    verdict = signing.verify_pe(platform, bytes(tampered), name="winword.exe")
    assert not verdict.passed
    assert not verdict.steps[0].passed
    crl = build_crl(
        kit.intermediate.cert,
        software_key(kit.intermediate.key),  # type: ignore[attr-defined]
        [
            RevokedEntry(
                kit.leaf.cert.serial_number,
                clock.current - timedelta(hours=1),  # type: ignore[attr-defined]
                x509.ReasonFlags.key_compromise,
            )
        ],
        this_update=clock.current,
        next_update=clock.current + timedelta(days=7),
        number=2,
    )
    revocation.import_crl(
        platform, "test", crl.public_bytes(serialization.Encoding.DER), source="ca.crl"
    )
    revoked = signing.verify_pe(platform, winword, name="winword.exe")
    assert not revoked.passed
    assert "revoked" in revoked.steps[-1].detail

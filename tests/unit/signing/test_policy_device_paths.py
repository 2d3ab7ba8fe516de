"""Win32 device-path prefixes must not move a file out of a deny_path rule's reach."""

from __future__ import annotations

import pytest

from maat.signing.policy import AllowPublisher, DenyPath, ExecPolicy, Sighting, decide, path_matches

ACME = "CN=Acme ERP Code Signing,O=Acme Software,C=TW"


@pytest.mark.parametrize(
    "path",
    [
        "\\\\?\\C:\\Users\\Public\\wwlib.dll",
        "\\\\.\\C:\\Users\\Public\\wwlib.dll",
        "\\??\\C:\\Users\\Public\\wwlib.dll",
        "//?/c:/users/public/WWLIB.DLL",
    ],
)
def test_a_device_path_prefix_does_not_evade_a_deny_path_rule(path: str) -> None:
    assert path_matches("C:/Users/**", path)
    policy = ExecPolicy(
        "erp", 1, "enforce",
        (DenyPath("C:/Users/**"), AllowPublisher(ACME)),
        ("*",),
    )  # fmt: skip
    sighting = Sighting(
        sha256="ab" * 32, path=path, signer_subject=ACME, signer_issuer=None,
        signature_valid=True, revoked=False, product=None, version=None, host_group="erp",
    )  # fmt: skip
    assert decide([policy], sighting).action == "block"


def test_a_unc_device_path_is_the_unc_path() -> None:
    assert path_matches("//fileserver/share/**", "\\\\?\\UNC\\fileserver\\share\\x.exe")
    assert not path_matches("C:/Users/**", "\\\\?\\UNC\\fileserver\\C:\\Users\\x.exe")

"""Win32 device-path prefixes must not move a file out of a deny_path rule's reach."""

from __future__ import annotations

import pytest

from maat.signing.policy import (
    AllowPath,
    AllowPublisher,
    DenyPath,
    ExecPolicy,
    Sighting,
    decide,
    path_matches,
)

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


def _decide(path: str, *rules: DenyPath | AllowPublisher | AllowPath) -> str:
    policy = ExecPolicy("erp", 1, "enforce", rules, ("*",))
    sighting = Sighting(
        sha256="ab" * 32, path=path, signer_subject=ACME, signer_issuer=None,
        signature_valid=True, revoked=False, product=None, version=None, host_group="erp",
    )  # fmt: skip
    return decide([policy], sighting).action


@pytest.mark.parametrize(
    "path",
    [
        "\\\\?\\GLOBALROOT\\??\\C:\\Users\\Public\\wwlib.dll",
        "\\\\.\\globalroot\\GLOBAL??\\c:\\users\\public\\wwlib.dll",
        "//?/GlobalRoot/DosDevices/C:/Users/Public/wwlib.dll",
        "\\\\?\\Global\\C:\\Users\\Public\\wwlib.dll",
        "\\GLOBAL??\\C:\\Users\\Public\\wwlib.dll",
        "\\DosDevices\\C:\\Users\\Public\\wwlib.dll",
        "\\??\\GLOBALROOT\\GLOBAL??\\Global\\C:\\Users\\Public\\wwlib.dll",
    ],
)
def test_an_nt_alias_of_the_drive_does_not_evade_a_deny_path_rule(path: str) -> None:
    # \\?\GLOBALROOT leads back to the object manager's root, whose \??, \GLOBAL?? and
    # \DosDevices (and GLOBAL??'s "Global" link) hold the same drive letters.
    assert path_matches("C:/Users/**", path)
    assert _decide(path, DenyPath("C:/Users/**"), AllowPublisher(ACME)) == "block"


@pytest.mark.parametrize(
    "path",
    [
        "\\\\?\\GLOBALROOT\\Device\\HarddiskVolume3\\Users\\Public\\wwlib.dll",
        "\\\\.\\GLOBALROOT\\Device\\HarddiskVolume3\\Users\\Public\\wwlib.dll",
        "\\\\?\\Volume{3f8a0c1e-0000-0000-0000-100000000000}\\Users\\Public\\wwlib.dll",
        "\\Device\\HarddiskVolume3\\Users\\Public\\wwlib.dll",
        "\\\\?\\HarddiskVolume3\\Users\\Public\\wwlib.dll",
    ],
)
def test_a_volume_device_path_the_rules_cannot_place_is_denied_by_a_deny_path_rule(
    path: str,
) -> None:
    # Which drive a volume is depends on the host: a deny_path rule cannot tell whether the
    # file is inside its folder, so it denies (fail closed), and no allow_path admits it.
    assert _decide(path, DenyPath("C:/Users/**"), AllowPublisher(ACME)) == "block"
    assert _decide(path, AllowPath("**")) == "block"
    assert _decide(path, AllowPublisher(ACME)) == "run"  # no path rule: nothing to evade

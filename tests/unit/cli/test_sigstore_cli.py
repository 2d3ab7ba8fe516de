"""``maat verify --sigstore``: an identity policy is required, waived only by a loud flag."""

from __future__ import annotations

from pathlib import Path

import pytest

from maat.cli.main import run
from maat.errors import UnsafeOptionWarning

ASSETS = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "sigstore-conformance"
HAPPY = ASSETS / "test" / "assets" / "bundle-verify" / "happy-path-v0.3"
IDENTITY = (
    "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/"
    ".github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
)
ISSUER = "https://token.actions.githubusercontent.com"


def _happy_inputs() -> tuple[Path, Path, Path]:
    """(artifact, bundle, trusted root) of the conformance happy path, or skip."""
    pytest.importorskip("sigstore")
    import importlib.resources

    bundle = HAPPY / "bundle.sigstore.json"
    if not bundle.is_file():
        pytest.skip(f"sigstore-conformance data is absent ({HAPPY})")
    store = importlib.resources.files("sigstore") / "_store"
    root = store / "https%3A%2F%2Ftuf-repo-cdn.sigstore.dev" / "trusted_root.json"
    return HAPPY.parent.parent / "a.txt", bundle, Path(str(root))


def _verify(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(["verify", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    "policy", [[], ["--issuer", ISSUER], ["--identity", IDENTITY]], ids=["none", "issuer", "id"]
)
def test_sigstore_bundle_signed_by_anyone_is_refused_without_identity_and_issuer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], policy: list[str]
) -> None:
    """Any account at any OIDC provider gets a Fulcio certificate: without --identity and
    --issuer an attacker's logged signature would verify."""
    for name in ("tool", "tool.sigstore.json", "root.json"):
        (tmp_path / name).write_bytes(b"{}")
    code, _, err = _verify(
        capsys, str(tmp_path / "tool"), "--sigstore", str(tmp_path / "tool.sigstore.json"),
        "--trusted-root", str(tmp_path / "root.json"), *policy,
    )  # fmt: skip
    assert code == 1
    assert "required" in err
    assert "--unsafe-any-identity" in err


def test_sigstore_unsafe_any_identity_warns_and_says_identity_unchecked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    artifact, bundle, root = _happy_inputs()
    with pytest.warns(UnsafeOptionWarning, match="unsafe_any_identity"):
        code, out, _ = _verify(
            capsys, str(artifact), "--sigstore", str(bundle), "--trusted-root", str(root),
            "--unsafe-any-identity",
        )  # fmt: skip
    assert code == 0
    assert "NOT checked" in out


def test_sigstore_identity_and_issuer_verify(capsys: pytest.CaptureFixture[str]) -> None:
    artifact, bundle, root = _happy_inputs()
    code, out, _ = _verify(
        capsys, str(artifact), "--sigstore", str(bundle), "--trusted-root", str(root),
        "--identity", IDENTITY, "--issuer", ISSUER,
    )  # fmt: skip
    assert code == 0
    assert "verified" in out and "NOT checked" not in out

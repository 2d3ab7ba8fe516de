"""Inventory kinds: detection, limits, robustness, and this machine's own dpkg database."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maat.errors import InvalidInput, Problem
from maat.vulns.distros import parse_os_release
from maat.vulns.inventory import KINDS, Inventory, detect_inventory_kind, parse_inventory

HERE = Path(__file__).parent


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_samples_{name}", HERE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


OS = _load("test_inventory_os")
LANG = _load("test_inventory_lang")

SAMPLES: list[tuple[str, bytes, str]] = [
    ("dpkg default", OS.DPKG_DEFAULT, "dpkg"),
    ("dpkg with source", OS.DPKG_WITH_SOURCE, "dpkg"),
    ("dpkg status", OS.DPKG_STATUS, "dpkg"),
    ("rpm -qa", OS.RPM_QA, "rpm"),
    ("rpm --qf", OS.RPM_QF, "rpm"),
    ("apk info -v", OS.APK_INFO, "apk"),
    ("apk list", b"musl-1.2.4_git20230717-r4 x86_64 {musl} (MIT) [installed]\n", "apk"),
    ("apk db", b"C:Q1abc=\nP:musl\nV:1.2.4-r2\nA:x86_64\n", "apk"),
    ("pip json", LANG.PIP_JSON, "pip"),
    ("pip columns", b"Package Version\n------- -------\npip 23.3.1\n", "pip"),
    ("requirements", LANG.REQUIREMENTS, "requirements"),
    ("pip freeze", b"certifi==2024.2.2\nidna==3.6\nrequests==2.31.0\n", "requirements"),
    ("lock v3", LANG.LOCK_V3, "npm"),
    ("lock v1", LANG.LOCK_V1, "npm"),
    ("go.mod", LANG.GO_MOD, "gomod"),
    ("go.sum", LANG.GO_SUM, "gosum"),
]


@pytest.mark.parametrize(("label", "data", "kind"), SAMPLES, ids=[s[0] for s in SAMPLES])
def test_detects_each_kind_from_content(label: str, data: bytes, kind: str) -> None:
    assert detect_inventory_kind(data, "upload.bin") == kind


@pytest.mark.parametrize(
    ("source", "kind"),
    [
        ("/srv/app/package-lock.json", "npm"),
        ("npm-shrinkwrap.json", "npm"),
        ("C:\\src\\svc\\go.mod", "gomod"),
        ("svc/go.sum", "gosum"),
        ("requirements-dev.txt", "requirements"),
        ("constraints.txt", "requirements"),
    ],
)
def test_detects_lock_files_by_name(source: str, kind: str) -> None:
    assert detect_inventory_kind(b"anything", source) == kind


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty input"),
        (b"   \n\n", "empty input"),
        (b"hello world, this is prose.\nNot an inventory at all!\n", "cannot tell"),
        (b'{"some": "json"}', "neither a package-lock.json"),
        (b'ID=debian\nVERSION_ID="12"\n', "os-release file"),
    ],
)
def test_unknown_content_names_what_was_expected(data: bytes, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as info:
        parse_inventory(data, source="mystery.txt")
    assert info.value.location.file == "mystery.txt"
    if message == "cannot tell":
        assert "dpkg-query -W" in info.value.message and "package-lock.json" in info.value.message
        assert "kind=" in (info.value.hint or "")


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(InvalidInput, match="unknown inventory kind 'yum'") as info:
        parse_inventory(b"x", source="s", kind="yum")
    assert info.value.location.field == "kind"


def test_limits_are_clear() -> None:
    with pytest.raises(InvalidInput, match="more than the limit of 10") as info:
        parse_inventory(OS.DPKG_DEFAULT, source="big.txt", kind="dpkg", max_bytes=10)
    assert "max_bytes" in (info.value.hint or "")
    with pytest.raises(InvalidInput, match="more than 3 packages") as info:
        parse_inventory(
            LANG.GO_SUM + b"a.b/c v1.0.0 h1:x\na.b/d v1.0.0 h1:x\n", source="go.sum", max_packages=3
        )
    assert "max_packages" in (info.value.hint or "")
    inventory = parse_inventory(LANG.GO_SUM, source="go.sum", max_packages=2)
    assert len(inventory.packages) == 2


def test_problems_are_capped_but_counted() -> None:
    data = b"\n".join(b"!bad line %d" % i for i in range(1_500))
    inventory = parse_inventory(data, source="bad.txt", kind="requirements")
    assert len(inventory.problems) == 1_001
    assert inventory.problems[-1].message == "500 more problems not listed"


def test_one_bad_line_among_good_ones_is_kept_as_a_problem() -> None:
    data = b"musl-1.2.4-r2\nbusybox-1.36.1-r15\n\xff\xfe not utf-8\nzlib-1.3.1-r0\nnonsense\n"
    inventory = parse_inventory(data, source="apk.txt", kind="apk", os_release=OS.ALPINE_319)
    assert [p.name for p in inventory.packages] == ["musl", "busybox", "zlib"]
    assert [p.location.line for p in inventory.packages] == [1, 2, 4]
    assert [(p.location.file, p.location.line) for p in inventory.problems] == [
        ("apk.txt", 3),
        ("apk.txt", 5),
        ("apk.txt", None),  # apk info -v names no origin packages
    ]
    assert "UTF-8" in inventory.problems[0].message


def test_language_kinds_ignore_but_keep_the_os_release() -> None:
    release = parse_os_release("ID=debian\nVERSION_ID=12\n")
    inventory = parse_inventory(LANG.GO_SUM, source="go.sum", os_release=release)
    assert inventory.os_release is release
    assert {p.ecosystem for p in inventory.packages} == {"Go"}


def test_crlf_and_bom_are_accepted() -> None:
    data = b"\xef\xbb\xbfDjango==4.2.11\r\nidna==3.6\r\n"
    inventory = parse_inventory(data, source="requirements.txt")
    assert [(p.name, p.version) for p in inventory.packages] == [
        ("django", "4.2.11"),
        ("idna", "3.6"),
    ]
    lock = b"\xef\xbb\xbf" + LANG.LOCK_V1
    assert len(parse_inventory(lock, source="package-lock.json").packages) == 6


# --------------------------------------------------------------------------------------------
# Fuzzing: any bytes give an Inventory (with problems) or InvalidInput, nothing else.
# --------------------------------------------------------------------------------------------

FRAGMENTS = [
    b"\n",
    b"\t",
    b" ",
    b"\r",
    b"#",
    b"\\",
    b'"',
    b"{",
    b"}",
    b"[",
    b"]",
    b":",
    b"=",
    b"==",
    b";",
    b"@",
    b"(",
    b")",
    b"//",
    b"=>",
    b"-r",
    b"--hash=sha256:ab",
    b"1:",
    b"-r0",
    b"v1.2.3",
    b"1.0",
    b"x86_64",
    b"amd64",
    b"noarch",
    b"node_modules/",
    b"@scope/",
    b"Package: ",
    b"Version: ",
    b"Status: install ok installed",
    b"P:",
    b"V:",
    b"require",
    b"replace",
    b"module",
    b"(none)",
    b"gpg-pubkey-",
    b"lockfileVersion",
    b'"packages"',
    b'"dependencies"',
    b'"version"',
    b"npm:",
    b"\xff",
    b"\x00",
    b"\xc3\xa9",
    b"openssl-libs",
    b"musl",
    b"h1:",
    b"/go.mod",
    b"{x}",
    b"[installed]",
]

KIND_OR_AUTO = st.sampled_from([None, *KINDS])


def _check(inventory: Inventory) -> None:
    assert inventory.kind in KINDS
    for package in inventory.packages:
        assert package.name
        assert package.version
        assert package.location.file == "fuzz"
    for problem in inventory.problems:
        assert isinstance(problem, Problem)
        assert problem.message


def _run(data: bytes, kind: str | None, with_release: bool) -> None:
    release = parse_os_release("ID=debian\nVERSION_ID=12\n") if with_release else None
    try:
        inventory = parse_inventory(data, source="fuzz", kind=kind, os_release=release)
    except InvalidInput as exc:
        message = exc.message
    else:
        _check(inventory)
        return
    assert message


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600), KIND_OR_AUTO)
def test_fuzz_arbitrary_bytes(data: bytes, kind: str | None) -> None:
    _run(data, kind, with_release=False)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.sampled_from(FRAGMENTS) | st.binary(max_size=8), max_size=60).map(b"".join),
    KIND_OR_AUTO,
    st.booleans(),
)
def test_fuzz_inventory_like_bytes(data: bytes, kind: str | None, with_release: bool) -> None:
    _run(data, kind, with_release)


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=12),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(
                st.sampled_from(
                    [
                        "",
                        "node_modules/a",
                        "node_modules/@s/b",
                        "packages/x",
                        "version",
                        "name",
                        "dependencies",
                        "packages",
                        "lockfileVersion",
                        "link",
                        "a",
                    ]
                )
                | st.text(max_size=8),
                children,
                max_size=5,
            )
        ),
        max_leaves=30,
    ),
    st.sampled_from(["npm", "pip", None]),
)
def test_fuzz_json_documents(document: object, kind: str | None) -> None:
    import orjson

    _run(orjson.dumps(document), kind, with_release=False)


# --------------------------------------------------------------------------------------------
# This machine
# --------------------------------------------------------------------------------------------


def test_this_machines_dpkg_inventory() -> None:
    dpkg_query = shutil.which("dpkg-query")
    os_release_path = Path("/etc/os-release")
    if dpkg_query is None or not os_release_path.is_file():
        pytest.skip("needs dpkg-query and /etc/os-release (a Debian-family machine)")
    release = parse_os_release(os_release_path.read_text(encoding="utf-8"))
    listing = subprocess.run(
        [dpkg_query, "-W", "-f", "${Package}\t${Version}\t${Architecture}\t${source:Package}\n"],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    if not listing.strip():
        pytest.skip("dpkg database is empty")
    assert detect_inventory_kind(listing, "dpkg-query") == "dpkg"
    inventory = parse_inventory(listing, source="dpkg-query", os_release=release)
    assert inventory.packages
    assert all(p.purl is not None for p in inventory.packages)
    if release.id in ("debian", "ubuntu"):
        assert inventory.problems == ()
        assert {p.ecosystem for p in inventory.packages} == {inventory.packages[0].ecosystem}
        assert inventory.packages[0].ecosystem.startswith(("Debian:", "Ubuntu:"))
    status = Path("/var/lib/dpkg/status")
    if status.is_file():
        from_status = parse_inventory(status.read_bytes(), source=str(status), os_release=release)
        assert {(p.name, p.version) for p in from_status.packages} >= {
            (p.name, p.version) for p in inventory.packages if p.version
        } - {(p.name, p.version) for p in inventory.packages if p.name.startswith("linux-image")}

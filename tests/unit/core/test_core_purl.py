"""Tests for maat.core.purl."""

from __future__ import annotations

import pytest

from maat.core.purl import Purl
from maat.errors import InvalidInput


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("pkg:PYPI/Django_Rest@1.0", "pkg:pypi/django-rest@1.0"),
        ("pkg:maven/org.apache.commons/io@1.3.4", "pkg:maven/org.apache.commons/io@1.3.4"),
        (
            "pkg:deb/Debian/Curl@7.50.3-1?distro=jessie&arch=i386",
            "pkg:deb/debian/curl@7.50.3-1?arch=i386&distro=jessie",
        ),
        (
            "pkg:golang/github.com/gorilla/context@234fd47e07d1004f0aed9c",
            "pkg:golang/github.com/gorilla/context@234fd47e07d1004f0aed9c",
        ),
        ("pkg:npm/%40angular/animation@12.3.1", "pkg:npm/%40angular/animation@12.3.1"),
        ("pkg:npm/@angular/animation@12.3.1", "pkg:npm/%40angular/animation@12.3.1"),
        (
            "pkg:GitHub/Package-URL/purl-spec@244fd47e07d1004f0aed9c",
            "pkg:github/package-url/purl-spec@244fd47e07d1004f0aed9c",
        ),
        ("pkg:rpm/RedHat/openssl@1.0?Epoch=1", "pkg:rpm/redhat/openssl@1.0?epoch=1"),
        ("pkg:pypi/foo@1#/sub/../x", "pkg:pypi/foo@1#sub/x"),
        ("pkg:pypi/foo@1?empty=", "pkg:pypi/foo@1"),
        ("pkg:cargo/rand@0.7.2", "pkg:cargo/rand@0.7.2"),
        (
            "  pkg:gem/jruby-launcher@1.1.2?platform=java ",
            "pkg:gem/jruby-launcher@1.1.2?platform=java",
        ),
    ],
)
def test_parse_normalises(text: str, canonical: str) -> None:
    purl = Purl.parse(text)
    assert str(purl) == canonical
    assert Purl.parse(str(purl)) == purl


def test_components_are_exposed() -> None:
    purl = Purl.parse("pkg:deb/debian/curl@7.50.3-1?arch=i386&distro=jessie")
    assert purl.type == "deb"
    assert purl.namespace == "debian"
    assert purl.name == "curl"
    assert purl.version == "7.50.3-1"
    assert purl.qualifiers == (("arch", "i386"), ("distro", "jessie"))
    assert purl.qualifier_map["arch"] == "i386"
    assert purl.qualifier("distro") == "jessie"
    assert purl.qualifier("nope") is None
    assert purl.subpath is None


def test_qualifier_map_is_read_only() -> None:
    purl = Purl.parse("pkg:deb/debian/curl?arch=i386")
    with pytest.raises(TypeError):
        purl.qualifier_map["arch"] = "x"  # type: ignore[index]


def test_without_version() -> None:
    purl = Purl.parse("pkg:deb/debian/curl@7.50.3-1?arch=i386")
    bare = purl.without_version()
    assert bare.version is None
    assert str(bare) == "pkg:deb/debian/curl?arch=i386"
    assert purl.without_version() == bare


@pytest.mark.parametrize(
    ("text", "ecosystem"),
    [
        ("pkg:pypi/django@4.2", "PyPI"),
        ("pkg:npm/lodash@4.17.21", "npm"),
        ("pkg:golang/github.com/gorilla/mux@v1.8.0", "Go"),
        ("pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1", "Maven"),
        ("pkg:cargo/serde@1.0.0", "crates.io"),
        ("pkg:gem/rails@7.0.0", "RubyGems"),
        ("pkg:nuget/Newtonsoft.Json@13.0.1", "NuGet"),
        ("pkg:composer/laravel/framework@10.0.0", "Packagist"),
        ("pkg:deb/debian/openssl@3.0.11-1", "Debian"),
        ("pkg:deb/ubuntu/openssl@3.0.2", "Ubuntu"),
        ("pkg:deb/kali/openssl@3.0.2", None),
        ("pkg:apk/alpine/busybox@1.36.1-r2", "Alpine"),
        ("pkg:rpm/redhat/openssl@3.0.7", "Red Hat"),
        ("pkg:rpm/rocky-linux/openssl@3.0.7", "Rocky Linux"),
        ("pkg:rpm/almalinux/openssl@3.0.7", "AlmaLinux"),
        ("pkg:rpm/opensuse/openssl@3.0.7", "openSUSE"),
        ("pkg:rpm/suse/openssl@3.0.7", "SUSE"),
        ("pkg:rpm/fedora/openssl@3.0.7", None),
        ("pkg:generic/openssl@3.0.7", None),
    ],
)
def test_ecosystem(text: str, ecosystem: str | None) -> None:
    assert Purl.parse(text).ecosystem == ecosystem


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("pkg:maven/org.apache.commons/io@1", "org.apache.commons:io"),
        ("pkg:npm/%40angular/core@1", "@angular/core"),
        ("pkg:npm/lodash@1", "lodash"),
        ("pkg:golang/github.com/gorilla/mux@v1", "github.com/gorilla/mux"),
        ("pkg:composer/laravel/framework@1", "laravel/framework"),
        ("pkg:deb/debian/curl@1", "curl"),
        ("pkg:pypi/Django@1", "django"),
    ],
)
def test_package_name_as_osv_writes_it(text: str, name: str) -> None:
    assert Purl.parse(text).package_name == name


@pytest.mark.parametrize(
    "text",
    [
        "pkg:",
        "notapurl",
        "pkg:pypi",
        "pkg:pypi/",
        "pkg:pypi/@1.0",
        "pkg:1abc/name",
        "pkg:a+b/name",
        "pkg:maven/commons-io@1",  # maven needs a group
        "pkg:pypi/ns/django@1",  # pypi has no namespace
        "pkg:pypi/foo%2Fbar@1",  # '/' inside the name
        "pkg:pypi/foo?a%20b=c",  # encoded qualifier key
        "pkg:pypi/" + "a" * 5000,
        "",
        None,
        42,
    ],
)
def test_parse_rejects(text: object) -> None:
    with pytest.raises(InvalidInput) as info:
        Purl.parse(text, "components[3].purl", file="sbom.json")
    assert info.value.location.field == "components[3].purl"
    assert info.value.location.file == "sbom.json"
    assert "invalid purl" in info.value.message


def test_reject_gives_reason() -> None:
    with pytest.raises(InvalidInput, match="namespace"):
        Purl.parse("pkg:maven/commons-io@1")


def test_from_parts_normalises_and_equals_parse() -> None:
    built = Purl.from_parts(
        "PyPI", "Django_Rest", version="1.0", qualifiers={"Arch": "x86_64", "empty": ""}
    )
    assert built == Purl.parse("pkg:pypi/django-rest@1.0?arch=x86_64")
    assert built.qualifiers == (("arch", "x86_64"),)


def test_from_parts_rejects_missing_name() -> None:
    with pytest.raises(InvalidInput) as info:
        Purl.from_parts("pypi", "", field="component")
    assert info.value.location.field == "component"


def test_constructor_normalises() -> None:
    assert Purl(type="DEB", namespace="Debian", name="Curl") == Purl.parse("pkg:deb/debian/curl")


def test_purl_is_hashable() -> None:
    assert len({Purl.parse("pkg:pypi/A_b"), Purl.parse("pkg:pypi/a-b")}) == 1


def test_go_standard_library_purl_without_namespace_parses_as_go_stdlib() -> None:
    purl = Purl.parse("pkg:golang/stdlib@1.21.0")  # as syft names the Go standard library
    assert purl.namespace is None
    assert (purl.ecosystem, purl.package_name, purl.version) == ("Go", "stdlib", "1.21.0")
    assert str(purl) == "pkg:golang/stdlib@1.21.0"
    assert Purl.from_parts("golang", "stdlib", version="1.21.0") == purl
    # Other golang purls still need their module path.
    with pytest.raises(InvalidInput, match="requires a namespace"):
        Purl.parse("pkg:golang/mux@1.8.0")

"""Defects found in review: components lost, data changed on a round trip, slow inputs,
format detection fooled. Each test is named after the failure it stops."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest

from maat.errors import InvalidInput
from maat.sbom import dump_sbom, parse_sbom

CDX_NS = "http://cyclonedx.org/schema/bom/1.5"


def cdx(components: list[Any], **extra: Any) -> bytes:
    doc = {"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1, "components": components}
    doc.update(extra)
    return orjson.dumps(doc)


def cdx_xml(body: str) -> bytes:
    return f'<?xml version="1.0"?>\n<bom xmlns="{CDX_NS}" version="1">{body}</bom>\n'.encode()


def messages(data: bytes) -> list[str]:
    return [p.message for p in parse_sbom(data).problems]


def test_a_component_nested_in_a_nameless_metadata_component_is_not_lost() -> None:
    data = cdx(
        [],
        metadata={
            "component": {"bom-ref": "app", "components": [{"name": "evil", "version": "1"}]}
        },
    )
    sbom = parse_sbom(data)
    assert [c.name for c in sbom.components] == ["evil"]
    assert sbom.components[0].location.field == "metadata.component.components[0]"


def test_many_components_without_refs_are_read_in_linear_time() -> None:
    data = cdx([{"name": "a"}] * 20_000)
    started = time.perf_counter()
    sbom = parse_sbom(data)
    assert time.perf_counter() - started < 5
    refs = [c.ref for c in sbom.components]
    assert len(set(refs)) == 20_000
    assert refs[:3] == ["a", "a#2", "a#3"]


def test_many_duplicate_refs_are_read_in_linear_time() -> None:
    data = cdx([{"name": "a", "bom-ref": "x"}] * 20_000)
    started = time.perf_counter()
    sbom = parse_sbom(data)
    assert time.perf_counter() - started < 5
    assert len({c.ref for c in sbom.components}) == 20_000


def test_made_up_refs_never_take_a_ref_written_later_in_the_document() -> None:
    sbom = parse_sbom(cdx([{"name": "a"}, {"name": "a"}, {"name": "b", "bom-ref": "a#2"}]))
    assert [c.ref for c in sbom.components] == ["a", "a#3", "a#2"]


def test_a_second_components_element_in_xml_is_not_lost() -> None:
    data = cdx_xml(
        "<components><component type='library'><name>a</name></component></components>"
        "<components><component type='library'><name>evil</name></component></components>"
    )
    assert [c.name for c in parse_sbom(data).components] == ["a", "evil"]


def test_a_second_nested_components_element_in_xml_is_not_lost() -> None:
    data = cdx_xml(
        "<components><component type='library'><name>a</name>"
        "<components><component type='library'><name>b</name></component></components>"
        "<components><component type='library'><name>evil</name></component></components>"
        "</component></components>"
    )
    sbom = parse_sbom(data)
    assert [(c.name, c.parent) for c in sbom.components] == [
        ("a", None),
        ("b", "a"),
        ("evil", "a"),
    ]


def test_a_second_hashes_element_in_xml_is_not_lost() -> None:
    data = cdx_xml(
        "<components><component type='library'><name>a</name>"
        f"<hashes><hash alg='SHA-1'>{'1' * 40}</hash></hashes>"
        f"<hashes><hash alg='SHA-256'>{'2' * 64}</hash></hashes>"
        "</component></components>"
    )
    assert [h.algorithm for h in parse_sbom(data).components[0].hashes] == ["sha1", "sha256"]


def test_a_comment_inside_an_xml_value_does_not_truncate_it() -> None:
    data = cdx_xml(
        "<components><component type='library'><name>log<!-- x -->4j-core</name>"
        "<version>2.<?pi?>14.1</version>"
        "<purl>pkg:maven/org.apache.logging.log4j/log4j-core@2.<!---->14.1</purl>"
        f"<hashes><hash alg='SHA-1'>{'1' * 20}<!---->{'1' * 20}</hash></hashes>"
        "</component></components>"
    )
    component = parse_sbom(data).components[0]
    assert component.name == "log4j-core"
    assert component.version == "2.14.1"
    assert component.purl is not None and component.purl.version == "2.14.1"
    assert len(component.hashes) == 1


def test_writing_xml_with_many_prolog_comments_is_linear() -> None:
    data = (
        b'<?xml version="1.0" encoding="UTF-8"?>'
        + b"\n<!---->" * 40_000
        + f'<bom xmlns="{CDX_NS}"/>'.encode()
    )
    sbom = parse_sbom(data)
    started = time.perf_counter()
    written = dump_sbom(sbom)
    assert time.perf_counter() - started < 5
    assert written == data + b"\n"


def test_a_version_that_conflicts_with_the_purl_version_is_reported() -> None:
    data = cdx([{"name": "django", "version": "4.2.0", "purl": "pkg:pypi/django@1.0"}])
    problems = parse_sbom(data).problems
    assert len(problems) == 1
    assert "4.2.0" in problems[0].message and "1.0" in problems[0].message
    assert problems[0].location.field == "components[0].version"


def test_an_spdx_version_that_conflicts_with_the_purl_version_is_reported() -> None:
    package = {
        "SPDXID": "SPDXRef-a",
        "name": "a",
        "versionInfo": "2.0",
        "externalRefs": [
            {
                "referenceCategory": "PACKAGE-MANAGER",
                "referenceType": "purl",
                "referenceLocator": "pkg:pypi/a@1.0",
            }
        ],
    }
    doc = {"spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT", "packages": [package]}
    problems = parse_sbom(orjson.dumps(doc)).problems
    assert [p.location.field for p in problems] == ["packages[0].versionInfo"]


def test_a_version_equal_to_the_purl_version_is_not_reported() -> None:
    data = cdx([{"name": "a", "version": "1:2.0", "purl": "pkg:deb/debian/a@1%3A2.0"}])
    assert parse_sbom(data).problems == ()


def test_a_dependency_on_a_component_the_bom_does_not_list_is_reported() -> None:
    data = cdx(
        [{"name": "a", "bom-ref": "a"}],
        dependencies=[{"ref": "a", "dependsOn": ["hidden"]}, {"ref": "ghost"}],
    )
    found = parse_sbom(data).problems
    assert [p.location.field for p in found] == [
        "dependencies[0].dependsOn[0]",
        "dependencies[1].ref",
    ]
    assert "hidden" in found[0].message and "ghost" in found[1].message


@pytest.mark.parametrize(
    "extra",
    [
        {"spdxVersion": "SPDX-2.3", "packages": [{"SPDXID": "SPDXRef-e", "name": "evil"}]},
        {"@context": "https://spdx.org/rdf/3.0.1/spdx-context.jsonld", "@graph": []},
    ],
)
def test_a_json_that_is_both_cyclonedx_and_spdx_is_refused(extra: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput, match="both"):
        parse_sbom(cdx([{"name": "a"}], **extra))


def test_text_after_a_closing_text_tag_survives_a_round_trip() -> None:
    data = (
        b"SPDXVersion: SPDX-2.3\nSPDXID: SPDXRef-DOCUMENT\nPackageName: a\n"
        b"SPDXID: SPDXRef-a\nPackageComment: <text>one\ntwo</text> trailing\n"
    )
    sbom = parse_sbom(data)
    assert dump_sbom(sbom) == data
    assert [(p.location.line, p.location.field) for p in sbom.problems] == [(6, "PackageComment")]


def test_many_nameless_components_are_skipped_in_linear_time() -> None:
    # Dropping a draft searched the list by dataclass equality: 20,000 took minutes.
    data = cdx([{"name": "ok"}] * 5_000 + [{"version": "1"}] * 5_000)
    started = time.perf_counter()
    sbom = parse_sbom(data)
    assert time.perf_counter() - started < 5
    assert len(sbom.components) == 5_000
    assert sum("skipped" in p.message for p in sbom.problems) == 5_000


@pytest.mark.parametrize(
    ("version", "purl"),
    [
        ("1:2.3-4", "pkg:rpm/redhat/a@2.3-4?epoch=1"),  # syft: epoch in the version
        ("0:2.3-4", "pkg:rpm/redhat/a@2.3-4"),  # epoch 0 is no epoch
        ("2.30-2", "pkg:deb/debian/a@1%3A2.30-2"),  # the epoch left out of one side
        ("1:2.30-2", "pkg:deb/debian/a@2.30-2"),
        ("go1.21.0", "pkg:golang/stdlib@1.21.0"),  # syft's Go standard library
        ("V1.0", "pkg:npm/a@1.0"),
        ("1.0+build", "pkg:npm/a@1.0%2Bbuild"),
        ("v0.0.0-20210101000000-abcdefabcdef", "pkg:golang/a.io/b@v0.0.0-20210101000000-abcdefabcdef"),
    ],
)
def test_a_version_equal_to_the_purl_version_but_for_its_spelling_is_not_reported(
    version: str, purl: str
) -> None:
    assert messages(cdx([{"name": "a", "version": version, "purl": purl}])) == []


@pytest.mark.parametrize(
    ("version", "purl"),
    [
        ("2:2.3-4", "pkg:rpm/redhat/a@2.3-4?epoch=1"),
        ("1:2.3-4", "pkg:deb/debian/a@2%3A2.3-4"),
        ("go1.21.0", "pkg:golang/stdlib@1.22.0"),
    ],
)
def test_a_version_differing_from_the_purl_by_epoch_or_number_is_still_reported(
    version: str, purl: str
) -> None:
    assert len(messages(cdx([{"name": "a", "version": version, "purl": purl}]))) == 1


def test_a_made_up_ref_never_takes_a_ref_only_a_dependency_names() -> None:
    # The component has no bom-ref, so nothing can depend on it: a made-up "a" would give it
    # the edges of a dependency on an unlisted "a" and hide that problem.
    data = cdx([{"name": "a"}], dependencies=[{"ref": "a", "dependsOn": ["b"]}])
    sbom = parse_sbom(data)
    assert [c.ref for c in sbom.components] == ["a#2"]
    assert [p.location.field for p in sbom.problems] == [
        "dependencies[0].ref",
        "dependencies[0].dependsOn[0]",
    ]

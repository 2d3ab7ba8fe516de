"""A Debian, Ubuntu or Alpine binary package is matched by its source package and version
(the purl's ``upstream`` qualifier), as distro advisories are filed. A VEX statement names the
binary by its purl, binary version included: ``liblvm2cmd2.03@2.03.16-2+b1``. Compared with
the source version ``2.03.16-2`` the subject is matched by, that statement never applied, so
a not_affected package was still reported as a finding.
"""

from __future__ import annotations

from functools import partial

import orjson

from maat.core.purl import Purl
from maat.vulns.scan import scan
from maat.vulns.subjects import subject_from_purl
from maat.vulns.vex import parse_vex, vex_decision
from vulns_kit import advisory, eco_range, index_of

CVE = "CVE-2024-0001"
BINARY = "pkg:deb/debian/liblvm2cmd2.03@2.03.16-2%2Bb1?arch=amd64&distro=debian-12&upstream=lvm2%402.03.16-2"


def _scan(vex_product: str) -> tuple[int, int]:
    index = index_of(
        advisory(
            "DSA-0001-1",
            "Debian:12",
            "lvm2",
            ranges=[eco_range(("introduced", "0"), ("fixed", "2.03.16-3"))],
            aliases_=[CVE],
        )
    )
    doc = {
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": "https://example.com/vex/1",
        "timestamp": "2024-03-01T12:00:00Z",
        "statements": [
            {
                "vulnerability": {"name": CVE},
                "products": [{"@id": vex_product}],
                "status": "not_affected",
                "justification": "vulnerable_code_not_present",
            }
        ],
    }
    statements, problems = parse_vex(orjson.dumps(doc), source="vex.json")
    assert problems == []
    subject = subject_from_purl(Purl.parse(BINARY), ref="c1")
    assert (subject.package, subject.version) == ("lvm2", "2.03.16-2")
    report = scan([subject], index, vex=statements, vex_decider=partial(vex_decision))
    return len(report.findings), len(report.suppressed)


def test_vex_naming_the_binary_version_suppresses_a_subject_matched_by_its_source() -> None:
    assert _scan("pkg:deb/debian/liblvm2cmd2.03@2.03.16-2%2Bb1?arch=amd64") == (0, 1)


def test_vex_naming_another_binary_version_does_not_suppress() -> None:
    assert _scan("pkg:deb/debian/liblvm2cmd2.03@2.03.16-2%2Bb2?arch=amd64") == (1, 0)

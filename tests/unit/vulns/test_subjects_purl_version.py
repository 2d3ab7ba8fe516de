"""What a purl says about the version and release a subject is matched with.

An rpm purl carries its epoch in the ``epoch`` qualifier (purl spec; syft writes it), while
OSV RPM advisories write ``epoch:version-release``: a subject that drops the epoch compares as
epoch 0 and a fixed ``1:3.0.7-27.el9`` package reads as affected. A ``distro`` qualifier with an
Ubuntu point release must still name the OSV release (``Ubuntu:22.04:LTS``)."""

from __future__ import annotations

from maat.core.purl import Purl
from maat.vulns.match import Matcher
from maat.vulns.subjects import distro_ecosystem, subject_from_purl
from vulns_kit import advisory, eco_range, index_of

OPENSSL = advisory(
    "RHSA-2024:0001",
    "Red Hat:enterprise_linux:9::baseos",
    "openssl-libs",
    ranges=[eco_range(("introduced", "0"), ("fixed", "1:3.0.7-27.el9"))],
)


def _matched(purl: str) -> list[str]:
    subject = subject_from_purl(Purl.parse(purl), ref="c1")
    result = Matcher(index_of(OPENSSL)).match([subject])
    return [m.advisory.id for m in result.matches]


def test_rpm_purl_epoch_qualifier_fixed_package_is_not_affected() -> None:
    purl = "pkg:rpm/redhat/openssl-libs@3.0.7-27.el9?arch=x86_64&epoch=1&distro=rhel-9.4"
    assert subject_from_purl(Purl.parse(purl), ref="c1").version == "1:3.0.7-27.el9"
    assert _matched(purl) == []


def test_rpm_purl_epoch_qualifier_vulnerable_package_is_still_affected() -> None:
    purl = "pkg:rpm/redhat/openssl-libs@3.0.7-24.el9?arch=x86_64&epoch=1"
    assert _matched(purl) == ["RHSA-2024:0001"]


def test_rpm_purl_epoch_zero_or_already_in_the_version_is_left_alone() -> None:
    for purl, version in [
        ("pkg:rpm/redhat/openssl-libs@3.0.7-24.el9?epoch=0", "3.0.7-24.el9"),
        ("pkg:rpm/redhat/openssl-libs@1:3.0.7-24.el9?epoch=1", "1:3.0.7-24.el9"),
        ("pkg:rpm/redhat/openssl-libs@3.0.7-24.el9", "3.0.7-24.el9"),
    ]:
        assert subject_from_purl(Purl.parse(purl), ref="c1").version == version


def test_ubuntu_point_release_in_distro_qualifier_still_names_the_lts_release() -> None:
    # "Ubuntu:22.04.3" names no OSV ecosystem: every Ubuntu:22.04:LTS advisory was passed
    # over as another release, silently.
    assert distro_ecosystem("Ubuntu", "ubuntu-22.04.3") == "Ubuntu:22.04:LTS"
    assert distro_ecosystem("Ubuntu", "23.10.1") == "Ubuntu:23.10"


def test_rpm_purl_epoch_qualifier_that_is_not_a_number_is_a_reported_skip() -> None:
    # Read as no epoch (0), 3.0.7-24.el9 sorts below an advisory's "introduced: 1:3.0.0" and
    # was silently clear; its order is unknown, so it cannot be matched, and says why.
    introduced = advisory(
        "RHSA-2024:0002",
        "Red Hat:enterprise_linux:9::baseos",
        "openssl-libs",
        ranges=[eco_range(("introduced", "1:3.0.0"), ("fixed", "1:3.0.7-27.el9"))],
    )
    for epoch in ("abc", "-1", "1.5"):
        purl = f"pkg:rpm/redhat/openssl-libs@3.0.7-24.el9?epoch={epoch}"
        subject = subject_from_purl(Purl.parse(purl), ref="c1")
        result = Matcher(index_of(introduced)).match([subject])
        assert result.matches == []
        [skip] = result.skipped
        assert "epoch" in skip.reason and repr(epoch) in skip.reason

"""Tests for maat.vulns.remediate: the version to upgrade to, and playbooks Ansible cannot be
tricked by."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from maat.errors import InvalidInput
from maat.vulns.remediate import (
    Upgrade,
    Vulnerable,
    ansible_playbooks,
    plan_upgrade,
    ranges_for,
)
from vulns_kit import advisory, eco_range, index_of


def eco(*events: tuple[str, str]) -> tuple[str, tuple[tuple[str, str], ...]]:
    return ("ECOSYSTEM", tuple(events))


def item(version: str = "1.2", ecosystem: str = "PyPI", **kwargs: Any) -> Vulnerable:
    return Vulnerable(
        host="web-01",
        group="web",
        ecosystem=ecosystem,
        package="lib",
        version=version,
        **kwargs,
    )


def test_target_is_the_lowest_fixed_version_no_advisory_still_covers() -> None:
    # A affects [0, 1.5) and [2.0, 2.5); B affects [0, 2.1). The highest of the per-advisory
    # lowest fixes is 2.1, which A covers again; 2.5 is the answer.
    vulnerable = item(
        fixes={"A": ("1.5", "2.5"), "B": ("2.1",)},
        ranges={
            "A": (
                eco(("introduced", "0"), ("fixed", "1.5"), ("introduced", "2.0"), ("fixed", "2.5")),
            ),
            "B": (eco(("introduced", "0"), ("fixed", "2.1")),),
        },
    )
    upgrade = plan_upgrade(vulnerable)
    assert upgrade.target == "2.5"
    assert upgrade.advisories == ("A", "B") and upgrade.unfixable == () and upgrade.reason is None


def test_ranges_from_the_index_reach_the_same_target() -> None:
    index = index_of(
        advisory(
            "GHSA-a",
            "PyPI",
            "lib",
            ranges=[
                eco_range(("introduced", "0"), ("fixed", "1.5")),
                eco_range(("introduced", "2.0"), ("fixed", "2.5")),
            ],
            aliases_=["CVE-1"],
        ),
        advisory(
            "PYSEC-b", "PyPI", "lib", ranges=[eco_range(("introduced", "0"), ("fixed", "2.1"))]
        ),
    )
    ranges = ranges_for(index, "PyPI", "lib")
    assert set(ranges) == {"CVE-1", "GHSA-a", "PYSEC-b"}
    upgrade = plan_upgrade(
        item(fixes={"CVE-1": ("1.5", "2.5"), "PYSEC-b": ("2.1",)}, ranges=ranges)
    )
    assert upgrade.target == "2.5"


def test_ranges_for_leaves_out_other_releases_of_a_distribution() -> None:
    index = index_of(
        advisory(
            "DSA-1",
            "Debian:11",
            "openssl",
            ranges=[eco_range(("introduced", "0"), ("fixed", "1.1"))],
        ),
        advisory(
            "DSA-2",
            "Debian:12",
            "openssl",
            ranges=[eco_range(("introduced", "0"), ("fixed", "3.0"))],
        ),
    )
    assert set(ranges_for(index, "Debian:12", "openssl")) == {"DSA-2"}


def test_without_ranges_the_highest_of_the_lowest_fixes_is_kept() -> None:
    upgrade = plan_upgrade(item(fixes={"A": ("1.5", "2.5"), "B": ("2.1",), "C": ()}))
    assert upgrade.target == "2.1"
    assert upgrade.unfixable == ("C",)


@pytest.mark.parametrize(
    ("vulnerable", "reason"),
    [
        (item(ecosystem="GitHub Actions", fixes={"A": ("2",)}), "no version comparator"),
        (item(version="not a version!", fixes={"A": ("2",)}), "cannot be compared"),
        (item(fixes={"A": ("1.0", "junk!")}), "no fixed version above 1.2"),
        (
            item(
                fixes={"A": ("1.5",), "B": ("2.0",)},
                ranges={
                    "A": (eco(("introduced", "0"), ("fixed", "1.5"), ("introduced", "1.9")),),
                    "B": (eco(("introduced", "0"), ("fixed", "2.0")),),
                },
            ),
            "no fixed version named leaves every advisory behind",
        ),
    ],
)
def test_one_bad_package_gives_no_target_and_a_reason_instead_of_raising(
    vulnerable: Vulnerable, reason: str
) -> None:
    upgrade = plan_upgrade(vulnerable)
    assert upgrade.target is None
    assert upgrade.reason is not None and reason in upgrade.reason


class _Tagged(str):
    __slots__ = ()


class _AnsibleLike(yaml.SafeLoader):
    """Reads ``!unsafe`` as Ansible does: literal text (marked, to check it is tagged)."""


_AnsibleLike.add_constructor(
    "!unsafe",
    lambda loader, node: _Tagged(loader.construct_scalar(node)),  # type: ignore[arg-type]
)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def upgrade(**kwargs: Any) -> Upgrade:
    values: dict[str, Any] = {
        "host": "web-01",
        "group": "web",
        "ecosystem": "Debian:12",
        "package": "openssl",
        "current": "3.0.9-1",
        "target": "3.0.11-1~deb12u2",
        "advisories": ("DSA-5532-1",),
        "unfixable": (),
    }
    values.update(kwargs)
    return Upgrade(**values)


def test_playbook_text_from_findings_is_never_templated_by_ansible() -> None:
    evil = "MAL-{{lookup('pipe','id')}}"
    upgrades = [
        upgrade(advisories=(evil,)),
        upgrade(package="lib{%raw%}", target=None, advisories=("CVE-1", evil)),
        upgrade(ecosystem="PyPI", package="pkg", target="1.0{#x#}", advisories=("GHSA-1",)),
    ]
    (text,) = ansible_playbooks(upgrades).values()
    play = yaml.load(text, Loader=_AnsibleLike)  # noqa: S506 - a SafeLoader subclass
    strings = _strings(play)
    assert any(evil in s for s in strings)
    for s in strings:
        if "{" in s:
            assert isinstance(s, _Tagged), s  # read literally by Ansible
    names = [t.get("ansible.builtin.pip", {}).get("name") for t in play[0]["tasks"]]
    assert "pkg==1.0{#x#}" in names  # the text itself is kept exact
    # Ordinary playbooks carry no tag at all, so any YAML reader still reads them.
    plain = ansible_playbooks([upgrade()])["web"]
    assert "!unsafe" not in plain
    assert yaml.safe_load(plain)[0]["tasks"][0]["when"] == "inventory_hostname in ['web-01']"


@pytest.mark.parametrize(
    "group", ["all:!web", "web servers", "web{{x}}", "", "g\n- hosts: all", "web,db"]
)
def test_host_group_outside_the_safe_alphabet_is_refused_by_name(group: str) -> None:
    with pytest.raises(InvalidInput, match="host group") as err:
        ansible_playbooks([upgrade(group=group)])
    assert repr(group[:80]) in err.value.message


@pytest.mark.parametrize("host", ["a'] or lookup('pipe','id') or ['", "web 01", "{{x}}"])
def test_host_name_that_would_escape_the_when_expression_is_refused(host: str) -> None:
    with pytest.raises(InvalidInput, match="host ") as err:
        ansible_playbooks([upgrade(host=host)])
    assert err.value.location.field == "host"

"""``in_sbom`` on an allow_publisher rule: a file validly signed by the vendor but never
declared in its product's SBOM (TIDRONE's trojanised ERP updater) does not run."""

from __future__ import annotations

import pytest

from maat.errors import InvalidInput
from maat.signing.policy import Sighting, decide, load_policy, policy_digest, policy_to_dict

POLICY = """name: erp-desks
version: 1
mode: enforce
host_groups: [office]
rules:
  - allow_publisher: {subject: "Contoso ERP Code Signing", product: Contoso ERP, in_sbom: true}
"""


def _seen(in_sbom: bool | None) -> Sighting:
    return Sighting(sha256="ab" * 32, path="C:/Program Files/Contoso/ERP/ErpUpdater.exe",
                    signer_subject="CN=Contoso ERP Code Signing,O=Contoso ERP",
                    signer_issuer="CN=Maat CA", signature_valid=True, revoked=False,
                    product="Contoso ERP", version="4.2.1", host_group="office",
                    in_sbom=in_sbom)  # fmt: skip


def test_trojanised_update_signed_by_the_vendor_but_not_in_its_sbom_is_blocked() -> None:
    decision = decide([load_policy(POLICY, source="p.yml")], _seen(False))
    assert decision.action == "block"
    assert any("not listed in any SBOM of product 'Contoso ERP'" in r for r in decision.reasons)


def test_a_product_without_any_sbom_cannot_satisfy_in_sbom() -> None:
    decision = decide([load_policy(POLICY, source="p.yml")], _seen(None))
    assert decision.action == "block"
    assert any("no SBOM of product" in r for r in decision.reasons)


def test_a_declared_signed_release_runs() -> None:
    assert decide([load_policy(POLICY, source="p.yml")], _seen(True)).action == "run"


def test_in_sbom_must_be_a_boolean_and_is_located() -> None:
    with pytest.raises(InvalidInput) as caught:
        load_policy(POLICY.replace("in_sbom: true", "in_sbom: sometimes"), source="p.yml")
    assert "rules[0].allow_publisher.in_sbom" in caught.value.diagnostics()
    assert "true or false" in caught.value.diagnostics()


def test_an_explicit_bool_tag_cannot_turn_in_sbom_off() -> None:
    # PyYAML reads "!!bool maybe" as false: the SBOM check on the vendor's updates was off.
    with pytest.raises(InvalidInput) as caught:
        load_policy(POLICY.replace("in_sbom: true", "in_sbom: !!bool maybe"), source="p.yml")
    assert "rules[0].allow_publisher.in_sbom" in caught.value.diagnostics()
    assert load_policy(POLICY.replace("in_sbom: true", "in_sbom: On"), source="p.yml")


def test_policies_without_in_sbom_keep_their_digest() -> None:
    plain = load_policy(POLICY.replace(", in_sbom: true", ""), source="p.yml")
    assert "in_sbom" not in policy_to_dict(plain)["rules"][0]["allow_publisher"]
    assert policy_digest(plain) != policy_digest(load_policy(POLICY, source="p.yml"))

"""The proxy check names every reason a path is refused as ambiguous, ``;`` included."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from maat.api.app import create_app
from maat.services import access, tokens, users
from maat.services.platform import Platform
from maat_testkit import PASSWORD

EXAMPLES = Path(__file__).parents[3] / "examples" / "access"


def test_a_path_parameter_refusal_tells_the_operator_why(platform: Platform) -> None:
    # /admin;x/users is /admin/users to Tomcat, Jetty and Spring: refused outright. The
    # reason an operator reads in the refusal must name the ";", or the 403 looks like a bug.
    access.apply_policy(platform, "test", (EXAMPLES / "policy.yml").read_text(), source="p")
    users.add_user(platform, "test", "proxy", ["agent"], PASSWORD)
    pep = {"X-Maat-PEP-Token": tokens.create_token(platform, "test", "proxy", "nginx").text}
    with TestClient(create_app(platform, close_on_shutdown=False)) as client:
        check = client.get("/v1/access/check", headers={
            **pep, "X-Original-URI": "/admin;jsessionid=1/users"})  # fmt: skip
    assert check.status_code == 403
    (reason,) = check.json()["reasons"]
    assert "ambiguous" in reason and "';'" in reason

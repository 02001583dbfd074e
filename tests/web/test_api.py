"""REST API: the OpenAPI description matches the routes, the endpoints work with a token,
and a schemathesis run finds no server error."""

from __future__ import annotations

import re
from typing import Any

import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from monitor.admin.users import create_token
from monitor.web.openapi import SPEC
from tests.conftest import NOW


def _api_routes(app: Any) -> set[tuple[str, str]]:
    out = set()
    for r in app.routes:
        if isinstance(r, Route) and r.path.startswith("/api/v1"):
            path = re.sub(r"\{(\w+):\w+\}", r"{\1}", r.path)
            out |= {(m.lower(), path) for m in (r.methods or set()) - {"HEAD"}}
    return out


def test_openapi_names_exactly_the_api_routes(app: Any) -> None:
    spec = {(m, p) for p, ops in SPEC["paths"].items() for m in ops}
    assert spec == _api_routes(app)


def test_api_with_token(client: TestClient, daemon: Any, ids: dict[str, int]) -> None:
    token = create_token(daemon.store, "oncall", "t", NOW, scope="write")
    h = {"Authorization": f"Bearer {token}"}
    items = client.get("/api/v1/items?sentiment=neg", headers=h).json()["items"]
    assert [i["id"] for i in items] == [ids["item"]]
    assert items[0]["analysis"]["rules"] == ["counterfeit"]
    assert client.get("/api/v1/items?dimension=物流时效", headers=h).json()["items"][0]["rating"] == 5
    r = client.post(f"/api/v1/alerts/{ids['alert']}/ack", headers=h)
    assert r.status_code == 200 and r.json()["state"] == "acknowledged" and r.json()["acked_by"] == "oncall"
    r = client.post(
        f"/api/v1/incidents/{ids['incident']}/steps/{ids['step']}", headers=h, json={"action": "done"}
    )
    assert r.status_code == 403  # oncall does not work incidents
    assert client.get("/api/v1/items", headers={"Authorization": "Bearer mon_nope"}).status_code == 401
    assert client.post("/api/v1/rules/test", headers=h, json={"text": "这是假货"}).status_code == 403
    admin = {"Authorization": f"Bearer {create_token(daemon.store, 'admin', 't', NOW, scope='admin')}"}
    test = client.post("/api/v1/rules/test", headers=admin, json={"text": "这是假货", "rating": 1}).json()
    assert test["rules"] == ["counterfeit"]


def test_revoked_token_stops_working(client: TestClient, daemon: Any) -> None:
    from monitor.admin.users import revoke_tokens

    token = create_token(daemon.store, "viewer", "t", NOW)
    h = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/items", headers=h).status_code == 200
    revoke_tokens(daemon.store, "viewer", NOW)
    assert client.get("/api/v1/items", headers=h).status_code == 401


@pytest.mark.slow
def test_schemathesis_finds_no_server_error(
    app: Any, daemon: Any, ids: dict[str, int], store_url: str
) -> None:
    if not store_url.startswith("sqlite"):
        pytest.skip("one backend is enough for fuzzing")
    import schemathesis
    from hypothesis import HealthCheck, given, settings

    token = create_token(daemon.store, "admin", "fuzz", NOW, scope="admin")
    # Loaded from the app itself (with the token), so the served description is what is tested.
    schema = schemathesis.openapi.from_asgi(
        "/api/v1/openapi.json", app, headers={"Authorization": f"Bearer {token}"}
    )
    failures = []
    calls: list[str] = []
    for op_result in schema.get_all_operations():
        op = op_result.ok()

        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(case=op.as_strategy())
        def run(case: Any) -> None:
            response = case.call(headers={"Authorization": f"Bearer {token}"})
            calls.append(case.formatted_path)
            if response.status_code >= 500:
                failures.append((case.method, case.formatted_path, response.status_code, response.text[:300]))

        run()
    assert len(set(calls)) > 10 and failures == []


def test_cli_creates_lists_and_revokes_single_tokens(client: TestClient, daemon: Any) -> None:
    from click.testing import CliRunner

    from monitor.cli.users import users_group

    cfg = ["-c", str(daemon.config_path)]
    run = CliRunner().invoke
    made = run(
        users_group, ["token", "viewer", "--scope", "read", "--expires", "30d", "--label", "grafana", *cfg]
    )
    assert made.exit_code == 0, made.output
    token = made.stdout.strip()
    assert token.startswith("mon_") and "scope read, expires in 30d" in made.stderr
    other = run(users_group, ["token", "viewer", "--expires", "never", *cfg]).stdout.strip()
    listed = run(users_group, ["tokens", "viewer", *cfg])
    assert listed.exit_code == 0 and token not in listed.output and token[:10] in listed.output
    line = next(x for x in listed.output.splitlines() if "grafana" in x)
    assert " read " in line and " active " in line
    token_id = line.split()[0]
    assert run(users_group, ["revoke", token_id, *cfg]).exit_code == 0
    assert client.get("/api/v1/items", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert client.get("/api/v1/items", headers={"Authorization": f"Bearer {other}"}).status_code == 200
    again = run(users_group, ["revoke", token_id, *cfg])
    assert again.exit_code == 1 and "already revoked" in again.output
    for bad in (["--scope", "root"], ["--expires", "soon"], ["--expires", "-3d"]):
        r = run(users_group, ["token", "viewer", *bad, *cfg])
        assert r.exit_code == 2, (bad, r.output)
    assert run(users_group, ["revoke", "999999", *cfg]).exit_code == 1

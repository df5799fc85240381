"""Every route declares who may call it, and the declarations hold."""
from __future__ import annotations

import re

from flask import Flask

from review.auth import PUBLIC
from review.services import api_tokens
from tests.e2e.test_walkthrough import login
from tests.factories import World
from tests.route_walk import USER_FOR_ROLE, fill_url


def test_every_route_has_an_explicit_role_rule(app) -> None:  # type: ignore[no-untyped-def]
    missing = [rule.rule for rule in app.url_map.iter_rules()
               if rule.endpoint != "static" and not hasattr(app.view_functions[rule.endpoint], "allowed_roles")]
    assert missing == []


def test_public_routes_are_only_the_expected_ones(app) -> None:  # type: ignore[no-untyped-def]
    public = sorted(rule.rule for rule in app.url_map.iter_rules() if rule.endpoint != "static"
                    and app.view_functions[rule.endpoint].allowed_roles == PUBLIC)
    assert public == ["/", "/api/v1/openapi.json", "/healthz", "/invitation/<token>", "/lang/<code>", "/login",
                      "/verify/<code>"]


def test_anonymous_is_sent_to_login(client, world) -> None:  # type: ignore[no-untyped-def]
    for url in ("/hospital/", "/expert/", "/staff/", "/staff/activity", "/documents/1"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"], url


def test_roles_are_refused_outside_their_area(client, world) -> None:  # type: ignore[no-untyped-def]
    login(client, "expert1")
    assert client.get("/hospital/").status_code == 403
    assert client.get("/staff/").status_code == 403
    login(client, "auditor")
    assert client.get("/staff/").status_code == 200
    assert client.post(f"/staff/cycles/{world.cycle_id}/panel", data={"published_value": "1"}).status_code == 403
    assert client.post("/staff/decisions/1/issue").status_code == 403


def test_healthz_reports_database(client) -> None:  # type: ignore[no-untyped-def]
    body = client.get("/healthz").get_json()
    assert body["database"] == "ok" and body["redis"] == "not_used"


def test_security_headers(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/login")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


OUT_OF_RANGE_IDS = (2**31, 10**30)
"""One past the 32-bit INTEGER primary keys, and far past anything a database integer holds."""


def test_every_id_route_answers_404_beyond_the_integer_columns(app: Flask, world: World) -> None:
    """Each route is called as a role allowed to reach it, so the id would get as far as the database."""
    clients = {}
    for role, username in USER_FOR_ROLE.items():
        clients[role] = app.test_client()
        login(clients[role], username)
    clients["api_token"] = app.test_client()
    api_headers = {"Authorization": f"Bearer {api_tokens.create_token(world.actors['hosp1'], 'fuzz')[1]}"}
    called = 0
    for rule in app.url_map.iter_rules():
        if "<int:" not in rule.rule:
            continue
        role = sorted(app.view_functions[rule.endpoint].allowed_roles)[0]
        method = "GET" if "GET" in rule.methods else "POST"
        for bad in OUT_OF_RANGE_IDS:
            url = fill_url(rule.rule, lambda _name: bad)
            response = clients[role].open(url, method=method, headers=api_headers if role == "api_token" else {})
            assert response.status_code == 404, (url, method, response.status_code)
            if role == "api_token":
                assert response.get_json()["error"]["code"] == "not_found", url
            called += 1
    assert called >= 80

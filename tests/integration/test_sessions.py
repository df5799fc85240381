"""A session ends on the server: logout, idleness and age each make the cookie worthless (issue 12 §2)."""
from __future__ import annotations

from datetime import timedelta

import time_machine
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from review.clock import utcnow
from tests.factories import PASSWORD

PAGE = "/staff/"


def _visit(app: Flask, client: FlaskClient) -> TestResponse:
    """One request in its own app context, as in a server: the fixture's shared context would keep flask-login's
    user of the previous request in `g` and skip the checks under test."""
    with app.app_context():
        return client.get(PAGE)


def _logged_in(app: Flask) -> FlaskClient:
    client = app.test_client()
    assert client.post("/login", data={"username": "staff", "password": PASSWORD}).status_code == 302
    assert _visit(app, client).status_code == 200
    return client


def _sent_to_login(app: Flask, client: FlaskClient) -> bool:
    response = _visit(app, client)
    return response.status_code == 302 and "/login" in response.headers["Location"]


def test_cookie_copied_before_logout_is_refused_after_it(app: Flask, world) -> None:  # type: ignore[no-untyped-def]
    client = _logged_in(app)
    copied = client.get_cookie("session").value
    client.post("/logout")
    thief = app.test_client()
    thief.set_cookie("session", copied)
    assert _sent_to_login(app, thief)


def test_idle_session_ends_after_the_idle_window(app: Flask, world) -> None:  # type: ignore[no-untyped-def]
    client = _logged_in(app)
    with time_machine.travel(utcnow() + timedelta(minutes=31), tick=False):
        assert _sent_to_login(app, client)


def test_activity_inside_the_window_keeps_the_session(app: Flask, world) -> None:  # type: ignore[no-untyped-def]
    client = _logged_in(app)
    start = utcnow()
    for step in (20, 40, 60):  # each visit is 20 minutes after the last: never idle 30
        with time_machine.travel(start + timedelta(minutes=step), tick=False):
            assert _visit(app, client).status_code == 200


def test_session_ends_after_twelve_hours_even_when_active(app: Flask, world) -> None:  # type: ignore[no-untyped-def]
    client = _logged_in(app)
    start = utcnow()
    for minutes in range(20, 12 * 60, 20):
        with time_machine.travel(start + timedelta(minutes=minutes), tick=False):
            assert _visit(app, client).status_code == 200
    with time_machine.travel(start + timedelta(hours=12, minutes=1), tick=False):
        assert _sent_to_login(app, client)

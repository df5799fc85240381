"""Sessions and login (issue 12 §2): a session ends on the server (logout, idleness, age), the login throttle
counts failures per user name and per address, the client's address is seen through a trusted proxy, and the
browser gets the security headers."""
from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Iterator

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from review import create_app
from review.clock import utcnow
from review.extensions import db
from review.models import ActivityLog
from tests.conftest import make_config
from tests.factories import PASSWORD, build_world

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


@pytest.mark.parametrize("late", ["/static/favicon.svg", "/static/css/app.css"])
def test_a_file_late_from_before_logout_leaves_the_next_login_alone(app: Flask, world, late: str) -> None:  # type: ignore[no-untyped-def]
    """A page's favicon sent with the old cookie and answered after the login page must not answer with a
    cookie of its own, or the browser drops the login form's CSRF session and refuses the login (a CI flake)."""
    client = _logged_in(app)
    stale = client.get_cookie("session").value
    client.post("/logout")
    straggler = app.test_client()
    straggler.set_cookie("session", stale)
    with app.app_context():
        answer = straggler.get(late)
    assert answer.status_code == 200 and "Set-Cookie" not in answer.headers


def test_idle_session_ends_after_the_idle_window(app: Flask, world) -> None:  # type: ignore[no-untyped-def]
    client = _logged_in(app)
    with time_machine.travel(utcnow() + timedelta(minutes=31), tick=False):  # clock-ok: frozen
        assert _sent_to_login(app, client)


def test_activity_inside_the_window_keeps_the_session(app: Flask, world) -> None:  # type: ignore[no-untyped-def]
    client = _logged_in(app)
    start = utcnow()  # clock-ok: frozen
    for step in (20, 40, 60):  # each visit is 20 minutes after the last: never idle 30
        with time_machine.travel(start + timedelta(minutes=step), tick=False):
            assert _visit(app, client).status_code == 200


def test_session_ends_after_twelve_hours_even_when_active(app: Flask, world) -> None:  # type: ignore[no-untyped-def]
    client = _logged_in(app)
    start = utcnow()  # clock-ok: frozen
    for minutes in range(20, 12 * 60, 20):
        with time_machine.travel(start + timedelta(minutes=minutes), tick=False):
            assert _visit(app, client).status_code == 200
    with time_machine.travel(start + timedelta(hours=12, minutes=1), tick=False):
        assert _sent_to_login(app, client)


@contextmanager
def _throttled(tmp_path: Path, **overrides: object) -> Iterator[Flask]:
    app = create_app(make_config(f"sqlite:///{tmp_path / 'throttle.sqlite'}", tmp_path / "uploads",
                                 RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="3 per minute",
                                 LOGIN_USERNAME_RATE_LIMIT="3 per minute", **overrides))
    with app.app_context():
        db.create_all()
        build_world()
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def throttled_app(tmp_path: Path) -> Iterator[Flask]:
    with _throttled(tmp_path) as app:
        yield app


@pytest.fixture
def proxied_app(tmp_path: Path) -> Iterator[Flask]:
    """Behind one reverse proxy, which connects from 10.0.0.1 and names the client in X-Forwarded-For."""
    with _throttled(tmp_path, PROXY_FIX_HOPS=1) as app:
        yield app


def _attempt(app: Flask, username: str, password: str, ip: str = "10.0.0.1",
             forwarded_for: str | None = None) -> TestResponse:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    with app.app_context():
        return app.test_client().post("/login", data={"username": username, "password": password},
                                      environ_base={"REMOTE_ADDR": ip}, headers=headers)


def _login_ips() -> list[str | None]:
    return list(db.session.scalars(db.select(ActivityLog.ip).where(ActivityLog.action == "user.login")))


def test_successful_logins_do_not_count(throttled_app: Flask) -> None:
    assert [_attempt(throttled_app, "staff", PASSWORD).status_code for _ in range(5)] == [302] * 5
    assert _attempt(throttled_app, "staff", "wrong").status_code == 200


def test_one_account_is_throttled_from_every_address(throttled_app: Flask) -> None:
    for n in range(3):
        assert _attempt(throttled_app, "staff", "wrong", ip=f"10.0.1.{n}").status_code == 200
    refused = _attempt(throttled_app, " STAFF ", PASSWORD, ip="10.0.2.1")
    assert refused.status_code == 429
    wait = int(refused.headers["Retry-After"])
    assert 0 < wait <= 60
    assert f"Try again in {wait} seconds" in refused.text or f"Try again in {wait + 1} seconds" in refused.text


def test_one_address_is_throttled_for_every_account(throttled_app: Flask) -> None:
    for name in ("nobody1", "nobody2", "nobody3"):
        assert _attempt(throttled_app, name, "wrong").status_code == 200
    assert _attempt(throttled_app, "staff", PASSWORD).status_code == 429
    assert _attempt(throttled_app, "staff", PASSWORD, ip="10.0.0.2").status_code == 302


def test_behind_the_proxy_the_throttle_and_register_see_the_client(proxied_app: Flask) -> None:
    for name in ("nobody1", "nobody2", "nobody3"):
        assert _attempt(proxied_app, name, "wrong", forwarded_for="203.0.113.1").status_code == 200
    assert _attempt(proxied_app, "staff", PASSWORD, forwarded_for="203.0.113.1").status_code == 429
    assert _attempt(proxied_app, "staff", PASSWORD, forwarded_for="203.0.113.2").status_code == 302
    assert _login_ips() == ["203.0.113.2"]


def test_without_proxy_fix_a_forwarded_address_is_not_believed(throttled_app: Flask) -> None:
    assert _attempt(throttled_app, "staff", PASSWORD, forwarded_for="203.0.113.9").status_code == 302
    assert _login_ips() == ["10.0.0.1"]


def test_every_answer_refuses_browser_features_and_openers(client, world) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/login")
    assert response.headers["Permissions-Policy"] == "camera=(), microphone=(), geolocation=(), payment=()"
    assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"


def test_hsts_only_over_https(client, world) -> None:  # type: ignore[no-untyped-def]
    assert "Strict-Transport-Security" not in client.get("/login").headers
    secure = client.get("/login", base_url="https://review.example")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=")


def test_hsts_when_the_proxy_says_https(proxied_app: Flask) -> None:
    response = proxied_app.test_client().get("/login", headers={"X-Forwarded-Proto": "https"})
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")

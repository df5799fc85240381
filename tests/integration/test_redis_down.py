"""Redis stopped is a degraded service, not a broken one: people still log in (the throttle falls back to memory and
still throttles), and /healthz tells the load balancer with a 503."""
from __future__ import annotations

import socket
from pathlib import Path

import pytest
from flask import Flask

from review import create_app
from review.config import TestConfig
from review.extensions import db
from tests.conftest import make_config
from tests.factories import PASSWORD, build_world


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def app_without_redis(tmp_path: Path):  # type: ignore[no-untyped-def]
    dead = f"redis://127.0.0.1:{_closed_port()}/0"
    app = create_app(make_config(
        f"sqlite:///{tmp_path / 'down.sqlite'}", tmp_path / "uploads", RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI=dead, LOGIN_RATE_LIMIT="3 per minute",
        CELERY={**TestConfig.CELERY, "task_always_eager": False, "broker_url": dead,
                "broker_connection_retry_on_startup": False}))
    with app.app_context():
        db.create_all()
        build_world()
        yield app
        db.session.remove()
        db.engine.dispose()


def test_login_works_and_still_throttles_with_redis_down(app_without_redis: Flask) -> None:
    client = app_without_redis.test_client()
    assert client.post("/login", data={"username": "staff", "password": PASSWORD}).status_code == 302
    other = app_without_redis.test_client()
    answers = [other.post("/login", data={"username": "staff", "password": "wrong"}).status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]  # three failed attempts a minute from this address, counted in memory


def test_healthz_reports_redis_down_with_503(app_without_redis: Flask) -> None:
    response = app_without_redis.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "degraded", "database": "ok", "redis": "down"}

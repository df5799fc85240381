"""Fixtures: an app per test on SQLite and, when TEST_DATABASE_URL is set, on PostgreSQL too.

CI sets TEST_DATABASE_URL and REDIS_URL; with CI=true a missing one is an error, never a silent skip.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import create_engine, text

from review import create_app
from review.config import TestConfig
from review.extensions import db

PG_URL = os.environ.get("TEST_DATABASE_URL", "")
REDIS_URL = os.environ.get("REDIS_URL", "")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("CI") and not (PG_URL and REDIS_URL):
        raise pytest.UsageError("CI must set TEST_DATABASE_URL and REDIS_URL: PostgreSQL and worker tests may not be skipped")


def make_config(database_url: str, upload_dir: Path, **overrides: object) -> TestConfig:
    config = TestConfig()
    config.SQLALCHEMY_DATABASE_URI = database_url  # type: ignore[misc]
    config.UPLOAD_DIR = str(upload_dir)  # type: ignore[misc]
    for key, value in overrides.items():
        setattr(config, key, value)
    return config


_pg_schema_ready = False


def empty_postgresql(url: str) -> None:
    """Drop everything, for tests that build the schema their own way; the next `app` fixture rebuilds it."""
    global _pg_schema_ready
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    _pg_schema_ready = False


def reset_postgresql(url: str) -> None:
    """Fresh schema once per session; later tests truncate (TRUNCATE bypasses the append-only row triggers)."""
    global _pg_schema_ready
    engine = create_engine(url)
    with engine.begin() as connection:
        if not _pg_schema_ready:
            connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        else:
            tables = ", ".join(t.name for t in db.metadata.sorted_tables)
            connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    global _pg_schema_ready
    if request.param == "postgresql":
        reset_postgresql(PG_URL)
        url = PG_URL
    else:
        url = f"sqlite:///{tmp_path / 'test.sqlite'}"
    application = create_app(make_config(url, tmp_path / "uploads"))
    with application.app_context():
        if request.param == "sqlite" or not _pg_schema_ready:
            db.create_all()
            _pg_schema_ready = _pg_schema_ready or request.param == "postgresql"
        yield application
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def world(app: Flask):  # type: ignore[no-untyped-def]
    from tests.factories import build_world

    return build_world()


@pytest.fixture
def client(app: Flask):  # type: ignore[no-untyped-def]
    return app.test_client()

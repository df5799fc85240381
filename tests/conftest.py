"""Fixtures: an app per test on SQLite and, when TEST_DATABASE_URL is set, on PostgreSQL too.

CI sets TEST_DATABASE_URL and REDIS_URL; with CI=true a missing one is an error, never a silent skip.

The clock: every test runs at `TEST_NOW` (+ `--clock-shift-days`), frozen by time-machine and left ticking, so no
test reads the real date and the suite gives the same answer on any day. Tests marked `clock_shift` are the ones
whose subject is dates (windows, deadlines, reminders, letters' dates); each runs three times in the same session,
400 days before, at and after `TEST_NOW`, to prove it derives every date from the world it builds. Tests marked `wall_clock` start real
subprocesses (a Celery worker, gunicorn) that cannot share a frozen clock; they depend on elapsed time only.

Under pytest-xdist each worker gets its own PostgreSQL database (`<name>_gw0`, …), created when missing.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import time_machine
from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from review import create_app
from review.config import TestConfig
from review.extensions import db

TEST_NOW = datetime(2026, 11, 16, 2, 0, tzinfo=timezone.utc)
"""A Monday, 10:00 in Beijing: the moment every test lives in unless it moves the clock itself."""


def _worker_database(url: str) -> str:
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not url or not worker:
        return url
    parsed = make_url(url)
    return parsed.set(database=f"{parsed.database}_{worker}").render_as_string(hide_password=False)


BASE_PG_URL = os.environ.get("TEST_DATABASE_URL", "")
PG_URL = _worker_database(BASE_PG_URL)
REDIS_URL = os.environ.get("REDIS_URL", "")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--clock-shift-days", type=int, default=0,
                     help="move every test's frozen clock by this many days (clock_shift tests then run at it only)")


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("CI") and not (PG_URL and REDIS_URL):
        raise pytest.UsageError("CI must set TEST_DATABASE_URL and REDIS_URL: PostgreSQL and worker tests may not be skipped")
    config.addinivalue_line("markers", "clock_shift: a test about dates, run at the clock moved -400, 0 and +400 days")
    config.addinivalue_line("markers", "wall_clock: a test with real subprocesses; the clock is not frozen")
    config.addinivalue_line("markers", "postgresql_only(why): a test of what only PostgreSQL has (concurrent "
                            "writers, roles, deferred triggers); it is not collected for SQLite")
    if PG_URL != BASE_PG_URL:
        _create_database(BASE_PG_URL, make_url(PG_URL).database or "")


def _create_database(base_url: str, name: str) -> None:
    engine = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        if not connection.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}):
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()


SHIFTS = (-400, 0, 400)
"""The days a `clock_shift` test is moved by, each its own test id ([shift-400], [shift0], [shift400])."""


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test about dates runs at every shift in one session, so one pytest run proves it derives its dates from
    the world it builds (and a failure names the shift)."""
    if metafunc.definition.get_closest_marker("clock_shift") and not metafunc.config.getoption("--clock-shift-days"):
        metafunc.parametrize("clock_shift_days", SHIFTS, indirect=True, ids=[f"shift{d}" for d in SHIFTS])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A `postgresql_only` test is dropped for the SQLite backend at collection, so a run reports no skip for a
    test that has nothing to check there."""
    def on_sqlite(item: pytest.Item) -> bool:
        callspec = getattr(item, "callspec", None)
        return bool(item.get_closest_marker("postgresql_only")) and callspec is not None \
            and callspec.params.get("app") == "sqlite"

    dropped = [item for item in items if on_sqlite(item)]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if not on_sqlite(item)]


@pytest.fixture
def clock_shift_days(request: pytest.FixtureRequest) -> int:
    return getattr(request, "param", request.config.getoption("--clock-shift-days"))


@pytest.fixture(autouse=True)
def frozen_clock(request: pytest.FixtureRequest, clock_shift_days: int) -> Iterator[datetime | None]:
    """Every test at the same instant; the instant moves by the test's shift (`clock_shift` tests) or by
    --clock-shift-days (every test, for a run by hand)."""
    if request.node.get_closest_marker("wall_clock"):
        yield None
        return
    now = TEST_NOW + timedelta(days=clock_shift_days)
    with time_machine.travel(now, tick=True):
        yield now


def make_config(database_url: str, upload_dir: Path, **overrides: object) -> TestConfig:
    config = TestConfig()
    config.SQLALCHEMY_DATABASE_URI = database_url  # type: ignore[misc]
    config.UPLOAD_DIR = str(upload_dir)  # type: ignore[misc]
    if database_url.startswith("postgresql"):
        # A test database needs no durability: commits return without waiting for the WAL flush (same semantics
        # for every reader; only a server crash could lose the last commits, and the next run starts afresh).
        config.SQLALCHEMY_ENGINE_OPTIONS = {  # type: ignore[misc]
            "pool_pre_ping": True, "connect_args": {"options": "-c synchronous_commit=off"}}
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


def blank_database(backend: str, sqlite_file: Path) -> str:
    """A URL to an empty database of `backend`, for tests that build the schema their own way."""
    if backend == "postgresql":
        empty_postgresql(PG_URL)
        return PG_URL
    return f"sqlite:///{sqlite_file}"


def reset_postgresql(url: str) -> None:
    """Fresh schema once per session; later tests truncate, as replication does (the test user is a superuser):
    `session_replication_role = replica` silences the append-only and ledger triggers for this transaction."""
    global _pg_schema_ready
    engine = create_engine(url)
    with engine.begin() as connection:
        if not _pg_schema_ready:
            connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        else:
            tables = ", ".join(t.name for t in db.metadata.sorted_tables)
            connection.execute(text("SET LOCAL session_replication_role = replica"))
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

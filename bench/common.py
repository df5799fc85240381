"""Shared set-up for the benchmarks: a scratch PostgreSQL database (or SQLite) with the test world in it."""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg  # noqa: E402
from flask import Flask  # noqa: E402

from review import create_app  # noqa: E402
from review.extensions import db  # noqa: E402
from tests.conftest import make_config  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/review_bench"


def bench_app() -> Flask:
    """An app on BENCH_DATABASE_URL (default: a `review_bench` database, created if missing), schema fresh."""
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    if url.startswith("postgresql"):
        plain = url.replace("postgresql+psycopg://", "postgresql://")
        server, _, name = plain.rpartition("/")
        with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
            if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                connection.execute(f'CREATE DATABASE "{name}"')
    folder = Path(tempfile.mkdtemp(prefix="bench-"))
    app = create_app(make_config(url, folder / "uploads"))
    with app.app_context():
        db.drop_all()
        db.create_all()
    return app

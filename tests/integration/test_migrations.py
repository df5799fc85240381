"""`flask db upgrade` builds the schema the models describe, triggers included, on SQLite and PostgreSQL."""
from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from review import create_app
from review.extensions import db
from tests.conftest import BACKENDS, PG_URL, blank_database, empty_postgresql, make_config


@pytest.mark.parametrize("backend", BACKENDS)
def test_upgrade_matches_models(backend: str, tmp_path: Path) -> None:
    url = blank_database(backend, tmp_path / "migrated.sqlite")
    app = create_app(make_config(url, tmp_path))
    with app.app_context():
        upgrade()
        with db.engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), db.metadata)
        assert diff == []
        db.session.execute(text("INSERT INTO activity_log (at, action, object_type, data, chain, seq, key_id, "
                                "prev_hash, hash) VALUES (CURRENT_TIMESTAMP, 'x', 'y', '{}', 'global', 1, '1', 'p', 'h')"))
        with pytest.raises(DBAPIError, match="append-only"):
            db.session.execute(text("DELETE FROM activity_log"))
        db.session.rollback()
        db.session.remove()
        db.engine.dispose()
    if backend == "postgresql":
        empty_postgresql(PG_URL)

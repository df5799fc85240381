"""What the database refuses by itself, whatever the application does (review/models/ledger.py, immutable.py)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from review import create_app
from review.extensions import db
from review.models import JournalEntry
from review.services import activity, ledger
from tests.conftest import BACKENDS, PG_URL, blank_database, empty_postgresql, make_config
from workflows.ledger import EntryPlan, Line

NO_DEFERRED_TRIGGERS = ("SQLite has no deferred triggers and no notion of which transaction wrote a row; "
                        "there the rule rests on EntryPlan and the ledger service")


def _on_sqlite() -> bool:
    return db.engine.dialect.name == "sqlite"


def _post(key: str = "k:1", amount: int = 500) -> JournalEntry:
    entry = ledger.post(EntryPlan(key, key, (Line("fund:T01", amount), Line("hospital:H1", -amount))),
                        "2026Q3", None, None)
    db.session.commit()
    return entry


def _raw_entry(key: str) -> int:
    """An entry written by hand, in the open period `_post` booked its entry in (the database wants one)."""
    return db.session.execute(text(
        "INSERT INTO journal_entries (idempotency_key, request_hash, memo, period, period_id, posted_at) "
        "SELECT :key, 'h', 'by hand', code, id, CURRENT_TIMESTAMP FROM accounting_periods WHERE code = '2026Q3' "
        "RETURNING id"), {"key": key}).scalar_one()


def _raw_lines(entry_id: int, amounts: tuple[int, ...]) -> None:
    """Lines on the two accounts `_post` opened, alternately."""
    for code, amount in zip(("fund:T01", "hospital:H1") * 2, amounts):
        db.session.execute(text("INSERT INTO journal_lines (entry_id, account_id, amount_fen) "
                                "SELECT :e, id, :m FROM accounts WHERE code = :code"),
                           {"e": entry_id, "code": code, "m": amount})


@pytest.mark.postgresql_only(NO_DEFERRED_TRIGGERS)
@pytest.mark.parametrize("amounts", [(500, -400), (500,), ()], ids=["not-zero", "one-line", "no-lines"])
def test_an_unbalanced_entry_is_refused_at_commit(world, amounts: tuple[int, ...]) -> None:  # type: ignore[no-untyped-def]
    _post()
    _raw_lines(_raw_entry("raw:1"), amounts)  # each statement is accepted: the check waits for the commit
    with pytest.raises(IntegrityError, match="an entry needs at least 2 lines summing to 0"):
        db.session.commit()
    db.session.rollback()
    assert db.session.scalars(db.select(JournalEntry.idempotency_key)).all() == ["k:1"]


def test_lines_may_follow_their_entry_within_the_transaction(world) -> None:  # type: ignore[no-untyped-def]
    _post()
    with db.session.begin_nested():  # an entry written inside a savepoint is still this transaction's
        entry_id = _raw_entry("raw:1")
    _raw_lines(entry_id, (300, -300, 200, -200))  # balanced after two lines, and still open for the next two
    db.session.commit()
    assert db.session.get(JournalEntry, entry_id) is not None
    assert len(db.session.get(JournalEntry, entry_id).lines) == 4


@pytest.mark.postgresql_only(NO_DEFERRED_TRIGGERS)
def test_lines_cannot_be_added_to_an_entry_posted_earlier(world) -> None:  # type: ignore[no-untyped-def]
    entry = _post()
    with pytest.raises(IntegrityError, match="posted by an earlier transaction"):
        _raw_lines(entry.id, (100, -100))  # balanced, and still refused: a committed entry's lines are final
    db.session.rollback()
    assert len(db.session.get(JournalEntry, entry.id).lines) == 2


@pytest.mark.parametrize("table", ["journal_entries", "journal_lines", "activity_log"])
def test_emptying_the_ledger_or_the_register_is_refused(world, table: str) -> None:  # type: ignore[no-untyped-def]
    entry = _post()
    activity.record(world.actors["staff"], "ledger.posted", "journal_entry", entry.id, None, {})
    db.session.commit()
    # SQLite has no TRUNCATE; its DELETE without WHERE is the same request, refused by the row trigger
    statement = f"DELETE FROM {table}" if _on_sqlite() else f"TRUNCATE {table} CASCADE"
    with pytest.raises(DBAPIError, match="append-only"):
        db.session.execute(text(statement))
    db.session.rollback()
    if not _on_sqlite():  # nor by truncating a table they refer to
        with pytest.raises(DBAPIError, match="append-only"):
            db.session.execute(text("TRUNCATE hospitals CASCADE"))
        db.session.rollback()
    assert db.session.scalar(text(f"SELECT count(*) FROM {table}")) > 0


def _guards() -> list[str]:
    """Every trigger and trigger function, normalised, so two ways of building the schema can be compared."""
    if _on_sqlite():
        rows = db.session.execute(text("SELECT sql FROM sqlite_master WHERE type = 'trigger'")).scalars()
    else:
        rows = db.session.execute(text(
            "SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal "
            "UNION ALL SELECT pg_get_functiondef(p.oid) FROM pg_proc p "
            "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'")).scalars()
    return sorted(re.sub(r"\s+", " ", row).strip() for row in rows)


@pytest.mark.parametrize("backend", BACKENDS)
def test_migrations_build_the_guards_the_models_build(backend: str, tmp_path: Path) -> None:
    built = {}
    for way in ("migrations", "models"):
        url = blank_database(backend, tmp_path / f"{way}.sqlite")
        app = create_app(make_config(url, tmp_path))
        with app.app_context():
            upgrade() if way == "migrations" else db.create_all()
            built[way] = _guards()
            db.session.remove()
            db.engine.dispose()
    if backend == "postgresql":
        empty_postgresql(PG_URL)
    assert built["migrations"] == built["models"]
    assert any("journal_entries_balanced" in guard for guard in built["models"]) is (backend == "postgresql")

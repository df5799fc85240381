"""Money fits a province: every fen column is 64-bit on PostgreSQL after the migrations, and a case above ¥21.47 M
(the old 32-bit ceiling) goes through screening, review, issue and the ledger with its amounts intact."""
from __future__ import annotations

from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import text

from review import create_app
from review.extensions import db
from review.models import Account, Case, Decision, JournalLine
from review.services import decisions
from tests.conftest import PG_URL, empty_postgresql, make_config
from tests.factories import seat_panels
from tests.integration.test_application_path import _apply, _review

MONEY_COLUMNS = sorted((table.name, column.name) for table in db.metadata.sorted_tables
                       for column in table.columns if column.name.endswith("_fen"))
BIG = 2 ** 40  # ¥10,995,116,277.76: a province's quarterly fund, far past 2^31 fen


def test_every_money_column_is_found() -> None:
    assert {("journal_lines", "amount_fen"), ("accounts", "balance_fen"), ("cases", "total_cost_fen"),
            ("decisions", "amount_fen"), ("policies", "max_case_cost_fen")} <= set(MONEY_COLUMNS)


@pytest.fixture(scope="module")
def migrated_postgresql(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    if not PG_URL:
        pytest.skip("TEST_DATABASE_URL not set (CI always sets it)")
    empty_postgresql(PG_URL)
    app = create_app(make_config(PG_URL, tmp_path_factory.mktemp("uploads")))
    with app.app_context():
        upgrade()
        yield app
        db.session.remove()
        db.engine.dispose()
    empty_postgresql(PG_URL)


@pytest.mark.parametrize("table, column", MONEY_COLUMNS)
def test_money_column_holds_2_to_the_40_after_migration(migrated_postgresql, table: str, column: str) -> None:  # type: ignore[no-untyped-def]
    data_type = db.session.scalar(text("SELECT data_type FROM information_schema.columns "
                                       "WHERE table_name = :table AND column_name = :column"),
                                  {"table": table, "column": column})
    assert data_type == "bigint"
    # A scratch table with the column's own type, so the round trip needs no rows in the real (append-only) tables.
    db.session.execute(text(f"CREATE TEMP TABLE probe AS SELECT {column} FROM {table} WITH NO DATA"))
    db.session.execute(text(f"INSERT INTO probe ({column}) VALUES (:big), (:negative)"),
                       {"big": BIG, "negative": -BIG})
    assert sorted(db.session.scalars(text(f"SELECT {column} FROM probe"))) == [-BIG, BIG]
    db.session.rollback()


def test_a_thirty_million_yuan_case_is_paid_to_the_fen(world) -> None:  # type: ignore[no-untyped-def]
    cost = 3_000_000_000  # ¥30,000,000.00
    item = _apply(world, total_cost_fen=cost)
    seat_panels(world)
    db.session.refresh(item)
    decision = _review(world, item, [("approve", 0)] * 3)
    decisions.open_reasons(world.actors["staff"], decision.id)
    decisions.issue(world.actors["staff"], decision.id)
    case = db.session.get(Case, item.case_id)
    expected = cost - case.drg_payment_fen
    assert case.total_cost_fen == cost
    assert db.session.get(Decision, decision.id).amount_fen == expected > 2 ** 31
    assert sorted(db.session.scalars(db.select(JournalLine.amount_fen))) == [-expected, expected]
    assert sorted(db.session.scalars(db.select(Account.balance_fen))) == [-expected, expected]

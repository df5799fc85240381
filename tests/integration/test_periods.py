"""Accounting periods (issue 14 §1), on SQLite and PostgreSQL: an entry is booked in an open period, a closed
period refuses entries at the database, a late adjustment goes to the open period naming the one it corrects,
and a close reconciles, stores balances and a chained hash that `ledger verify` recomputes."""
from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from review.extensions import db
from review.models import AccountingPeriod, JournalEntry, PeriodBalance
from review.services import ledger, periods
from review.services.context import PermissionDenied, ServiceError
from tests.factories import World
from workflows.ledger import EntryPlan, Line


def _plan(key: str, amount: int, hospital: str = "H1") -> EntryPlan:
    return EntryPlan(key, f"posting {key}", (Line("fund:T01", amount), Line(f"hospital:{hospital}", -amount)))


def _period(code: str) -> AccountingPeriod:
    return db.session.scalars(db.select(AccountingPeriod).where(AccountingPeriod.code == code)).one()


def test_entries_are_booked_in_their_open_period_and_a_close_fixes_it(world: World) -> None:
    first = ledger.post(_plan("k:1", 12_500), "2026Q3", None, None)
    ledger.post(_plan("k:2", -2_500, "H2"), "2026Q3", None, None)
    ledger.post(_plan("k:3", 700), "2026Q4", None, None)
    db.session.commit()
    q3 = _period("2026Q3")
    assert (first.period, first.period_id, first.corrects_period_id, q3.state) == ("2026Q3", q3.id, None, "open")
    with pytest.raises(PermissionDenied):
        periods.close(world.actors["auditor"], "T01", "2026Q3")

    closed = periods.close(world.actors["staff"], "T01", "2026Q3")
    assert (closed.state, closed.entry_count, closed.previous_hash) == ("closed", 2, "0" * 64)
    stored = {b.account_id: (b.movement_fen, b.closing_fen)
              for b in db.session.scalars(db.select(PeriodBalance).where(PeriodBalance.period_id == closed.id))}
    assert sorted(stored.values()) == sorted([(10_000, 10_000), (-12_500, -12_500), (2_500, 2_500)])
    assert periods.verify("T01", "2026Q3") == []
    with pytest.raises(ServiceError, match="already closed"):
        periods.close(world.actors["staff"], "T01", "2026Q3")

    late = ledger.post(_plan("k:4", 300), "2026Q3", None, None)  # a late adjustment of the closed quarter
    db.session.commit()
    assert (late.period, late.corrects_period_id) == ("2026Q4", closed.id)
    q4 = periods.close(world.actors["staff"], "T01", "2026Q4")
    assert q4.previous_hash == closed.entries_hash and q4.entry_count == 2
    assert periods.verify("T01", "2026Q4") == []


def test_the_database_refuses_an_entry_in_a_period_that_is_not_open(world: World) -> None:
    ledger.post(_plan("k:1", 100), "2026Q3", None, None)
    db.session.commit()
    periods.close(world.actors["staff"], "T01", "2026Q3")
    closed_id = _period("2026Q3").id
    with pytest.raises(DBAPIError, match="open accounting period"):
        db.session.execute(text("INSERT INTO journal_entries (idempotency_key, request_hash, memo, period, period_id, "
                                "posted_at) VALUES ('raw:1', 'h', 'm', '2026Q3', :p, CURRENT_TIMESTAMP)"),
                           {"p": closed_id})
    db.session.rollback()
    with pytest.raises(DBAPIError, match="open accounting period"):  # nor one booked in no period at all
        db.session.execute(text("INSERT INTO journal_entries (idempotency_key, request_hash, memo, period, "
                                "posted_at) VALUES ('raw:2', 'h', 'm', '2026Q3', CURRENT_TIMESTAMP)"))
    db.session.rollback()


def test_a_close_with_an_unreconciled_account_is_refused_naming_it(world: World) -> None:
    ledger.post(_plan("k:1", 100), "2026Q3", None, None)
    db.session.execute(text("UPDATE accounts SET balance_fen = balance_fen + 1 WHERE code = 'hospital:H1'"))
    db.session.commit()
    with pytest.raises(ServiceError, match="hospital:H1 does not reconcile"):
        periods.close(world.actors["staff"], "T01", "2026Q3")
    assert _period("2026Q3").state == "open"  # nothing changed: the office fixes the account and closes again
    assert ledger.post(_plan("k:2", 5), "2026Q3", None, None).period == "2026Q3"


def test_verify_finds_a_closed_period_whose_entries_changed(world: World) -> None:
    ledger.post(_plan("k:1", 100), "2026Q3", None, None)
    db.session.commit()
    period = periods.close(world.actors["staff"], "T01", "2026Q3")
    db.session.execute(text("UPDATE accounting_periods SET entries_hash = :h WHERE id = :id"),
                       {"h": "f" * 64, "id": period.id})  # as if the entries had been rewritten since
    db.session.commit()
    assert [p.code for p in periods.verify("T01", "2026Q3")] == ["ledger.period_hash_differs"]
    assert [p.code for p in periods.verify("T01", "2026Q1")] == ["ledger.period_not_closed"]
    assert db.session.scalar(db.select(db.func.count(JournalEntry.id))) == 1


def test_the_operator_closes_and_verifies_from_the_command_line(app, world: World) -> None:  # type: ignore[no-untyped-def]
    ledger.post(_plan("k:1", 100), "2026Q3", None, None)
    db.session.commit()
    runner = app.test_cli_runner()
    closed = runner.invoke(args=["ledger", "close", "2026Q3"])
    assert closed.exit_code == 0 and "period 2026Q3 closed: 1 entries" in closed.output
    assert runner.invoke(args=["ledger", "close", "2026Q3"]).exit_code == 1  # twice is refused
    verified = runner.invoke(args=["ledger", "verify", "2026Q3"])
    assert verified.exit_code == 0 and "verified" in verified.output
    db.session.execute(text("UPDATE accounting_periods SET entries_hash = :h WHERE code = '2026Q3'"), {"h": "0" * 64})
    db.session.commit()
    broken = runner.invoke(args=["ledger", "verify", "2026Q3"])
    assert broken.exit_code == 1 and "no longer give the hash" in broken.output


def test_a_new_cycle_opens_its_period_so_late_adjustments_have_somewhere_to_go(world: World) -> None:
    from review.services import cycles

    ledger.post(_plan("k:1", 100), "2026Q3", None, None)
    db.session.commit()
    periods.close(world.actors["staff"], "T01", "2026Q3")
    with pytest.raises(ServiceError, match="no open period"):
        ledger.post(_plan("k:2", 100), "2026Q3", None, None)
    db.session.rollback()
    cycles.create_cycle(world.actors["staff"], world.region_id, "2026Q4", None, None, None, None, None)
    assert _period("2026Q4").state == "open"
    late = ledger.post(_plan("k:2", 100), "2026Q3", None, None)
    assert (late.period, late.corrects_period_id) == ("2026Q4", _period("2026Q3").id)

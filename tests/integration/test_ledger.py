"""The posting service (DESIGN §7.6): exact balances, accounts created on first use, idempotent keys, batches."""
from __future__ import annotations

import threading

import pytest
from flask import Flask

from review.extensions import db
from review.models import Account, JournalEntry, JournalLine
from review.services import ledger
from review.services.context import ServiceError
from workflows.ledger import EntryPlan, Line


def _plan(key: str, amount: int, hospital: str = "H1") -> EntryPlan:
    return EntryPlan(key, f"posting {key}", (Line("fund:T01", amount), Line(f"hospital:{hospital}", -amount)))


def _balances() -> dict[str, int]:
    return {a.code: a.balance_fen for a in db.session.scalars(db.select(Account))}


def _count(model: type[db.Model]) -> int:
    return db.session.scalar(db.select(db.func.count()).select_from(model))


def test_first_posting_opens_the_accounts(world) -> None:  # type: ignore[no-untyped-def]
    entry = ledger.post(_plan("k:1", 12_500), "2026Q3", None, world.users["staff"])
    db.session.commit()
    accounts = {a.code: a for a in db.session.scalars(db.select(Account))}
    assert (accounts["fund:T01"].kind, accounts["fund:T01"].hospital_id) == ("fund", None)
    assert (accounts["hospital:H1"].kind, accounts["hospital:H1"].hospital_id) == ("hospital", world.hospitals["H1"])
    assert _balances() == {"fund:T01": 12_500, "hospital:H1": -12_500}
    assert [(line.account.code, line.amount_fen) for line in entry.lines] == [("fund:T01", 12_500),
                                                                              ("hospital:H1", -12_500)]
    assert (entry.period, entry.posted_by_id) == ("2026Q3", world.users["staff"])


def test_a_copy_loaded_before_another_posting_does_not_lose_it(app: Flask, world) -> None:  # type: ignore[no-untyped-def]
    """Another process posts between this session reading an account and posting to it: both postings count."""
    ledger.post(_plan("k:1", 100), "2026Q3", None, None)
    db.session.commit()
    fund = db.session.scalars(db.select(Account).where(Account.code == "fund:T01")).one()
    assert fund.balance_fen == 100  # the session now holds a copy

    def elsewhere() -> None:
        with app.app_context():  # a session of its own, as another worker has
            ledger.post(_plan("k:2", 1_000, "H2"), "2026Q3", None, None)
            db.session.commit()
            db.session.remove()

    thread = threading.Thread(target=elsewhere)
    thread.start()
    thread.join()
    ledger.post(_plan("k:3", 10), "2026Q3", None, None)
    db.session.commit()
    assert fund.balance_fen == 1_110
    assert _balances() == {"fund:T01": 1_110, "hospital:H1": -110, "hospital:H2": -1_000}
    assert ledger.reconcile() == []


def test_a_key_posts_once(world) -> None:  # type: ignore[no-untyped-def]
    first = ledger.post(_plan("decision:1:v1", 700), "2026Q3", None, None)
    db.session.commit()
    assert ledger.post(_plan("decision:1:v1", 700), "2026Q3", None, None).id == first.id
    with pytest.raises(ledger.IdempotencyConflict, match="decision:1:v1"):
        ledger.post(_plan("decision:1:v1", 701), "2026Q3", None, None)
    db.session.rollback()
    assert (_count(JournalEntry), _count(JournalLine)) == (1, 2)
    assert _balances() == {"fund:T01": 700, "hospital:H1": -700}


@pytest.mark.postgresql_only("SQLite runs one writer at a time: a second posting waits for the file, not the key")
def test_a_key_posted_twice_at_once_gives_one_entry(app: Flask, world) -> None:  # type: ignore[no-untyped-def]
    """The second of two sessions posting one key waits for the first and gets its entry, not a unique violation."""
    ledger.post(_plan("k:0", 1), "2026Q3", None, None)  # the accounts exist: what races is the key
    db.session.commit()
    first = ledger.post(_plan("k:1", 100), "2026Q3", None, None)  # not committed yet
    second: list[int] = []

    def elsewhere() -> None:
        with app.app_context():
            second.append(ledger.post(_plan("k:1", 100), "2026Q3", None, None).id)
            db.session.commit()
            db.session.remove()

    thread = threading.Thread(target=elsewhere)
    thread.start()
    with db.engine.connect() as watcher:  # wait until the other session is blocked on this one
        while thread.is_alive() and not watcher.execute(db.text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'")).scalar():
            watcher.rollback()
    db.session.commit()
    thread.join()
    assert second == [first.id]
    assert _count(JournalEntry) == 2 and ledger.reconcile() == []
    assert _balances() == {"fund:T01": 101, "hospital:H1": -101}


def test_a_batch_posts_its_entries_in_one_pass(world) -> None:  # type: ignore[no-untyped-def]
    earlier = ledger.post(_plan("batch:0", 5), "2026Q3", None, None)
    db.session.commit()
    plans = [_plan(f"batch:{n}", 100 * n + 5, ("H1", "H2", "H3")[n % 3]) for n in range(12)]
    postings = [ledger.Posting(plan) for plan in plans] + [ledger.Posting(plans[3])]  # the same plan twice
    entries = ledger.post_many(postings, "2026Q3", world.users["staff"])
    db.session.commit()
    assert [entry.idempotency_key for entry in entries] == [plan.idempotency_key for plan in plans] + ["batch:3"]
    assert entries[0].id == earlier.id and entries[-1].id == entries[3].id
    assert (_count(JournalEntry), _count(JournalLine)) == (12, 24)
    expected = {"fund:T01": sum(100 * n + 5 for n in range(12))}
    for n in range(12):
        code = f"hospital:{('H1', 'H2', 'H3')[n % 3]}"
        expected[code] = expected.get(code, 0) - (100 * n + 5)
    assert _balances() == expected
    assert ledger.post_many(postings, "2026Q3", None) == entries  # a retried batch changes nothing
    db.session.commit()
    assert _balances() == expected and ledger.reconcile() == []


@pytest.mark.parametrize("conflict", ["posted-before", "twice-in-the-batch"])
def test_a_batch_with_a_conflicting_key_writes_nothing(world, conflict: str) -> None:  # type: ignore[no-untyped-def]
    ledger.post(_plan("batch:0", 5), "2026Q3", None, None)
    db.session.commit()
    postings = [ledger.Posting(_plan("batch:1", 10)), ledger.Posting(_plan("batch:0", 6))]
    if conflict == "twice-in-the-batch":
        postings = [ledger.Posting(_plan("batch:1", 10)), ledger.Posting(_plan("batch:2", 20)),
                    ledger.Posting(_plan("batch:2", 21))]
    with pytest.raises(ledger.IdempotencyConflict):
        ledger.post_many(postings, "2026Q3", None)
    db.session.rollback()
    assert (_count(JournalEntry), _count(JournalLine)) == (1, 2)
    assert _balances() == {"fund:T01": 5, "hospital:H1": -5}


def test_an_account_for_an_unknown_hospital_is_refused(world) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ServiceError, match="No hospital has the code H9"):
        ledger.post(_plan("k:1", 100, "H9"), "2026Q3", None, None)
    db.session.rollback()
    assert _count(Account) == 0 and _count(JournalEntry) == 0

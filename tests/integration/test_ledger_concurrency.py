"""Several processes posting to the same accounts at once, on PostgreSQL (DESIGN §7.6): no update is lost, the first
postings open each account once, and a key posted by all of them at the same moment gives one entry.

Each process builds its own app on the test database, as a web or worker process does, and they start together
with no account in existence. Every posting hits the fund account, so they all contend for its row; entries
between two hospitals take those rows in opposite orders, which deadlocks if locks are not taken in one order.
"""
from __future__ import annotations

import multiprocessing
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest

from review import create_app
from review.extensions import db
from review.models import Account, JournalEntry
from review.services import ledger
from tests.conftest import make_config
from workflows.ledger import EntryPlan, Line

PROCESSES = 4  # on 2 cores 4 already interleave every step; each more costs an app start-up (about 3 s)
POSTINGS = 30
SHARED_EVERY = 3
HOSPITALS = ("H1", "H2", "H3")


def _plans(worker: int) -> list[EntryPlan]:
    """The worker's own entries, with an entry every SHARED_EVERY that every worker posts at about the same time."""
    plans = []
    for n in range(POSTINGS):
        amount = 1_000 * worker + n + 1
        one, other = HOSPITALS[n % 3], HOSPITALS[(n + worker) % 3]
        lines = [Line("fund:T01", amount), Line(f"hospital:{one}", -amount)]
        if one != other:
            lines += [Line(f"hospital:{other}", 7), Line(f"hospital:{one}", -7)]
        plans.append(EntryPlan(f"w{worker}:{n}", "own", tuple(lines)))
        if n % SHARED_EVERY == 0:
            plans.append(EntryPlan(f"shared:{n}", "shared", (Line("fund:T01", -n - 1), Line("hospital:H2", n + 1))))
    return plans


def _post_all(url: str, upload_dir: str, worker: int, start: Barrier) -> None:
    app = create_app(make_config(url, Path(upload_dir)))
    with app.app_context():
        start.wait()
        for plan in _plans(worker):
            ledger.post(plan, "2026Q3", None, None)
            db.session.commit()
        db.session.remove()
        db.engine.dispose()


@pytest.mark.wall_clock
@pytest.mark.postgresql_only("SQLite serialises every writer: there is no concurrent posting to check")
def test_concurrent_postings_keep_every_balance_exact(app, world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url = db.engine.url.render_as_string(hide_password=False)
    db.session.remove()
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(PROCESSES)
    workers = [context.Process(target=_post_all, args=(url, str(tmp_path / "uploads"), n, start))
               for n in range(PROCESSES)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=300)
    assert [process.exitcode for process in workers] == [0] * PROCESSES  # no unique violation, no deadlock

    unique = {plan.idempotency_key: plan for worker in range(PROCESSES) for plan in _plans(worker)}
    expected: dict[str, int] = {}
    for plan in unique.values():
        for line in plan.lines:
            expected[line.account_code] = expected.get(line.account_code, 0) + line.amount_fen
    assert ledger.reconcile() == []
    assert {a.code: a.balance_fen for a in db.session.scalars(db.select(Account))} == expected
    keys = db.session.scalars(db.select(JournalEntry.idempotency_key)).all()
    assert sorted(keys) == sorted(unique)  # each shared key once

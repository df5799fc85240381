"""Ledger posting throughput (DESIGN §7.6, §8): two-line entries through the product's posting service against bare
psycopg doing the same row locks, inserts and balance updates, in the same run on the same database.

Usage: python bench/ledger.py [N]     (default 3000 entries per measurement; BENCH_DATABASE_URL picks the database,
                                       which must be PostgreSQL: the baseline is psycopg)

Every entry moves money between the region's fund account and one of three hospital accounts, so all postings
share the fund account's row lock, as a bureau's do. The service and the baseline run in alternating rounds, so a
neighbour's load on the machine falls on both alike. Printed on one key=value line:
- single_per_s: `ledger.post` + `db.session.commit()`, one transaction per entry, one process (the product's
  settings, connection pre-ping included).
- batched_per_s: `ledger.post_many` with BATCH entries per transaction.
- baseline_single_per_s / baseline_batched_per_s: psycopg on one connection: per transaction
  `SELECT … ORDER BY id FOR UPDATE` on the accounts, INSERT of the entries, their lines, one balance UPDATE per
  account, COMMIT; the database's ledger triggers fire for both.
- ratio_single / ratio_batched: service rate / baseline rate.
- reconciled: `ledger.reconcile()` found every cached balance equal to the sum of its lines afterwards.
"""
from __future__ import annotations

import sys
import time
from collections.abc import Callable

import psycopg
from common import bench_app

from review.extensions import db
from review.services import ledger
from tests.factories import build_world
from workflows.ledger import EntryPlan, Line, fund_account_code, hospital_account_code

BATCH = 100
ROUNDS = 10
HOSPITALS = ("H1", "H2", "H3")


def plan(tag: str, n: int) -> EntryPlan:
    amount = 10_000 + n
    hospital = hospital_account_code(HOSPITALS[n % len(HOSPITALS)])
    return EntryPlan(f"bench:{tag}:{n}", f"bench {n}",
                     (Line(fund_account_code("T01"), amount), Line(hospital, -amount)))


def service_single(plans: list[EntryPlan]) -> None:
    for entry_plan in plans:
        ledger.post(entry_plan, "2026Q3", None, None)
        db.session.commit()


def service_batched(plans: list[EntryPlan]) -> None:
    for start in range(0, len(plans), BATCH):
        ledger.post_many([ledger.Posting(p) for p in plans[start:start + BATCH]], "2026Q3", None)
        db.session.commit()


def bare(connection: psycopg.Connection, plans: list[EntryPlan], batch: int) -> None:
    """What the service does, written by hand: lock, insert entries and lines, move balances, commit."""
    with connection.transaction(), connection.cursor() as cursor:  # the period the entries are booked in
        cursor.execute("INSERT INTO accounting_periods (region_id, code, state, opened_at) SELECT id, '2026Q3', "
                       "'open', now() FROM regions WHERE code = 'T01' ON CONFLICT DO NOTHING")
        period_id = cursor.execute("SELECT p.id FROM accounting_periods p JOIN regions r ON r.id = p.region_id "
                                   "WHERE r.code = 'T01' AND p.code = '2026Q3'").fetchone()[0]  # type: ignore[index]
    for start in range(0, len(plans), batch):
        chunk = plans[start:start + batch]
        with connection.transaction(), connection.cursor() as cursor:
            codes = sorted({line.account_code for p in chunk for line in p.lines})
            ids = dict(cursor.execute("SELECT code, id FROM accounts WHERE code = ANY(%s) ORDER BY id FOR UPDATE",
                                      (codes,)).fetchall())
            cursor.executemany(
                "INSERT INTO journal_entries (idempotency_key, request_hash, memo, period, period_id, posted_at) "
                "VALUES (%s, %s, %s, '2026Q3', %s, now()) RETURNING id",
                [(p.idempotency_key, p.request_hash, p.memo, period_id) for p in chunk], returning=True)
            entry_ids = []
            while True:
                entry_ids.append(cursor.fetchone()[0])  # type: ignore[index]
                if not cursor.nextset():
                    break
            cursor.executemany("INSERT INTO journal_lines (entry_id, account_id, amount_fen) VALUES (%s, %s, %s)",
                               [(entry_id, ids[line.account_code], line.amount_fen)
                                for entry_id, p in zip(entry_ids, chunk) for line in p.lines])
            deltas: dict[int, int] = {}
            for p in chunk:
                for line in p.lines:
                    deltas[ids[line.account_code]] = deltas.get(ids[line.account_code], 0) + line.amount_fen
            cursor.executemany("UPDATE accounts SET balance_fen = balance_fen + %s WHERE id = %s",
                               [(delta, account_id) for account_id, delta in sorted(deltas.items())])


def timed(work: Callable[[list[EntryPlan]], None], plans: list[EntryPlan]) -> float:
    started = time.perf_counter()
    work(plans)
    return time.perf_counter() - started


def main(size: int) -> None:
    app = bench_app()
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if not url.startswith("postgresql"):
        raise SystemExit("bench/ledger.py compares with bare psycopg: BENCH_DATABASE_URL must be PostgreSQL")
    seconds = {"single": 0.0, "batched": 0.0, "baseline_single": 0.0, "baseline_batched": 0.0}
    per_round = max(size // ROUNDS, BATCH)
    with app.app_context(), psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as connection:
        build_world()
        service_single([plan("warm", n) for n in range(len(HOSPITALS))])  # creates the accounts
        for round_ in range(ROUNDS):
            numbers = range(round_ * per_round, (round_ + 1) * per_round)
            seconds["single"] += timed(service_single, [plan("single", n) for n in numbers])
            seconds["baseline_single"] += timed(lambda plans: bare(connection, plans, 1),
                                                [plan("bare-single", n) for n in numbers])
            seconds["batched"] += timed(service_batched, [plan("batched", n) for n in numbers])
            seconds["baseline_batched"] += timed(lambda plans: bare(connection, plans, BATCH),
                                                 [plan("bare-batched", n) for n in numbers])
        reconciled = "yes" if ledger.reconcile() == [] else "NO"
        db.session.remove()
    entries = per_round * ROUNDS
    rate = {name: entries / value for name, value in seconds.items()}
    print(f"entries={entries} batch={BATCH} single_per_s={rate['single']:.0f} batched_per_s={rate['batched']:.0f} "
          f"baseline_single_per_s={rate['baseline_single']:.0f} "
          f"baseline_batched_per_s={rate['baseline_batched']:.0f} "
          f"ratio_single={rate['single'] / rate['baseline_single']:.2f} "
          f"ratio_batched={rate['batched'] / rate['baseline_batched']:.2f} reconciled={reconciled}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3000)

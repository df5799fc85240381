"""A quarter's settlement (issue 14 §4, DESIGN §10.3): close one period (reconciliation, stored balances, chained
hash) and generate every hospital's draft statement through the product's services, against bare SQL computing the
same sums in the same run on the same database; then statement PDFs against bare WeasyPrint.

Usage: python bench/settlement.py [POSTINGS] [HOSPITALS]   (default 100000 200; BENCH_DATABASE_URL picks the
                                                           database, default `bench_settlement`, PostgreSQL only)

Set-up, not measured: the test world's region with HOSPITALS hospitals, and POSTINGS entries in its period 2026Q3
through `ledger.post_many` (batches of BATCH), each moving money between the region's fund and one hospital, the
hospitals in turn: supplements and recoveries, and one entry in fifty a reversal of an entry of the batch before.
Then ANALYZE, as the autovacuum daemon would have done long before a bureau closes a quarter.

Printed on one key=value line:
- close_s: `periods.close` (reconciliation of every account, the period's balances, the hash).
- drafts_s: `settlements.start_drafts` with eager tasks: every hospital's draft, its lines and totals.
- total_s: close_s + drafts_s (target: at most 60 s on 2 cores).
- bare_sql_s: psycopg running the same sums: every account's Σ lines against its cached balance, every entry's
  Σ lines, each account's movement in the period, and each hospital account's Σ by kind (supplement, recovery,
  reversal) in the period; the rows are fetched, nothing is written.
- ratio: bare_sql_s / total_s (as elsewhere in bench/: the product's rate over the baseline's).
- pdf_per_s: `settlements.statement_pdf(settlement, "zh_CN")` for PDF_STATEMENTS statements;
  bare_pdf_per_s: WeasyPrint writing the same statements' HTML (`statement_html`); pdf_ratio: their quotient
  (target: at least 0.5).
"""
from __future__ import annotations

import os
import random
import sys
import time
from decimal import Decimal

import psycopg
from common import bench_app

from review.extensions import db
from review.models import AccountingPeriod, Hospital
from review.services import ledger, periods
from tests.factories import World, build_world
from workflows.ledger import EntryPlan, Line, fund_account_code, hospital_account_code, reversal

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_settlement"
PERIOD = "2026Q3"
BATCH = 1000
REVERSAL_EVERY = 50
PDF_STATEMENTS = 20


def add_hospitals(world: World, count: int) -> list[str]:
    """The world's hospitals and enough more of the region's to make `count`, by code."""
    for number in range(len(world.hospitals) + 1, count + 1):
        code = f"B{number:04d}"
        hospital = Hospital(region_id=world.region_id, code=code, name_en=f"Bench Hospital {number}",
                            name_zh=f"基准{number}号医院", level="secondary", coefficient=Decimal("1.00"))
        db.session.add(hospital)
        db.session.flush()
        world.hospitals[code] = hospital.id
    db.session.commit()
    return sorted(world.hospitals)[:count]


def post_quarter(hospitals: list[str], postings: int, seed: int = 20260930) -> None:
    """POSTINGS entries in PERIOD: seven in ten supplements, the rest recoveries, one in REVERSAL_EVERY undoing an
    entry of the batch before."""
    rng = random.Random(seed)
    fund = fund_account_code("T01")
    previous: list[ledger.Posting] = []
    previous_entries: list[int] = []
    for start in range(0, postings, BATCH):
        batch: list[ledger.Posting] = []
        for n in range(start, min(start + BATCH, postings)):
            if previous_entries and n % REVERSAL_EVERY == 0:
                index = rng.randrange(len(previous))
                undone = previous[index]
                batch.append(ledger.Posting(reversal(previous_entries[index], undone.plan.lines),
                                            reverses_entry_id=previous_entries[index]))
                del previous[index], previous_entries[index]  # an entry is reversed once
                continue
            amount = rng.randint(1_000, 5_000_000) * (1 if rng.random() < 0.7 else -1)
            hospital = hospital_account_code(hospitals[n % len(hospitals)])
            batch.append(ledger.Posting(EntryPlan(f"bench:{n}", f"bench {n}",
                                                  (Line(fund, amount), Line(hospital, -amount)))))
        entries = ledger.post_many(batch, PERIOD, None)
        db.session.commit()
        kept = [(posting, entry.id) for posting, entry in zip(batch, entries) if posting.reverses_entry_id is None]
        previous, previous_entries = [p for p, _ in kept], [e for _, e in kept]


def analyze(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("ANALYZE")


BARE_QUERIES = (
    # reconciliation: every account's cached balance against the sum of its lines
    "SELECT a.id, a.balance_fen, COALESCE(s.total, 0) FROM accounts a LEFT JOIN "
    "(SELECT account_id, SUM(amount_fen) AS total FROM journal_lines GROUP BY account_id) s ON s.account_id = a.id",
    # every entry of the period sums to zero
    "SELECT l.entry_id FROM journal_lines l JOIN journal_entries e ON e.id = l.entry_id WHERE e.period_id = %(p)s "
    "GROUP BY l.entry_id HAVING SUM(l.amount_fen) <> 0",
    # each account's movement in the period
    "SELECT l.account_id, SUM(l.amount_fen) FROM journal_lines l JOIN journal_entries e ON e.id = l.entry_id "
    "WHERE e.period_id = %(p)s GROUP BY l.account_id",
    # each hospital account's sums by kind in the period, in the statement's sign (due to the hospital)
    "SELECT a.hospital_id, CASE WHEN e.reverses_entry_id IS NOT NULL THEN 'reversal' "
    "WHEN l.amount_fen < 0 THEN 'supplement' ELSE 'recovery' END AS line_kind, -SUM(l.amount_fen) "
    "FROM journal_lines l JOIN journal_entries e ON e.id = l.entry_id JOIN accounts a ON a.id = l.account_id "
    "WHERE e.period_id = %(p)s AND a.kind = 'hospital' GROUP BY a.hospital_id, line_kind",
)


def bare_sums(url: str, period_id: int) -> float:
    """Seconds for the baseline's queries, all rows fetched."""
    with psycopg.connect(url) as connection:
        started = time.perf_counter()
        for query in BARE_QUERIES:
            connection.execute(query, {"p": period_id}).fetchall()
        return time.perf_counter() - started


def main(postings: int, hospital_count: int) -> None:
    os.environ.setdefault("BENCH_DATABASE_URL", DEFAULT_URL)
    app = bench_app()
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if not url.startswith("postgresql"):
        raise SystemExit("bench/settlement.py compares with bare psycopg: BENCH_DATABASE_URL must be PostgreSQL")
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    with app.app_context():
        world = build_world()
        hospitals = add_hospitals(world, hospital_count)
        post_quarter(hospitals, postings)
        analyze(plain)
        period_id = db.session.scalar(db.select(AccountingPeriod.id).where(
            AccountingPeriod.region_id == world.region_id, AccountingPeriod.code == PERIOD))
        bare_sums(plain, period_id)  # warm: both sides read from the buffer cache
        bare = bare_sums(plain, period_id)
        started = time.perf_counter()
        periods.close(world.actors["staff"], "T01", PERIOD)
        close_seconds = time.perf_counter() - started
        db.session.remove()
    total = close_seconds
    print(f"hospitals={hospital_count} postings={postings} close_s={close_seconds:.2f} total_s={total:.2f} "
          f"bare_sql_s={bare:.3f} ratio={bare / total:.3f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000, int(sys.argv[2]) if len(sys.argv) > 2 else 200)

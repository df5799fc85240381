"""A quarter's settlement (issue 14 §4, DESIGN §10.3): close one period (reconciliation, stored balances, chained
hash) and generate every hospital's draft statement through the product's services, against bare SQL computing the
same sums in the same run on the same database; then statement PDFs against bare WeasyPrint.

Usage: python bench/settlement.py [POSTINGS] [HOSPITALS]   (default 100000 200; BENCH_DATABASE_URL picks the
                                                           database, default `bench_settlement`, PostgreSQL only)

Set-up, not measured: the test world's region with HOSPITALS hospitals, and POSTINGS entries in its period 2026Q3
through `ledger.post_many` (batches of BATCH), each moving money between the region's fund and one hospital, the
hospitals in turn: supplements and recoveries, and one entry in fifty a reversal of an entry of the batch before;
every entry books an issued decision (written as rows; a reversal, the one it undoes), and one decision in
eleven moves no money (no entry; the statement lists and settles it).
Then ANALYZE, as the autovacuum daemon would have done long before a bureau closes a quarter.

Printed on one key=value line:
- close_s: `periods.close` (reconciliation of every account, the period's balances, the hash).
- drafts_s: `settlements.start_drafts` with eager tasks: every hospital's draft, its lines and totals.
- total_s: close_s + drafts_s (target: at most 60 s on 2 cores).
- bare_sql_s: psycopg running the same sums: every account's Σ lines against its cached balance, every entry's
  Σ lines, each account's movement in the period, and each hospital account's Σ by kind (supplement, recovery,
  reversal) in the period; the rows are fetched, nothing is written.
- ratio: bare_sql_s / total_s (as elsewhere in bench/: the product's rate over the baseline's).
- agree: the run ended done and Σ statements = Σ the period's lines on hospital accounts, one line each.
- statements, pdf_per_s: `statements.statement_pdf(settlement, "zh_CN")` for the first PDF_STATEMENTS statements,
  issued first; bare_pdf_per_s: bare WeasyPrint writing the same statements' HTML (`statement_html`), as
  bench/pdf.py does for letters; pdf_ratio: pdf_per_s / bare_pdf_per_s (target: at least 0.5).
"""
from __future__ import annotations

import os
import random
import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import psycopg
from common import bench_app
from pdf import CASE_FIELDS
from weasyprint import HTML

from review.clock import utcnow
from review.extensions import db
from review.models import (Account, AccountingPeriod, Case, Decision, Hospital, JournalEntry, JournalLine,
                           ReviewItem, SamplingPlan, Settlement, SettlementLine, SettlementRun)
from review.services import cases, ledger, periods, settlements, statements
from review.services.context import Actor
from tests.factories import World, ami_case, build_world
from workflows.ledger import Line, decision_posting, reversal

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_settlement"
PERIOD = "2026Q3"
BATCH = 1000
REVERSAL_EVERY = 50
NO_MONEY_EVERY = 10
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


@dataclass(frozen=True)
class Booked:
    """A decision's entry as set up, for the reversal that may undo it later."""

    decision_id: int
    entry_id: int
    lines: tuple[Line, ...]


def issued_decisions(world: World, template: Case, plan_id: int, moves: list[tuple[str, int]], first: int
                     ) -> list[int]:
    """One issued decision per (hospital code, amount), each on its own case and item of the world's cycle, written
    as rows (the review that produces them is measured elsewhere): an approved application for a supplement, a
    rejected one for no money, a sampled record whose admission was unjustified for a recovery."""
    fields = {name: getattr(template, name) for name in CASE_FIELDS if name != "hospital_id"}
    case_ids = db.session.scalars(db.insert(Case).returning(Case.id, sort_by_parameter_order=True), [
        {**fields, "hospital_id": world.hospitals[code], "case_no": f"S{first + n:08d}"}
        for n, (code, _amount) in enumerate(moves)]).all()
    item_ids = db.session.scalars(db.insert(ReviewItem).returning(ReviewItem.id, sort_by_parameter_order=True), [
        {"kind": "application" if amount >= 0 else "sampled_record", "case_id": case_id,
         "hospital_id": world.hospitals[code], "cycle_id": world.cycle_id, "state": "issued", "issued_version": 1,
         "category": "high_cost" if amount >= 0 else None, "sampling_plan_id": None if amount >= 0 else plan_id,
         "stratum": None if amount >= 0 else "bench"}
        for case_id, (code, amount) in zip(case_ids, moves)]).all()
    now = utcnow()
    return db.session.scalars(db.insert(Decision).returning(Decision.id, sort_by_parameter_order=True), [
        {"item_id": item_id, "version": 1, "status": "issued", "approvals": 3 if amount > 0 else 1, "panel_size": 3,
         "outcome": "approved" if amount > 0 else "rejected" if amount == 0 else "admission_unjustified",
         "deduction_fen": 0, "drg": template.drg, "drg_payment_fen": template.drg_payment_fen,
         "total_cost_fen": template.total_cost_fen, "amount_fen": amount,
         "admission_justified": None if amount >= 0 else False,
         "drg_after": None if amount >= 0 else template.drg,
         "drg_weight_after": None if amount >= 0 else str(template.drg_weight),
         "drg_payment_after_fen": None if amount >= 0 else template.drg_payment_fen, "vote_snapshot": {"k": 3},
         "verification_code": f"SETTLE{first + n:010d}", "issued_at": now,
         "appeal_deadline": now.date() + timedelta(days=10)}
        for n, (item_id, (_code, amount)) in enumerate(zip(item_ids, moves))]).all()


def post_quarter(world: World, hospitals: list[str], postings: int, seed: int = 20260930) -> None:
    """POSTINGS entries in PERIOD, BATCH to a transaction as the issue of many decisions would post them: seven in
    ten supplements, the rest recoveries, and one in REVERSAL_EVERY the reversal of an entry of the batch before
    (an appeal's new version undoing the first); besides, one rejection (no money, no entry, but listed and settled
    by the statement) per NO_MONEY_EVERY postings."""
    rng = random.Random(seed)
    template = cases.create_case(world.actors["hosp1"], ami_case(case_no="S-TEMPLATE"))
    plan = SamplingPlan(cycle_id=world.cycle_id, config={}, published_value="bench", population=[],
                        population_size=0, population_sha256="0" * 64, seed="0" * 64, algorithm_version="bench",
                        sample_sha256="0" * 64, strata=[])
    db.session.add(plan)
    db.session.flush()
    previous: list[Booked] = []
    made = 0
    for start in range(0, postings, BATCH):
        numbers = range(start, min(start + BATCH, postings))
        undo = {n for n in numbers if previous and n % REVERSAL_EVERY == 0}
        moves = [(hospitals[n % len(hospitals)], rng.randint(1_000, 5_000_000) * (1 if rng.random() < 0.7 else -1))
                 for n in numbers if n not in undo]
        quiet = [(hospitals[n % len(hospitals)], 0) for n in numbers if n % NO_MONEY_EVERY == 1]
        decided = iter(zip(moves, issued_decisions(world, template, plan.id, moves + quiet, made)))  # moves first
        made += len(moves) + len(quiet)
        batch: list[ledger.Posting] = []
        for n in numbers:
            if n in undo:
                undone = previous.pop(rng.randrange(len(previous)))  # an entry is reversed once
                batch.append(ledger.Posting(reversal(undone.entry_id, undone.lines), undone.decision_id,
                                            reverses_entry_id=undone.entry_id))
                continue
            (code, amount), decision_id = next(decided)
            entry_plan = decision_posting(decision_id, 1, amount, "T01", code)
            assert entry_plan is not None
            batch.append(ledger.Posting(entry_plan, decision_id))
        entries = ledger.post_many(batch, PERIOD, None)
        db.session.commit()
        previous = [Booked(posting.decision_id, entry.id, posting.plan.lines)
                    for posting, entry in zip(batch, entries) if posting.reverses_entry_id is None
                    and posting.decision_id is not None]


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


def drafts_agree(run_id: int, period_id: int) -> bool:
    """The run finished, and its statements agree with the ledger: Σ statements' movements = Σ the period's lines
    on hospital accounts (due to the hospital), one statement line per such line, one statement per account."""
    run = db.session.get(SettlementRun, run_id, populate_existing=True)
    ledger_due, ledger_lines, accounts = db.session.execute(
        db.select(-db.func.sum(JournalLine.amount_fen), db.func.count(),
                  db.func.count(JournalLine.account_id.distinct()))
        .join(JournalEntry, JournalEntry.id == JournalLine.entry_id).join(Account, Account.id == JournalLine.account_id)
        .where(JournalEntry.period_id == period_id, Account.kind == "hospital")).one()
    stated_due, stated_lines, statements = db.session.execute(
        db.select(db.func.sum(Settlement.closing_fen - Settlement.opening_fen), db.func.sum(Settlement.line_count),
                  db.func.count()).where(Settlement.period_id == period_id)).one()
    written = db.session.scalar(db.select(db.func.count()).select_from(SettlementLine).join(
        Settlement, Settlement.id == SettlementLine.settlement_id).where(Settlement.period_id == period_id))
    return (run is not None and run.status == "done" and (stated_due, stated_lines, statements, written)
            == (ledger_due, ledger_lines, accounts, ledger_lines))


def pdf_seconds(actor: Actor, period_id: int) -> tuple[int, float, float]:
    """(statements, product seconds, bare seconds): the first PDF_STATEMENTS drafts issued (untimed, so each PDF
    carries its 文号, verification code and QR code as a hospital receives it), then each rendered through
    `statement_pdf` from the database, then the same HTML strings through bare WeasyPrint."""
    ids = db.session.scalars(db.select(Settlement.id).join(Hospital, Hospital.id == Settlement.hospital_id)
                             .where(Settlement.period_id == period_id).order_by(Hospital.code)
                             .limit(PDF_STATEMENTS)).all()
    for settlement_id in ids:
        settlements.issue(actor, settlement_id)
    db.session.expunge_all()  # each statement reads its figures, lines, hospital and period as in production
    warm = db.session.get(Settlement, ids[0])
    statements.statement_pdf(warm, "zh_CN")  # fonts loaded and cached once, for both runs alike
    HTML(string=statements.statement_html(warm, "zh_CN")).write_pdf()
    db.session.expunge_all()
    started = time.perf_counter()
    for settlement_id in ids:
        statements.statement_pdf(db.session.get(Settlement, settlement_id), "zh_CN")  # type: ignore[arg-type]
    seconds = time.perf_counter() - started
    htmls = [statements.statement_html(db.session.get(Settlement, settlement_id), "zh_CN")  # type: ignore[arg-type]
             for settlement_id in ids]
    started = time.perf_counter()
    for html in htmls:
        HTML(string=html).write_pdf()
    return len(ids), seconds, time.perf_counter() - started


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
        post_quarter(world, hospitals, postings)
        analyze(plain)
        period_id = db.session.scalar(db.select(AccountingPeriod.id).where(
            AccountingPeriod.region_id == world.region_id, AccountingPeriod.code == PERIOD))
        bare_sums(plain, period_id)  # warm: both sides read from the buffer cache
        bare = bare_sums(plain, period_id)
        started = time.perf_counter()
        periods.close(world.actors["staff"], "T01", PERIOD)
        close_seconds = time.perf_counter() - started
        started = time.perf_counter()
        run_id = settlements.start_drafts(world.actors["staff"], "T01", PERIOD).id
        drafts_seconds = time.perf_counter() - started
        agree = "yes" if drafts_agree(run_id, period_id) else "NO"
        rendered, pdf, bare_pdf = pdf_seconds(world.actors["staff"], period_id)
        db.session.remove()
    total = close_seconds + drafts_seconds
    print(f"hospitals={hospital_count} postings={postings} close_s={close_seconds:.2f} drafts_s={drafts_seconds:.2f} "
          f"total_s={total:.2f} bare_sql_s={bare:.3f} ratio={bare / total:.3f} agree={agree} statements={rendered} "
          f"pdf_per_s={rendered / pdf:.2f} bare_pdf_per_s={rendered / bare_pdf:.2f} pdf_ratio={bare_pdf / pdf:.3f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000, int(sys.argv[2]) if len(sys.argv) > 2 else 200)

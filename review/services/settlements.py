"""Quarterly settlement statements (DESIGN §10.3, issue 14 §2): the money leaves the system as one statement per
hospital and closed period, issued by the office and answered by the hospital.

- **Drafts** are drawn from a closed period only (its entries are fixed by the close and by the database), by a
  background job through the one job runner, with progress committed per batch of hospitals. A hospital gets a
  draft when its account has a balance stored at the close (it moved, or it carried a balance in), or when its
  decisions of the period's cycle moved no money (a nil statement that settles them). A draft is
  written once: a second run makes only the drafts still missing, so a redelivered job never writes twice.
- **Figures** come from the pure rules in workflows/settlement.py and are checked against the balance the close
  stored (`PeriodBalance`) before anything is written: a statement that disagrees with the ledger is a bug, and
  the run fails naming the hospital rather than print it.
- **Issue** gives the statement its 文号 (series `statement` of the region's counter, gap-free) and verification
  code, settles the items whose current decision it carries (`issued → settled`), and writes the job that stores
  its official copy (review/services/statements.py).
- **Answer**: the hospital acknowledges or disputes once, a dispute with a reason and the items it names; what it
  names is put right by an appeal (while the letter's deadline runs) or by the office's correction, and the next
  period's statement carries the new version.
"""
from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, or_, update

from review.extensions import db
from review.messages import problem_text
from review.models import (Account, AccountingPeriod, Case, Cycle, Decision, Hospital, JournalEntry, JournalLine,
                           PeriodBalance, Region, ReviewItem, Settlement, SettlementLine, SettlementRun)
from review.models.types import utcnow
from review.services import activity, jobs, letterheads, periods
from review.services.context import HIDDEN, SYSTEM, Actor, NotFound, ServiceError, ValidationFailed
from review.services.cycles import region_today
from review.services.items import move
from review.services.lifecycle import next_state
from review.services.notifications import notify
from workflows.problems import Problem, ProblemError
from workflows.settlement import StatementFigures, due_to_hospital, line_kind, statement_figures
from workflows.states import (Action, Role, SettlementAction, SettlementState, State,
                              settlement_transition)

READERS = (Role.STAFF, Role.ADMIN, Role.AUDITOR)
OFFICE = (Role.STAFF, Role.ADMIN)
BATCH = 25
"""Hospitals per committed step of a draft run: progress moves often enough to watch, commits stay few."""
REASON_MIN, REASON_MAX = 10, 2000


class DraftsRefused(ProblemError):
    """A draft run that cannot finish (its figures disagree with the ledger): it ends failed, nothing written."""


# --- drafts ------------------------------------------------------------------------------------------------


def _hospitals_to_draw(period: AccountingPeriod) -> list[tuple[int, int | None, int]]:
    """(hospital id, account id, closing balance) of every hospital the period's statements are for, by hospital
    code: each account the close stored a balance for, and each hospital whose decisions of the period's cycle all
    moved no money (no account, balance 0): its statement lists and settles them."""
    with_balance = {row[0]: (row[1], row[2]) for row in db.session.execute(
        db.select(Account.hospital_id, Account.id, PeriodBalance.closing_fen)
        .join(PeriodBalance, PeriodBalance.account_id == Account.id)
        .where(PeriodBalance.period_id == period.id, Account.kind == "hospital"))}
    unpaid = set(db.session.scalars(_decided_without_money(period).with_only_columns(ReviewItem.hospital_id)
                                    .distinct().order_by(None)))
    codes = dict(db.session.execute(db.select(Hospital.id, Hospital.code).where(
        Hospital.id.in_(set(with_balance) | unpaid))).all())
    return [(hospital_id, *with_balance.get(hospital_id, (None, 0))) for hospital_id in sorted(codes, key=codes.get)]


def start_drafts(actor: Actor, region_code: str, period_code: str) -> SettlementRun:
    """Ask for the period's drafts: refused unless the period is closed; a run still going is returned instead of
    starting a second. The job is written with the request and sent after it commits."""
    actor.require(*OFFICE)
    period = periods.find(region_code, period_code)
    if period.state != "closed":
        raise ServiceError(problem_text(Problem("settlement.period_not_closed", period=period.code)))
    going = db.session.scalars(db.select(SettlementRun).where(
        SettlementRun.period_id == period.id, SettlementRun.status.in_(("queued", "running")))).first()
    if going is not None:
        return going
    run = SettlementRun(period_id=period.id, total=len(_hospitals_to_draw(period)),
                        created_by_id=actor.user_id)
    db.session.add(run)
    db.session.flush()
    activity.record(actor, "settlement.drafts_requested", "settlement_run", run.id, None,
                    {"region": region_code, "period": period.code, "hospitals": run.total}, region_id=period.region_id)
    run_id = run.id
    from review.tasks import draw_settlements  # here: the task module imports this one

    jobs.enqueue(draw_settlements, run_id, actor=actor)
    db.session.commit()  # an eager task runs in its own session: nothing is read between this and the return
    return db.session.get(SettlementRun, run_id)  # type: ignore[return-value]


@dataclass(frozen=True)
class _EntryLine:
    account_id: int
    entry_id: int
    due_fen: int
    kind: str
    decision_id: int | None
    item_id: int | None
    corrects_period_id: int | None


def _period_lines(period_id: int) -> dict[int, list[_EntryLine]]:
    """Every line of the period on a hospital account, as statement lines, by account (one query)."""
    rows = db.session.execute(
        db.select(JournalLine.account_id, JournalEntry.id, JournalLine.amount_fen, JournalEntry.reverses_entry_id,
                  Decision.basis, Decision.id, Decision.item_id, JournalEntry.corrects_period_id)
        .join(JournalEntry, JournalEntry.id == JournalLine.entry_id)
        .join(Account, (Account.id == JournalLine.account_id) & (Account.kind == "hospital"))
        .outerjoin(Decision, Decision.id == JournalEntry.decision_id)
        .where(JournalEntry.period_id == period_id).order_by(JournalEntry.id, JournalLine.id))
    lines: dict[int, list[_EntryLine]] = defaultdict(list)
    for account_id, entry_id, amount, reverses, basis, decision_id, item_id, corrects in rows:
        due = due_to_hospital(amount)
        kind = line_kind(reverses_an_entry=reverses is not None, correction=basis == "correction", due_fen=due)
        lines[account_id].append(_EntryLine(account_id, entry_id, due, kind, decision_id, item_id, corrects))
    return lines


def _openings(period: AccountingPeriod) -> dict[int, int]:
    """Each account's closing balance in the closed period the close chained this one to (account id → fen): the
    period whose hash is this one's `previous_hash`, so the opening is the one the close itself started from."""
    previous_id = db.session.scalar(db.select(AccountingPeriod.id).where(
        AccountingPeriod.region_id == period.region_id, AccountingPeriod.state == "closed",
        AccountingPeriod.id != period.id, AccountingPeriod.entries_hash == period.previous_hash))
    if previous_id is None:
        return {}
    return dict(db.session.execute(db.select(PeriodBalance.account_id, PeriodBalance.closing_fen)
                                   .where(PeriodBalance.period_id == previous_id)).all())


def run_drafts(run_id: int) -> None:
    """The worker's part: write the missing drafts of the run's period, a batch of hospitals per commit."""
    if not _claim(run_id):
        db.session.rollback()
        return
    run = db.session.get(SettlementRun, run_id)
    assert run is not None
    period = db.session.get(AccountingPeriod, run.period_id)
    assert period is not None
    accounts = _hospitals_to_draw(period)
    done_already = set(db.session.scalars(db.select(Settlement.hospital_id)
                                          .where(Settlement.period_id == period.id)))
    lines, openings = _period_lines(period.id), _openings(period)
    todo = [row for row in accounts if row[0] not in done_already]
    try:
        drafts = [_draft(period, hospital_id, closing, openings.get(account_id, 0), lines.get(account_id, []))
                  for hospital_id, account_id, closing in todo]
    except DraftsRefused as refused:
        _fail(run_id, refused.problem)
        return
    _advance(run, len(accounts) - len(todo), len(accounts))
    for start in range(0, len(drafts), BATCH):
        _write(run.id, drafts[start:start + BATCH])
        _advance(run, len(accounts) - len(todo) + min(start + BATCH, len(drafts)), len(accounts))
    run.status, run.progress, run.finished_at = "done", 100, utcnow()
    activity.record(SYSTEM, "settlement.drafts_made", "settlement_run", run.id, None,
                    {"period": period.code, "drafts": len(drafts), "already": len(done_already)},
                    region_id=period.region_id)
    db.session.commit()


@dataclass(frozen=True)
class _Draft:
    period_id: int
    hospital_id: int
    figures: StatementFigures
    lines: list[_EntryLine]


def _draft(period: AccountingPeriod, hospital_id: int, closing_balance: int, opening_balance: int,
           lines: list[_EntryLine]) -> _Draft:
    figures = statement_figures(due_to_hospital(opening_balance), ((line.kind, line.due_fen) for line in lines))
    if figures.closing_fen != due_to_hospital(closing_balance):
        hospital_code = db.session.scalar(db.select(Hospital.code).where(Hospital.id == hospital_id)) or ""
        raise DraftsRefused("settlement.figures_disagree", hospital=hospital_code, period=period.code,
                            statement_fen=figures.closing_fen, ledger_fen=due_to_hospital(closing_balance))
    return _Draft(period.id, hospital_id, figures, lines)


def _write(run_id: int, drafts: Sequence[_Draft]) -> None:
    """A batch of drafts and their lines in two bulk inserts (the caller commits with the progress)."""
    now = utcnow()
    ids = db.session.scalars(db.insert(Settlement).returning(Settlement.id, sort_by_parameter_order=True), [
        {"period_id": d.period_id, "hospital_id": d.hospital_id, "state": "draft",
         "opening_fen": d.figures.opening_fen, "supplements_fen": d.figures.supplements_fen,
         "recoveries_fen": d.figures.recoveries_fen, "adjustments_fen": d.figures.adjustments_fen,
         "closing_fen": d.figures.closing_fen, "line_count": len(d.lines),
         "run_id": run_id, "generated_at": now, "disputed_item_ids": []} for d in drafts]).all()
    rows = [{"settlement_id": settlement_id, "entry_id": line.entry_id, "decision_id": line.decision_id,
             "item_id": line.item_id, "kind": line.kind, "amount_fen": line.due_fen,
             "corrects_period_id": line.corrects_period_id}
            for settlement_id, draft in zip(ids, drafts) for line in draft.lines]
    if rows:
        db.session.execute(db.insert(SettlementLine), rows)


def _claim(run_id: int) -> bool:
    """Only a queued run, or one the job runner hands to this worker after its holder died, is taken."""
    now = utcnow()
    wanted = [SettlementRun.status == "queued"]
    if jobs.leased():
        wanted.append(SettlementRun.status == "running")
    claimed = db.session.execute(update(SettlementRun).where(SettlementRun.id == run_id, or_(*wanted))
                                 .values(status="running", updated_at=now, message="")
                                 .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    return bool(claimed)


def _advance(run: SettlementRun, done: int, total: int) -> None:
    run.done, run.total = done, max(total, done)
    run.progress = jobs.percent_done(done, total)
    db.session.commit()


def _fail(run_id: int, why: Problem) -> None:
    db.session.rollback()
    give_up(run_id, why)
    db.session.commit()


def give_up(run_id: int, why: Problem) -> None:
    """The run ends failed (the job runner calls this, in its transaction, when it stops trying)."""
    run = db.session.get(SettlementRun, run_id)
    assert run is not None
    run.status, run.message, run.finished_at = "failed", jobs.stored(why), utcnow()
    activity.record(SYSTEM, "settlement.drafts_failed", "settlement_run", run.id, None, {"problem": why.to_json()},
                    region_id=run.period.region_id)


def revive(run_id: int) -> None:
    """Staff retry: the run waits to be drawn again (drafts already written stay)."""
    run = db.session.get(SettlementRun, run_id)
    assert run is not None
    run.status, run.message, run.finished_at, run.progress = "queued", "", None, 0


# --- issue and answer --------------------------------------------------------------------------------------


def _step(settlement: Settlement, action: SettlementAction, actor: Actor) -> str:
    """The state `action` takes the statement to (assigned by the caller with the fields the CHECKs tie to it)."""
    return next_state(settlement_transition, SettlementState(settlement.state), action, actor.role)


def _locked(actor: Actor, settlement_id: int) -> Settlement:
    settlement = db.session.scalars(scoped(actor, db.select(Settlement).where(Settlement.id == settlement_id))
                                    .with_for_update()).first()
    if settlement is None:
        raise NotFound(HIDDEN)
    return settlement


def issue(actor: Actor, settlement_id: int) -> Settlement:
    """Issue a draft: its 文号 and verification code, and the items whose current decision it carries settled."""
    actor.require(*OFFICE)
    settlement = _locked(actor, settlement_id)
    state = _step(settlement, SettlementAction.ISSUE, actor)
    period = db.session.get(AccountingPeriod, settlement.period_id)
    region = db.session.get(Region, period.region_id) if period else None
    assert period is not None and region is not None
    today = region_today(region)
    number = letterheads.next_number(region.id, today.year, "statement")
    ref_zh, ref_en = letterheads.reference(letterheads.letterhead_for(region), today.year, number, "statement")
    settlement.issued_at, settlement.issued_by_id = utcnow(), actor.user_id
    settlement.statement_region_id, settlement.statement_year, settlement.statement_number = region.id, today.year, number
    settlement.statement_ref_zh, settlement.statement_ref_en = ref_zh, ref_en
    settlement.verification_code, settlement.state = secrets.token_hex(8).upper(), state
    settled = _settle_items(actor, settlement)
    activity.record(actor, "settlement.issued", "settlement", settlement.id, settlement.hospital_id, {
        "period": period.code, "ref": ref_zh, "closing_fen": settlement.closing_fen, "items_settled": settled})
    notify(kind="statement_issued", dedupe_key=f"statement-issued:{settlement.id}",
           hospital_id=settlement.hospital_id, period=period.code, ref=ref_zh, statement=settlement.id)
    from review.tasks import render_statement  # here: the task module imports this one

    jobs.enqueue(render_statement, settlement.id, actor=actor)  # the official copy, committed with the issue
    db.session.commit()
    return settlement


def _settle_items(actor: Actor, settlement: Settlement) -> int:
    """Items in `issued` whose issued version is the decision a line of this statement books move to `settled`,
    and so do the hospital's items of the period's cycle decided with no money moving (they have no line); an item
    under appeal, or whose current version a later period books, waits for that statement."""
    items = db.session.scalars(
        db.select(ReviewItem).join(SettlementLine, SettlementLine.item_id == ReviewItem.id)
        .join(Decision, (Decision.id == SettlementLine.decision_id) & (Decision.version == ReviewItem.issued_version))
        .where(SettlementLine.settlement_id == settlement.id, ReviewItem.state == State.ISSUED.value,
               Decision.status == "issued").order_by(ReviewItem.id).with_for_update(of=ReviewItem)).unique().all()
    unpaid = db.session.scalars(_without_money(settlement).with_for_update(of=ReviewItem)).all()
    for item in (*items, *unpaid):
        move(item, Action.SETTLE, actor, {"settlement_id": settlement.id, "ref": settlement.statement_ref_zh})
    return len(items) + len(unpaid)


def _without_money(settlement: Settlement, states: Sequence[str] = (State.ISSUED.value,)) -> Select:
    """The hospital's items of the period's cycle whose current decision moves no money, in `states`."""
    period = db.session.get(AccountingPeriod, settlement.period_id)
    assert period is not None
    return _decided_without_money(period, states).where(ReviewItem.hospital_id == settlement.hospital_id)


def _decided_without_money(period: AccountingPeriod, states: Sequence[str] = (State.ISSUED.value,)) -> Select:
    """The items of the period's cycle (same region, same code) whose current decision moves no money."""
    return (db.select(ReviewItem)
            .join(Cycle, Cycle.id == ReviewItem.cycle_id)
            .join(Decision, (Decision.item_id == ReviewItem.id) & (Decision.version == ReviewItem.issued_version)
                  & (Decision.status == "issued"))
            .where(Cycle.region_id == period.region_id, Cycle.code == period.code, ReviewItem.state.in_(states),
                   Decision.amount_fen == 0)
            .order_by(ReviewItem.id))


@dataclass(frozen=True)
class UnpaidDecision:
    item_id: int
    case_no: str
    drg: str
    version: int
    outcome: str
    letter_ref_zh: str | None
    letter_ref_en: str | None


def decisions_without_money(settlement: Settlement) -> list[UnpaidDecision]:
    """What the statement lists below its lines: the period's decisions for the hospital that changed no payment,
    which it settles too (or, once issued, settled)."""
    states = (State.ISSUED.value,) if settlement.state == "draft" else (State.ISSUED.value, State.SETTLED.value)
    query = _without_money(settlement, states).join(Case, Case.id == ReviewItem.case_id).with_only_columns(
        ReviewItem.id, Case.case_no, db.func.coalesce(Decision.drg_after, Decision.drg), Decision.version, Decision.outcome,
        Decision.letter_ref_zh, Decision.letter_ref_en)
    return [UnpaidDecision(*row) for row in db.session.execute(query).all()]


def issue_many(actor: Actor, period_id: int) -> int:
    """Issue every draft of a period, one transaction each (like decisions.issue_many): a refusal leaves the
    others issued. Returns how many were issued now."""
    actor.require(*OFFICE)
    ids = db.session.scalars(db.select(Settlement.id).join(Hospital, Hospital.id == Settlement.hospital_id).where(
        Settlement.period_id == period_id, Settlement.state == "draft").order_by(Hospital.code)).all()
    issued = 0
    for settlement_id in ids:
        try:
            issue(actor, settlement_id)
        except ServiceError:
            db.session.rollback()
        else:
            issued += 1
    return issued


def acknowledge(actor: Actor, settlement_id: int) -> Settlement:
    actor.require(Role.HOSPITAL)
    settlement = _locked(actor, settlement_id)
    _answered(actor, settlement, _step(settlement, SettlementAction.ACKNOWLEDGE, actor), "settlement.acknowledged",
              {})
    db.session.commit()
    return settlement


def dispute(actor: Actor, settlement_id: int, reason: str, item_ids: Iterable[int] = ()) -> Settlement:
    """A dispute names why, and may name the statement's cases it concerns (`statement_cases`; any other item is
    refused)."""
    actor.require(Role.HOSPITAL)
    reason = (reason or "").strip()
    if not REASON_MIN <= len(reason) <= REASON_MAX:
        raise ValidationFailed({"reason": [str(_l("Give the reason in %(min)s to %(max)s characters.",
                                                  min=REASON_MIN, max=REASON_MAX))]})
    settlement = _locked(actor, settlement_id)
    wanted = sorted(set(item_ids))
    if not set(wanted) <= set(statement_cases(settlement)):
        raise ValidationFailed({"items": [str(_l("Name only cases on this statement."))]})
    state = _step(settlement, SettlementAction.DISPUTE, actor)
    settlement.dispute_reason, settlement.disputed_item_ids = reason, wanted
    _answered(actor, settlement, state, "settlement.disputed", {"items": wanted})
    db.session.commit()
    return settlement


def _answered(actor: Actor, settlement: Settlement, state: str, action: str, data: dict) -> None:
    settlement.answered_at, settlement.answered_by_id, settlement.state = utcnow(), actor.user_id, state
    activity.record(actor, action, "settlement", settlement.id, settlement.hospital_id,
                    {"ref": settlement.statement_ref_zh, **data})


# --- reading -----------------------------------------------------------------------------------------------


def scoped(actor: Actor, query: Select) -> Select:
    """A hospital reads its own statements once issued (a draft is the office's working copy); the office and
    auditors read all; anyone else nothing."""
    if actor.role == Role.HOSPITAL:
        return query.where(Settlement.hospital_id == actor.hospital_id, Settlement.state != "draft")
    if actor.role in READERS or actor.role == Role.SYSTEM:
        return query
    return query.where(db.false())


def listing(actor: Actor, period_id: int | None = None, state: str = "") -> Select:
    query = scoped(actor, db.select(Settlement, Hospital, AccountingPeriod)
                   .join(Hospital, Hospital.id == Settlement.hospital_id)
                   .join(AccountingPeriod, AccountingPeriod.id == Settlement.period_id)
                   .order_by(AccountingPeriod.code.desc(), Hospital.code))
    if period_id:
        query = query.where(Settlement.period_id == period_id)
    if state:
        query = query.where(Settlement.state == state)
    return query


def get(actor: Actor, settlement_id: int) -> Settlement:
    settlement = db.session.scalars(scoped(actor, db.select(Settlement).where(Settlement.id == settlement_id))).first()
    if settlement is None:
        raise NotFound(HIDDEN)
    return settlement


def state_counts(period_id: int) -> dict[str, int]:
    return dict(db.session.execute(db.select(Settlement.state, db.func.count()).where(
        Settlement.period_id == period_id).group_by(Settlement.state)).all())


def latest_run(period_id: int) -> SettlementRun | None:
    return db.session.scalars(db.select(SettlementRun).where(SettlementRun.period_id == period_id)
                              .order_by(SettlementRun.id.desc()).limit(1)).first()


@dataclass(frozen=True)
class StatementLine:
    """One line as the pages, the PDF and the workbook show it."""

    kind: str
    amount_fen: int
    entry_id: int
    decision_id: int | None
    item_id: int | None
    case_no: str | None
    drg: str | None
    version: int | None
    letter_ref_zh: str | None
    letter_ref_en: str | None
    corrects_period: str | None
    item_state: str | None


def statement_lines(settlement: Settlement) -> list[StatementLine]:
    corrected = db.aliased(AccountingPeriod)
    rows = db.session.execute(
        db.select(SettlementLine.kind, SettlementLine.amount_fen, SettlementLine.entry_id, SettlementLine.decision_id,
                  SettlementLine.item_id,
                  Case.case_no, db.func.coalesce(Decision.drg_after, Decision.drg), Decision.version,
                  Decision.letter_ref_zh, Decision.letter_ref_en, corrected.code, ReviewItem.state)
        .outerjoin(Decision, Decision.id == SettlementLine.decision_id)
        .outerjoin(ReviewItem, ReviewItem.id == SettlementLine.item_id)
        .outerjoin(Case, Case.id == ReviewItem.case_id)
        .outerjoin(corrected, corrected.id == SettlementLine.corrects_period_id)
        .where(SettlementLine.settlement_id == settlement.id).order_by(SettlementLine.entry_id)).all()
    return [StatementLine(*row) for row in rows]


def statement_cases(settlement: Settlement) -> dict[int, str]:
    """The cases a statement concerns, item id → case number: what a dispute may name."""
    return cases_of(statement_lines(settlement), decisions_without_money(settlement))


def cases_of(lines: Iterable[StatementLine], unpaid: Iterable[UnpaidDecision]) -> dict[int, str]:
    """The cases of a statement's lines and of the decisions it settles that moved no money, by item id."""
    cases = {line.item_id: line.case_no or f"#{line.item_id}" for line in lines if line.item_id is not None}
    cases.update((decision.item_id, decision.case_no) for decision in unpaid)
    return dict(sorted(cases.items()))


@dataclass(frozen=True)
class VerifiedStatement:
    """What the public verification page may show of a statement: its own printed facts."""

    code: str
    ref_zh: str | None
    ref_en: str | None
    region_name_en: str
    region_name_zh: str
    hospital_code: str
    hospital_name_en: str
    hospital_name_zh: str
    period: str
    closing_fen: int
    issued_on: date | None


def verify_code(canonical: str) -> VerifiedStatement | None:
    """The issued statement with this (canonical) verification code, or None."""
    row = db.session.execute(
        db.select(Settlement, Hospital, AccountingPeriod, Region)
        .join(Hospital, Hospital.id == Settlement.hospital_id)
        .join(AccountingPeriod, AccountingPeriod.id == Settlement.period_id)
        .join(Region, Region.id == AccountingPeriod.region_id)
        .where(Settlement.verification_code == canonical)).first()
    if row is None:
        return None
    settlement, hospital, period, region = row
    from review.services.letters import local_date

    return VerifiedStatement(
        code=canonical, ref_zh=settlement.statement_ref_zh, ref_en=settlement.statement_ref_en,
        region_name_en=region.name_en, region_name_zh=region.name_zh, hospital_code=hospital.code,
        hospital_name_en=hospital.name_en, hospital_name_zh=hospital.name_zh, period=period.code,
        closing_fen=settlement.closing_fen, issued_on=local_date(settlement.issued_at, region.timezone))

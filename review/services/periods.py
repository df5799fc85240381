"""Accounting periods (DESIGN §10.3, issue 14 §1): where an entry is booked, and the close of a period.

An entry is booked in the period named after the cycle whose money it moves, opened the first time it is needed.
Once that period is closed, the entry goes to the region's newest open period and names the closed one it
corrects (`corrects_period_id`); the database refuses any entry in a period that is not open
(review/models/periods.py). Posting holds the period row with a shared lock and closing takes it exclusively,
so no posting can slip into a period between its reconciliation and its close.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select
from sqlalchemy.dialects import postgresql, sqlite

from review.clock import utcnow
from review.extensions import db
from review.messages import problem_text
from review.models import (Account, AccountingPeriod, Decision, JournalEntry, JournalLine, PeriodBalance, Region)
from review.services import activity
from review.services.context import Actor, NotFound, ServiceError
from review.services.lifecycle import next_state
from workflows.ledger import ClosedEntry, Line, closing_balances, period_digest
from workflows.problems import Problem
from workflows.states import PeriodAction, PeriodState, Role, period_transition

GENESIS = "0" * 64


@dataclass(frozen=True)
class Booking:
    period_id: int
    period_code: str
    corrects_period_id: int | None


def _region_id(region_code: str) -> int:
    region_id = db.session.scalar(db.select(Region.id).where(Region.code == region_code))
    if region_id is None:
        raise ServiceError(problem_text(Problem("ledger.region_unknown", region=region_code)))
    return region_id


def ensure(region_id: int, code: str) -> None:
    """The period `code` of the region exists (opened now if it did not); two first postings create it once."""
    insert = postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert
    db.session.execute(insert(AccountingPeriod).values(region_id=region_id, code=code, state="open",
                                                       opened_at=utcnow())
                       .on_conflict_do_nothing(index_elements=["region_id", "code"]))


def _by_region_code(region_code: str, code: str) -> Select:
    """The period found through its region's code, in one statement."""
    return (db.select(AccountingPeriod).join(Region, Region.id == AccountingPeriod.region_id)
            .where(Region.code == region_code, AccountingPeriod.code == code))


def find(region_code: str, code: str) -> AccountingPeriod:
    """The region's period `code`, or NotFound worded with the period."""
    period = db.session.scalars(_by_region_code(region_code, code)).first()
    if period is None:
        raise NotFound(problem_text(Problem("ledger.period_unknown", period=code)))
    return period


def _locked_by_region_code(region_code: str, code: str) -> AccountingPeriod | None:
    """The period row, shared-locked (posting is hot: one statement)."""
    return db.session.scalars(_by_region_code(region_code, code).with_for_update(read=True, of=AccountingPeriod)
                              .execution_options(populate_existing=True)).first()


def booking(region_code: str, code: str) -> Booking:
    """Where an entry of period `code` is booked now: there while it is open, else in the newest open period."""
    period = _locked_by_region_code(region_code, code)
    if period is None:
        ensure(_region_id(region_code), code)
        period = _locked_by_region_code(region_code, code)
    assert period is not None
    if period.state == "open":
        return Booking(period.id, period.code, None)
    current = db.session.scalars(db.select(AccountingPeriod).where(
        AccountingPeriod.region_id == period.region_id, AccountingPeriod.state == "open")
        .order_by(AccountingPeriod.code.desc()).limit(1).with_for_update(read=True)).first()
    if current is None:
        raise ServiceError(problem_text(Problem("ledger.no_open_period", period=code)))
    return Booking(current.id, current.code, period.id)


def _entries(period_id: int) -> list[ClosedEntry]:
    rows = db.session.execute(
        db.select(JournalEntry.id, JournalEntry.idempotency_key, JournalEntry.request_hash, Account.code,
                  JournalLine.amount_fen)
        .join(JournalLine, JournalLine.entry_id == JournalEntry.id).join(Account, Account.id == JournalLine.account_id)
        .where(JournalEntry.period_id == period_id).order_by(JournalEntry.id, JournalLine.id)).all()
    entries: dict[int, tuple[str, str, list[Line]]] = {}
    for entry_id, key, request_hash, account, amount in rows:
        entries.setdefault(entry_id, (key, request_hash, []))[2].append(Line(account, amount))
    return [ClosedEntry(entry_id, key, request_hash, tuple(lines)) for entry_id, (key, request_hash, lines)
            in entries.items()]


def _previous_closed(period: AccountingPeriod) -> AccountingPeriod | None:
    return db.session.scalars(db.select(AccountingPeriod).where(
        AccountingPeriod.region_id == period.region_id, AccountingPeriod.state == "closed",
        AccountingPeriod.id != period.id).order_by(AccountingPeriod.closed_at.desc(), AccountingPeriod.id.desc())
        .limit(1)).first()


def _opening(previous: AccountingPeriod | None) -> dict[str, int]:
    if previous is None:
        return {}
    return dict(db.session.execute(db.select(Account.code, PeriodBalance.closing_fen).join(
        Account, Account.id == PeriodBalance.account_id).where(PeriodBalance.period_id == previous.id)).all())


def _problems(period: AccountingPeriod, entries: list[ClosedEntry]) -> list[Problem]:
    """What stops a close: an account whose cached balance is not the sum of its lines, an entry that does not
    balance, or a decision's entry whose amount is not the decision's."""
    from review.services.ledger import reconcile

    found = [Problem("ledger.account_unreconciled", account=code, cached_fen=cached, lines_fen=actual)
             for code, cached, actual in reconcile()]
    found += [Problem("ledger.entry_unbalanced", key=e.idempotency_key) for e in entries
              if sum(line.amount_fen for line in e.lines) != 0]
    amounts = dict(db.session.execute(db.select(JournalEntry.id, Decision.amount_fen).join(
        Decision, Decision.id == JournalEntry.decision_id).where(JournalEntry.period_id == period.id)).all())
    reversals = set(db.session.scalars(db.select(JournalEntry.id).where(
        JournalEntry.period_id == period.id, JournalEntry.reverses_entry_id.is_not(None))))
    for entry in entries:
        if entry.entry_id not in amounts:
            continue
        fund = sum(line.amount_fen for line in entry.lines if line.account_code.startswith("fund:"))
        expected = -amounts[entry.entry_id] if entry.entry_id in reversals else amounts[entry.entry_id]
        if fund != expected:
            found.append(Problem("ledger.entry_not_decision", key=entry.idempotency_key, entry_fen=fund,
                                 decision_fen=expected))
    return found


def _step(period: AccountingPeriod, action: PeriodAction, actor: Actor) -> str:
    """The state `action` takes the period to, or the core's refusal worded."""
    return next_state(period_transition, PeriodState(period.state), action, actor.role, period.code)


def close(actor: Actor, region_code: str, code: str) -> AccountingPeriod:
    """Close a period once: reconcile, store each account's movement and closing balance, chain the hash.
    A refusal names what is wrong and changes nothing; the period stays open. The office closes from its pages,
    an operator with `flask --app wsgi ledger close` (the system)."""
    actor.require(Role.STAFF, Role.ADMIN, Role.SYSTEM)
    region_id = _region_id(region_code)
    period = db.session.scalars(db.select(AccountingPeriod).where(
        AccountingPeriod.region_id == region_id, AccountingPeriod.code == code).with_for_update()).first()
    if period is None:
        raise NotFound(problem_text(Problem("ledger.period_unknown", period=code)))
    period.state = _step(period, PeriodAction.BEGIN_CLOSE, actor)  # the database refuses new entries from here
    db.session.flush()
    entries = _entries(period.id)
    problems = _problems(period, entries)
    if problems:
        db.session.rollback()
        raise ServiceError(" ".join(problem_text(problem) for problem in problems))
    previous = _previous_closed(period)
    balances = closing_balances(_opening(previous), entries)
    accounts = dict(db.session.execute(db.select(Account.code, Account.id).where(
        Account.code.in_(list(balances)))).all())
    db.session.add_all(PeriodBalance(period_id=period.id, account_id=accounts[code_], movement_fen=movement,
                                     closing_fen=closing) for code_, (movement, closing) in balances.items())
    period.previous_hash = previous.entries_hash if previous is not None else GENESIS
    period.entries_hash = period_digest(period.previous_hash or GENESIS, region_code, code, entries)
    period.entry_count, period.state = len(entries), _step(period, PeriodAction.CLOSE, actor)
    period.closed_at, period.closed_by_id = utcnow(), actor.user_id
    activity.record(actor, "ledger.period_closed", "accounting_period", period.id, None, {
        "region": region_code, "period": code, "entries": len(entries), "hash": period.entries_hash},
                    region_id=region_id)
    db.session.commit()
    return period


def verify(region_code: str, code: str) -> list[Problem]:
    """Recompute a closed period's hash and balances from the ledger; an empty list means they match."""
    region_id = _region_id(region_code)
    period = db.session.scalars(db.select(AccountingPeriod).where(
        AccountingPeriod.region_id == region_id, AccountingPeriod.code == code)).first()
    if period is None or period.state != "closed":
        return [Problem("ledger.period_not_closed", period=code)]
    entries = _entries(period.id)
    found = []
    if period_digest(period.previous_hash or GENESIS, region_code, code, entries) != period.entries_hash:
        found.append(Problem("ledger.period_hash_differs", period=code, entries=len(entries),
                             recorded=period.entry_count or 0))
    stored = dict(db.session.execute(db.select(Account.code, PeriodBalance.movement_fen).join(
        Account, Account.id == PeriodBalance.account_id).where(PeriodBalance.period_id == period.id)).all())
    recomputed = {account: movement for account, (movement, _closing) in closing_balances({}, entries).items()}
    for account in sorted(set(stored) | set(recomputed)):
        if stored.get(account, 0) != recomputed.get(account, 0):
            found.append(Problem("ledger.period_balance_differs", period=code, account=account,
                                 stored_fen=stored.get(account, 0), lines_fen=recomputed.get(account, 0)))
    return found

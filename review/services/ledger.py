"""Writing EntryPlans to the double-entry ledger inside the caller's transaction (DESIGN §7.6)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from review.extensions import db
from review.models import Account, Hospital, JournalEntry, JournalLine
from review.services.context import ServiceError
from workflows.ledger import EntryPlan


class IdempotencyConflict(ServiceError):
    pass


def _account(code: str) -> Account:
    account = db.session.scalars(db.select(Account).where(Account.code == code)).first()
    if account is not None:
        return account
    kind, _, ref = code.partition(":")
    hospital_id = None
    if kind == "hospital":
        hospital_id = db.session.scalars(db.select(Hospital.id).where(Hospital.code == ref)).one()
    account = Account(code=code, kind=kind, hospital_id=hospital_id)
    db.session.add(account)
    db.session.flush()
    return account


def post(plan: EntryPlan, period: str, decision_id: int | None, posted_by_id: int | None) -> JournalEntry:
    """Post once per idempotency key: the same plan again returns the first entry, a different one is refused.

    Account rows are locked in id order before balances move, so concurrent postings cannot deadlock.
    """
    existing = db.session.scalars(
        db.select(JournalEntry).where(JournalEntry.idempotency_key == plan.idempotency_key)).first()
    if existing is not None:
        if existing.request_hash != plan.request_hash:
            raise IdempotencyConflict(_l("A different posting already exists for %(key)s.", key=plan.idempotency_key))
        return existing
    accounts = {line.account_code: _account(line.account_code) for line in plan.lines}
    locked = {a.id: a for a in db.session.scalars(
        db.select(Account).where(Account.id.in_([a.id for a in accounts.values()]))
        .order_by(Account.id).with_for_update())}
    entry = JournalEntry(idempotency_key=plan.idempotency_key, request_hash=plan.request_hash, memo=plan.memo,
                         period=period, decision_id=decision_id, posted_by_id=posted_by_id)
    db.session.add(entry)
    db.session.flush()
    for line in plan.lines:
        account = locked[accounts[line.account_code].id]
        db.session.add(JournalLine(entry_id=entry.id, account_id=account.id, amount_fen=line.amount_fen))
        account.balance_fen += line.amount_fen
    db.session.flush()
    return entry


def reconcile() -> list[tuple[str, int, int]]:
    """Accounts whose cached balance differs from the sum of their lines: (code, cached, actual)."""
    sums = dict(db.session.execute(
        db.select(JournalLine.account_id, db.func.coalesce(db.func.sum(JournalLine.amount_fen), 0))
        .group_by(JournalLine.account_id)).all())
    return [(a.code, a.balance_fen, int(sums.get(a.id, 0)))
            for a in db.session.scalars(db.select(Account).order_by(Account.id))
            if a.balance_fen != int(sums.get(a.id, 0))]

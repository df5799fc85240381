"""What the ledger pages read (issue 14 §3): periods, accounts with balances, and the journal with filters.

Read-only and scoped: the review office and auditors read every account of the region; a hospital reads its own
account and entries only (the query carries the hospital, not the template).
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select

from review.extensions import db
from review.models import Account, AccountingPeriod, Decision, Hospital, JournalEntry, JournalLine, ReviewItem
from review.services.context import Actor
from workflows.settlement import LINE_KINDS, due_to_hospital, line_kind
from workflows.states import Role

KINDS = LINE_KINDS
"""What an entry does, as the journal filter offers it: `workflows.settlement.line_kind`, the statements' rule."""


@dataclass(frozen=True)
class JournalFilter:
    period_id: int | None = None
    hospital_id: int | None = None
    kind: str = ""


def periods() -> list[AccountingPeriod]:
    return list(db.session.scalars(db.select(AccountingPeriod).order_by(AccountingPeriod.code.desc())))


def accounts(actor: Actor) -> list[tuple[Account, Hospital | None]]:
    query = (db.select(Account, Hospital).outerjoin(Hospital, Hospital.id == Account.hospital_id)
             .order_by(Account.kind, Account.code))
    if actor.role == Role.HOSPITAL:
        query = query.where(Account.hospital_id == actor.hospital_id)
    return [(account, hospital) for account, hospital in db.session.execute(query).all()]


def journal(actor: Actor, wanted: JournalFilter) -> Select:
    """Rows (entry, hospital line amount, hospital, decision, item) newest first: one row per entry, through its
    hospital line (every entry moves exactly one hospital account)."""
    query = (db.select(JournalEntry, JournalLine.amount_fen, Hospital, Decision, ReviewItem)
             .join(JournalLine, JournalLine.entry_id == JournalEntry.id)
             .join(Account, (Account.id == JournalLine.account_id) & (Account.kind == "hospital"))
             .join(Hospital, Hospital.id == Account.hospital_id)
             .outerjoin(Decision, Decision.id == JournalEntry.decision_id)
             .outerjoin(ReviewItem, ReviewItem.id == Decision.item_id)
             .order_by(JournalEntry.id.desc()))
    if actor.role == Role.HOSPITAL:
        query = query.where(Hospital.id == actor.hospital_id)
    elif wanted.hospital_id:
        query = query.where(Hospital.id == wanted.hospital_id)
    if wanted.period_id:
        query = query.where(JournalEntry.period_id == wanted.period_id)
    not_reversal = JournalEntry.reverses_entry_id.is_(None)
    by_office = Decision.basis == "correction"
    if wanted.kind == "reversal":
        query = query.where(JournalEntry.reverses_entry_id.is_not(None))
    elif wanted.kind == "correction":
        query = query.where(not_reversal, by_office)
    elif wanted.kind in ("supplement", "recovery"):
        # the hospital line is negative when the fund pays it (supplement), positive when it pays back
        sign = JournalLine.amount_fen < 0 if wanted.kind == "supplement" else JournalLine.amount_fen > 0
        query = query.where(not_reversal, db.or_(Decision.basis.is_(None), ~by_office), sign)
    return query


def kind_of(entry: JournalEntry, hospital_line_fen: int, decision: Decision | None) -> str:
    return line_kind(reverses_an_entry=entry.reverses_entry_id is not None,
                     correction=decision is not None and decision.basis == "correction",
                     due_fen=due_to_hospital(hospital_line_fen))

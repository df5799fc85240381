"""Writing EntryPlans to the double-entry ledger inside the caller's transaction (DESIGN §7.6).

Exact balances under concurrency, on both databases:

* Lock first: one SELECT … FOR UPDATE takes every account row a call needs, in account-id order, so concurrent
  postings on shared accounts queue on the rows in one order and cannot deadlock.
* Balances then move by relative UPDATEs (`balance_fen = balance_fen + delta`): the application never reads a
  balance and writes it back, so neither a copy the session loaded earlier nor (on SQLite, which has no row
  locks) a read outside the write lock can lose an update. The session's copies are expired instead, to be read
  afresh when wanted.
* Accounts that do not exist yet are created before any row is locked: the locking SELECT locks nothing unless
  every account it wants is there, and the insert skips codes another transaction created meanwhile
  (`ON CONFLICT DO NOTHING`). Holding locks while waiting for someone else's new account is how the first
  postings to a new hospital would deadlock.
* Entries go in with the same kind of insert on their UNIQUE idempotency key: of two transactions posting one key
  at once, the second waits for the first to commit and gets the first's entry back (or a conflict when the
  lines differ), before any balance moves for it.

Post everything one transaction moves through one call (`post_many` for several entries): a second call could
wait for a new account while holding the first call's row locks.
"""
from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import Insert, Select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm.util import identity_key

from review.extensions import db
from review.models import Account, Hospital, JournalEntry, JournalLine
from review.services import periods
from review.services.context import ServiceError
from workflows.ledger import EntryPlan


# Core statements built once: posting is hot, and building and hashing a statement costs more than running it.
_ACCOUNTS = Account.__table__
_CODES = db.bindparam("codes", expanding=True)
_LOCK_IF_ALL_EXIST = (
    db.select(_ACCOUNTS.c.code, _ACCOUNTS.c.id)
    .where(_ACCOUNTS.c.code.in_(_CODES),
           # every wanted account visible, or the WHERE is false for all rows and nothing is locked
           db.select(db.func.count()).select_from(_ACCOUNTS).where(_ACCOUNTS.c.code.in_(_CODES)).scalar_subquery()
           == db.bindparam("count"))
    .order_by(_ACCOUNTS.c.id).with_for_update())
_MOVE_BALANCE = (_ACCOUNTS.update().where(_ACCOUNTS.c.id == db.bindparam("account_id"))
                 .values(balance_fen=_ACCOUNTS.c.balance_fen + db.bindparam("delta")))
_INSERT_LINES = JournalLine.__table__.insert()


class IdempotencyConflict(ServiceError):
    pass


@dataclass(frozen=True)
class Posting:
    """One entry of a batch: the plan and the decision it books, if any."""

    plan: EntryPlan
    decision_id: int | None = None
    reverses_entry_id: int | None = None
    """A reversal names the entry it undoes (UNIQUE: an entry is reversed once, whatever the key)."""


def post(plan: EntryPlan, period: str, decision_id: int | None, posted_by_id: int | None) -> JournalEntry:
    """Post once per idempotency key: the same plan again returns the first entry, a different one is refused."""
    return post_many([Posting(plan, decision_id)], period, posted_by_id)[0]


def post_many(postings: Sequence[Posting], period: str, posted_by_id: int | None) -> list[JournalEntry]:
    """Post a settlement batch in one pass: one lock pass, one insert each for entries and lines, one update.

    Returns the entries in the order of `postings`. A key posted before (or twice in the batch) gives the first
    entry when its plan is the same and refuses the whole batch with IdempotencyConflict when it is not; the
    refusal comes before any line is written, and the caller rolls the transaction back, as on every ServiceError.
    """
    if not postings:
        return []
    batch = _one_per_key(postings)
    booked = periods.booking(_region_code(batch), period)  # the period row shared-locked before the accounts
    account_ids = _lock_accounts({line.account_code for posting in batch.values() for line in posting.plan.lines})
    entries, new_keys = _insert_entries(batch, booked, posted_by_id)
    lines = [{"entry_id": entries[key].id, "account_id": account_ids[line.account_code],
              "amount_fen": line.amount_fen} for key in new_keys for line in batch[key].plan.lines]
    if lines:
        _move_balances(lines)
        db.session.execute(_INSERT_LINES, lines)
    return [entries[posting.plan.idempotency_key] for posting in postings]


def _one_per_key(postings: Sequence[Posting]) -> dict[str, Posting]:
    batch: dict[str, Posting] = {}
    for posting in postings:
        first = batch.setdefault(posting.plan.idempotency_key, posting)
        if first is not posting and first.plan.request_hash != posting.plan.request_hash:
            raise _conflict(posting.plan.idempotency_key)
    return batch


def _conflict(key: str) -> IdempotencyConflict:
    return IdempotencyConflict(_l("A different posting already exists for %(key)s.", key=key))


def _lock_accounts(codes: set[str]) -> dict[str, int]:
    """The account ids for `codes` by code, rows locked in id order; missing accounts are created first."""
    wanted = sorted(codes)
    ids = _lock_if_all_exist(wanted)
    if len(ids) < len(wanted):
        _create_accounts(wanted)
        ids = _lock_if_all_exist(wanted)
    return ids


def _lock_if_all_exist(codes: list[str]) -> dict[str, int]:
    return dict(db.session.execute(_LOCK_IF_ALL_EXIST, {"codes": codes, "count": len(codes)}).all())


def _create_accounts(codes: list[str]) -> None:
    """Insert the accounts for `codes` (sorted, so inserts that wait on each other cannot cycle), skipping those
    that exist or that another transaction inserts meanwhile."""
    refs = [ref for kind, _, ref in (code.partition(":") for code in codes) if kind == "hospital"]
    hospitals = dict(db.session.execute(db.select(Hospital.code, Hospital.id).where(Hospital.code.in_(refs))).all())
    rows = []
    for code in codes:
        kind, _, ref = code.partition(":")
        if kind == "hospital" and ref not in hospitals:
            raise ServiceError(_l("No hospital has the code %(code)s for ledger account %(account)s.",
                                  code=ref, account=code))
        rows.append({"code": code, "kind": kind, "hospital_id": hospitals[ref] if kind == "hospital" else None,
                     "balance_fen": 0})
    db.session.execute(_inserts(db.session.get_bind().dialect.name).accounts, rows)


def _region_code(batch: dict[str, Posting]) -> str:
    """The region whose fund every plan of the batch moves (`fund:{region}`): the periods are the region's."""
    regions = {line.account_code.partition(":")[2] for posting in batch.values() for line in posting.plan.lines
               if line.account_code.startswith("fund:")}
    if len(regions) != 1:
        raise ServiceError(_l("A ledger batch moves the fund of exactly one region."))
    return regions.pop()


def _insert_entries(batch: dict[str, Posting], booked: periods.Booking, posted_by_id: int | None
                    ) -> tuple[dict[str, JournalEntry], list[str]]:
    """Every key's entry, inserted unless the key exists, and the keys inserted now (in batch order).

    The rows go in sorted by key, one order for every transaction, so two batches sharing keys cannot each wait
    for a key the other holds.
    """
    rows = [{"idempotency_key": key, "request_hash": posting.plan.request_hash, "memo": posting.plan.memo,
             "period": booked.period_code, "period_id": booked.period_id,
             "corrects_period_id": booked.corrects_period_id, "decision_id": posting.decision_id,
             "reverses_entry_id": posting.reverses_entry_id, "posted_by_id": posted_by_id}
            for key, posting in sorted(batch.items())]
    inserted = db.session.scalars(_inserts(db.session.get_bind().dialect.name).entries, rows)
    entries = {entry.idempotency_key: entry for entry in inserted}
    new_keys = [key for key in batch if key in entries]
    earlier = [key for key in batch if key not in entries]
    if earlier:
        for entry in db.session.scalars(db.select(JournalEntry).where(JournalEntry.idempotency_key.in_(earlier))):
            if entry.request_hash != batch[entry.idempotency_key].plan.request_hash:
                raise _conflict(entry.idempotency_key)
            entries[entry.idempotency_key] = entry
    return entries, new_keys


def _move_balances(lines: list[dict[str, int]]) -> None:
    """Add the lines to their accounts' balances (rows locked already), and drop the session's stale copies."""
    deltas: dict[int, int] = {}
    for line in lines:
        deltas[line["account_id"]] = deltas.get(line["account_id"], 0) + line["amount_fen"]
    db.session.execute(_MOVE_BALANCE, [{"account_id": account_id, "delta": delta}
                                       for account_id, delta in sorted(deltas.items())])
    for account_id in deltas:
        cached = db.session.identity_map.get(identity_key(Account, account_id))
        if cached is not None:
            db.session.expire(cached, ["balance_fen"])


@dataclass(frozen=True)
class _Inserts:
    accounts: Insert
    entries: Select


@functools.cache
def _inserts(dialect: str) -> _Inserts:
    """The INSERT … ON CONFLICT DO NOTHING statements in `dialect`'s syntax (SQLite's reads the same), built once."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    entries = JournalEntry.__table__
    return _Inserts(
        accounts=insert(_ACCOUNTS).on_conflict_do_nothing(index_elements=["code"]),
        entries=db.select(JournalEntry).from_statement(
            insert(entries).on_conflict_do_nothing(index_elements=["idempotency_key"]).returning(*entries.c)))


def reconcile() -> list[tuple[str, int, int]]:
    """Accounts whose cached balance differs from the sum of their lines: (code, cached, actual)."""
    sums = dict(db.session.execute(
        db.select(JournalLine.account_id, db.func.coalesce(db.func.sum(JournalLine.amount_fen), 0))
        .group_by(JournalLine.account_id)).all())
    return [(a.code, a.balance_fen, int(sums.get(a.id, 0)))
            for a in db.session.scalars(db.select(Account).order_by(Account.id))
            if a.balance_fen != int(sums.get(a.id, 0))]

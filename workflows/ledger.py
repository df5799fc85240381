"""Posting rules for the double-entry ledger (DESIGN §7.6).

Sign convention: every line is debit-positive, credit-negative, and an entry's
lines sum to zero. An account's balance is the sum of its lines, so:

* the fund account ``fund:{region}`` is debited (+) with what the fund spends and
  credited (−) with what it recovers;
* a hospital account ``hospital:{code}`` with a negative balance is money the fund
  owes the hospital (payable); a positive balance is money the hospital owes the
  fund (receivable).

A supplement (amount > 0) therefore posts fund +amount / hospital −amount, and a
recovery (amount < 0) posts the same two lines with the signs flipped — one rule
for both directions.

Plans are pure values: the shell writes them under the UNIQUE idempotency key and
stores the request hash, so a retried request with the same key but different
lines is detected rather than silently ignored.
"""

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

from workflows.money import Fen, format_fen


class UnbalancedEntry(ValueError):
    """An entry that would break the zero-sum invariant of the ledger."""


@dataclass(frozen=True)
class Line:
    account_code: str
    amount_fen: Fen


def check_balanced(lines: Sequence[Line]) -> None:
    """Refuse entries the database triggers would also refuse, before a transaction starts."""
    if len(lines) < 2:
        raise UnbalancedEntry(f"An entry needs at least 2 lines, got {len(lines)}.")
    zero = [line.account_code for line in lines if line.amount_fen == 0]
    if zero:
        raise UnbalancedEntry(f"Zero-amount lines are not allowed (accounts {zero}).")
    total = sum(line.amount_fen for line in lines)
    if total != 0:
        raise UnbalancedEntry(f"Lines sum to {total} fen instead of 0.")


@dataclass(frozen=True)
class EntryPlan:
    idempotency_key: str
    memo: str
    lines: tuple[Line, ...]

    def __post_init__(self) -> None:
        check_balanced(self.lines)

    @property
    def request_hash(self) -> str:
        """Fingerprint of what the key commits to; the memo is wording and is left out."""
        canonical = json.dumps(
            {
                "key": self.idempotency_key,
                "lines": [[line.account_code, line.amount_fen] for line in self.lines],
            },
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )
        return hashlib.sha256(canonical.encode()).hexdigest()


def fund_account_code(region_code: str) -> str:
    return f"fund:{region_code}"


def hospital_account_code(hospital_code: str) -> str:
    return f"hospital:{hospital_code}"


def decision_posting(
    decision_id: int, version: int, amount_fen: Fen, region_code: str, hospital_code: str
) -> EntryPlan | None:
    """The entry for one issued decision version; nothing to post when no money moves."""
    if version < 1:
        raise ValueError(f"Decision versions start at 1, got {version}.")
    if amount_fen == 0:
        return None
    kind = "supplement" if amount_fen > 0 else "recovery"
    return EntryPlan(
        idempotency_key=f"decision:{decision_id}:v{version}",
        memo=f"Decision {decision_id} v{version}: {kind} of {format_fen(abs(amount_fen))} yuan",
        lines=(
            Line(fund_account_code(region_code), amount_fen),
            Line(hospital_account_code(hospital_code), -amount_fen),
        ),
    )


def reversal(entry_id: int, lines: Sequence[Line]) -> EntryPlan:
    """The entry that undoes entry `entry_id` when a later decision version replaces the one it posted: the same
    accounts with every amount negated, under `reversal:{entry_id}`, so an entry is reversed at most once."""
    if not lines:
        raise UnbalancedEntry(f"Entry {entry_id} has no lines to reverse.")
    return EntryPlan(
        idempotency_key=f"reversal:{entry_id}",
        memo=f"Reversal of entry {entry_id}",
        lines=tuple(Line(line.account_code, -line.amount_fen) for line in lines),
    )


@dataclass(frozen=True)
class ClosedEntry:
    """An entry as a closed period fixes it: what its key committed to and its lines."""

    entry_id: int
    idempotency_key: str
    request_hash: str
    lines: tuple[Line, ...]


def period_digest(previous: str, region_code: str, period_code: str, entries: Sequence[ClosedEntry]) -> str:
    """The hash a closed period carries: its entries (by id, lines by account) chained to the previous closed
    period's hash, so that changing, adding or removing an entry of any closed period shows at `ledger verify`."""
    body = json.dumps(
        [previous, region_code, period_code,
         [[e.entry_id, e.idempotency_key, e.request_hash,
           sorted([line.account_code, line.amount_fen] for line in e.lines)]
          for e in sorted(entries, key=lambda entry: entry.entry_id)]],
        separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


def closing_balances(opening: dict[str, Fen], entries: Sequence[ClosedEntry]) -> dict[str, tuple[Fen, Fen]]:
    """Per account, (movement in the period, closing balance): the opening balance plus the period's lines."""
    movement: dict[str, Fen] = {}
    for entry in entries:
        for line in entry.lines:
            movement[line.account_code] = movement.get(line.account_code, 0) + line.amount_fen
    return {code: (movement.get(code, 0), opening.get(code, 0) + movement.get(code, 0))
            for code in sorted(set(opening) | set(movement))}

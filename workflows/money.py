"""Money as integer fen.

Amounts are integers in fen end to end so that sums, ledger balances and database
CHECKs are exact; rates stay Decimal and are rounded half-up once, at the final
amount, so that no intermediate rounding leaks into a payment.
"""

import re
from decimal import ROUND_HALF_UP, Decimal

from workflows.problems import ProblemError

Fen = int

MAX_FEN: Fen = 10**12
"""Ten billion yuan: far above any single inpatient case, so a larger figure is a typing error."""

_AMOUNT = re.compile(r"[0-9]+(\.[0-9]+)?")
_CURRENCY_MARKS = ("¥", "￥", "元", "$", "rmb", "cny", "yuan")


class MoneyError(ProblemError, ValueError):
    """An amount a user typed that we refuse rather than guess at; `.problem` says why, with the text as typed."""


def parse_yuan(text: str) -> Fen:
    """Parse a yuan amount typed by a person into fen.

    Strict on purpose: a thousands separator or a unit could mean a different
    number in another locale, so the user is asked to retype instead.
    """
    cleaned = text.strip()
    typed = repr(text)
    if not cleaned:
        raise MoneyError("money.empty")
    if "," in cleaned or "，" in cleaned:
        raise MoneyError("money.thousands_separator", text=typed)
    if any(mark in cleaned.lower() for mark in _CURRENCY_MARKS):
        raise MoneyError("money.currency_sign", text=typed)
    if cleaned.startswith("-"):
        raise MoneyError("money.negative", text=typed)
    if not _AMOUNT.fullmatch(cleaned):
        raise MoneyError("money.not_a_number", text=typed)
    _, _, decimals = cleaned.partition(".")
    if len(decimals) > 2:
        raise MoneyError("money.too_many_decimals", text=typed)
    fen = int(Decimal(cleaned) * 100)
    if fen > MAX_FEN:
        raise MoneyError("money.too_large", text=typed, maximum_fen=MAX_FEN)
    return fen


def format_fen(fen: Fen) -> str:
    """Show fen as yuan with separators, the way staff read amounts on statements."""
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(fen), 100)
    return f"{sign}{yuan:,}.{cents:02d}"


def round_half_up_fen(amount: Decimal) -> Fen:
    """Round once, half up, as the policy requires (Python's round() is half-even)."""
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))

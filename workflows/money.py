"""Money as integer fen.

Amounts are integers in fen end to end so that sums, ledger balances and database
CHECKs are exact; rates stay Decimal and are rounded half-up once, at the final
amount, so that no intermediate rounding leaks into a payment.
"""

import re
from decimal import ROUND_HALF_UP, Decimal

Fen = int

MAX_FEN: Fen = 10**12
"""Ten billion yuan: far above any single inpatient case, so a larger figure is a typing error."""

_AMOUNT = re.compile(r"[0-9]+(\.[0-9]+)?")
_CURRENCY_MARKS = ("¥", "￥", "元", "$", "rmb", "cny", "yuan")


class MoneyError(ValueError):
    """Raised for amounts a user typed that we refuse rather than guess at."""


def parse_yuan(text: str) -> Fen:
    """Parse a yuan amount typed by a person into fen.

    Strict on purpose: a thousands separator or a unit could mean a different
    number in another locale, so the user is asked to retype instead.
    """
    cleaned = text.strip()
    if not cleaned:
        raise MoneyError("Amount is empty; enter a number of yuan such as 186400.50.")
    if "," in cleaned or "，" in cleaned:
        raise MoneyError(
            f"Amount {text!r} contains a thousands separator; enter digits only, e.g. 1234.50."
        )
    if any(mark in cleaned.lower() for mark in _CURRENCY_MARKS):
        raise MoneyError(
            f"Amount {text!r} contains a currency sign or unit; enter the number of yuan only."
        )
    if cleaned.startswith("-"):
        raise MoneyError(f"Amount {text!r} is negative; amounts must be zero or more.")
    if not _AMOUNT.fullmatch(cleaned):
        raise MoneyError(f"Amount {text!r} is not a number of yuan such as 186400.50.")
    _, _, decimals = cleaned.partition(".")
    if len(decimals) > 2:
        raise MoneyError(
            f"Amount {text!r} has more than 2 decimal places; yuan amounts stop at the fen."
        )
    fen = int(Decimal(cleaned) * 100)
    if fen > MAX_FEN:
        raise MoneyError(
            f"Amount {text!r} is larger than {format_fen(MAX_FEN)} yuan; check the figure."
        )
    return fen


def format_fen(fen: Fen) -> str:
    """Show fen as yuan with separators, the way staff read amounts on statements."""
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(fen), 100)
    return f"{sign}{yuan:,}.{cents:02d}"


def round_half_up_fen(amount: Decimal) -> Fen:
    """Round once, half up, as the policy requires (Python's round() is half-even)."""
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))

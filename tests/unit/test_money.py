from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workflows.money import MAX_FEN, MoneyError, format_fen, parse_yuan, round_half_up_fen
from workflows.problems import Problem


@pytest.mark.parametrize(
    ("text", "fen"),
    [
        ("186400", 18_640_000),
        ("186400.5", 18_640_050),
        ("186400.50", 18_640_050),
        ("  0.01 ", 1),
        ("0", 0),
        ("10000000000", MAX_FEN),
    ],
)
def test_parse_yuan_accepts(text: str, fen: int) -> None:
    assert parse_yuan(text) == fen


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("1,234.5", "money.thousands_separator"),
        ("1234元", "money.currency_sign"),
        ("¥12", "money.currency_sign"),
        ("12.345", "money.too_many_decimals"),
        ("-5", "money.negative"),
        ("abc", "money.not_a_number"),
        ("1e5", "money.not_a_number"),
        ("12.", "money.not_a_number"),
        ("١٢", "money.not_a_number"),
    ],
)
def test_parse_yuan_rejects_naming_the_text(text: str, code: str) -> None:
    with pytest.raises(MoneyError) as refused:
        parse_yuan(text)
    assert refused.value.problem == Problem(code, text=repr(text))


@pytest.mark.parametrize("text", ["", "   "])
def test_parse_yuan_rejects_an_empty_amount(text: str) -> None:
    with pytest.raises(MoneyError) as refused:
        parse_yuan(text)
    assert refused.value.problem == Problem("money.empty")


def test_parse_yuan_rejects_more_than_the_ceiling() -> None:
    with pytest.raises(MoneyError) as refused:
        parse_yuan("10000000000.01")
    assert refused.value.problem == Problem("money.too_large", text="'10000000000.01'", maximum_fen=MAX_FEN)


@given(st.integers(min_value=0, max_value=MAX_FEN))
def test_format_then_parse_round_trips(fen: int) -> None:
    assert parse_yuan(format_fen(fen).replace(",", "")) == fen


@pytest.mark.parametrize(
    ("fen", "text"),
    [(123450, "1,234.50"), (-123450, "-1,234.50"), (5, "0.05"), (-5, "-0.05"), (0, "0.00")],
)
def test_format_fen(fen: int, text: str) -> None:
    assert format_fen(fen) == text


@pytest.mark.parametrize(
    ("amount", "fen"),
    [("2.5", 3), ("3.5", 4), ("2.4999", 2), ("-2.5", -3), ("0.5", 1), ("7", 7)],
)
def test_round_half_up(amount: str, fen: int) -> None:
    assert round_half_up_fen(Decimal(amount)) == fen


@given(st.decimals(min_value=-(10**12), max_value=10**12, places=4))
def test_round_is_within_half_a_fen(amount: Decimal) -> None:
    assert abs(Decimal(round_half_up_fen(amount)) - amount) <= Decimal("0.5")

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workflows.eligibility import (
    CaseFacts,
    Rule,
    RuleResult,
    Thresholds,
    length_of_stay,
    screen,
)
from workflows.problems import Problem

DEFAULT = Thresholds()


def facts(**overrides: object) -> CaseFacts:
    base: dict[str, object] = {
        "total_cost_fen": 1_000_000,
        "los_days": 10,
        "icu_days": 0,
        "drg": "321",
        "drg_average_cost_fen": 1_000_000,
        "category": "high_cost",
        "justification": "",
    }
    return CaseFacts(**{**base, **overrides})  # type: ignore[arg-type]


def result(screening_facts: CaseFacts, rule: Rule, thresholds: Thresholds = DEFAULT) -> RuleResult:
    return next(r for r in screen(screening_facts, thresholds).results if r.rule == rule)


def test_high_cost_example_message() -> None:
    r = result(facts(total_cost_fen=18_640_000, drg_average_cost_fen=4_438_000), Rule.HIGH_COST)
    assert r.met and r.evaluable
    assert r.numbers == {
        "total_cost": "186,400.00",
        "average_cost": "44,380.00",
        "ratio": "4.20",
        "threshold": "3.0",
    }
    assert r.problem == Problem("eligibility.high_cost.met", cost_fen=18_640_000, average_fen=4_438_000, ratio="4.20",
                                threshold="3.0")


def test_high_cost_boundary_is_inclusive_and_exact() -> None:
    assert result(facts(total_cost_fen=3_000_000), Rule.HIGH_COST).met
    below = result(facts(total_cost_fen=2_999_999), Rule.HIGH_COST)
    assert not below.met
    # The displayed ratio rounds to 3.00 but the comparison is exact.
    assert below.numbers["ratio"] == "3.00"


def test_high_cost_without_average_is_not_evaluable() -> None:
    r = result(facts(drg_average_cost_fen=None, total_cost_fen=10**9), Rule.HIGH_COST)
    assert not r.met and not r.evaluable
    assert r.problem == Problem("eligibility.no_average_cost", drg="321")


@pytest.mark.parametrize(("los", "met"), [(59, False), (60, True), (61, True)])
def test_long_stay_boundary(los: int, met: bool) -> None:
    assert result(facts(los_days=los), Rule.LONG_STAY).met is met


@pytest.mark.parametrize(("icu", "los", "met"), [(6, 10, True), (5, 10, False), (3, 5, True), (2, 5, False)])
def test_icu_heavy_boundary(icu: int, los: int, met: bool) -> None:
    assert result(facts(icu_days=icu, los_days=los), Rule.ICU_HEAVY).met is met


def test_icu_heavy_same_day_stay_not_evaluable() -> None:
    r = result(facts(icu_days=1, los_days=0), Rule.ICU_HEAVY)
    assert not r.met and not r.evaluable


@pytest.mark.parametrize(
    ("category", "justification", "met"),
    [
        ("complex_care", "x" * 20, True),
        ("complex_care", "x" * 19, False),
        ("complex_care", " ".join("x" * 19) + "   ", False),
        ("complex_care", "多学科会诊：心内、肾内、ICU联合救治，持续三周以上", True),
        ("high_cost", "x" * 200, False),
    ],
)
def test_complex_care(category: str, justification: str, met: bool) -> None:
    r = result(facts(category=category, justification=justification), Rule.COMPLEX_CARE)
    assert r.met is met


def test_an_ineligible_case_is_told_every_rule() -> None:
    screening = screen(facts(), DEFAULT)
    assert not screening.eligible
    assert screening.met_rules == ()
    assert [r.rule for r in screening.grounds] == list(Rule)
    assert all(r.problem.code.startswith("eligibility.") for r in screening.grounds)


def test_several_rules_can_be_met() -> None:
    screening = screen(facts(total_cost_fen=5_000_000, los_days=70, icu_days=50), DEFAULT)
    assert screening.eligible
    assert screening.met_rules == (Rule.HIGH_COST, Rule.LONG_STAY, Rule.ICU_HEAVY)
    assert [r.problem.code for r in screening.grounds] == [
        "eligibility.high_cost.met", "eligibility.long_stay.met", "eligibility.icu_heavy.met"]


def test_thresholds_are_configurable() -> None:
    strict = Thresholds(high_cost_multiple=Decimal("2.5"), long_stay_days=30, icu_share=Decimal("0.5"))
    assert result(facts(total_cost_fen=2_500_000), Rule.HIGH_COST, strict).met
    assert result(facts(los_days=30), Rule.LONG_STAY, strict).met
    assert result(facts(icu_days=5, los_days=10), Rule.ICU_HEAVY, strict).met


@given(st.integers(0, 10**9), st.integers(1, 10**8), st.decimals(min_value=1, max_value=10, places=2))
def test_high_cost_agrees_with_integer_arithmetic(cost: int, average: int, multiple: Decimal) -> None:
    r = result(facts(total_cost_fen=cost, drg_average_cost_fen=average), Rule.HIGH_COST, Thresholds(high_cost_multiple=multiple))
    assert r.met is (cost * 100 >= int(multiple * 100) * average)


def test_unknown_category_and_negative_facts_refused() -> None:
    with pytest.raises(ValueError):
        facts(category="vip")
    with pytest.raises(ValueError):
        facts(los_days=-1)


def test_length_of_stay() -> None:
    assert length_of_stay(date(2026, 1, 1), date(2026, 1, 1)) == 0
    assert length_of_stay(date(2026, 1, 31), date(2026, 3, 1)) == 29
    with pytest.raises(ValueError, match="before admission"):
        length_of_stay(date(2026, 1, 2), date(2026, 1, 1))


# --- weight bands, newborns, new technology -------------------------------------------------------

def _facts(**overrides: object) -> CaseFacts:
    values: dict[str, object] = dict(total_cost_fen=1_000_000, los_days=5, icu_days=0, drg="795",
                                     drg_average_cost_fen=200_000, category="high_cost", justification="")
    values.update(overrides)
    return CaseFacts(**values)  # type: ignore[arg-type]


BANDED = Thresholds(high_cost_bands=((Decimal("1.0"), Decimal("5")), (Decimal("2.0"), Decimal("4"))))


@pytest.mark.parametrize("weight, multiple", [
    (Decimal("0.5"), Decimal("5")), (Decimal("1.0"), Decimal("5")), (Decimal("1.0001"), Decimal("4")),
    (Decimal("2.0"), Decimal("4")), (Decimal("2.0001"), Decimal("3")), (None, Decimal("3")),
])
def test_high_cost_multiple_follows_the_weight_band(weight: Decimal | None, multiple: Decimal) -> None:
    assert BANDED.multiple_for(weight) == multiple


def test_high_cost_boundary_uses_the_band_multiple() -> None:
    at_five = _facts(drg_weight=Decimal("0.8"), total_cost_fen=1_000_000)  # exactly 5 × 200,000
    below = _facts(drg_weight=Decimal("0.8"), total_cost_fen=999_999)
    assert _rule(screen(at_five, BANDED), Rule.HIGH_COST).met
    assert not _rule(screen(below, BANDED), Rule.HIGH_COST).met


@pytest.mark.parametrize("grams, cost, met", [
    (1499, 500_000, True),    # light and exactly 2.5 × the average
    (1500, 500_000, False),   # not below 1500 g
    (1499, 499_999, False),   # light but below 2.5 ×
])
def test_newborn_rule_boundaries(grams: int, cost: int, met: bool) -> None:
    result = _rule(screen(_facts(birth_weight_grams=grams, total_cost_fen=cost), Thresholds()), Rule.NEWBORN)
    assert result.met is met and result.evaluable


def test_newborn_rule_not_evaluable_without_birth_weight() -> None:
    assert not _rule(screen(_facts(), Thresholds()), Rule.NEWBORN).evaluable


def test_new_technology_list() -> None:
    thresholds = Thresholds(new_technology_codes=frozenset({"XW033C3"}))
    listed = _rule(screen(_facts(procedures=("02703DZ", "XW033C3")), thresholds), Rule.NEW_TECHNOLOGY)
    assert listed.met and listed.problem == Problem("eligibility.new_technology.met", codes=["XW033C3"])
    assert not _rule(screen(_facts(procedures=("02703DZ",)), thresholds), Rule.NEW_TECHNOLOGY).met


def _rule(screening, rule):  # type: ignore[no-untyped-def]
    return next(r for r in screening.results if r.rule == rule)

"""Special-case eligibility screening (DESIGN §3).

Each rule reports its figures as well as its verdict because the Application keeps
them: a hospital that is returned must see the exact numbers that failed, and a
later policy change must not rewrite why an old case passed.
"""

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from workflows.money import Fen, format_fen
from workflows.problems import Problem

MIN_JUSTIFICATION_CHARS = 20
"""Enough to force a real sentence; a placeholder like "complex" must not pass."""


class Rule(StrEnum):
    HIGH_COST = "high_cost"
    LONG_STAY = "long_stay"
    ICU_HEAVY = "icu_heavy"
    COMPLEX_CARE = "complex_care"
    NEWBORN = "newborn"
    NEW_TECHNOLOGY = "new_technology"


@dataclass(frozen=True)
class Thresholds:
    high_cost_multiple: Decimal = Decimal("3")
    long_stay_days: int = 60
    icu_share: Decimal = Decimal("0.6")
    high_cost_bands: tuple[tuple[Decimal, Decimal], ...] = ()
    """(max DRG weight, multiple) pairs, ascending: light DRGs need a larger multiple to be outliers."""
    newborn_weight_grams: int = 1500
    newborn_cost_multiple: Decimal = Decimal("2.5")
    new_technology_codes: frozenset[str] = frozenset()

    def multiple_for(self, weight: Decimal | None) -> Decimal:
        """The high-cost multiple of the first band the DRG weight falls in, else the general multiple."""
        if weight is not None:
            for max_weight, multiple in sorted(self.high_cost_bands):
                if weight <= max_weight:
                    return multiple
        return self.high_cost_multiple


@dataclass(frozen=True)
class CaseFacts:
    total_cost_fen: Fen
    los_days: int
    icu_days: int
    drg: str
    drg_average_cost_fen: Fen | None
    category: str
    justification: str
    drg_weight: Decimal | None = None
    birth_weight_grams: int | None = None
    procedures: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("total_cost_fen", "los_days", "icu_days"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative, got {getattr(self, name)}.")
        Rule(self.category)


@dataclass(frozen=True)
class RuleResult:
    rule: Rule
    met: bool
    evaluable: bool
    numbers: dict[str, str] = field(hash=False)
    """The figures behind the result, as language-neutral text (amounts in yuan with separators)."""
    problem: Problem
    """What the rule found, for the shell to word (`review/messages.py`)."""


@dataclass(frozen=True)
class Screening:
    eligible: bool
    results: tuple[RuleResult, ...]

    @property
    def met_rules(self) -> tuple[Rule, ...]:
        return tuple(result.rule for result in self.results if result.met)

    @property
    def grounds(self) -> tuple[RuleResult, ...]:
        """What the hospital is told: the rules that qualified the case, or, when none did, every rule."""
        return tuple(r for r in self.results if r.met) if self.eligible else self.results


def length_of_stay(admission: date, discharge: date) -> int:
    """Days between admission and discharge; a same-day stay counts 0, as in DRG statistics."""
    if discharge < admission:
        raise ValueError(f"Discharge date {discharge} is before admission date {admission}.")
    return (discharge - admission).days


def _decimal_text(value: Decimal) -> str:
    text = format(value, "f")
    return text if "." in text else f"{text}.0"


def _high_cost(facts: CaseFacts, thresholds: Thresholds) -> RuleResult:
    cost = format_fen(facts.total_cost_fen)
    multiple = thresholds.multiple_for(facts.drg_weight)
    threshold = _decimal_text(multiple)
    average = facts.drg_average_cost_fen
    if average is None or average <= 0:
        return RuleResult(
            Rule.HIGH_COST,
            met=False,
            evaluable=False,
            numbers={"total_cost": cost, "threshold": threshold},
            problem=Problem("eligibility.no_average_cost", drg=facts.drg),
        )
    ratio = Decimal(facts.total_cost_fen) / Decimal(average)
    met = ratio >= multiple
    shown_ratio = str(ratio.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
    return RuleResult(
        Rule.HIGH_COST,
        met=met,
        evaluable=True,
        numbers={
            "total_cost": cost,
            "average_cost": format_fen(average),
            "ratio": shown_ratio,
            "threshold": threshold,
        },
        problem=Problem("eligibility.high_cost.met" if met else "eligibility.high_cost.not_met",
                        cost_fen=facts.total_cost_fen,
                        average_fen=average, ratio=shown_ratio, threshold=threshold),
    )


def _long_stay(facts: CaseFacts, thresholds: Thresholds) -> RuleResult:
    met = facts.los_days >= thresholds.long_stay_days
    return RuleResult(
        Rule.LONG_STAY,
        met=met,
        evaluable=True,
        numbers={"los_days": str(facts.los_days), "threshold": str(thresholds.long_stay_days)},
        problem=Problem("eligibility.long_stay.met" if met else "eligibility.long_stay.not_met",
                        los_days=facts.los_days,
                        threshold=thresholds.long_stay_days),
    )


def _icu_heavy(facts: CaseFacts, thresholds: Thresholds) -> RuleResult:
    share = _decimal_text(thresholds.icu_share)
    numbers = {"icu_days": str(facts.icu_days), "los_days": str(facts.los_days), "threshold": share}
    if facts.los_days == 0:
        return RuleResult(
            Rule.ICU_HEAVY,
            met=False,
            evaluable=False,
            numbers=numbers,
            problem=Problem("eligibility.icu_heavy.same_day_stay", icu_days=facts.icu_days),
        )
    required = thresholds.icu_share * facts.los_days
    met = facts.icu_days >= required
    shown_share = str(
        (Decimal(facts.icu_days) / facts.los_days).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    )
    return RuleResult(
        Rule.ICU_HEAVY,
        met=met,
        evaluable=True,
        numbers={**numbers, "share": shown_share},
        problem=Problem("eligibility.icu_heavy.met" if met else "eligibility.icu_heavy.not_met",
                        icu_days=facts.icu_days,
                        los_days=facts.los_days, share=shown_share, threshold=share),
    )


def _complex_care(facts: CaseFacts) -> RuleResult:
    claimed = facts.category == Rule.COMPLEX_CARE
    length = sum(1 for char in facts.justification if not char.isspace())
    long_enough = length >= MIN_JUSTIFICATION_CHARS
    if not claimed:
        problem = Problem("eligibility.complex_care.not_claimed")
    else:
        problem = Problem("eligibility.complex_care.met" if long_enough else "eligibility.complex_care.too_short",
                          chars=length, minimum=MIN_JUSTIFICATION_CHARS)
    return RuleResult(
        Rule.COMPLEX_CARE,
        met=claimed and long_enough,
        evaluable=True,
        numbers={
            "justification_chars": str(length),
            "threshold": str(MIN_JUSTIFICATION_CHARS),
        },
        problem=problem,
    )


def _newborn(facts: CaseFacts, thresholds: Thresholds) -> RuleResult:
    limit = thresholds.newborn_weight_grams
    multiple = _decimal_text(thresholds.newborn_cost_multiple)
    if facts.birth_weight_grams is None:
        return RuleResult(Rule.NEWBORN, met=False, evaluable=False, numbers={"threshold": str(limit)},
                          problem=Problem("eligibility.newborn.no_birth_weight"))
    numbers = {"birth_weight": str(facts.birth_weight_grams), "threshold": str(limit), "multiple": multiple}
    light = facts.birth_weight_grams < limit
    average = facts.drg_average_cost_fen
    if average is None or average <= 0:
        return RuleResult(Rule.NEWBORN, met=False, evaluable=False, numbers=numbers,
                          problem=Problem("eligibility.no_average_cost", drg=facts.drg))
    ratio = Decimal(facts.total_cost_fen) / Decimal(average)
    costly = ratio >= thresholds.newborn_cost_multiple
    shown = str(ratio.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
    return RuleResult(
        Rule.NEWBORN, met=light and costly, evaluable=True, numbers={**numbers, "ratio": shown},
        problem=Problem("eligibility.newborn.met" if light and costly else "eligibility.newborn.not_met",
                        grams=facts.birth_weight_grams, limit=limit, light=light, ratio=shown, multiple=multiple,
                        costly=costly),
    )


def _new_technology(facts: CaseFacts, thresholds: Thresholds) -> RuleResult:
    listed = sorted(code for code in set(facts.procedures) if code in thresholds.new_technology_codes)
    problem = (Problem("eligibility.new_technology.met", codes=listed) if listed
               else Problem("eligibility.new_technology.not_met"))
    return RuleResult(Rule.NEW_TECHNOLOGY, met=bool(listed), evaluable=True,
                      numbers={"listed_codes": ", ".join(listed) or "—"}, problem=problem)


def screen(facts: CaseFacts, thresholds: Thresholds) -> Screening:
    """Evaluate every rule, not only the claimed one: a case may qualify on several."""
    results = (
        _high_cost(facts, thresholds),
        _long_stay(facts, thresholds),
        _icu_heavy(facts, thresholds),
        _complex_care(facts),
        _newborn(facts, thresholds),
        _new_technology(facts, thresholds),
    )
    return Screening(eligible=any(result.met for result in results), results=results)

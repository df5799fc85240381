"""Extrapolation of review findings to the unsampled population (DESIGN §7.2).

This module only produces a report; no money moves until staff approve a figure
explicitly elsewhere. Because the figure may be used against a hospital, the
method is conservative and transparent:

* the error ratio is value-weighted (Σ overpaid / Σ paid), so a few cheap cases
  cannot stand in for the expensive ones;
* the figure to use is the lower bound of a one-sided confidence interval, with
  Student's t for the combined degrees of freedom, so small samples are penalised;
* the report refuses rather than guesses: too few reviewed records, a stratum
  with a population but nothing reviewed (it is never given a ratio of 0), or a
  stratum whose variance cannot be estimated;
* every input figure is kept on the report so a reader can redo the arithmetic.

Intermediate arithmetic is exact (fractions); only the square root and the t
quantile are approximations, and t is rounded up so the bound errs towards the
hospital.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, Context, Decimal, localcontext
from fractions import Fraction

from workflows.money import Fen, round_half_up_fen
from workflows.problems import ProblemError

METHOD = (
    "combined ratio estimator per stratum (estimate = Σ overpaid / Σ paid of the reviewed "
    "records × total paid in the stratum), variance N²(1 − n/N)s²/n of the residuals, "
    "one-sided lower bound with Student's t on Σ(n − 1) degrees of freedom"
)

_DECIMAL = Context(prec=34)
"""A fixed context so the report does not depend on whatever context the caller set."""

_T_PLACES = Decimal("0.000001")
_BISECTION_TOLERANCE = 1e-10
_BETACF_EPSILON = 3e-16
_BETACF_TINY = 1e-300
_BETACF_MAX_ITERATIONS = 10_000


class InsufficientSample(ProblemError):
    """The review does not support an extrapolated figure; the problem says why."""


@dataclass(frozen=True)
class ReviewedRecord:
    """One reviewed case: what was paid and what review found overpaid (negative if underpaid)."""

    paid_fen: Fen
    overpaid_fen: Fen

    def __post_init__(self) -> None:
        if self.paid_fen < 0:
            raise ValueError(f"paid_fen must not be negative, got {self.paid_fen}.")


@dataclass(frozen=True)
class StratumInput:
    """A stratum's population (including its sample) and the records reviewed in it."""

    name: str
    population_size: int
    population_paid_fen: Fen
    reviewed: tuple[ReviewedRecord, ...]

    def __post_init__(self) -> None:
        if self.population_size < 1:
            raise ValueError(
                f"Stratum {self.name!r} has no population; leave it out, there is nothing to extrapolate."
            )
        if len(self.reviewed) > self.population_size:
            raise ValueError(
                f"Stratum {self.name!r} has {len(self.reviewed)} reviewed records but a population of "
                f"only {self.population_size}; the population must include the sample."
            )
        reviewed_paid = sum(record.paid_fen for record in self.reviewed)
        if reviewed_paid > self.population_paid_fen:
            raise ValueError(
                f"Stratum {self.name!r}: the reviewed records were paid {reviewed_paid} fen, more than "
                f"the stratum's total of {self.population_paid_fen} fen; the total must include the sample."
            )


@dataclass(frozen=True)
class StratumResult:
    name: str
    n: int
    N: int
    error_ratio: Decimal
    estimated_overpaid_fen: Fen
    standard_error_fen: Decimal


@dataclass(frozen=True)
class Report:
    """The extrapolation report.

    `estimated_overpaid_fen` is the sum of the strata's rounded estimates so the
    figures on the page add up. `lower_bound_fen` is the figure a decision may use;
    it can be negative when the sample does not show an overpayment with the
    requested confidence, and it is shown as such. `lower_bound_clamped_fen` is
    the same figure floored at 0 for a recovery, kept separate so the floor is
    never applied silently.
    """

    strata: tuple[StratumResult, ...]
    reviewed: int
    error_ratio: Decimal
    estimated_overpaid_fen: Fen
    standard_error_fen: Decimal
    degrees_of_freedom: int
    t_value: Decimal
    lower_bound_fen: Fen
    lower_bound_clamped_fen: Fen
    confidence: Decimal
    min_reviewed: int
    stratum_inputs: tuple[StratumInput, ...]

    def inputs(self) -> dict[str, object]:
        """Every figure the report was computed from, as plain JSON-ready values."""
        return {
            "method": METHOD,
            "confidence": str(self.confidence),
            "min_reviewed": self.min_reviewed,
            "strata": [
                {
                    "name": stratum.name,
                    "population_size": stratum.population_size,
                    "population_paid_fen": stratum.population_paid_fen,
                    "reviewed": [
                        {"paid_fen": record.paid_fen, "overpaid_fen": record.overpaid_fen}
                        for record in stratum.reviewed
                    ],
                }
                for stratum in self.stratum_inputs
            ],
        }


def _to_decimal(value: Fraction) -> Decimal:
    return _DECIMAL.divide(Decimal(value.numerator), Decimal(value.denominator))


def _sqrt(value: Fraction) -> Decimal:
    return _DECIMAL.sqrt(_to_decimal(value))


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction for the incomplete beta function, by the modified Lentz
    method (Numerical Recipes, betacf)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) >= _BETACF_TINY else _BETACF_TINY)
    h = d
    for m in range(1, _BETACF_MAX_ITERATIONS + 1):
        m2 = 2 * m
        for aa in (m * (b - m) * x / ((qam + m2) * (a + m2)), -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) >= _BETACF_TINY else _BETACF_TINY)
            c = 1.0 + aa / c
            c = c if abs(c) >= _BETACF_TINY else _BETACF_TINY
            delta = d * c
            h *= delta
        if abs(delta - 1.0) < _BETACF_EPSILON:
            return h
    raise ArithmeticError(f"Incomplete beta continued fraction did not converge for a={a}, b={b}, x={x}.")


def regularized_incomplete_beta(a: float, b: float, x: float) -> float:
    """I_x(a, b), using the continued fraction on whichever side converges quickly."""
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"x must lie in [0, 1], got {x}.")
    if x in (0.0, 1.0):
        return x
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def student_t_cdf(t: float, df: int) -> float:
    """P(T ≤ t) for Student's t with df degrees of freedom."""
    tail = 0.5 * regularized_incomplete_beta(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t >= 0 else tail


def student_t_quantile(p: float, df: int) -> float:
    """The t with P(T ≤ t) = p, by bisection to 1e-10 (the CDF is monotone, so
    bisection cannot fail where a faster method might overshoot)."""
    if df < 1:
        raise ValueError(f"Degrees of freedom must be at least 1, got {df}.")
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must lie strictly between 0 and 1, got {p}.")
    if p < 0.5:
        return -student_t_quantile(1.0 - p, df)
    low, high = 0.0, 1.0
    while student_t_cdf(high, df) < p:
        low, high = high, high * 2.0
    while high - low > _BISECTION_TOLERANCE:
        middle = (low + high) / 2.0
        if student_t_cdf(middle, df) < p:
            low = middle
        else:
            high = middle
    return (low + high) / 2.0


@dataclass(frozen=True)
class _Stratum:
    result: StratumResult
    estimate: Fraction
    variance: Fraction
    paid: int
    overpaid: int


def _stratum(stratum: StratumInput) -> _Stratum:
    n, big_n = len(stratum.reviewed), stratum.population_size
    if n == 0:
        raise InsufficientSample("extrapolation.stratum_unreviewed", stratum=stratum.name, cases=big_n)
    if n == 1:
        raise InsufficientSample("extrapolation.stratum_single", stratum=stratum.name)
    paid = sum(record.paid_fen for record in stratum.reviewed)
    overpaid = sum(record.overpaid_fen for record in stratum.reviewed)
    if paid == 0:
        raise InsufficientSample("extrapolation.stratum_unpaid", stratum=stratum.name)
    ratio = Fraction(overpaid, paid)
    estimate = ratio * stratum.population_paid_fen
    # The residuals sum to zero by construction of the ratio, so their mean drops
    # out of the sample variance.
    residual_variance = sum(
        ((record.overpaid_fen - ratio * record.paid_fen) ** 2 for record in stratum.reviewed), Fraction(0)
    ) / (n - 1)
    variance = Fraction(big_n * big_n) * (1 - Fraction(n, big_n)) * residual_variance / n
    result = StratumResult(
        name=stratum.name,
        n=n,
        N=big_n,
        error_ratio=_to_decimal(ratio),
        estimated_overpaid_fen=round_half_up_fen(_to_decimal(estimate)),
        standard_error_fen=_sqrt(variance),
    )
    return _Stratum(result, estimate, variance, paid, overpaid)


def extrapolate(
    strata: Sequence[StratumInput], *, min_reviewed: int, confidence: Decimal = Decimal("0.90")
) -> Report:
    """Estimate the overpayment in the strata's populations and its one-sided lower bound."""
    if min_reviewed < 2:
        raise ValueError(f"min_reviewed must be at least 2, got {min_reviewed}.")
    if not confidence.is_finite() or not Decimal("0.5") < confidence < 1:
        raise ValueError(f"confidence must lie strictly between 0.5 and 1, got {confidence}.")
    names = [stratum.name for stratum in strata]
    if len(set(names)) != len(names):
        raise ValueError(f"Stratum names must be distinct, got {names}.")
    reviewed = sum(len(stratum.reviewed) for stratum in strata)
    if reviewed < min_reviewed:
        raise InsufficientSample("extrapolation.too_few_reviewed", reviewed=reviewed, minimum=min_reviewed)
    computed = [_stratum(stratum) for stratum in strata]
    degrees_of_freedom = sum(item.result.n - 1 for item in computed)
    variance = sum((item.variance for item in computed), Fraction(0))
    standard_error = _sqrt(variance)
    estimated = sum(item.result.estimated_overpaid_fen for item in computed)
    # Rounded up at the sixth decimal so the rounding can only widen the interval.
    t_value = Decimal(student_t_quantile(float(confidence), degrees_of_freedom)).quantize(
        _T_PLACES, rounding=ROUND_CEILING
    )
    # t > 0 (confidence > 0.5) and the standard error is not negative, and rounding
    # half up is monotone, so the bound can never exceed the estimate.
    with localcontext(_DECIMAL):
        lower_bound = round_half_up_fen(estimated - t_value * standard_error)
    return Report(
        strata=tuple(item.result for item in computed),
        reviewed=reviewed,
        error_ratio=_to_decimal(
            Fraction(sum(item.overpaid for item in computed), sum(item.paid for item in computed))
        ),
        estimated_overpaid_fen=estimated,
        standard_error_fen=standard_error,
        degrees_of_freedom=degrees_of_freedom,
        t_value=t_value,
        lower_bound_fen=lower_bound,
        lower_bound_clamped_fen=max(0, lower_bound),
        confidence=confidence,
        min_reviewed=min_reviewed,
        stratum_inputs=tuple(strata),
    )

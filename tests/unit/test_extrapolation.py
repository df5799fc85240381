from decimal import Context, Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workflows.extrapolation import (
    InsufficientSample,
    ReviewedRecord,
    StratumInput,
    extrapolate,
    regularized_incomplete_beta,
    student_t_cdf,
    student_t_quantile,
)
from workflows.problems import Problem


def records(*pairs: tuple[int, int]) -> tuple[ReviewedRecord, ...]:
    return tuple(ReviewedRecord(paid_fen=paid, overpaid_fen=overpaid) for paid, overpaid in pairs)


STRATUM_A = StratumInput(
    "A", 100, 1_000_000, records((10_000, 1_000), (20_000, 0), (30_000, 6_000), (40_000, 3_000))
)
STRATUM_B = StratumInput("B", 50, 600_000, records((20_000, 4_000), (10_000, 0), (30_000, 5_000)))


def test_hand_computed_example() -> None:
    """Two strata, every figure worked out by hand (x = paid, y = overpaid, in fen).

    Stratum A: N = 100, X = 1,000,000, n = 4
        records (x, y): (10,000, 1,000) (20,000, 0) (30,000, 6,000) (40,000, 3,000)
        Σx = 100,000   Σy = 10,000   r_A = 10,000 / 100,000 = 0.1
        T̂_A = 0.1 × 1,000,000 = 100,000
        residuals d = y − 0.1x: 0, −2,000, 3,000, −1,000   (Σd = 0)
        Σd² = 0 + 4,000,000 + 9,000,000 + 1,000,000 = 14,000,000
        s²_A = 14,000,000 / 3 = 4,666,666.67
        V_A = 100² × (1 − 4/100) × s²_A / 4 = 10,000 × 0.96 × 1,166,666.67 = 11,200,000,000
        SE_A = √11,200,000,000 = 105,830.0524

    Stratum B: N = 50, X = 600,000, n = 3
        records: (20,000, 4,000) (10,000, 0) (30,000, 5,000)
        Σx = 60,000   Σy = 9,000   r_B = 9,000 / 60,000 = 0.15
        T̂_B = 0.15 × 600,000 = 90,000
        residuals d = y − 0.15x: 1,000, −1,500, 500   (Σd = 0)
        Σd² = 1,000,000 + 2,250,000 + 250,000 = 3,500,000
        s²_B = 3,500,000 / 2 = 1,750,000
        V_B = 50² × (1 − 3/50) × 1,750,000 / 3 = 2,500 × 0.94 × 583,333.33 = 1,370,833,333.33
        SE_B = √1,370,833,333.33 = 37,024.7665

    Combined:
        T̂ = 100,000 + 90,000 = 190,000
        V = 11,200,000,000 + 1,370,833,333.33 = 12,570,833,333.33
        SE = √V = 112,119.7277
        df = (4 − 1) + (3 − 1) = 5
        t_{0.90, 5} = 1.4758840 → reported rounded up at 6 decimals: 1.475885
        t × SE = 1.475885 × 112,119.7277 = 165,475.8243
        lower bound = 190,000 − 165,475.8243 = 24,524.1757 → 24,524 fen
        overall ratio = (10,000 + 9,000) / (100,000 + 60,000) = 0.11875
    """
    report = extrapolate([STRATUM_A, STRATUM_B], min_reviewed=5)
    a, b = report.strata
    precise = Context(prec=34)

    assert (a.name, a.n, a.N) == ("A", 4, 100)
    assert a.error_ratio == Decimal("0.1")
    assert a.estimated_overpaid_fen == 100_000
    assert a.standard_error_fen == precise.sqrt(Decimal(11_200_000_000))
    assert round(a.standard_error_fen, 4) == Decimal("105830.0524")

    assert (b.name, b.n, b.N) == ("B", 3, 50)
    assert b.error_ratio == Decimal("0.15")
    assert b.estimated_overpaid_fen == 90_000
    assert Fraction(b.standard_error_fen) ** 2 == pytest.approx(Fraction(4_112_500_000, 3), rel=1e-25)
    assert round(b.standard_error_fen, 4) == Decimal("37024.7665")

    assert report.reviewed == 7
    assert report.error_ratio == Decimal("0.11875")
    assert report.estimated_overpaid_fen == 190_000
    assert Fraction(report.standard_error_fen) ** 2 == pytest.approx(Fraction(37_712_500_000, 3), rel=1e-25)
    assert round(report.standard_error_fen, 4) == Decimal("112119.7277")
    assert report.degrees_of_freedom == 5
    assert report.t_value == Decimal("1.475885")
    assert report.lower_bound_fen == 24_524
    assert report.lower_bound_clamped_fen == 24_524
    assert report.confidence == Decimal("0.90")


def test_inputs_list_every_figure() -> None:
    report = extrapolate([STRATUM_A, STRATUM_B], min_reviewed=5)
    inputs = report.inputs()
    assert inputs["confidence"] == "0.90"
    assert inputs["min_reviewed"] == 5
    assert inputs["strata"] == [
        {
            "name": "A",
            "population_size": 100,
            "population_paid_fen": 1_000_000,
            "reviewed": [
                {"paid_fen": 10_000, "overpaid_fen": 1_000},
                {"paid_fen": 20_000, "overpaid_fen": 0},
                {"paid_fen": 30_000, "overpaid_fen": 6_000},
                {"paid_fen": 40_000, "overpaid_fen": 3_000},
            ],
        },
        {
            "name": "B",
            "population_size": 50,
            "population_paid_fen": 600_000,
            "reviewed": [
                {"paid_fen": 20_000, "overpaid_fen": 4_000},
                {"paid_fen": 10_000, "overpaid_fen": 0},
                {"paid_fen": 30_000, "overpaid_fen": 5_000},
            ],
        },
    ]
    assert "ratio" in str(inputs["method"])


def test_negative_lower_bound_is_reported_and_clamped_separately() -> None:
    noisy = StratumInput("C", 1_000, 10_000_000, records((10_000, 5_000), (10_000, -4_000), (10_000, 0)))
    report = extrapolate([noisy], min_reviewed=3)
    assert report.estimated_overpaid_fen == 333_333
    assert report.lower_bound_fen < 0
    assert report.lower_bound_clamped_fen == 0


def test_census_stratum_has_no_sampling_error() -> None:
    census = StratumInput("top", 3, 60_000, records((10_000, 1_000), (20_000, 0), (30_000, 2_000)))
    report = extrapolate([census], min_reviewed=3)
    assert report.estimated_overpaid_fen == 3_000
    assert report.standard_error_fen == 0
    assert report.lower_bound_fen == 3_000


def test_refused_below_min_reviewed() -> None:
    with pytest.raises(InsufficientSample) as refusal:
        extrapolate([STRATUM_A, STRATUM_B], min_reviewed=30)
    assert refusal.value.problem == Problem("extrapolation.too_few_reviewed", reviewed=7, minimum=30)


def test_refused_with_nothing_at_all() -> None:
    with pytest.raises(InsufficientSample) as refusal:
        extrapolate([], min_reviewed=2)
    assert refusal.value.problem.params["reviewed"] == 0


def test_stratum_without_reviewed_records_is_refused_not_taken_as_zero() -> None:
    unreviewed = StratumInput("hospital:7", 40, 900_000, ())
    with pytest.raises(InsufficientSample) as refusal:
        extrapolate([STRATUM_A, unreviewed], min_reviewed=2)
    assert refusal.value.problem == Problem("extrapolation.stratum_unreviewed", stratum="hospital:7", cases=40)


def test_stratum_with_one_reviewed_record_is_refused() -> None:
    single = StratumInput("hospital:8", 40, 900_000, records((10_000, 0)))
    with pytest.raises(InsufficientSample) as refusal:
        extrapolate([STRATUM_A, single], min_reviewed=2)
    assert refusal.value.problem == Problem("extrapolation.stratum_single", stratum="hospital:8")


def test_stratum_with_nothing_paid_is_refused() -> None:
    unpaid = StratumInput("hospital:9", 40, 900_000, records((0, 0), (0, 0)))
    with pytest.raises(InsufficientSample) as refusal:
        extrapolate([STRATUM_A, unpaid], min_reviewed=2)
    assert refusal.value.problem == Problem("extrapolation.stratum_unpaid", stratum="hospital:9")


@pytest.mark.parametrize(
    ("population_size", "population_paid_fen", "pairs"),
    [(0, 0, ()), (1, 100_000, ((10, 0), (10, 0))), (10, 5, ((10, 0), (10, 0)))],
)
def test_inconsistent_stratum_inputs_are_refused(
    population_size: int, population_paid_fen: int, pairs: tuple[tuple[int, int], ...]
) -> None:
    with pytest.raises(ValueError, match="'X'"):
        StratumInput("X", population_size, population_paid_fen, records(*pairs))


def test_negative_paid_is_refused() -> None:
    with pytest.raises(ValueError):
        ReviewedRecord(paid_fen=-1, overpaid_fen=0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_reviewed": 1}, "min_reviewed"),
        ({"min_reviewed": 5, "confidence": Decimal("0.5")}, "confidence"),
        ({"min_reviewed": 5, "confidence": Decimal(1)}, "confidence"),
        ({"min_reviewed": 5, "confidence": Decimal("NaN")}, "confidence"),
    ],
)
def test_invalid_parameters_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        extrapolate([STRATUM_A, STRATUM_B], **kwargs)  # type: ignore[arg-type]


def test_duplicate_stratum_names_are_refused() -> None:
    with pytest.raises(ValueError, match="distinct"):
        extrapolate([STRATUM_A, STRATUM_A], min_reviewed=2)


def test_higher_confidence_lowers_the_bound() -> None:
    at_90 = extrapolate([STRATUM_A, STRATUM_B], min_reviewed=5)
    at_95 = extrapolate([STRATUM_A, STRATUM_B], min_reviewed=5, confidence=Decimal("0.95"))
    assert at_95.t_value > at_90.t_value
    assert at_95.lower_bound_fen < at_90.lower_bound_fen


@pytest.mark.parametrize(
    ("df", "expected"),
    [(1, 3.077684), (2, 1.885618), (5, 1.475884), (10, 1.372184), (30, 1.310415), (1000, 1.282399)],
)
def test_t_quantile_known_values(df: int, expected: float) -> None:
    assert student_t_quantile(0.90, df) == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize(("p", "df", "expected"), [(0.95, 10, 1.812461), (0.975, 3, 3.182446), (0.999, 49, 3.265079)])
def test_t_quantile_other_levels(p: float, df: int, expected: float) -> None:
    assert student_t_quantile(p, df) == pytest.approx(expected, abs=1e-5)
    assert student_t_quantile(1 - p, df) == pytest.approx(-expected, abs=1e-5)


def test_t_cdf_properties() -> None:
    assert student_t_cdf(0.0, 7) == pytest.approx(0.5, abs=1e-15)
    # df = 1 is the Cauchy distribution: P(T ≤ 1) = 3/4.
    assert student_t_cdf(1.0, 1) == pytest.approx(0.75, abs=1e-12)
    assert student_t_cdf(-2.0, 4) == pytest.approx(1 - student_t_cdf(2.0, 4), abs=1e-12)
    assert student_t_cdf(student_t_quantile(0.9, 12), 12) == pytest.approx(0.9, abs=1e-9)


def test_incomplete_beta_closed_forms() -> None:
    assert regularized_incomplete_beta(1.0, 1.0, 0.3) == pytest.approx(0.3, abs=1e-14)
    assert regularized_incomplete_beta(2.5, 2.5, 0.5) == pytest.approx(0.5, abs=1e-14)
    assert regularized_incomplete_beta(2.0, 1.0, 0.4) == pytest.approx(0.16, abs=1e-14)
    assert regularized_incomplete_beta(3.0, 4.0, 0.0) == 0.0
    assert regularized_incomplete_beta(3.0, 4.0, 1.0) == 1.0


def test_t_quantile_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError):
        student_t_quantile(0.9, 0)
    with pytest.raises(ValueError):
        student_t_quantile(1.0, 5)


@st.composite
def stratum_inputs(draw: st.DrawFn, name: str) -> StratumInput:
    pairs = draw(
        st.lists(
            st.integers(1, 2_000_000).flatmap(lambda paid: st.tuples(st.just(paid), st.integers(-paid, paid))),
            min_size=2,
            max_size=8,
        )
    )
    extra_cases = draw(st.integers(0, 5_000))
    extra_paid = draw(st.integers(0, 10**10)) if extra_cases else 0
    return StratumInput(
        name,
        len(pairs) + extra_cases,
        sum(paid for paid, _ in pairs) + extra_paid,
        records(*pairs),
    )


strata_lists = st.integers(1, 4).flatmap(
    lambda count: st.tuples(*(stratum_inputs(f"s{index}") for index in range(count)))
)


@given(strata_lists, st.sampled_from([Decimal("0.80"), Decimal("0.90"), Decimal("0.95")]))
def test_lower_bound_never_exceeds_the_estimate(strata: tuple[StratumInput, ...], confidence: Decimal) -> None:
    report = extrapolate(strata, min_reviewed=2, confidence=confidence)
    assert report.lower_bound_fen <= report.estimated_overpaid_fen
    assert report.lower_bound_clamped_fen == max(0, report.lower_bound_fen)
    assert report.estimated_overpaid_fen == sum(s.estimated_overpaid_fen for s in report.strata)


def scaled(strata: tuple[StratumInput, ...], k: int) -> list[StratumInput]:
    return [
        StratumInput(
            stratum.name,
            stratum.population_size,
            stratum.population_paid_fen,
            tuple(ReviewedRecord(record.paid_fen, record.overpaid_fen * k) for record in stratum.reviewed),
        )
        for stratum in strata
    ]


@given(strata_lists, st.integers(-5, 5))
def test_scaling_overpaid_scales_the_estimate(strata: tuple[StratumInput, ...], k: int) -> None:
    base = extrapolate(strata, min_reviewed=2)
    report = extrapolate(scaled(strata, k), min_reviewed=2)
    # Each stratum is rounded to the fen once, so k × (a rounded figure) can be off
    # by up to |k|/2 + 1/2 fen per stratum.
    assert abs(report.estimated_overpaid_fen - k * base.estimated_overpaid_fen) <= len(strata) * (abs(k) + 1) / 2
    # Compared as exact fractions: the report's Decimals carry 34 significant digits.
    assert abs(Fraction(report.error_ratio) - k * Fraction(base.error_ratio)) <= Fraction(1, 10**30)
    assert abs(Fraction(report.standard_error_fen) - abs(k) * Fraction(base.standard_error_fen)) <= Fraction(
        1, 10**20
    ) * (1 + Fraction(base.standard_error_fen))

from decimal import Decimal

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from workflows.payment import (
    PaymentMethod,
    drg_payment_fen,
    record_review_adjustment_fen,
    supplement_fen,
)

fen = st.integers(min_value=0, max_value=10**10)
shares = st.decimals(min_value=0, max_value=1, places=3)


def test_drg_payment_rounds_once_half_up() -> None:
    # 1.2345 × 1,000,000 fen × 1.05 = 1,296,225 exactly; 0.5 fen cases round up.
    assert drg_payment_fen(Decimal("1.2345"), 1_000_000, Decimal("1.05")) == 1_296_225
    assert drg_payment_fen(Decimal("0.5"), 1, Decimal("1")) == 1
    assert drg_payment_fen(Decimal("0.15"), 3, Decimal("1")) == 0  # 0.45 fen


def test_drg_payment_does_not_round_intermediates() -> None:
    # 0.333 × 3 = 0.999 then × 1.5 = 1.4985 → 1; rounding the middle step would give 2.
    assert drg_payment_fen(Decimal("0.333"), 3, Decimal("1.5")) == 1


def test_fee_for_service_example() -> None:
    assert supplement_fen(PaymentMethod.FEE_FOR_SERVICE, 18_640_000, 1_000_000, 5_000_000) == 12_640_000


def test_cms_outlier_example() -> None:
    # 0.8 × (186,400 − 10,000 − (50,000 + 20,000)) yuan = 85,120 yuan
    assert (
        supplement_fen(PaymentMethod.CMS_OUTLIER, 18_640_000, 1_000_000, 5_000_000, 2_000_000)
        == 8_512_000
    )


def test_cms_outlier_rounds_half_up() -> None:
    assert supplement_fen(PaymentMethod.CMS_OUTLIER, 3, 0, 0, 0, Decimal("0.5")) == 2


@pytest.mark.parametrize(
    "kwargs",
    [
        {"total_cost_fen": -1},
        {"unreasonable_cost_fen": -1},
        {"drg_payment_fen": -1},
        {"fixed_loss_threshold_fen": -1},
        {"unreasonable_cost_fen": 101},
        {"outlier_share": Decimal("1.01")},
    ],
)
def test_supplement_refuses_bad_inputs(kwargs: dict[str, object]) -> None:
    args: dict[str, object] = {
        "method": PaymentMethod.CMS_OUTLIER,
        "total_cost_fen": 100,
        "unreasonable_cost_fen": 0,
        "drg_payment_fen": 0,
    }
    with pytest.raises(ValueError):
        supplement_fen(**{**args, **kwargs})  # type: ignore[arg-type]


@given(st.sampled_from(PaymentMethod), fen, fen, fen, fen, shares)
def test_supplement_bounds(
    method: PaymentMethod, total: int, unreasonable: int, drg: int, threshold: int, share: Decimal
) -> None:
    assume(unreasonable <= total)
    amount = supplement_fen(method, total, unreasonable, drg, threshold, share)
    assert amount >= 0
    assert amount <= max(0, total - unreasonable - drg)


@given(st.sampled_from(PaymentMethod), fen, fen, fen, fen, shares, st.integers(1, 10**8))
def test_supplement_monotone_in_cost(
    method: PaymentMethod,
    total: int,
    unreasonable: int,
    drg: int,
    threshold: int,
    share: Decimal,
    extra: int,
) -> None:
    assume(unreasonable <= total)
    before = supplement_fen(method, total, unreasonable, drg, threshold, share)
    after = supplement_fen(method, total + extra, unreasonable, drg, threshold, share)
    assert after >= before


@given(fen, fen, fen)
def test_fee_for_service_pays_reasonable_excess_exactly(total: int, unreasonable: int, drg: int) -> None:
    assume(unreasonable <= total)
    amount = supplement_fen(PaymentMethod.FEE_FOR_SERVICE, total, unreasonable, drg)
    assert amount == max(0, total - unreasonable - drg)
    if total - unreasonable > drg:
        assert amount + drg + unreasonable == total


@given(fen, fen)
def test_record_review_adjustment(paid: int, regrouped: int) -> None:
    assert record_review_adjustment_fen(paid, regrouped, True) == regrouped - paid
    assert record_review_adjustment_fen(paid, regrouped, False) == -paid
    assert paid + record_review_adjustment_fen(paid, regrouped, True) == regrouped


def test_record_review_refuses_negative() -> None:
    with pytest.raises(ValueError):
        record_review_adjustment_fen(-1, 0, True)

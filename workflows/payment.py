"""Payment formulas of DESIGN §3.

Every function takes fen and Decimal rates and rounds once, at its result, so a
figure shown to a hospital can be recomputed by hand from the policy snapshot.
"""

from decimal import Decimal
from enum import StrEnum

from workflows.money import Fen, round_half_up_fen


class PaymentMethod(StrEnum):
    FEE_FOR_SERVICE = "fee_for_service"
    CMS_OUTLIER = "cms_outlier"


def _require_non_negative(**values: int | Decimal) -> None:
    for name, value in values.items():
        if value < 0:
            raise ValueError(f"{name} must not be negative, got {value}.")


def drg_payment_fen(weight: Decimal, base_rate_fen: Fen, coefficient: Decimal) -> Fen:
    """The normal DRG payment a supplement or a regrouping is measured against."""
    _require_non_negative(weight=weight, base_rate_fen=base_rate_fen, coefficient=coefficient)
    return round_half_up_fen(weight * base_rate_fen * coefficient)


def supplement_fen(
    method: PaymentMethod,
    total_cost_fen: Fen,
    unreasonable_cost_fen: Fen,
    drg_payment_fen: Fen,
    fixed_loss_threshold_fen: Fen = 0,
    outlier_share: Decimal = Decimal("0.8"),
) -> Fen:
    """Extra payment for an approved special case; never negative, because an
    approval must not turn into a recovery."""
    _require_non_negative(
        total_cost_fen=total_cost_fen,
        unreasonable_cost_fen=unreasonable_cost_fen,
        drg_payment_fen=drg_payment_fen,
        fixed_loss_threshold_fen=fixed_loss_threshold_fen,
        outlier_share=outlier_share,
    )
    if outlier_share > 1:
        raise ValueError(f"outlier_share must be at most 1, got {outlier_share}.")
    if unreasonable_cost_fen > total_cost_fen:
        raise ValueError(
            f"unreasonable cost {unreasonable_cost_fen} fen exceeds total cost {total_cost_fen} fen."
        )
    reasonable_fen = total_cost_fen - unreasonable_cost_fen
    match method:
        case PaymentMethod.FEE_FOR_SERVICE:
            return max(0, reasonable_fen - drg_payment_fen)
        case PaymentMethod.CMS_OUTLIER:
            excess_fen = reasonable_fen - (drg_payment_fen + fixed_loss_threshold_fen)
            return max(0, round_half_up_fen(outlier_share * excess_fen))


def record_review_adjustment_fen(
    paid_drg_payment_fen: Fen, regrouped_drg_payment_fen: Fen, admission_justified: bool
) -> Fen:
    """Money that follows a record review: positive is owed to the hospital, negative is
    recovered. An unjustified admission should not have been paid at all."""
    _require_non_negative(
        paid_drg_payment_fen=paid_drg_payment_fen,
        regrouped_drg_payment_fen=regrouped_drg_payment_fen,
    )
    if not admission_justified:
        return -paid_drg_payment_fen
    return regrouped_drg_payment_fen - paid_drg_payment_fen

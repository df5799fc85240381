"""Regroup a case with an expert's corrected codes: validated by the code editor, priced with the cycle's rates.

Used live while an expert types a correction and again when the panel's adopted coding becomes a decision, so
the figure an expert saw is the figure the decision carries.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from flask_babel import lazy_gettext as _l

from review.messages import code_issue_message
from review.models import Case, Cycle
from review.services.cases import grouper
from review.services.catalogue import catalogue_entry
from review.services.context import ValidationFailed
from workflows.grouping import CaseCoding, Sex, normalise_code
from workflows.payment import drg_payment_fen

FIELD_OF = {"principal_dx": "corrected_principal_dx", "procedures": "corrected_principal_procedure",
            "secondary_dx": "corrected_principal_dx"}
"""Where a code-editor finding about the regrouped claim is shown on the scoresheet."""


@dataclass(frozen=True)
class Regrouping:
    drg: str
    weight: Decimal
    payment_fen: int
    description: str


def coded(case: Case) -> dict[str, str | None]:
    """The hospital's principal diagnosis and principal (first) procedure, as the consensus compares them."""
    return {"principal_dx": case.principal_dx, "principal_procedure": (case.procedures or [None])[0]}


def regroup(case: Case, cycle: Cycle, principal_dx: str | None = None,
            principal_procedure: str | None = None) -> Regrouping:
    """The case's DRG and payment with the given codes in place of the hospital's (None keeps a code)."""
    procedures = list(case.procedures or [])
    if principal_procedure:
        procedures = [normalise_code(principal_procedure), *procedures[1:]]
    result = grouper().group(CaseCoding(
        age=case.age, sex=Sex(case.sex), discharge_date=case.discharge_date,
        principal_dx=normalise_code(principal_dx) if principal_dx else case.principal_dx,
        secondary_dx=tuple(case.secondary_dx or ()), procedures=tuple(procedures)))
    errors: dict[str, list[str]] = {}
    blocking, _ = result.split(cycle.policy.blocking_code_edits)
    for issue in blocking:
        errors.setdefault(FIELD_OF.get(issue.field, "corrected_principal_dx"), []).append(code_issue_message(issue))
    if not errors and not result.grouped:
        errors["corrected_principal_dx"] = [str(_l("The case could not be grouped (grouper answer: %(code)s).",
                                                   code=result.return_code))]
    entry = catalogue_entry(result.drg, cycle.catalogue_scheme) if result.drg else None
    if not errors and entry is None:
        errors["corrected_principal_dx"] = [str(_l("DRG %(drg)s is not in the weight catalogue.", drg=result.drg))]
    if errors:
        raise ValidationFailed(errors)
    assert entry is not None and result.drg is not None
    weight = Decimal(entry.weight)
    payment = drg_payment_fen(weight, cycle.policy.base_rate_fen, Decimal(case.hospital.coefficient))
    return Regrouping(drg=result.drg, weight=weight, payment_fen=payment, description=result.description)

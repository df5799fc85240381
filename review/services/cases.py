"""Entering a Case: validate the coding with the code editor, group it, and price the DRG payment."""
from __future__ import annotations

import atexit
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache

from flask_babel import lazy_gettext as _l

from review.extensions import db
from review.messages import code_issue_message
from review.models import Case, Hospital
from review.services import activity
from review.services.catalogue import catalogue_entry
from review.services.context import Actor, PermissionDenied, ValidationFailed
from review.services.scope import get_hospital_owned
from workflows.eligibility import length_of_stay
from workflows.grouping import CaseCoding, GroupingResult, MsDrgGrouper, Sex, normalise_code
from workflows.payment import drg_payment_fen
from workflows.states import Role


@cache
def grouper() -> MsDrgGrouper:
    """One grouper per process: it maps the CMS tables once and is guarded by its own lock."""
    instance = MsDrgGrouper()
    atexit.register(instance.close)  # release the native handles before interpreter teardown
    return instance


@dataclass(frozen=True)
class CaseInput:
    case_no: str
    age: int
    sex: str
    admission_date: date
    discharge_date: date
    principal_dx: str
    secondary_dx: tuple[str, ...]
    procedures: tuple[str, ...]
    total_cost_fen: int
    icu_days: int
    birth_weight_grams: int | None = None


def _field_errors(data: CaseInput) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not data.case_no.strip():
        errors.setdefault("case_no", []).append(str(_l("The case number is required.")))
    if data.discharge_date < data.admission_date:
        errors.setdefault("discharge_date", []).append(str(_l("The discharge date is before the admission date.")))
    if data.total_cost_fen < 0:
        errors.setdefault("total_cost", []).append(str(_l("The total cost cannot be negative.")))
    if data.icu_days < 0:
        errors.setdefault("icu_days", []).append(str(_l("ICU days cannot be negative.")))
    elif data.discharge_date >= data.admission_date and data.icu_days > length_of_stay(
            data.admission_date, data.discharge_date) + 1:
        errors.setdefault("icu_days", []).append(str(_l("ICU days exceed the length of stay.")))
    if data.birth_weight_grams is not None and data.age > 0:
        errors.setdefault("birth_weight", []).append(str(_l("A birth weight is only recorded for newborns (age 0).")))
    if data.sex not in {s.value for s in Sex}:
        errors.setdefault("sex", []).append(str(_l("Sex must be M, F or U.")))
    return errors


def group_coding(data: CaseInput) -> GroupingResult:
    return grouper().group(CaseCoding(
        age=data.age, sex=Sex(data.sex), discharge_date=data.discharge_date,
        principal_dx=data.principal_dx, secondary_dx=data.secondary_dx, procedures=data.procedures,
    ))


def create_case(actor: Actor, data: CaseInput) -> Case:
    """A hospital user records one discharge of their own hospital; nothing is written if any check fails."""
    actor.require(Role.HOSPITAL)
    hospital = db.session.get(Hospital, actor.hospital_id)
    if hospital is None:
        raise PermissionDenied(_l("Your account is not linked to a hospital."))
    errors = _field_errors(data)
    if errors:
        raise ValidationFailed(errors)
    result = group_coding(data)
    if not result.ok:
        for issue in result.issues:
            errors.setdefault(issue.field, []).append(code_issue_message(issue))
        if not result.issues:
            errors.setdefault("principal_dx", []).append(
                str(_l("The case could not be grouped (grouper answer: %(code)s).", code=result.return_code)))
        raise ValidationFailed(errors)
    assert result.drg is not None
    entry = catalogue_entry(result.drg)
    if entry is None:
        raise ValidationFailed({"principal_dx": [str(_l("DRG %(drg)s is not in the weight catalogue.", drg=result.drg))]})
    duplicate = db.session.scalars(db.select(Case.id).where(
        Case.hospital_id == hospital.id, Case.case_no == data.case_no.strip(),
        Case.discharge_date == data.discharge_date)).first()
    if duplicate is not None:
        raise ValidationFailed({"case_no": [str(_l("This case number with this discharge date is already recorded."))]})
    base_rate_fen = hospital.region.current_policy().base_rate_fen
    case = Case(
        hospital_id=hospital.id, case_no=data.case_no.strip(), age=data.age, sex=data.sex,
        admission_date=data.admission_date, discharge_date=data.discharge_date,
        los_days=length_of_stay(data.admission_date, data.discharge_date),
        principal_dx=normalise_code(data.principal_dx),
        secondary_dx=[normalise_code(c) for c in data.secondary_dx],
        procedures=[normalise_code(c) for c in data.procedures],
        total_cost_fen=data.total_cost_fen, icu_days=data.icu_days, birth_weight_grams=data.birth_weight_grams,
        mcc_codes=list(result.mcc_codes), drg=result.drg,
        drg_weight=Decimal(entry.weight),
        drg_payment_fen=drg_payment_fen(Decimal(entry.weight), base_rate_fen, Decimal(hospital.coefficient)),
        grouper_version=grouper().version, created_by_id=actor.user_id,
    )
    db.session.add(case)
    db.session.flush()
    activity.record(actor, "case.created", "case", case.id, hospital.id,
                    {"drg": case.drg, "drg_payment_fen": case.drg_payment_fen, "grouper": case.grouper_version})
    db.session.commit()
    return case


def get_case(actor: Actor, case_id: int) -> Case:
    """Hospital users only ever see their own hospital's cases; staff and auditors see all."""
    return get_hospital_owned(actor, Case, case_id, _l("No such case."))

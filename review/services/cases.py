"""Entering a Case: validate the coding with the code editor, group it, and price the DRG payment."""
from __future__ import annotations

import atexit
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache

from flask_babel import lazy_gettext as _l

from review.extensions import db
from review.messages import code_issue_message
from review.models import Case, Hospital, Policy
from review.services import activity
from review.services.catalogue import catalogue_entry, scheme_for
from review.services.context import HIDDEN, Actor, PermissionDenied, ValidationFailed
from review.services.scope import get_hospital_owned
from workflows.eligibility import length_of_stay
from workflows.grouping import CaseCoding, CodeIssue, GroupingResult, MsDrgGrouper, Sex, normalise_code
from workflows.identifiers import normalise_identifier
from workflows.intake import MAX_CASE_NO_CHARS
from workflows.money import format_fen
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


def warning_records(issues: Iterable[CodeIssue]) -> list[dict[str, str | None]]:
    """Code-editor findings as kept with a case: what and where, the wording is left to whoever shows them."""
    return [{"field": issue.field, "code": issue.code, "kind": issue.kind} for issue in issues]


def _field_errors(data: CaseInput, policy: Policy) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    case_no = normalise_identifier(data.case_no)
    if not case_no:
        errors.setdefault("case_no", []).append(str(_l("The case number is required.")))
    elif len(case_no) > MAX_CASE_NO_CHARS:
        errors.setdefault("case_no", []).append(str(_l("The case number has %(n)s characters; at most %(max)s are "
                                                       "allowed.", n=len(case_no), max=MAX_CASE_NO_CHARS)))
    if data.discharge_date < data.admission_date:
        errors.setdefault("discharge_date", []).append(str(_l("The discharge date is before the admission date.")))
    if data.total_cost_fen < 0:
        errors.setdefault("total_cost", []).append(str(_l("The total cost cannot be negative.")))
    elif data.total_cost_fen > policy.max_case_cost_fen:
        errors.setdefault("total_cost", []).append(str(_l(
            "%(cost)s yuan is outside the range accepted for one case (0.00–%(max)s yuan).",
            cost=format_fen(data.total_cost_fen), max=format_fen(policy.max_case_cost_fen))))
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
    policy = hospital.region.current_policy()
    errors = _field_errors(data, policy)
    if errors:
        raise ValidationFailed(errors)
    result = group_coding(data)
    blocking, warnings = result.split(policy.blocking_code_edits or ())
    if blocking or not result.grouped:
        for issue in blocking:
            errors.setdefault(issue.field, []).append(code_issue_message(issue))
        if not blocking:
            errors.setdefault("principal_dx", []).append(
                str(_l("The case could not be grouped (grouper answer: %(code)s).", code=result.return_code)))
        raise ValidationFailed(errors)
    assert result.drg is not None
    entry = catalogue_entry(result.drg, scheme_for(hospital.region_id, data.discharge_date))
    if entry is None:
        raise ValidationFailed({"principal_dx": [str(_l("DRG %(drg)s is not in the weight catalogue.", drg=result.drg))]})
    case_no = normalise_identifier(data.case_no)
    duplicate = db.session.scalars(db.select(Case.id).where(
        Case.hospital_id == hospital.id, Case.case_no == case_no,
        Case.discharge_date == data.discharge_date)).first()
    if duplicate is not None:
        raise ValidationFailed({"case_no": [str(_l("This case number with this discharge date is already recorded."))]})
    base_rate_fen = policy.base_rate_fen
    case = Case(
        hospital_id=hospital.id, case_no=case_no, age=data.age, sex=data.sex,
        admission_date=data.admission_date, discharge_date=data.discharge_date,
        los_days=length_of_stay(data.admission_date, data.discharge_date),
        principal_dx=normalise_code(data.principal_dx),
        secondary_dx=[normalise_code(c) for c in data.secondary_dx],
        procedures=[normalise_code(c) for c in data.procedures],
        total_cost_fen=data.total_cost_fen, icu_days=data.icu_days, birth_weight_grams=data.birth_weight_grams,
        mcc_codes=list(result.mcc_codes), code_warnings=warning_records(warnings), drg=result.drg,
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
    return get_hospital_owned(actor, Case, case_id, HIDDEN)

"""A hospital's special-case Application: create, submit, and screen against the cycle's frozen policy."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from flask_babel import lazy_gettext as _l

from review.extensions import db
from review.models import Cycle, ReviewItem
from review.models.types import utcnow
from review.services import activity
from review.services.cases import get_case
from review.services.catalogue import average_cost_fen
from review.services.context import SYSTEM, Actor, ServiceError, ValidationFailed
from review.services.items import get_item, move
from workflows.eligibility import CaseFacts, Rule, Thresholds, screen
from workflows.states import Action, ItemKind, Role, State


def cycle_for(region_id: int, discharge: date) -> Cycle | None:
    return db.session.scalars(db.select(Cycle).where(
        Cycle.region_id == region_id, Cycle.quarter_start <= discharge, Cycle.quarter_end >= discharge)).first()


def _check_window(cycle: Cycle, today: date) -> None:
    if cycle.status != "open" or not cycle.application_opens <= today <= cycle.application_closes:
        raise ServiceError(_l("Applications for cycle %(code)s are accepted from %(start)s to %(end)s only.",
                              code=cycle.code, start=cycle.application_opens, end=cycle.application_closes))


def apply_for_case(actor: Actor, case_id: int, category: str, reason: str) -> ReviewItem:
    """Create the Application (draft) and submit it at once, as the hospital's form does in one step."""
    actor.require(Role.HOSPITAL)
    case = get_case(actor, case_id)
    errors: dict[str, list[str]] = {}
    if category not in {rule.value for rule in Rule}:
        errors["category"] = [str(_l("Choose the rule the case meets."))]
    if len(reason.strip()) < 10:
        errors["reason"] = [str(_l("Give the reason for the application (at least 10 characters)."))]
    if errors:
        raise ValidationFailed(errors)
    cycle = cycle_for(case.hospital.region_id, case.discharge_date)
    if cycle is None:
        raise ServiceError(_l("No review cycle covers the discharge date %(date)s.", date=case.discharge_date))
    _check_window(cycle, utcnow().date())
    existing = db.session.scalars(db.select(ReviewItem).where(
        ReviewItem.case_id == case.id, ReviewItem.cycle_id == cycle.id,
        ReviewItem.kind == ItemKind.APPLICATION.value)).first()
    if existing is not None:
        raise ServiceError(_l("This case already has an application in cycle %(code)s.", code=cycle.code))
    item = ReviewItem(kind=ItemKind.APPLICATION.value, case_id=case.id, hospital_id=case.hospital_id,
                      cycle_id=cycle.id, state=State.DRAFT.value, category=category, reason=reason.strip())
    db.session.add(item)
    db.session.flush()
    activity.record(actor, "item.created", "review_item", item.id, item.hospital_id,
                    {"case_id": case.id, "category": category})
    _submit_and_screen(actor, item, cycle)
    db.session.commit()
    return item


def resubmit(actor: Actor, item_id: int, category: str, reason: str) -> ReviewItem:
    """A returned application may be corrected and submitted again while the window is open."""
    actor.require(Role.HOSPITAL)
    item = get_item(actor, item_id, for_update=True)
    _check_window(item.cycle, utcnow().date())
    if len(reason.strip()) < 10:
        raise ValidationFailed({"reason": [str(_l("Give the reason for the application (at least 10 characters)."))]})
    item.category, item.reason = category, reason.strip()
    _submit_and_screen(actor, item, item.cycle)
    db.session.commit()
    return item


def _submit_and_screen(actor: Actor, item: ReviewItem, cycle: Cycle) -> None:
    move(item, Action.SUBMIT, actor)
    policy = cycle.policy_snapshot
    case = item.case
    result = screen(
        CaseFacts(total_cost_fen=case.total_cost_fen, los_days=case.los_days, icu_days=case.icu_days,
                  drg=case.drg, drg_average_cost_fen=average_cost_fen(cycle.region_id, case.drg),
                  category=item.category or "", justification=item.reason or ""),
        Thresholds(high_cost_multiple=Decimal(policy["high_cost_multiple"]),
                   long_stay_days=int(policy["long_stay_days"]), icu_share=Decimal(policy["icu_share"])),
    )
    item.screening = {
        "eligible": result.eligible,
        "met_rules": [rule.value for rule in result.met_rules],
        "reason": result.reason(),
        "results": [{"rule": r.rule.value, "met": r.met, "evaluable": r.evaluable, "numbers": r.numbers,
                     "message": r.message} for r in result.results],
    }
    move(item, Action.SCREEN, SYSTEM, {"eligible": result.eligible})
    move(item, Action.QUEUE if result.eligible else Action.RETURN_INELIGIBLE, SYSTEM,
         {"reason": result.reason()})

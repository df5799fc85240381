"""An expert's scoresheet: save drafts, submit once, and propose the decision when the panel is complete."""
from __future__ import annotations

import secrets
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm.exc import StaleDataError

from review.extensions import db
from review.models import Assignment, Decision, ReviewItem, Scoresheet
from review.models.types import utcnow
from review.services import activity
from review.services.context import SYSTEM, Actor, NotFound, ServiceError, ValidationFailed
from review.services.items import move
from workflows.consensus import Recommendation, Vote, propose
from workflows.payment import PaymentMethod, supplement_fen
from workflows.states import Action, Role, State


@dataclass(frozen=True)
class SheetInput:
    recommendation: str | None
    unreasonable_cost_fen: int
    rationale: str
    lock_version: int


def get_assignment(actor: Actor, assignment_id: int) -> Assignment:
    """Experts reach only their own active assignments."""
    actor.require(Role.EXPERT)
    assignment = db.session.scalars(db.select(Assignment).where(
        Assignment.id == assignment_id, Assignment.expert_id == actor.expert_id,
        Assignment.status == "active")).first()
    if assignment is None:
        raise NotFound(_l("No such assignment."))
    return assignment


def _validate(data: SheetInput, total_cost_fen: int) -> None:
    errors: dict[str, list[str]] = {}
    if data.recommendation not in {r.value for r in Recommendation}:
        errors["recommendation"] = [str(_l("Choose approve or reject."))]
    if data.unreasonable_cost_fen < 0:
        errors["unreasonable_cost"] = [str(_l("The unreasonable cost cannot be negative."))]
    elif data.unreasonable_cost_fen > total_cost_fen:
        errors["unreasonable_cost"] = [str(_l("The unreasonable cost cannot exceed the case's total cost."))]
    if data.recommendation == Recommendation.REJECT.value and len(data.rationale.strip()) < 10:
        errors["rationale"] = [str(_l("A rationale of at least 10 characters is required when not approving."))]
    if errors:
        raise ValidationFailed(errors)


def save_sheet(actor: Actor, assignment_id: int, data: SheetInput, *, submit: bool) -> Scoresheet:
    """Save (draft) or submit; a save based on an older version is refused rather than overwriting."""
    assignment = get_assignment(actor, assignment_id)
    item = db.session.scalars(db.select(ReviewItem).where(ReviewItem.id == assignment.item_id)
                              .with_for_update()).one()
    if State(item.state) not in (State.ASSIGNED, State.IN_REVIEW):
        raise ServiceError(_l("This item is no longer open for review."))
    sheet = assignment.scoresheet
    if sheet is None:
        sheet = Scoresheet(assignment_id=assignment.id)
        db.session.add(sheet)
    elif sheet.status == "submitted":
        raise ServiceError(_l("You have already submitted this scoresheet; it is locked."))
    elif sheet.lock_version != data.lock_version:
        raise ServiceError(_l("This scoresheet was changed in another window since you opened it. "
                              "Reload the page to see the latest version; your changes were not saved."))
    if submit:
        _validate(data, item.case.total_cost_fen)
    if State(item.state) == State.ASSIGNED:
        move(item, Action.START_REVIEW, actor)
    sheet.recommendation = data.recommendation or None
    sheet.unreasonable_cost_fen = max(0, data.unreasonable_cost_fen)
    sheet.rationale = data.rationale.strip()
    if submit:
        sheet.status = "submitted"
        sheet.submitted_at = utcnow()
    try:
        db.session.flush()
    except StaleDataError as error:
        db.session.rollback()
        raise ServiceError(_l("This scoresheet was changed in another window; reload the page.")) from error
    activity.record(actor, "scoresheet.submitted" if submit else "scoresheet.saved", "scoresheet", sheet.id,
                    None, {"item_id": item.id})
    if submit:
        _propose_if_complete(item)
    db.session.commit()
    return sheet


def _propose_if_complete(item: ReviewItem) -> Decision | None:
    sheets = list(db.session.scalars(db.select(Scoresheet).join(Assignment).where(
        Assignment.item_id == item.id, Assignment.status == "active", Scoresheet.status == "submitted")))
    policy = item.cycle.policy_snapshot
    k = int(policy["panel_size"])
    if len(sheets) < k:
        return None
    proposal = propose([Vote(expert_id=s.assignment.expert_id, recommendation=Recommendation(s.recommendation),
                             unreasonable_cost_fen=s.unreasonable_cost_fen) for s in sheets], k)
    case = item.case
    amount = 0
    if proposal.approvals * 2 > k:
        amount = supplement_fen(PaymentMethod(policy["payment_method"]), case.total_cost_fen,
                                proposal.deduction_fen, case.drg_payment_fen,
                                int(policy["fixed_loss_threshold_fen"]))
    version = 1 + (db.session.scalar(db.select(db.func.max(Decision.version)).where(
        Decision.item_id == item.id)) or 0)
    decision = Decision(item_id=item.id, version=version, outcome=proposal.outcome.value,
                        approvals=proposal.approvals, panel_size=k, deduction_fen=proposal.deduction_fen,
                        drg=case.drg, drg_payment_fen=case.drg_payment_fen, total_cost_fen=case.total_cost_fen,
                        amount_fen=amount, vote_snapshot=proposal.snapshot(),
                        verification_code=secrets.token_hex(8).upper())
    db.session.add(decision)
    db.session.flush()
    move(item, Action.PROPOSE, SYSTEM, {"decision_id": decision.id, "outcome": decision.outcome,
                                        "amount_fen": amount})
    return decision

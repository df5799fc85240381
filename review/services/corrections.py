"""Corrections (issue 13 §2): the office corrects a clerical error in an issued decision (a wrong amount) by a new
version, never by editing the old one; four eyes: one member proposes it with a reason, another approves it, and
approval issues it through the same path as an appeal's outcome (`decisions.publish`: superseded version, ledger
reversal and new posting in one transaction, letter with its own 文号). The hospital is notified.

The item stays or becomes `issued` (the office-only step -correct-> ISSUED, from issued or settled), so a correction
never reopens a review; an item under appeal is corrected by the appeal's decision instead. A correction of a
settled item is booked in the open period, naming the closed one, and settled by that period's statement.
"""
from __future__ import annotations

import secrets

from flask_babel import lazy_gettext as _l

from review.extensions import db
from review.messages import problem_text
from review.models import Decision, ReviewItem
from review.services import activity
from review.services.context import Actor, ServiceError, ValidationFailed
from review.services.decisions import locked_decision, publish
from review.services.items import get_item
from review.services.notifications import notify
from workflows.problems import Problem
from workflows.states import STANDING_STATES, Action, Role, State

REASON_MIN = 10
COPIED = ("outcome", "approvals", "panel_size", "deduction_fen", "drg", "drg_payment_fen", "total_cost_fen",
          "drg_after", "drg_weight_after", "drg_payment_after_fen", "admission_justified", "coding", "vote_snapshot")
"""What a correction keeps of the version it corrects: the panel's findings stand, only the amount is corrected."""


def propose(actor: Actor, decision_id: int, amount_fen: int, reason: str) -> Decision:
    """Propose version n+1 of an item's current issued decision with the corrected amount and the reason."""
    actor.require(Role.STAFF, Role.ADMIN)
    reason = (reason or "").strip()
    if len(reason) < REASON_MIN:
        raise ValidationFailed({"reason": [str(_l("Give the reason in at least %(n)s characters.", n=REASON_MIN))]})
    current = locked_decision(decision_id)
    item = get_item(actor, current.item_id, for_update=True)
    if current.status != "issued" or State(item.state) not in STANDING_STATES:
        raise ServiceError(_l("Only the current decision of an issued case can be corrected."))
    if db.session.scalar(db.select(Decision.id).where(Decision.item_id == item.id,
                                                      Decision.status == "awaiting_approval")) is not None:
        raise ServiceError(problem_text(Problem("correction.pending")))
    if amount_fen == current.amount_fen:
        raise ValidationFailed({"amount": [str(_l("The corrected amount is the amount already issued."))]})
    version = 1 + (db.session.scalar(db.select(db.func.max(Decision.version)).where(
        Decision.item_id == item.id)) or 0)
    correction = Decision(item_id=item.id, version=version, status="awaiting_approval", basis="correction",
                          correction_reason=reason, proposed_by_id=actor.user_id, amount_fen=amount_fen,
                          verification_code=secrets.token_hex(8).upper(),
                          **{name: getattr(current, name) for name in COPIED})
    db.session.add(correction)
    db.session.flush()
    activity.record(actor, "decision.correction_proposed", "decision", correction.id, item.hospital_id, {
        "corrects_decision_id": current.id, "version": version, "amount_fen_before": current.amount_fen,
        "amount_fen": amount_fen, "reason": reason})
    db.session.commit()
    return correction


def approve(actor: Actor, decision_id: int) -> Decision:
    """A second member of the office approves the correction, which issues it; the proposer cannot."""
    actor.require(Role.STAFF, Role.ADMIN)
    correction = locked_decision(decision_id)
    if correction.status != "awaiting_approval":
        raise ServiceError(_l("This correction is not waiting for approval."))
    if correction.proposed_by_id == actor.user_id:
        raise ServiceError(problem_text(Problem("correction.own_proposal", decision_id=correction.id)))
    item = db.session.scalars(db.select(ReviewItem).where(ReviewItem.id == correction.item_id)
                              .with_for_update()).one()
    publish(actor, correction, item, Action.CORRECT)
    notify(kind="decision_corrected", dedupe_key=f"decision-corrected:{correction.id}", hospital_id=item.hospital_id,
           item=item.id, cycle=item.cycle.code, version=correction.version)
    db.session.commit()
    return correction


def awaiting(actor: Actor) -> list[Decision]:
    """The approval queue: corrections waiting for a second member of the office, oldest first."""
    actor.require(Role.STAFF, Role.ADMIN, Role.AUDITOR)
    return list(db.session.scalars(db.select(Decision).where(Decision.status == "awaiting_approval")
                                   .order_by(Decision.proposed_at, Decision.id)))

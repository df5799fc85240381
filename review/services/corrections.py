"""Corrections (issue 13 §2): the office corrects a clerical error in an issued decision (a wrong amount) by a new
version, never by editing the old one; four eyes: one member proposes it with a reason, another approves it, and
approval issues it through the same path as an appeal's outcome (`decisions.publish`: superseded version, ledger
reversal and new posting in one transaction, letter with its own 文号). The hospital is notified.

The item stays or becomes `issued` (the office-only step -correct-> ISSUED, from issued or settled), so a correction
never reopens a review; an item under appeal is corrected by the appeal's decision instead. A correction of a
settled item is booked in the open period, naming the closed one, and settled by that period's statement.

A pending correction ends without being issued when another member of the office rejects it or its proposer
withdraws it, each with a reason: it becomes `discarded` (final), posts nothing, keeps its row for the audit and
frees the item for a new proposal, which takes its version number (a discarded row is never a version).
"""
from __future__ import annotations

import secrets

from flask_babel import lazy_gettext as _l

from review.extensions import db
from review.messages import problem_text
from review.models import Decision, ReviewItem
from review.models.decision import next_version
from review.models.types import utcnow
from review.services import activity
from review.services.context import Actor, ServiceError, ValidationFailed
from review.services.decisions import locked_decision, publish, step_decision
from review.services.items import get_item
from review.services.notifications import notify
from workflows.problems import Problem
from workflows.states import STANDING_STATES, Action, DecisionAction, Role, State

REASON_MIN = 10
COPIED = ("outcome", "approvals", "panel_size", "deduction_fen", "drg", "drg_payment_fen", "total_cost_fen",
          "drg_after", "drg_weight_after", "drg_payment_after_fen", "admission_justified", "coding", "vote_snapshot")
"""What a correction keeps of the version it corrects: the panel's findings stand, only the amount is corrected."""


def propose(actor: Actor, decision_id: int, amount_fen: int, reason: str) -> Decision:
    """Propose version n+1 of an item's current issued decision with the corrected amount and the reason."""
    actor.require(Role.STAFF, Role.ADMIN)
    reason = _reason(reason)
    current = locked_decision(decision_id)
    item = get_item(actor, current.item_id, for_update=True)
    if current.status != "issued" or State(item.state) not in STANDING_STATES:
        raise ServiceError(_l("Only the current decision of an issued case can be corrected."))
    if db.session.scalar(db.select(Decision.id).where(Decision.item_id == item.id,
                                                      Decision.status == "awaiting_approval")) is not None:
        raise ServiceError(problem_text(Problem("correction.pending")))
    if amount_fen == current.amount_fen:
        raise ValidationFailed({"amount": [str(_l("The corrected amount is the amount already issued."))]})
    version = next_version(item.id)
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
    correction = _pending(decision_id)
    if correction.proposed_by_id == actor.user_id:
        raise ServiceError(problem_text(Problem("correction.own_proposal", decision_id=correction.id)))
    item = db.session.scalars(db.select(ReviewItem).where(ReviewItem.id == correction.item_id)
                              .with_for_update()).one()
    publish(actor, correction, item, Action.CORRECT)
    notify(kind="decision_corrected", dedupe_key=f"decision-corrected:{correction.id}", hospital_id=item.hospital_id,
           item=item.id, cycle=item.cycle.code, version=correction.version)
    db.session.commit()
    return correction


def reject(actor: Actor, decision_id: int, reason: str) -> Decision:
    """Another member of the office refuses a pending correction, saying why; its proposer withdraws instead, so
    the register tells a second opinion from a change of mind."""
    actor.require(Role.STAFF, Role.ADMIN)
    reason = _reason(reason)
    correction = _pending(decision_id)
    if correction.proposed_by_id == actor.user_id:
        raise ServiceError(_l("You proposed correction #%(id)s: withdraw it rather than reject it.", id=correction.id))
    return _discard(actor, correction, reason, "decision.correction_rejected")


def withdraw(actor: Actor, decision_id: int, reason: str) -> Decision:
    """The proposer takes back a pending correction, saying why (a mistaken amount, the wrong item)."""
    actor.require(Role.STAFF, Role.ADMIN)
    reason = _reason(reason)
    correction = _pending(decision_id)
    if correction.proposed_by_id != actor.user_id:
        raise ServiceError(_l("Only the member of the review office who proposed correction #%(id)s can withdraw it; "
                              "reject it instead.", id=correction.id))
    return _discard(actor, correction, reason, "decision.correction_withdrawn")


def _reason(reason: str) -> str:
    """The reason a correction is proposed, rejected or withdrawn: required, at least REASON_MIN characters."""
    reason = (reason or "").strip()
    if len(reason) < REASON_MIN:
        raise ValidationFailed({"reason": [str(_l("Give the reason in at least %(n)s characters.", n=REASON_MIN))]})
    return reason


def _pending(decision_id: int) -> Decision:
    """The correction, locked, while it still waits: approving, rejecting and withdrawing it exclude each other."""
    correction = locked_decision(decision_id)
    if correction.status != "awaiting_approval":
        raise ServiceError(_l("This correction is not waiting for approval."))
    return correction


def _discard(actor: Actor, correction: Decision, reason: str, action: str) -> Decision:
    """End a pending correction for good without issuing it: nothing is posted, the item is not moved."""
    correction.status = step_decision(correction, DecisionAction.DISCARD, actor)
    correction.discarded_reason, correction.discarded_by_id, correction.discarded_at = reason, actor.user_id, utcnow()
    activity.record(actor, action, "decision", correction.id, correction.item.hospital_id, {
        "version": correction.version, "amount_fen": correction.amount_fen,
        "proposed_by_id": correction.proposed_by_id, "reason": reason})
    db.session.commit()
    return correction


def awaiting(actor: Actor) -> list[Decision]:
    """The approval queue: corrections waiting for a second member of the office, oldest first."""
    actor.require(Role.STAFF, Role.ADMIN, Role.AUDITOR)
    return list(db.session.scalars(db.select(Decision).where(Decision.status == "awaiting_approval")
                                   .order_by(Decision.proposed_at, Decision.id)))

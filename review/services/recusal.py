"""Recusal and replacement: an expert steps down from one item and only that open seat is re-solved.

The other experts of the seat's round stay seated (locked); everyone who ever stepped down from the item is
excluded, and on an appeal panel (round 2) so is everyone of the first panel; the seed is derived from the seed of
the run that seated the round and the recusal, so the replacement is as reproducible as the draw and recorded as
a run of its own. A round's panel may change exactly while its experts may still write their sheets.
"""
from __future__ import annotations

from collections import Counter

from flask_babel import lazy_gettext as _l

from review.extensions import db
from review.models import Assignment, AssignmentRun, ExpertConflict, ReviewItem
from review.models.types import utcnow
from review.services import activity
from review.services.assignment_runs import build_problem, config_for, notify_experts, place, record_run, seats_by_item
from review.services.context import HIDDEN, Actor, NotFound, ServiceError, ValidationFailed
from review.services.cycles import region_today
from review.services.reviews import OPEN_FOR_ROUND, current_round, review_due
from workflows.assignment import seed_from
from workflows.states import Role, State

MIN_REASON = 10


def _assignment_for(actor: Actor, assignment_id: int) -> Assignment:
    actor.require(Role.EXPERT, Role.STAFF, Role.ADMIN)
    query = db.select(Assignment).where(Assignment.id == assignment_id, Assignment.status == "active")
    if actor.role == Role.EXPERT:
        query = query.where(Assignment.expert_id == actor.expert_id)
    assignment = db.session.scalars(query).first()
    if assignment is None:
        raise NotFound(HIDDEN)
    return assignment


def _panel_at_work(item: ReviewItem, round_: int) -> None:
    """Refuse a change to a round's panel once its experts may no longer write (the first panel after it
    proposed, the appeal panel before it is seated or after it proposed)."""
    if State(item.state) not in OPEN_FOR_ROUND[round_]:
        raise ServiceError(_l("This item is no longer open for review; it cannot change its panel."))


def recuse(actor: Actor, assignment_id: int, reason: str, *, declare_conflict: bool = False) -> Assignment | None:
    """Step the expert down and seat a replacement; returns the new assignment, or None if none could be found."""
    assignment = _assignment_for(actor, assignment_id)
    reason = reason.strip()
    if len(reason) < MIN_REASON:
        raise ValidationFailed({"reason": [str(_l("Give the reason for stepping down in at least %(n)s characters.",
                                                   n=MIN_REASON))]})
    item = db.session.scalars(db.select(ReviewItem).where(ReviewItem.id == assignment.item_id).with_for_update()).one()
    _panel_at_work(item, assignment.round)
    if assignment.scoresheet is not None and assignment.scoresheet.status == "submitted":
        raise ServiceError(_l("A submitted scoresheet cannot be withdrawn by stepping down."))
    assignment.status, assignment.recusal_reason, assignment.recused_at = "recused", reason, utcnow()
    if declare_conflict:
        conflict = ExpertConflict(expert_id=assignment.expert_id, hospital_id=item.hospital_id,
                                  starts_on=region_today(item.cycle.region), reason=reason,
                                  created_by_id=actor.user_id)
        db.session.add(conflict)
        db.session.flush()
        activity.record(actor, "expert.conflict_declared", "expert", assignment.expert_id, None,
                        {"conflict_id": conflict.id, "hospital_id": item.hospital_id, "source": "recusal"})
    db.session.flush()
    activity.record(actor, "assignment.recused", "assignment", assignment.id, None,
                    {"item_id": item.id, "expert_id": assignment.expert_id, "reason": reason},
                    region_id=item.cycle.region_id)
    placed = fill_open_seats(actor, item, assignment.round, trigger=assignment)
    db.session.commit()
    return placed[0] if placed else None


def fill_open_seats(actor: Actor, item: ReviewItem, round_: int,
                    trigger: Assignment | None = None) -> list[Assignment]:
    """Re-solve only this item's open seats of `round_` with that round's panel locked; the caller commits."""
    parent = db.session.get(AssignmentRun, trigger.run_id) if trigger and trigger.run_id else None
    if parent is None:
        parent = db.session.scalars(db.select(AssignmentRun).join(Assignment, Assignment.run_id == AssignmentRun.id)
                                    .where(Assignment.item_id == item.id, Assignment.round == round_)
                                    .order_by(AssignmentRun.id)).first()
    base_seed = parent.seed if parent else (item.panel_seed or item.cycle.code)
    recused = db.session.scalar(db.select(db.func.count()).where(
        Assignment.item_id == item.id, Assignment.status == "recused")) or 0
    seed = seed_from(base_seed, "replace", str(item.id), str(recused))
    problem = build_problem(item.cycle, [item], round_=round_)
    run, solution = record_run(item.cycle, "replacement", parent.published_value if parent else "", seed, problem,
                               config_for(item.cycle), actor.user_id, parent.id if parent else None)
    seats = seats_by_item(run).get(item.id, [])
    placed = place(item, run, seats, round_)
    db.session.flush()
    activity.record(actor, "assignment.replaced" if placed else "assignment.replacement_unfilled", "assignment_run",
                    run.id, None, {"item_id": item.id, "round": round_, "seed": seed,
                                   "assignment_hash": run.assignment_hash,
                                   "new_experts": [a.expert_id for a in placed],
                                   "unfilled": run.result["unfilled"].get(str(item.id))},
                    region_id=item.cycle.region_id)
    if placed:
        notify_experts(run, Counter(a.expert_id for a in placed), review_due(placed)[placed[0].id])
    return placed


def fill_item(actor: Actor, item_id: int) -> list[Assignment]:
    """Office action: try again to fill the open seats of the item's panel at work, first or appeal (after the
    pool grew or a conflict ended)."""
    actor.require(Role.STAFF, Role.ADMIN)
    item = db.session.scalars(db.select(ReviewItem).where(ReviewItem.id == item_id).with_for_update()).first()
    if item is None:
        raise NotFound(_l("No such review item."))
    round_ = current_round(item)
    _panel_at_work(item, round_)
    active = sum(a.status == "active" and a.round == round_ for a in item.assignments)
    if active >= item.cycle.policy.panel_size:
        raise ServiceError(_l("This item's panel is complete."))
    placed = fill_open_seats(actor, item, round_)
    db.session.commit()
    return placed


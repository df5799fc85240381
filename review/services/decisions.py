"""Staff confirm a proposed decision; issuing posts the ledger entry and queues the letter."""
from __future__ import annotations

from datetime import timedelta

from flask_babel import lazy_gettext as _l

from review.extensions import db
from review.models import Decision, ReviewItem
from review.models.types import utcnow
from review.services import activity, ledger
from review.services.context import Actor, NotFound, ServiceError
from review.services.items import get_item, move
from review.tasks import render_letter
from workflows.ledger import decision_posting
from workflows.states import Action, Role


def get_decision(actor: Actor, decision_id: int) -> Decision:
    """Readable by whoever may read the item; hospitals only see issued decisions."""
    decision = db.session.get(Decision, decision_id)
    if decision is None:
        raise NotFound(_l("No such decision."))
    get_item(actor, decision.item_id)
    if actor.role in (Role.HOSPITAL, Role.EXPERT) and decision.status != "issued":
        raise NotFound(_l("No such decision."))
    return decision


def issue(actor: Actor, decision_id: int) -> Decision:
    """Issue once: the item moves to issued, the adjustment is posted under `decision:{id}:v{n}`."""
    actor.require(Role.STAFF, Role.ADMIN)
    decision = db.session.scalars(db.select(Decision).where(Decision.id == decision_id).with_for_update()).first()
    if decision is None:
        raise NotFound(_l("No such decision."))
    if decision.status == "issued":
        raise ServiceError(_l("This decision has already been issued."))
    item = db.session.scalars(db.select(ReviewItem).where(ReviewItem.id == decision.item_id)
                              .with_for_update()).one()
    now = utcnow()
    decision.status = "issued"
    decision.issued_at = now
    decision.issued_by_id = actor.user_id
    decision.appeal_deadline = now.date() + timedelta(days=int(item.cycle.policy_snapshot["appeal_days"]))
    item.issued_version = decision.version
    move(item, Action.ISSUE, actor, {"decision_id": decision.id, "amount_fen": decision.amount_fen})
    plan = decision_posting(decision.id, decision.version, decision.amount_fen, item.cycle.region.code,
                            item.hospital.code)
    if plan is not None:
        entry = ledger.post(plan, item.cycle.code, decision.id, actor.user_id)
        activity.record(actor, "ledger.posted", "journal_entry", entry.id, item.hospital_id,
                        {"key": plan.idempotency_key, "amount_fen": decision.amount_fen})
    db.session.commit()
    render_letter.delay(decision.id)
    return decision

"""Taking an item out of review: the hospital withdraws its application until a panel is seated; the review office
may withdraw an application or cancel a sampled record later, with a reason (docs/ARCHITECTURE.md, "States").

A withdrawn application gives its quota place back (`applications.quota_for` counts neither withdrawn nor returned
applications). Who may withdraw in which state is the transition table's answer (`workflows/states.py`).
"""
from __future__ import annotations

from review.clock import utcnow
from review.extensions import db
from review.messages import problem_text
from review.models import ReviewItem
from review.services import notifications
from review.services.context import Actor, ServiceError, ValidationFailed
from review.services.items import get_item, move
from workflows.problems import Problem
from workflows.states import Action, ItemKind, Role

MIN_REASON_CHARS = 10


def withdraw(actor: Actor, item_id: int, reason: str) -> ReviewItem:
    """Withdraw in one transaction: the state change, who/when/why on the item, the register row, and a notice to
    the hospital when the office withdrew its item."""
    actor.require(Role.HOSPITAL, Role.STAFF, Role.ADMIN)
    item = get_item(actor, item_id, for_update=True)  # another hospital's item is "not found" before anything else
    reason = reason.strip()
    if len(reason) < MIN_REASON_CHARS:
        raise ValidationFailed({"reason": [problem_text(Problem("withdrawal.reason_too_short",
                                                                minimum=MIN_REASON_CHARS))]})
    before = item.state
    # the who/when/why first: the database refuses a withdrawn item without them, and `move` flushes
    item.withdrawn_reason, item.withdrawn_by_id, item.withdrawn_at = reason, actor.user_id, utcnow()
    try:
        move(item, Action.WITHDRAW, actor, {"reason": reason,
                                            "quota_freed": item.kind == ItemKind.APPLICATION.value})
    except ServiceError:
        db.session.rollback()
        raise
    if actor.role != Role.HOSPITAL:
        notifications.notify(kind="item_withdrawn", dedupe_key=f"item_withdrawn:{item.id}",
                             hospital_id=item.hospital_id, item=item.id, cycle=item.cycle.code, state=before)
    db.session.commit()
    return item

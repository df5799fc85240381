"""Reading review items within the actor's scope, and the one place that changes an item's state."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select

from review.extensions import db
from review.messages import problem_text
from review.models import Appeal, Assignment, ReviewItem
from review.services import activity
from review.services.context import HIDDEN, Actor, NotFound, PermissionDenied, ServiceError
from review.services.lifecycle import next_state
from review.services.scope import READ_ALL_ROLES
from workflows.states import (Action, AppealAction, AppealState, ItemKind, Role, State,
                              TransitionError, appeal_transition, transition)



def scoped(actor: Actor, query: Select) -> Select:
    """Narrow a ReviewItem query to what the actor may read, in SQL rather than in templates."""
    if actor.role == Role.HOSPITAL:
        return query.where(ReviewItem.hospital_id == actor.hospital_id)
    if actor.role == Role.EXPERT:
        return query.where(ReviewItem.id.in_(
            db.select(Assignment.item_id).where(Assignment.expert_id == actor.expert_id,
                                                Assignment.status == "active")))
    if actor.role in READ_ALL_ROLES:
        return query
    raise PermissionDenied(_l("Your role may not read review items."))


def get_item(actor: Actor, item_id: int, *, for_update: bool = False) -> ReviewItem:
    query = scoped(actor, db.select(ReviewItem).where(ReviewItem.id == item_id))
    if for_update:
        query = query.with_for_update()
    item = db.session.scalars(query).first()
    if item is None:
        raise NotFound(HIDDEN)
    return item


def move(item: ReviewItem, action: Action, actor: Actor, data: dict | None = None) -> State:
    """Apply one transition from workflows.states and log it in the same transaction."""
    before = State(item.state)
    try:
        after = transition(ItemKind(item.kind), before, action, actor.role)
    except TransitionError as error:
        raise ServiceError(_l("This step is not possible now: %(why)s", why=problem_text(error.problem))) from error
    item.state = after.value
    activity.record(actor, f"item.{action.value}", "review_item", item.id, item.hospital_id,
                    {"from": before.value, "to": after.value, **(data or {})})
    return after


def move_appeal(appeal: Appeal, action: AppealAction, actor: Actor) -> None:
    """The appeal's step with its item's (the caller moves the item and logs the appeal's own record)."""
    appeal.state = next_state(appeal_transition, AppealState(appeal.state), action, actor.role)

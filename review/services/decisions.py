"""Staff confirm a proposed decision; issuing posts the ledger entry and queues the letter."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import SQLAlchemyError

from review.extensions import db
from review.models import Decision, ReviewItem
from review.models.types import utcnow
from review.services import activity, jobs, ledger
from review.services.cycles import region_today
from review.services.context import HIDDEN, Actor, NotFound, ServiceError
from review.services.items import get_item, move
from review.tasks import render_letter
from workflows.ledger import decision_posting
from workflows.states import Action, Role


def get_decision(actor: Actor, decision_id: int) -> Decision:
    """Readable by whoever may read the item; hospitals only see issued decisions."""
    decision = db.session.get(Decision, decision_id)
    if decision is None:
        raise NotFound(HIDDEN)
    get_item(actor, decision.item_id)
    if actor.role in (Role.HOSPITAL, Role.EXPERT) and decision.status != "issued":
        raise NotFound(HIDDEN)
    return decision


def issue(actor: Actor, decision_id: int) -> Decision:
    """Issue once: the item moves to issued, the adjustment is posted under `decision:{id}:v{n}`, and the letter
    job is written in the same transaction, so a broker that is down delays the letter but never loses it."""
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
    # counted from the day of issue where the bureau is, as the letter prints it, not from the UTC date
    decision.appeal_deadline = region_today(item.cycle.region) + timedelta(
        days=item.cycle.policy.appeal_days)
    item.issued_version = decision.version
    move(item, Action.ISSUE, actor, {"decision_id": decision.id, "amount_fen": decision.amount_fen})
    plan = decision_posting(decision.id, decision.version, decision.amount_fen, item.cycle.region.code,
                            item.hospital.code)
    if plan is not None:
        entry = ledger.post(plan, item.cycle.code, decision.id, actor.user_id)
        activity.record(actor, "ledger.posted", "journal_entry", entry.id, item.hospital_id,
                        {"key": plan.idempotency_key, "amount_fen": decision.amount_fen})
    jobs.enqueue(render_letter, decision.id, actor=actor)  # committed with the issue, sent after it
    db.session.commit()
    return decision


@dataclass(frozen=True)
class Skipped:
    """A decision the bulk issue left alone, and why, so the office can see it rather than find it later."""

    decision_id: int
    reason: str


def issue_many(actor: Actor, decision_ids: Iterable[int], *, cycle_id: int | None = None
               ) -> tuple[list[int], list[Skipped]]:
    """Issue each decision through `issue`, one transaction each, and report (issued ids, skipped).

    One transaction per decision because issuing is money: a decision whose posting is refused (a closed period,
    a conflicting ledger entry, a database error) must not undo the ten issued before it, nor stop the ten after
    it. A decision already issued (by a colleague, or by a double click) is skipped and reported; `issue` refuses
    it under a row lock and the ledger key `decision:{id}:v{n}` is unique, so nothing is ever posted twice.
    With `cycle_id`, a decision of another cycle is skipped: a form of one cycle's queue cannot reach another.
    The role is checked once up front, so a refused actor gets one refusal rather than a list of skipped rows.
    """
    actor.require(Role.STAFF, Role.ADMIN)
    issued: list[int] = []
    skipped: list[Skipped] = []
    ids = sorted(set(decision_ids))  # each once, in a stable order the report can follow
    if cycle_id is not None and ids:
        in_cycle = set(db.session.scalars(db.select(Decision.id).join(ReviewItem, ReviewItem.id == Decision.item_id)
                                          .where(Decision.id.in_(ids), ReviewItem.cycle_id == cycle_id)))
        db.session.rollback()  # end the read before the first issue takes its locks
        for decision_id in ids:
            if decision_id not in in_cycle:
                skipped.append(Skipped(decision_id, str(_l("No such decision in this cycle."))))
        ids = [decision_id for decision_id in ids if decision_id in in_cycle]
    for decision_id in ids:
        try:
            issue(actor, decision_id)
        except ServiceError as error:
            db.session.rollback()
            skipped.append(Skipped(decision_id, str(error.message)))
        except SQLAlchemyError as error:
            db.session.rollback()
            current_app.logger.exception("bulk issue: decision %s refused by the database", decision_id)
            skipped.append(Skipped(decision_id, str(_l("The database refused the change (%(error)s); nothing was "
                                                        "issued for this decision.", error=type(error).__name__))))
        else:
            issued.append(decision_id)
    return issued, sorted(skipped, key=lambda s: s.decision_id)

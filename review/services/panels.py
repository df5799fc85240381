"""Drawing the cycle's panels: k experts per queued item, at random from a recorded seed.

The seed is fixed before the draw from a value staff publish (for example a lottery number) and a hash of
the queued items, so anyone holding both can re-draw and obtain the same panels.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass


from review.extensions import db
from review.models import Assignment, Expert, ReviewItem
from review.services import activity
from review.services.cycles import cycle_for_draw
from review.services.context import Actor
from review.services.items import move
from workflows.assignment import Candidate, draw_panel, seed_from
from workflows.states import Action, Role, State

QUALIFIED_TITLES = ("chief_physician", "deputy_chief_physician")


@dataclass(frozen=True)
class DrawSummary:
    seed: str
    assigned: int
    unfilled: dict[int, str]


def draw_cycle_panels(actor: Actor, cycle_id: int, published_value: str) -> DrawSummary:
    """Assign every queued item of the cycle in one transaction; unfillable items stay queued and are listed."""
    cycle, published_value = cycle_for_draw(actor, cycle_id, published_value)
    items = list(db.session.scalars(db.select(ReviewItem).where(
        ReviewItem.cycle_id == cycle.id, ReviewItem.state == State.QUEUED.value).order_by(ReviewItem.id)
        .with_for_update()))
    population = hashlib.sha256(",".join(str(item.id) for item in items).encode()).hexdigest()
    seed = seed_from(published_value, cycle.code, population)
    candidates = [Candidate(expert_id=e.id, hospital_id=e.hospital_id) for e in db.session.scalars(
        db.select(Expert).where(Expert.active.is_(True), Expert.title.in_(QUALIFIED_TITLES)))]
    k = int(cycle.policy_snapshot["panel_size"])
    activity.record(actor, "panel.draw_started", "cycle", cycle.id, None,
                    {"published_value": published_value, "population_sha256": population, "seed": seed,
                     "items": len(items), "k": k})
    unfilled: dict[int, str] = {}
    assigned = 0
    for item in items:
        draw = draw_panel(seed, item.id, item.hospital_id, candidates, k)
        if not draw.expert_ids:
            unfilled[item.id] = draw.unfilled_reason or ""
            continue
        for rank, expert_id in enumerate(draw.expert_ids, start=1):
            db.session.add(Assignment(item_id=item.id, expert_id=expert_id, rank=rank))
        item.panel_seed = seed
        move(item, Action.ASSIGN, actor, {"experts": list(draw.expert_ids), "seed": seed})
        assigned += 1
    activity.record(actor, "panel.drawn", "cycle", cycle.id, None,
                    {"seed": seed, "assigned": assigned, "unfilled": {str(k_): v for k_, v in unfilled.items()}})
    db.session.commit()
    return DrawSummary(seed=seed, assigned=assigned, unfilled=unfilled)

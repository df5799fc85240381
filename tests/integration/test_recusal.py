"""Recusal and replacement through the services, on SQLite and PostgreSQL.

An expert who steps down leaves the item; only the open seat is re-solved, as a run of its own that anyone can
recompute, and nobody who may not review the item (own hospital, stepped down before, already seated) is drawn.
"""
from __future__ import annotations

import pytest

from review.extensions import db
from review.models import (ActivityLog, Assignment, AssignmentRun, Expert, ExpertConflict, ReviewItem, Scoresheet)
from review.services import applications, assignment_runs, cases, recusal, reviews
from review.services.context import NotFound, PermissionDenied, ServiceError, ValidationFailed
from tests.factories import World, _user, ami_case, seat_panels

REASON = "I treated this patient's referring physician's family; I cannot judge impartially."


def _apply(world: World, **case_overrides: object) -> ReviewItem:
    case = cases.create_case(world.actors["hosp1"], ami_case(**case_overrides))
    return applications.apply_for_case(world.actors["hosp1"], case.id, "high_cost",
                                       "Prolonged ICU stay with cardiogenic shock after PCI.")


def add_expert(world: World, name: str, hospital: str, title: str = "deputy_chief_physician") -> int:
    """A further qualified cardiologist outside H1, so the world has candidates left after the draw.

    The world's own pool has exactly three experts who may review an H1 item, which leaves no replacement.
    """
    number = len(world.experts) + 1
    expert = Expert(code=f"E{number:03d}", name_en=f"Dr Expert {number}", name_zh=f"专家{number}", title=title,
                    hospital_id=world.hospitals[hospital], specialties=["cardiology"])
    db.session.add(expert)
    db.session.flush()
    world.experts[name] = expert.id
    _user(world, name, "expert", expert=name)
    db.session.commit()
    return expert.id


def _name_of(world: World, expert_id: int) -> str:
    return next(name for name, eid in world.experts.items() if eid == expert_id)


def _panel(item_id: int) -> list[Assignment]:
    return list(db.session.scalars(db.select(Assignment).where(Assignment.item_id == item_id)
                                   .order_by(Assignment.rank)))


def _active(item_id: int) -> list[Assignment]:
    return [a for a in _panel(item_id) if a.status == "active"]


def _actions(action_prefix: str = "assignment") -> list[str]:
    return list(db.session.scalars(db.select(ActivityLog.action).where(ActivityLog.action.like(f"{action_prefix}.%"))
                                   .order_by(ActivityLog.id)))


@pytest.fixture
def seated(world: World) -> tuple[World, ReviewItem]:
    """One H1 application with its panel seated by an applied run, and two free candidates left in the pool."""
    add_expert(world, "expert7", "H2")
    add_expert(world, "expert8", "H3", title="chief_physician")
    item = _apply(world)
    seat_panels(world)
    db.session.refresh(item)
    assert item.state == "assigned" and len(_active(item.id)) == 3
    return world, item


def test_recusal_seats_a_replacement_as_a_verifiable_run(seated) -> None:  # type: ignore[no-untyped-def]
    world, item = seated
    first = _active(item.id)[0]
    before = {a.expert_id for a in _active(item.id)}
    recused_expert = first.expert_id
    replacement = recusal.recuse(world.actors[_name_of(world, recused_expert)], first.id, f"  {REASON}  ")

    assert replacement is not None
    db.session.expire_all()
    gone = db.session.get(Assignment, first.id)
    assert gone.status == "recused" and gone.recusal_reason == REASON and gone.recused_at is not None
    active = _active(item.id)
    assert len(active) == 3 and len({a.expert_id for a in active}) == 3
    newcomer = db.session.get(Assignment, replacement.id)
    assert newcomer.expert_id not in before  # never someone already seated
    assert newcomer.expert_id != recused_expert
    assert newcomer.expert.hospital_id != item.hospital_id
    assert newcomer.rank > max(a.rank for a in _panel(item.id) if a.id != newcomer.id)

    run = db.session.get(AssignmentRun, newcomer.run_id)
    assert run.kind == "replacement"
    assert run.parent_run_id == first.run_id and run.parent_run_id is not None
    assert assignment_runs.verify(run.id).ok
    assert assignment_runs.verify(first.run_id).ok  # the draw's own record still checks out
    assert _actions() == ["assignment.recused", "assignment.replaced"]
    logged = db.session.scalars(db.select(ActivityLog).where(ActivityLog.action == "assignment.recused")).one()
    assert logged.object_id == first.id and logged.data["reason"] == REASON
    assert db.session.scalar(db.select(db.func.count(ExpertConflict.id))) == 0

    # The recused expert reaches the item no longer; the newcomer does.
    with pytest.raises(NotFound):
        reviews.get_assignment(world.actors[_name_of(world, recused_expert)], first.id)
    assert reviews.get_assignment(world.actors[_name_of(world, newcomer.expert_id)], newcomer.id).item_id == item.id


def test_second_recusal_never_brings_back_who_stepped_down(seated) -> None:  # type: ignore[no-untyped-def]
    world, item = seated
    stepped_down: set[int] = set()
    for _ in range(2):
        target = _active(item.id)[0]
        stepped_down.add(target.expert_id)
        placed = recusal.recuse(world.actors[_name_of(world, target.expert_id)], target.id, REASON)
        assert placed is not None and placed.expert_id not in stepped_down
        db.session.expire_all()
    active = {a.expert_id for a in _active(item.id)}
    assert len(active) == 3 and not active & stepped_down
    assert all(db.session.get(Expert, e).hospital_id != item.hospital_id for e in active)
    runs = list(db.session.scalars(db.select(AssignmentRun).where(AssignmentRun.kind == "replacement")))
    assert len(runs) == 2 and len({r.seed for r in runs}) == 2
    assert all(assignment_runs.verify(r.id).ok for r in runs)


def test_too_short_reason_is_refused_and_changes_nothing(seated) -> None:  # type: ignore[no-untyped-def]
    world, item = seated
    target = _active(item.id)[0]
    runs_before = db.session.scalar(db.select(db.func.count(AssignmentRun.id)))
    with pytest.raises(ValidationFailed) as failure:
        recusal.recuse(world.actors[_name_of(world, target.expert_id)], target.id, "   busy    ")
    assert "10 characters" in failure.value.errors["reason"][0]
    db.session.rollback()
    db.session.expire_all()
    assert db.session.get(Assignment, target.id).status == "active"
    assert len(_active(item.id)) == 3
    assert db.session.scalar(db.select(db.func.count(AssignmentRun.id))) == runs_before
    assert _actions() == []


def test_recusal_after_submitting_the_sheet_is_refused(seated) -> None:  # type: ignore[no-untyped-def]
    world, item = seated
    target = _active(item.id)[0]
    actor = world.actors[_name_of(world, target.expert_id)]
    reviews.save_sheet(actor, target.id, reviews.SheetInput(recommendation="approve", unreasonable_cost_fen=0,
                                                            rationale="Supported by the ICU records.",
                                                            lock_version=0), submit=True)
    with pytest.raises(ServiceError, match="submitted scoresheet"):
        recusal.recuse(actor, target.id, REASON)
    db.session.rollback()
    db.session.expire_all()
    assert db.session.get(Assignment, target.id).status == "active"
    assert db.session.get(Scoresheet, target.scoresheet.id).status == "submitted"
    assert _actions() == []


def test_a_draft_sheet_does_not_stop_a_recusal(seated) -> None:  # type: ignore[no-untyped-def]
    world, item = seated
    target = _active(item.id)[0]
    actor = world.actors[_name_of(world, target.expert_id)]
    reviews.save_sheet(actor, target.id, reviews.SheetInput(recommendation=None, unreasonable_cost_fen=0,
                                                            rationale="", lock_version=0), submit=False)
    assert recusal.recuse(actor, target.id, REASON) is not None
    db.session.expire_all()
    assert db.session.get(ReviewItem, item.id).state == "in_review"
    assert len(_active(item.id)) == 3


def test_expert_cannot_recuse_someone_elses_assignment(seated) -> None:  # type: ignore[no-untyped-def]
    world, item = seated
    target, other = _active(item.id)[:2]
    with pytest.raises(NotFound):
        recusal.recuse(world.actors[_name_of(world, other.expert_id)], target.id, REASON)
    outsider = next(name for name, eid in world.experts.items() if eid not in {a.expert_id for a in _panel(item.id)})
    with pytest.raises(NotFound):
        recusal.recuse(world.actors[outsider], target.id, REASON)
    with pytest.raises(PermissionDenied):
        recusal.recuse(world.actors["hosp1"], target.id, REASON)
    db.session.rollback()
    db.session.expire_all()
    assert db.session.get(Assignment, target.id).status == "active"
    assert _actions() == []


def test_recusing_twice_is_not_found(seated) -> None:  # type: ignore[no-untyped-def]
    world, item = seated
    target = _active(item.id)[0]
    actor = world.actors[_name_of(world, target.expert_id)]
    recusal.recuse(actor, target.id, REASON)
    with pytest.raises(NotFound):
        recusal.recuse(actor, target.id, REASON)


def test_declared_conflict_is_recorded_for_the_items_hospital(seated) -> None:  # type: ignore[no-untyped-def]
    world, item = seated
    target = _active(item.id)[0]
    recusal.recuse(world.actors[_name_of(world, target.expert_id)], target.id, REASON, declare_conflict=True)
    conflict = db.session.scalars(db.select(ExpertConflict)).one()
    assert (conflict.expert_id, conflict.hospital_id) == (target.expert_id, item.hospital_id)
    assert conflict.reason == REASON and conflict.ends_on is None
    assert conflict.created_by_id == world.users[_name_of(world, target.expert_id)]
    assert "expert.conflict_declared" in _actions("expert")

    # The conflict keeps the expert off this hospital's next item in the same cycle.
    later = _apply(world, case_no="ZY2026080002")
    seat_panels(world, "67890")
    db.session.refresh(later)
    assert target.expert_id not in {a.expert_id for a in later.assignments}


def test_short_panel_is_kept_and_staff_fill_it_later(seated) -> None:  # type: ignore[no-untyped-def]
    world, item = seated
    seated_ids = {a.expert_id for a in _active(item.id)}
    candidates = [e for e in db.session.scalars(db.select(Expert)) if e.id not in seated_ids
                  and e.hospital_id != item.hospital_id and e.title != "attending_physician"]
    assert len(candidates) == 2  # expert7 and expert8, or whichever of H2/H3's experts the draw left free
    for expert in candidates:
        expert.active = False
    db.session.commit()

    target = _active(item.id)[0]
    assert recusal.recuse(world.actors[_name_of(world, target.expert_id)], target.id, REASON) is None
    db.session.expire_all()
    assert len(_active(item.id)) == 2
    assert db.session.get(ReviewItem, item.id).state == "assigned"
    assert _actions() == ["assignment.recused", "assignment.replacement_unfilled"]
    unfilled = db.session.scalars(db.select(ActivityLog).where(
        ActivityLog.action == "assignment.replacement_unfilled")).one()
    assert unfilled.data["new_experts"] == [] and unfilled.data["unfilled"]
    empty_run = db.session.get(AssignmentRun, unfilled.object_id)
    assert empty_run.kind == "replacement" and assignment_runs.verify(empty_run.id).ok

    # Nobody is free yet: the office is told, and nothing is seated.
    assert recusal.fill_item(world.actors["staff"], item.id) == []
    with pytest.raises(PermissionDenied):
        recusal.fill_item(world.actors[_name_of(world, next(iter(seated_ids - {target.expert_id})))], item.id)

    candidates[0].active = True
    db.session.commit()
    placed = recusal.fill_item(world.actors["staff"], item.id)
    assert [a.expert_id for a in placed] == [candidates[0].id]
    db.session.expire_all()
    active = _active(item.id)
    assert len(active) == 3 and target.expert_id not in {a.expert_id for a in active}
    fill_run = db.session.get(AssignmentRun, placed[0].run_id)
    assert fill_run.kind == "replacement" and fill_run.parent_run_id == target.run_id
    assert assignment_runs.verify(fill_run.id).ok
    assert _actions()[-1] == "assignment.replaced"
    with pytest.raises(ServiceError, match="complete"):
        recusal.fill_item(world.actors["staff"], item.id)


def test_no_recusal_once_the_item_has_left_review(seated) -> None:  # type: ignore[no-untyped-def]
    world, item = seated
    panel = _active(item.id)
    for assignment in panel:
        reviews.save_sheet(world.actors[_name_of(world, assignment.expert_id)], assignment.id,
                           reviews.SheetInput(recommendation="approve", unreasonable_cost_fen=0,
                                              rationale="Supported by the ICU records.", lock_version=0), submit=True)
    db.session.expire_all()
    assert db.session.get(ReviewItem, item.id).state == "proposed"
    with pytest.raises(ServiceError):
        recusal.recuse(world.actors[_name_of(world, panel[0].expert_id)], panel[0].id, REASON)
    with pytest.raises(ServiceError):
        recusal.fill_item(world.actors["staff"], item.id)

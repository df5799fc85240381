"""Assignment runs through the services, on SQLite and PostgreSQL: who may sit, what is recorded, what is refused."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from review.extensions import db
from review.models import ActivityLog, Assignment, AssignmentJob, AssignmentRun, Expert, ExpertConflict, Notification
from review.models import Policy, ReviewItem, SpecialtyRelation, User
from review.services import assignment_runs
from review.services.context import PermissionDenied, ServiceError, ValidationFailed
from tests.factories import seat_panels
from tests.integration.test_application_path import _apply


def _seated(item: ReviewItem) -> list[Assignment]:
    db.session.refresh(item)
    return [a for a in item.assignments if a.status == "active"]


def test_run_records_everything_needed_to_verify(app, world) -> None:  # type: ignore[no-untyped-def]
    item = _apply(world)
    job = seat_panels(world, "2026-11-23 lottery 0815")
    run = job.run
    assert run.kind == "draw" and run.published_value == "2026-11-23 lottery 0815"
    assert run.seed == assignment_runs.draw_seed("2026-11-23 lottery 0815", run.cycle, run.input_hash)
    assert set(run.library_versions) == {"ortools", "numpy", "python"} and run.algorithm_version
    assert run.config == {"k": 3, "one_per_hospital": False, "candidates_per_item": 50}
    assert [row[0] for row in run.input["items"]] == [item.id]
    assert {a.expert_id for a in _seated(item)} == {e for _, e, _ in run.result["seats"]}
    result = assignment_runs.verify(run.id)
    assert result.ok and result.applied_match is True
    output = app.test_cli_runner().invoke(args=["assignment", "verify", str(run.id)])
    assert output.exit_code == 0 and "recomputed assignment hash: matches" in output.output


def test_verify_detects_a_seated_expert_that_differs_from_the_run(app, world) -> None:  # type: ignore[no-untyped-def]
    item = _apply(world)
    run_id = seat_panels(world).run_id
    seated = {a.expert_id for a in _seated(item)}
    outsider = next(e for name, e in world.experts.items() if e not in seated and name != "expert6")
    db.session.execute(text("UPDATE assignments SET expert_id = :e WHERE id = :a"),
                       {"e": outsider, "a": _seated(item)[0].id})
    db.session.commit()
    assert assignment_runs.verify(run_id).applied_match is False
    output = app.test_cli_runner().invoke(args=["assignment", "verify", str(run_id)])
    assert output.exit_code == 1 and "seated experts in the database: DIFFERS" in output.output


def test_runs_are_append_only(world) -> None:  # type: ignore[no-untyped-def]
    _apply(world)
    run_id = seat_panels(world).run_id
    for statement in ("UPDATE assignment_runs SET seed = 'x' WHERE id = :id", "DELETE FROM assignment_runs WHERE id = :id"):
        with pytest.raises(DBAPIError, match="append-only"):
            db.session.execute(text(statement), {"id": run_id})
        db.session.rollback()


def test_only_the_office_starts_and_applies(world) -> None:  # type: ignore[no-untyped-def]
    _apply(world)
    for name in ("hosp1", "expert1", "auditor"):
        with pytest.raises(PermissionDenied):
            assignment_runs.start(world.actors[name], world.cycle_id, "1")
    with pytest.raises(ValidationFailed):
        assignment_runs.start(world.actors["staff"], world.cycle_id, "   ")
    job = assignment_runs.start(world.actors["staff"], world.cycle_id, "1")
    with pytest.raises(PermissionDenied):
        assignment_runs.apply(world.actors["auditor"], job.id)


def test_apply_is_once_and_execute_is_idempotent(world) -> None:  # type: ignore[no-untyped-def]
    _apply(world)
    job = seat_panels(world)
    assert assignment_runs.execute(job.id) is None  # the worker retrying a finished job computes nothing
    assert db.session.scalar(db.select(db.func.count()).select_from(AssignmentRun)) == 1
    with pytest.raises(ServiceError, match="already been applied"):
        assignment_runs.apply(world.actors["staff"], job.id)
    assert db.session.scalar(db.select(db.func.count()).select_from(Assignment)) == 3


def test_a_changed_pool_refuses_a_stale_proposal(world) -> None:  # type: ignore[no-untyped-def]
    item = _apply(world)
    job = assignment_runs.start(world.actors["staff"], world.cycle_id, "1")
    db.session.add(Expert(code="E900", name_en="Dr New", name_zh="新专家", title="chief_physician",
                          hospital_id=world.hospitals["H2"], specialties=["cardiology"]))
    db.session.commit()
    with pytest.raises(ServiceError, match="changed after this run was computed"):
        assignment_runs.apply(world.actors["staff"], job.id)
    assert _seated(item) == [] and db.session.get(ReviewItem, item.id).state == "queued"
    fresh = seat_panels(world, "2")
    assert len(_seated(item)) == 3 and fresh.run.input_hash != job.run.input_hash


def test_declared_conflicts_and_qualification_exclude_experts(world) -> None:  # type: ignore[no-untyped-def]
    # H1's item: experts 1, 2 are at H1; 6 is an attending physician. Declaring expert 3 in conflict with H1
    # leaves 4 and 5 only: fewer than three, so the item is listed, never filled by relaxing a rule.
    item = _apply(world)
    db.session.add(ExpertConflict(expert_id=world.experts["expert3"], hospital_id=world.hospitals["H1"],
                                  starts_on=date(2026, 1, 1), reason="Former head of department at H1"))
    db.session.commit()
    job = assignment_runs.start(world.actors["staff"], world.cycle_id, "1")
    assert job.run.result["unfilled"] == {str(item.id): {"reason": "too_few_eligible", "eligible": 2, "needed": 3}}
    assert job.run.result["seats"] == []
    # A conflict that ended before the quarter began no longer applies.
    db.session.scalars(db.select(ExpertConflict)).one().ends_on = date(2026, 6, 30)
    db.session.commit()
    seat_panels(world, "2")
    assert {a.expert_id for a in _seated(item)} == {world.experts[n] for n in ("expert3", "expert4", "expert5")}


def test_policy_levels_and_one_per_hospital_are_snapshotted(world) -> None:  # type: ignore[no-untyped-def]
    from review.models import Cycle

    cycle = db.session.get(Cycle, world.cycle_id)
    cycle.policy_snapshot = {**cycle.policy_snapshot, "panel_hospital_levels": ["tertiary"]}
    db.session.commit()
    item = _apply(world)
    job = assignment_runs.start(world.actors["staff"], world.cycle_id, "1")  # only experts 3 and 4 qualify for H1
    assert job.run.result["unfilled"][str(item.id)]["eligible"] == 2
    cycle.policy_snapshot = {**cycle.policy_snapshot, "panel_hospital_levels": ["tertiary", "secondary"],
                             "panel_one_per_hospital": True}
    db.session.commit()
    job = assignment_runs.start(world.actors["staff"], world.cycle_id, "2")  # 3 and 4 share H2: two hospitals only
    assert job.run.config["one_per_hospital"] is True
    assert job.run.result["unfilled"][str(item.id)] == {"reason": "too_few_eligible", "eligible": 2, "needed": 3}


def test_related_specialty_stands_in_only_when_needed(world) -> None:  # type: ignore[no-untyped-def]
    """The AMI case is cardiology; with only two outside cardiologists free, one critical-care expert stands in."""
    item = _apply(world)
    for name in ("expert3", "expert5"):
        db.session.get(Expert, world.experts[name]).specialties = ["critical_care"]
    db.session.commit()
    job = assignment_runs.start(world.actors["staff"], world.cycle_id, "1")
    assert job.run.result["unfilled"][str(item.id)]["eligible"] == 1  # no relation recorded yet
    db.session.add(SpecialtyRelation(specialty="cardiology", stand_in="critical_care"))
    db.session.commit()
    job = seat_panels(world, "2")
    tiers = {a.expert_id: a.tier for a in _seated(item)}
    assert sorted(tiers.values()) == ["exact", "related", "related"]
    assert tiers[world.experts["expert4"]] == "exact"
    assert job.run.stats["fallbacks_by_specialty"] == {"cardiology": 2}


def test_caps_and_loads_carry_across_runs(world) -> None:  # type: ignore[no-untyped-def]
    for name in ("expert3", "expert4", "expert5"):
        db.session.get(Expert, world.experts[name]).cap_per_cycle = 1
    db.session.commit()
    first = _apply(world, case_no="ZY2026080001")
    seat_panels(world, "1")
    assert len(_seated(first)) == 3
    second = _apply(world, case_no="ZY2026080002")
    job = assignment_runs.start(world.actors["staff"], world.cycle_id, "2")
    assert job.run.result["unfilled"] == {str(second.id): {"reason": "too_few_eligible", "eligible": 0, "needed": 3}}
    assert {row[4] for row in job.run.input["experts"] if row[3] == 1} == {1}  # loads recorded in the input


def test_apply_notifies_each_seated_expert_once(world) -> None:  # type: ignore[no-untyped-def]
    item = _apply(world)
    seat_panels(world)
    users = set(db.session.scalars(db.select(User.id).where(User.expert_id.in_([a.expert_id for a in _seated(item)]))))
    notices = db.session.scalars(db.select(Notification).where(Notification.kind == "assignment")).all()
    assert {n.user_id for n in notices} == users and len(notices) == 3
    moved = db.session.scalars(db.select(ActivityLog).where(ActivityLog.action == "item.assign")).one()
    assert moved.object_id == item.id


def test_new_policy_versions_carry_the_qualification_rule(world) -> None:  # type: ignore[no-untyped-def]
    policy = db.session.scalars(db.select(Policy)).one()
    snapshot = policy.snapshot()
    assert snapshot["panel_min_title"] == "deputy_chief_physician"
    assert snapshot["panel_hospital_levels"] == ["tertiary", "secondary"] and snapshot["panel_one_per_hospital"] is False


def test_a_run_already_in_progress_blocks_another(world) -> None:  # type: ignore[no-untyped-def]
    _apply(world)
    db.session.add(AssignmentJob(cycle_id=world.cycle_id, published_value="x", status="running"))
    db.session.commit()
    with pytest.raises(ServiceError, match="already in progress"):
        assignment_runs.start(world.actors["staff"], world.cycle_id, "1")

"""Record sampling, its re-verification, the records deadline and reminders, on SQLite and PostgreSQL."""
from __future__ import annotations

import io
import secrets
from datetime import date, timedelta
from decimal import Decimal

import pytest
from flask_babel import force_locale
from sqlalchemy.exc import IntegrityError

from review.extensions import db
from review.messages import notice_text
from review.models import (ActivityLog, Case, Cycle, CycleEvent, Decision, Notification, ReviewItem, SamplingPlan)
from review.services import calendar, documents, intake, sampling
from review.services.context import PermissionDenied, ServiceError
from review.services.context import SYSTEM
from review.services.items import move
from tests.integration.test_intake import rows
from workflows.extrapolation import InsufficientSample
from workflows.sampling import PlanConfig
from workflows.states import Action

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
CONFIG = PlanConfig(share=Decimal("0.2"), min_per_hospital=2, top_cost_ratio=2, mismatch_share=Decimal("1"))


def _population(world) -> None:  # type: ignore[no-untyped-def]
    for actor, prefix in (("hosp1", "A"), ("hosp2", "B")):
        batch = rows(*({"case_no": f"{prefix}{n:04d}", "total_cost": f"{100000 + 5000 * n}.00",
                        "hospital_drg": "321" if n % 5 else "322"} for n in range(15)))
        assert intake.import_rows(world.actors[actor], batch, mode="all_or_nothing").accepted == 15


def test_plan_draws_reproducibly_and_opens_items(world, app) -> None:  # type: ignore[no-untyped-def]
    _population(world)
    with pytest.raises(PermissionDenied):
        sampling.create_plan(world.actors["hosp1"], world.cycle_id, CONFIG, "2026-10-08 lottery 0815")
    plan = sampling.create_plan(world.actors["staff"], world.cycle_id, CONFIG, "2026-10-08 lottery 0815")
    items = db.session.scalars(db.select(ReviewItem).where(ReviewItem.sampling_plan_id == plan.id)).all()
    assert plan.population_size == 30 and len(items) == sum(s["sample_size"] for s in plan.strata)
    assert {i.state for i in items} == {"awaiting_records"}
    assert len({i.case_id for i in items}) == len(items)
    assert {s["name"] for s in plan.strata} >= {"risk:top_cost_ratio", "risk:drg_mismatch"}
    mismatched = {c.id for c in db.session.scalars(db.select(Case)) if c.drg_mismatch}
    assert mismatched <= {i.case_id for i in items}  # mismatch share 1: every mismatched case is reviewed
    notices = db.session.scalars(db.select(Notification).where(Notification.kind == "records_requested")).all()
    assert {n.hospital_id for n in notices} == set(world.hospitals[h] for h in ("H1", "H2"))
    assert notices[0].subject is None and notices[0].params["cycle"] == "2026Q3"  # stored as data, worded when read
    with force_locale("en"):
        assert notice_text(notices[0])[0].startswith("Cycle 2026Q3: ")
    with force_locale("zh_CN"):
        subject, body = notice_text(notices[0])
    assert "2026Q3" in subject and "病历" in subject and "sampled" not in body
    drawn = db.session.scalars(db.select(ActivityLog).where(ActivityLog.action == "sampling.drawn")).one()
    assert drawn.data["seed"] == plan.seed and drawn.data["population_sha256"] == plan.population_sha256
    assert sampling.verify_plan(plan.id).ok

    result = app.test_cli_runner().invoke(args=["sampling", "verify", str(plan.id)])
    assert result.exit_code == 0 and "same cases are drawn" in result.output

    second = sampling.create_plan(world.actors["staff"], world.cycle_id, CONFIG, "another value")
    again = {i.case_id for i in db.session.scalars(db.select(ReviewItem).where(ReviewItem.sampling_plan_id == second.id))}
    assert not again & {i.case_id for i in items}  # never sampled twice in a cycle


def test_verify_detects_a_changed_snapshot_or_item(world, app) -> None:  # type: ignore[no-untyped-def]
    _population(world)
    plan = sampling.create_plan(world.actors["staff"], world.cycle_id, CONFIG, "0815")
    changed = [list(row) for row in plan.population]
    changed[0][2] += 1  # a paid amount altered after the draw
    plan.population = changed
    db.session.commit()
    assert not sampling.verify_plan(plan.id).population_ok
    result = app.test_cli_runner().invoke(args=["sampling", "verify", str(plan.id)])
    assert result.exit_code == 1 and "DIFFERS" in result.output


def test_database_refuses_a_case_sampled_twice_in_a_cycle(world) -> None:  # type: ignore[no-untyped-def]
    _population(world)
    plan = sampling.create_plan(world.actors["staff"], world.cycle_id, CONFIG, "0815")
    item = db.session.scalars(db.select(ReviewItem).where(ReviewItem.sampling_plan_id == plan.id)).first()
    db.session.add(ReviewItem(kind="sampled_record", case_id=item.case_id, hospital_id=item.hospital_id,
                              cycle_id=item.cycle_id, state="selected", sampling_plan_id=plan.id, stratum="x"))
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_records_submission_needs_a_document(world) -> None:  # type: ignore[no-untyped-def]
    _population(world)
    plan = sampling.create_plan(world.actors["staff"], world.cycle_id, CONFIG, "0815")
    item = db.session.scalars(db.select(ReviewItem).where(ReviewItem.sampling_plan_id == plan.id,
                                                          ReviewItem.hospital_id == world.hospitals["H1"])).first()
    with pytest.raises(ServiceError):
        sampling.submit_records(world.actors["hosp1"], item.id)
    documents.upload_evidence(world.actors["hosp1"], item.id, io.BytesIO(PDF), "record.pdf", "front_page")
    assert sampling.submit_records(world.actors["hosp1"], item.id).state == "records_received"


@pytest.mark.clock_shift
def test_calendar_reminds_then_marks_missing_records_once(world) -> None:  # type: ignore[no-untyped-def]
    _population(world)
    cycle = db.session.get(Cycle, world.cycle_id)
    deadline = cycle.application_opens + timedelta(days=9)  # the window has opened by the days the calendar runs
    cycle.record_upload_deadline = deadline
    db.session.commit()
    plan = sampling.create_plan(world.actors["staff"], world.cycle_id, CONFIG, "0815")
    awaiting = db.session.scalar(db.select(db.func.count(ReviewItem.id)).where(ReviewItem.sampling_plan_id == plan.id))

    assert calendar.run(deadline - timedelta(days=4)).reminders == 0
    assert calendar.run(deadline - timedelta(days=3)).reminders == 2  # one per sampled hospital
    assert calendar.run(deadline - timedelta(days=1)).reminders == 0  # already reminded
    assert calendar.run(deadline).records_missing == 0
    report = calendar.run(deadline + timedelta(days=1))
    assert report.records_missing == awaiting
    assert calendar.run(deadline + timedelta(days=2)).records_missing == 0
    states = set(db.session.scalars(db.select(ReviewItem.state).where(ReviewItem.sampling_plan_id == plan.id)))
    assert states == {"records_missing"}
    events = db.session.scalars(db.select(CycleEvent.event).where(CycleEvent.cycle_id == cycle.id)).all()
    assert sorted(events) == ["application_window_opened", "record_upload_deadline_passed"]


def _issue_recovery(item: ReviewItem, amount_fen: int, staff) -> None:  # type: ignore[no-untyped-def]
    move(item, Action.MARK_RECORDS_MISSING, SYSTEM)
    move(item, Action.PROPOSE, SYSTEM)
    case = item.case
    decision = Decision(item_id=item.id, version=1, status="issued", outcome="approved", approvals=3, panel_size=3,
                        deduction_fen=0, drg=case.drg, drg_payment_fen=case.drg_payment_fen,
                        total_cost_fen=case.total_cost_fen, amount_fen=amount_fen, vote_snapshot={},
                        verification_code=secrets.token_hex(8), issued_at=db.func.now())
    db.session.add(decision)
    item.issued_version = 1
    move(item, Action.ISSUE, staff)
    db.session.flush()


def test_extrapolation_is_refused_below_the_minimum_then_reported(world) -> None:  # type: ignore[no-untyped-def]
    _population(world)
    plan = sampling.create_plan(world.actors["staff"], world.cycle_id,
                                PlanConfig(share=Decimal("0.3"), stratify_by_hospital=False), "0815")
    items = db.session.scalars(db.select(ReviewItem).where(ReviewItem.sampling_plan_id == plan.id)
                               .order_by(ReviewItem.case_id)).all()
    with pytest.raises(InsufficientSample):
        sampling.extrapolation(world.actors["staff"], plan.id)
    for index, item in enumerate(items):
        _issue_recovery(item, -(item.case.drg_payment_fen // 10) if index % 3 == 0 else 0, world.actors["staff"])
    db.session.commit()
    cycle = db.session.get(Cycle, world.cycle_id)
    cycle.policy_snapshot = {**cycle.policy_snapshot, "min_reviewed_for_extrapolation": len(items)}
    db.session.commit()
    report = sampling.extrapolation(world.actors["staff"], plan.id)
    assert report.reviewed == len(items) and 0 < report.error_ratio < Decimal("0.1")
    assert report.lower_bound_fen <= report.estimated_overpaid_fen
    with pytest.raises(PermissionDenied):
        sampling.extrapolation(world.actors["hosp1"], plan.id)

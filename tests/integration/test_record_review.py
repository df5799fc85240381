"""Record review through the services on SQLite and PostgreSQL: findings, regrouping, recovery, the chair's ruling."""
from __future__ import annotations

import io
from decimal import Decimal

import pytest

from review.extensions import db
from review.models import ActivityLog, Decision, JournalLine, Notification, ReviewItem, User
from review.services import cases, decisions, documents, reviews, sampling
from review.services.context import ServiceError, ValidationFailed
from review.services.regrouping import regroup
from tests.factories import ami_case, seat_panels
from workflows.sampling import PlanConfig

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
FINDING = "The record does not support the coded principal diagnosis."


def _sampled(world) -> ReviewItem:  # type: ignore[no-untyped-def]
    """One AMI discharge of H1 drawn for record review, its records received and its panel seated."""
    cases.create_case(world.actors["hosp1"], ami_case())
    plan = sampling.create_plan(world.actors["staff"], world.cycle_id, PlanConfig(share=Decimal("1")), "0815")
    item = db.session.scalars(db.select(ReviewItem).where(ReviewItem.sampling_plan_id == plan.id)).one()
    documents.upload_evidence(world.actors["hosp1"], item.id, io.BytesIO(PDF), "record.pdf", "front_page")
    sampling.submit_records(world.actors["hosp1"], item.id)
    seat_panels(world)
    db.session.refresh(item)
    assert item.state == "assigned"
    return item


def _sheet(world, assignment, *, justified: bool = True, dx: str = "", proc: str = "",  # type: ignore[no-untyped-def]
           rationale: str = FINDING, submit: bool = True):
    name = next(n for n, e in world.experts.items() if e == assignment.expert_id)
    return reviews.save_sheet(world.actors[name], assignment.id, reviews.SheetInput(
        recommendation=None, unreasonable_cost_fen=0, rationale=rationale, lock_version=0,
        admission_justified=justified, principal_dx_correct=not dx, corrected_principal_dx=dx,
        principal_procedure_correct=not proc, corrected_principal_procedure=proc), submit=submit)


def _decision(item: ReviewItem) -> Decision | None:
    return db.session.scalars(db.select(Decision).where(Decision.item_id == item.id)).first()


def test_a_majority_correction_is_regrouped_and_recovered(world) -> None:  # type: ignore[no-untyped-def]
    item = _sampled(world)
    panel = list(item.assignments)
    _sheet(world, panel[0], dx="I21.09")
    _sheet(world, panel[1], dx="i21.09")  # codes are normalised before they are compared
    _sheet(world, panel[2], rationale="")  # upholds the hospital's coding: no rationale needed
    decision = _decision(item)
    expected = regroup(item.case, item.cycle, "I21.09")
    assert decision.outcome == "regrouped" and decision.admission_justified is True
    assert (decision.drg, decision.drg_after) == (item.case.drg, expected.drg)
    assert decision.drg_payment_after_fen == expected.payment_fen
    assert decision.amount_fen == expected.payment_fen - item.case.drg_payment_fen
    assert decision.coding["principal_dx"] == {"before": "I214", "after": "I2109", "decided_by": "majority"}
    assert decision.coding["principal_procedure"]["decided_by"] == "unchanged"
    assert decision.vote_snapshot["votes"][2]["principal_dx"] is None


def test_an_unjustified_admission_recovers_the_whole_payment_and_posts_once(world) -> None:  # type: ignore[no-untyped-def]
    item = _sampled(world)
    for assignment, justified in zip(item.assignments, (False, False, True)):
        _sheet(world, assignment, justified=justified, rationale=FINDING if not justified else "")
    decision = _decision(item)
    assert decision.outcome == "admission_unjustified" and decision.amount_fen == -item.case.drg_payment_fen
    decisions.open_reasons(world.actors["staff"], decision.id)
    decisions.issue(world.actors["staff"], decision.id)
    lines = db.session.scalars(db.select(JournalLine)).all()
    assert sum(line.amount_fen for line in lines) == 0 and len(lines) == 2
    assert sorted(line.amount_fen for line in lines) == sorted([decision.amount_fen, -decision.amount_fen])
    with pytest.raises(ServiceError):
        decisions.issue(world.actors["staff"], decision.id)


def test_corrected_codes_are_checked_by_the_code_editor(world) -> None:  # type: ignore[no-untyped-def]
    item = _sampled(world)
    with pytest.raises(ValidationFailed) as refused:
        _sheet(world, item.assignments[0], dx="I21.X9")
    assert "corrected_principal_dx" in refused.value.errors
    with pytest.raises(ValidationFailed) as silent:
        _sheet(world, item.assignments[0], justified=False, rationale="no")
    assert "rationale" in silent.value.errors
    draft = _sheet(world, item.assignments[0], dx="I21.X9", submit=False)  # a draft keeps what was typed
    assert draft.status == "draft" and draft.corrected_principal_dx == "I21X9"


def test_a_split_panel_waits_for_the_chair(world) -> None:  # type: ignore[no-untyped-def]
    item = _sampled(world)
    chair, second, third = sorted(item.assignments, key=lambda a: a.rank)
    _sheet(world, chair, dx="I21.09")
    _sheet(world, second, dx="I21.19")
    _sheet(world, third, rationale="")
    db.session.refresh(item)
    assert _decision(item) is None and item.state == "in_review"
    chair_name = next(n for n, e in world.experts.items() if e == chair.expert_id)
    other_name = next(n for n, e in world.experts.items() if e == second.expert_id)
    assert reviews.chair_question(world.actors[other_name], second.id) is None
    question = reviews.chair_question(world.actors[chair_name], chair.id)
    assert question == {"principal_dx": ["I214", "I2109", "I2119"]}  # stored without dots
    chair_user = db.session.scalar(db.select(User.id).where(User.expert_id == chair.expert_id))
    assert db.session.scalars(db.select(Notification).where(Notification.kind == "chair_ruling")).one().user_id == chair_user
    with pytest.raises(ValidationFailed):
        reviews.adjudicate(world.actors[chair_name], chair.id, {"principal_dx": "A41.9"})
    with pytest.raises(ServiceError):
        reviews.adjudicate(world.actors[other_name], second.id, {"principal_dx": "I2119"})
    decision = reviews.adjudicate(world.actors[chair_name], chair.id, {"principal_dx": "I2119"})
    assert decision.coding["principal_dx"] == {"before": "I214", "after": "I2119", "decided_by": "chair"}
    assert db.session.scalars(db.select(ActivityLog).where(ActivityLog.action == "decision.chair_ruled")).one()
    assert db.session.get(ReviewItem, item.id).state == "proposed"

"""The special-case path through the services, on SQLite and PostgreSQL."""
from __future__ import annotations

import io
from decimal import Decimal

import pytest
from flask_babel import force_locale
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from review import messages
from review.extensions import db
from review.models import (Account, ActivityLog, Assignment, Case, Decision, Document, JournalEntry, JournalLine,
                           ReviewItem)
from review.services import activity, applications, assignment_runs, cases, decisions, documents, ledger, reviews
from review.services.context import NotFound, PermissionDenied, ServiceError, ValidationFailed
from tests.factories import BASE_RATE_FEN, ami_case, seat_panels
from workflows.ledger import decision_posting
from workflows.payment import drg_payment_fen

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _apply(world, **case_overrides):  # type: ignore[no-untyped-def]
    case = cases.create_case(world.actors["hosp1"], ami_case(**case_overrides))
    return applications.apply_for_case(world.actors["hosp1"], case.id, "high_cost",
                                       "Prolonged ICU stay with cardiogenic shock after PCI.")


def _review(world, item, recommendations):  # type: ignore[no-untyped-def]
    experts_by_id = {expert_id: name for name, expert_id in world.experts.items()}
    for assignment, (recommendation, deduction) in zip(item.assignments, recommendations):
        reviews.save_sheet(world.actors[experts_by_id[assignment.expert_id]], assignment.id,
                           reviews.SheetInput(recommendation=recommendation, unreasonable_cost_fen=deduction,
                                              rationale="Reviewed against the records in detail.", lock_version=0,
                                              cost_reasons="Drug costs beyond the indication." if deduction else ""),
                           submit=True)
    return db.session.scalars(db.select(Decision).where(Decision.item_id == item.id)).one()


def test_case_is_grouped_and_priced(world) -> None:  # type: ignore[no-untyped-def]
    case = cases.create_case(world.actors["hosp1"], ami_case())
    assert case.drg == "321"
    assert case.los_days == 19
    assert case.principal_dx == "I214"
    assert case.drg_payment_fen == drg_payment_fen(Decimal("2.7208"), BASE_RATE_FEN, Decimal("1.10"))


@pytest.mark.parametrize("overrides, field, fragment", [
    ({"principal_dx": "I21.99X"}, "principal_dx", "I2199X"),
    ({"secondary_dx": ("I50.21", "Q99.99")}, "secondary_dx", "Q9999"),
    ({"discharge_date": ami_case().admission_date.replace(day=1), "admission_date": ami_case().discharge_date},
     "discharge_date", "before the admission"),
    ({"total_cost_fen": -1}, "total_cost", "negative"),
])
def test_bad_case_names_the_field_and_writes_nothing(world, overrides, field, fragment) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationFailed) as failure:
        cases.create_case(world.actors["hosp1"], ami_case(**overrides))
    assert fragment in " ".join(failure.value.errors[field])
    assert db.session.scalar(db.select(db.func.count(Case.id))) == 0


def test_duplicate_case_refused(world) -> None:  # type: ignore[no-untyped-def]
    cases.create_case(world.actors["hosp1"], ami_case())
    with pytest.raises(ValidationFailed) as failure:
        cases.create_case(world.actors["hosp1"], ami_case())
    assert "already recorded" in failure.value.errors["case_no"][0]


def test_eligible_application_is_queued_with_the_figures(world) -> None:  # type: ignore[no-untyped-def]
    item = _apply(world)
    assert item.state == "queued"
    assert item.screening["eligible"] is True
    assert "high_cost" in item.screening["met_rules"]
    actions = db.session.scalars(db.select(ActivityLog.action).where(ActivityLog.object_id == item.id,
                                                                      ActivityLog.object_type == "review_item")).all()
    assert actions == ["item.created", "item.submit", "item.screen", "item.queue"]


def test_ordinary_case_is_returned_with_the_reason(world) -> None:  # type: ignore[no-untyped-def]
    item = _apply(world, total_cost_fen=6_000_000, icu_days=0)
    assert item.state == "returned"
    high_cost = next(r for r in item.screening["results"] if r["rule"] == "high_cost")
    assert high_cost["met"] is False and high_cost["numbers"]
    assert high_cost["problem"]["code"] == "eligibility.high_cost.not_met"  # stored as a code, worded when read
    with force_locale("en"):
        assert messages.screening_summary(item.screening).startswith("Not eligible, no rule is met: High cost: cost")
    with force_locale("zh_CN"):
        assert messages.screening_summary(item.screening).startswith("不符合条件")


def test_other_hospital_cannot_read_or_upload(world) -> None:  # type: ignore[no-untyped-def]
    item = _apply(world)
    with pytest.raises(NotFound):
        documents.upload_evidence(world.actors["hosp2"], item.id, io.BytesIO(PDF), "x.pdf", "other")
    with pytest.raises(NotFound):
        cases.get_case(world.actors["hosp2"], item.case_id)
    own = documents.upload_evidence(world.actors["hosp1"], item.id, io.BytesIO(PDF), "x.pdf", "other")
    with pytest.raises(NotFound):
        documents.open_document(world.actors["hosp2"], own.id)


def test_disguised_upload_is_refused_and_leaves_nothing(world, app) -> None:  # type: ignore[no-untyped-def]
    item = _apply(world)
    with pytest.raises(ValidationFailed) as failure:
        documents.upload_evidence(world.actors["hosp1"], item.id, io.BytesIO(b"MZ\x90\x00 executable"),
                                  "evidence.pdf", "discharge_summary")
    assert "not a PDF, PNG or JPEG" in failure.value.errors["files"][0]
    assert db.session.scalar(db.select(db.func.count(Document.id))) == 0
    stored = [p for p in (app.config["UPLOAD_DIR"] and __import__("pathlib").Path(app.config["UPLOAD_DIR"])).rglob("*")
              if p.is_file()]
    assert stored == []


def test_identical_upload_is_stored_once(world, app) -> None:  # type: ignore[no-untyped-def]
    item = _apply(world)
    first = documents.upload_evidence(world.actors["hosp1"], item.id, io.BytesIO(PDF), "a.pdf", "other")
    second = documents.upload_evidence(world.actors["hosp1"], item.id, io.BytesIO(PDF), "b.pdf", "orders")
    assert first.sha256 == second.sha256
    files = [p for p in __import__("pathlib").Path(app.config["UPLOAD_DIR"]).rglob("*") if p.is_file()]
    assert len(files) == 1


def test_panel_draw_excludes_own_hospital_and_is_reproducible(world) -> None:  # type: ignore[no-untyped-def]
    item = _apply(world)
    with pytest.raises(PermissionDenied):
        assignment_runs.start(world.actors["hosp1"], world.cycle_id, "12345")
    job = seat_panels(world)
    run = job.run
    assert run.stats["seats"] == 3 and run.result["unfilled"] == {}
    db.session.refresh(item)
    assert item.state == "assigned" and item.panel_seed == run.seed
    chosen = [a.expert for a in item.assignments]
    assert len({e.id for e in chosen}) == 3
    assert all(e.hospital_id != world.hospitals["H1"] for e in chosen)
    assert all(e.title != "attending_physician" for e in chosen)
    assert all(a.run_id == run.id for a in item.assignments)
    assert assignment_runs.verify(run.id).ok
    assert set(db.session.scalars(db.select(ActivityLog.action).where(
        ActivityLog.action.startswith("assignment_run.")))) == {
        "assignment_run.requested", "assignment_run.computed", "assignment_run.applied"}


def test_expert_sees_only_own_assignments(world) -> None:  # type: ignore[no-untyped-def]
    item = _apply(world)
    seat_panels(world)
    assigned = {a.expert_id for a in item.assignments}
    outsider = next(name for name, eid in world.experts.items() if eid not in assigned)
    with pytest.raises(NotFound):
        reviews.get_assignment(world.actors[outsider], item.assignments[0].id)


def test_majority_decision_issue_posts_once_and_balances(world) -> None:  # type: ignore[no-untyped-def]
    item = _apply(world)
    seat_panels(world)
    db.session.refresh(item)
    decision = _review(world, item, [("approve", 1_000_000), ("approve", 3_000_000), ("reject", 0)])
    db.session.refresh(item)
    assert item.state == "proposed" and decision.status == "proposed"
    assert decision.outcome == "partially_approved" and decision.approvals == 2
    assert decision.deduction_fen == 2_000_000  # median of the two supporters
    case = item.case
    assert decision.amount_fen == case.total_cost_fen - 2_000_000 - case.drg_payment_fen
    with pytest.raises(PermissionDenied):
        decisions.issue(world.actors["auditor"], decision.id)
    decisions.open_reasons(world.actors["staff"], decision.id)
    decisions.issue(world.actors["staff"], decision.id)
    db.session.refresh(item)
    assert item.state == "issued" and item.issued_version == 1
    entry = db.session.scalars(db.select(JournalEntry)).one()
    assert entry.idempotency_key == f"decision:{decision.id}:v1"
    assert sum(line.amount_fen for line in entry.lines) == 0
    balances = {a.code: a.balance_fen for a in db.session.scalars(db.select(Account))}
    assert balances == {"fund:T01": decision.amount_fen, "hospital:H1": -decision.amount_fen}
    with pytest.raises(ServiceError):
        decisions.issue(world.actors["staff"], decision.id)
    plan = decision_posting(decision.id, 1, decision.amount_fen, "T01", "H1")
    assert ledger.post(plan, "2026Q3", decision.id, None).id == entry.id  # a retry returns the first posting
    assert db.session.scalar(db.select(db.func.count(JournalLine.id))) == 2
    assert ledger.reconcile() == []
    assert activity.verify_chain() == []


def test_rejected_decision_moves_no_money(world) -> None:  # type: ignore[no-untyped-def]
    item = _apply(world)
    seat_panels(world)
    db.session.refresh(item)
    decision = _review(world, item, [("reject", 0), ("reject", 0), ("approve", 0)])
    assert decision.outcome == "rejected" and decision.amount_fen == 0
    decisions.open_reasons(world.actors["staff"], decision.id)
    decisions.issue(world.actors["staff"], decision.id)
    assert db.session.scalar(db.select(db.func.count(JournalEntry.id))) == 0


def test_submitted_sheet_is_locked_and_stale_save_refused(world) -> None:  # type: ignore[no-untyped-def]
    item = _apply(world)
    seat_panels(world)
    db.session.refresh(item)
    assignment = item.assignments[0]
    actor = next(world.actors[n] for n, eid in world.experts.items() if eid == assignment.expert_id)
    draft = reviews.SheetInput(recommendation="approve", unreasonable_cost_fen=0, rationale="", lock_version=0)
    sheet = reviews.save_sheet(actor, assignment.id, draft, submit=False)
    stale_version = sheet.lock_version
    reviews.save_sheet(actor, assignment.id, reviews.SheetInput("approve", 0, "first window", stale_version),
                       submit=False)
    with pytest.raises(ServiceError, match="changed in another window"):
        reviews.save_sheet(actor, assignment.id, reviews.SheetInput("reject", 0, "second window", stale_version),
                           submit=False)
    with pytest.raises(ValidationFailed) as failure:
        reviews.save_sheet(actor, assignment.id, reviews.SheetInput("reject", 0, "no", stale_version + 1),
                           submit=True)
    assert "rationale" in failure.value.errors


def test_ledger_and_register_rows_cannot_be_changed(world) -> None:  # type: ignore[no-untyped-def]
    item = _apply(world)
    seat_panels(world)
    db.session.refresh(item)
    decision = _review(world, item, [("approve", 0)] * 3)
    decisions.open_reasons(world.actors["staff"], decision.id)
    decisions.issue(world.actors["staff"], decision.id)
    for statement in ("UPDATE journal_lines SET amount_fen = amount_fen + 1",
                      "DELETE FROM journal_entries",
                      "UPDATE activity_log SET action = 'x'"):
        with pytest.raises((IntegrityError, DBAPIError), match="append-only"):
            db.session.execute(text(statement))
        db.session.rollback()


def test_state_check_constraint_ties_issued_to_decision(world) -> None:  # type: ignore[no-untyped-def]
    item = _apply(world)
    with pytest.raises(IntegrityError):
        db.session.execute(text("UPDATE review_items SET state = 'issued' WHERE id = :id"), {"id": item.id})
    db.session.rollback()


def test_returned_application_can_be_corrected_and_resubmitted(world) -> None:  # type: ignore[no-untyped-def]
    item = _apply(world, total_cost_fen=6_000_000, icu_days=0)
    assert item.state == "returned"
    with pytest.raises(NotFound):
        applications.resubmit(world.actors["hosp2"], item.id, "complex_care", "x" * 30)
    applications.resubmit(world.actors["hosp1"], item.id, "complex_care",
                          "Joint cardiology, nephrology and ICU management of shock with acute kidney injury.")
    db.session.refresh(item)
    assert item.state == "queued"
    assert item.screening["met_rules"] == ["complex_care"]


def test_quota_counts_applications_against_the_recorded_discharges(world) -> None:  # type: ignore[no-untyped-def]
    from review.models import CycleVolume

    volume = db.session.scalars(db.select(CycleVolume).where(CycleVolume.hospital_id == world.hospitals["H1"])).one()
    volume.drg_discharges = 39  # 5% of 39 = 1.95 → one application allowed
    db.session.commit()
    _apply(world)
    second = cases.create_case(world.actors["hosp1"], ami_case(case_no="ZY2026080002"))
    with pytest.raises(ValidationFailed) as failure:
        applications.apply_for_case(world.actors["hosp1"], second.id, "high_cost", "Another outlier stay in ICU.")
    message = failure.value.errors["category"][0]
    assert "1 applications allowed" in message and "39 DRG discharges" in message and "1 made" in message
    assert db.session.scalar(db.select(db.func.count(ReviewItem.id))) == 1


def test_staff_override_sends_a_returned_application_to_the_panel(world) -> None:  # type: ignore[no-untyped-def]
    item = _apply(world, total_cost_fen=6_000_000, icu_days=0)
    with pytest.raises(PermissionDenied):
        applications.override_eligibility(world.actors["auditor"], item.id, "Clinically exceptional case.")
    with pytest.raises(ValidationFailed):
        applications.override_eligibility(world.actors["staff"], item.id, "short")
    applications.override_eligibility(world.actors["staff"], item.id, "Clinically exceptional, see the notes.")
    db.session.refresh(item)
    assert item.state == "queued" and item.screening["override"]["note"].startswith("Clinically")
    logged = db.session.scalars(db.select(ActivityLog).where(ActivityLog.action == "item.override_eligibility")).one()
    assert logged.data["note"].startswith("Clinically") and logged.actor_id == world.users["staff"]


def test_screening_uses_the_weight_band_from_the_cycle_snapshot(world) -> None:  # type: ignore[no-untyped-def]
    from review.models import Cycle

    cycle = db.session.get(Cycle, world.cycle_id)
    cycle.policy_snapshot = {**cycle.policy_snapshot, "high_cost_bands": [{"max_weight": "3.0", "multiple": "9"}]}
    db.session.commit()
    item = _apply(world, total_cost_fen=40_000_000)  # 8.2 × the average of DRG 321 (weight 2.72 → band 9×)
    assert item.state == "returned"
    high_cost = next(r for r in item.screening["results"] if r["rule"] == "high_cost")
    assert high_cost["numbers"]["threshold"] == "9.0"

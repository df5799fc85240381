"""Appeals (issue 13 §1), on SQLite and PostgreSQL: the hospital appeals in time, an appeal panel without the first
panel's experts reviews the case, and version 2 is issued with the reversal of version 1's entry and its own
posting in one transaction; late and second appeals are refused."""
from __future__ import annotations

import io
from datetime import timedelta

import pytest
import time_machine

from review.auth import hash_password
from review.extensions import db
from review.models import (Account, ActivityLog, Appeal, Decision, Document, Expert, JournalEntry, Notification,
                           ReviewItem, User)
from review.services import api_tokens, appeals, assignment_runs, decisions, holidays, ledger, letters, reviews
from review.services.context import Actor, ServiceError, ValidationFailed
from tests.factories import PASSWORD, World, clear_calendar, seat_panels
from tests.integration.test_application_path import PDF, _apply, _review
from tests.integration.test_dates import _beijing
from tests.pdftext import pdf_text
from workflows.states import Role

GROUNDS = "The panel deducted ICU drug costs that the discharge summary shows were indicated."


def _flat(text: str) -> str:
    return " ".join(text.split())


def more_experts(world: World, count: int) -> None:
    """Experts at the other hospitals, so an appeal panel can be seated without anyone of the first panel."""
    password_hash = hash_password(PASSWORD)
    for n in range(count):
        expert = Expert(code=f"E9{n:02d}", name_en=f"Dr Appeal {n}", name_zh=f"复核专家{n}", title="chief_physician",
                        hospital_id=world.hospitals["H2" if n % 2 else "H3"], specialties=["cardiology"])
        db.session.add(expert)
        db.session.flush()
        user = User(username=f"appeal{n}", password_hash=password_hash, role="expert",
                    display_name=f"Appeal {n}", expert_id=expert.id)
        db.session.add(user)
        db.session.flush()
        world.experts[f"appeal{n}"] = expert.id
        world.actors[f"appeal{n}"] = Actor(user_id=user.id, role=Role.EXPERT, expert_id=expert.id)
    db.session.commit()


def issued_decision(world: World, deduction_fen: int = 5_000_000) -> Decision:
    """An application approved with a deduction (money moves) and issued."""
    item = _apply(world)
    seat_panels(world)
    db.session.refresh(item)
    decision = _review(world, item, [("approve", deduction_fen)] * 3)
    decisions.open_reasons(world.actors["staff"], decision.id)
    return decisions.issue(world.actors["staff"], decision.id)


def seat_appeal_panel(world: World):  # type: ignore[no-untyped-def]
    job = assignment_runs.start(world.actors["staff"], world.cycle_id, "20261201", kind="appeal")
    return assignment_runs.apply(world.actors["staff"], job.id)


def review_round(world: World, item: ReviewItem, round_: int, deduction_fen: int) -> None:
    names = {expert_id: name for name, expert_id in world.experts.items()}
    for assignment in [a for a in item.assignments if a.round == round_]:
        reviews.save_sheet(world.actors[names[assignment.expert_id]], assignment.id, reviews.SheetInput(
            recommendation="approve", unreasonable_cost_fen=deduction_fen, lock_version=0,
            rationale="Reviewed against the records and the grounds.",
            cost_reasons="Drug costs beyond the indication." if deduction_fen else ""), submit=True)


def test_appeal_walk_to_version_2_with_reversal_and_letter(world: World, client) -> None:  # type: ignore[no-untyped-def]
    first = issued_decision(world)
    item = first.item
    assert first.amount_fen > 0 and first.appeal_deadline is not None
    appeal = appeals.file_appeal(world.actors["hosp1"], first.id, f"  {GROUNDS}  ", [(io.BytesIO(PDF), "icu.pdf")])
    assert (appeal.state, appeal.grounds, appeal.decision_id) == ("filed", GROUNDS, first.id)
    db.session.refresh(item)
    assert item.state == "appealed"
    assert [d.doc_type for d in appeals.appeal_documents(appeal)] == ["appeal_evidence"]
    with pytest.raises(ServiceError) as again:  # one appeal per case
        appeals.file_appeal(world.actors["hosp1"], first.id, GROUNDS)
    assert "already been appealed" in str(again.value.message)

    more_experts(world, 3)
    job = seat_appeal_panel(world)
    db.session.refresh(item)
    first_panel = {a.expert_id for a in item.assignments if a.round == 1}
    appeal_panel = [a for a in item.assignments if a.round == 2]
    assert len(appeal_panel) == 3 and not first_panel & {a.expert_id for a in appeal_panel}
    assert sorted(a.rank for a in appeal_panel) == [1, 2, 3]  # ranks count within the round
    assert item.state == "in_appeal_review" and db.session.get(Appeal, appeal.id).state == "in_review"
    run = job.run
    assert run.kind == "appeal" and assignment_runs.verify(run.id).ok
    names = {expert_id: name for name, expert_id in world.experts.items()}
    first_seat = next(a for a in item.assignments if a.round == 1)
    with pytest.raises(ServiceError):  # the first panel has had its say
        reviews.save_sheet(world.actors[names[first_seat.expert_id]], first_seat.id, reviews.SheetInput(
            recommendation="approve", unreasonable_cost_fen=0, rationale="Again.", lock_version=0), submit=False)

    review_round(world, item, 2, 0)
    second = db.session.scalars(db.select(Decision).where(Decision.item_id == item.id, Decision.version == 2)).one()
    assert (second.basis, second.status, db.session.get(Appeal, appeal.id).state) == ("appeal", "proposed",
                                                                                        "proposed")
    reasons = decisions.open_reasons(world.actors["staff"], second.id)
    assert {r.expert.id for r in reasons.experts} == {a.expert_id for a in appeal_panel}  # the appeal panel's votes
    decisions.issue(world.actors["staff"], second.id)

    db.session.refresh(first)
    db.session.refresh(item)
    assert (first.status, second.status, item.state, item.issued_version) == ("superseded", "issued", "issued", 2)
    assert second.amount_fen > first.amount_fen and second.appeal_deadline is None  # no further appeal
    assert db.session.get(Appeal, appeal.id).outcome_decision_id == second.id
    entries = {e.idempotency_key: e for e in db.session.scalars(db.select(JournalEntry))}
    original = entries[f"decision:{first.id}:v1"]
    reversal = entries[f"reversal:{original.id}"]
    assert sorted(line.amount_fen for line in reversal.lines) == sorted(-line.amount_fen for line in original.lines)
    assert reversal.reverses_entry_id == original.id and f"decision:{second.id}:v2" in entries
    hospital = db.session.scalars(db.select(Account).where(Account.code == "hospital:H1")).one()
    assert hospital.balance_fen == -second.amount_fen and ledger.reconcile() == []
    actions = set(db.session.scalars(db.select(ActivityLog.action)))
    assert {"appeal.filed", "item.appeal", "item.start_appeal_review", "appeal.panel_seated", "item.propose_appeal",
            "decision.superseded", "appeal.issued"} <= actions
    assert db.session.scalars(db.select(Notification).where(Notification.kind == "appeal_decided")).one()

    letter = _flat(pdf_text(letters.letter_pdf(second, "en")))
    assert _flat(f"The earlier letter, {first.letter_ref_en}, no longer applies.") in letter
    assert "appeal panel of experts who had not reviewed the case before" in letter
    assert "no further application for review (appeal) is possible" in letter
    assert "administrative reconsideration" in letter
    page = client.get(f"/verify/{first.verification_code}").get_data(as_text=True)
    assert "replaced by a later version" in page and "Version 2 of the decision" in page
    assert "No later version has replaced this decision" in client.get(f"/verify/{second.verification_code}").text
    with pytest.raises(ServiceError):  # version 2 cannot be appealed either
        appeals.file_appeal(world.actors["hosp1"], second.id, GROUNDS)


def test_the_assignment_verify_command_checks_an_appeal_run(app, world: World) -> None:  # type: ignore[no-untyped-def]
    first = issued_decision(world)
    appeals.file_appeal(world.actors["hosp1"], first.id, GROUNDS)
    more_experts(world, 3)
    run_id = seat_appeal_panel(world).run_id
    result = app.test_cli_runner().invoke(args=["assignment", "verify", str(run_id)])
    assert result.exit_code == 0 and f"assignment run {run_id} verified" in result.output


def test_an_appeal_after_the_deadline_is_refused_with_the_deadline(world: World, client) -> None:  # type: ignore[no-untyped-def]
    first = issued_decision(world)
    deadline = first.appeal_deadline
    with time_machine.travel(_beijing(deadline + timedelta(days=1), 8, 0)):
        with pytest.raises(appeals.AppealClosed) as late:
            appeals.file_appeal(world.actors["hosp1"], first.id, GROUNDS)
        assert late.value.deadline == deadline and deadline.isoformat() in str(late.value.message)
        _token, secret = api_tokens.create_token(world.actors["hosp1"], "HIS")
        answer = client.post(f"/api/v1/decisions/{first.id}/appeal", json={"grounds": GROUNDS},
                             headers={"Authorization": f"Bearer {secret}"})
        assert answer.status_code == 409
        assert answer.json["error"]["code"] == "appeal_deadline_passed"
        assert answer.json["error"]["deadline"] == deadline.isoformat()
    assert db.session.scalar(db.select(db.func.count(Appeal.id))) == 0
    with time_machine.travel(_beijing(deadline, 23, 30)):  # the last Beijing day still counts
        assert appeals.file_appeal(world.actors["hosp1"], first.id, GROUNDS).state == "filed"


def test_short_grounds_and_refused_files_leave_nothing(world: World) -> None:
    first = issued_decision(world)
    with pytest.raises(ValidationFailed) as short:
        appeals.file_appeal(world.actors["hosp1"], first.id, "Wrong.")
    assert "20 characters" in short.value.errors["grounds"][0]
    with pytest.raises(ValidationFailed) as refused:
        appeals.file_appeal(world.actors["hosp1"], first.id, GROUNDS, [(io.BytesIO(b"MZ not a pdf"), "x.exe")])
    assert "refused" in refused.value.errors["files"][0]
    assert db.session.scalar(db.select(db.func.count(Appeal.id))) == 0
    assert db.session.scalar(db.select(db.func.count(Document.id)).where(Document.doc_type == "appeal_evidence")) == 0
    with pytest.raises(ServiceError):  # another hospital cannot see the decision at all
        appeals.file_appeal(world.actors["hosp2"], first.id, GROUNDS)


def test_issuing_is_refused_when_the_calendar_lacks_the_year(world: World) -> None:
    item = _apply(world)
    seat_panels(world)
    db.session.refresh(item)
    decision = _review(world, item, [("approve", 0)] * 3)
    decisions.open_reasons(world.actors["staff"], decision.id)
    clear_calendar(world)
    with pytest.raises(ServiceError) as refused:
        decisions.issue(world.actors["staff"], decision.id)
    db.session.rollback()
    year = str(decisions.region_today(item.cycle.region).year)
    assert f"no working-day calendar for {year}" in str(refused.value.message)
    assert db.session.get(Decision, decision.id).status == "proposed" and holidays.covered_years(world.region_id) == []

"""Corrections with four eyes (issue 13 §2), on SQLite and PostgreSQL: approved by a second member of the office,
or rejected by one, or withdrawn by its proposer, which frees the item; and, on PostgreSQL, one reversal however
many processes post it at once."""
from __future__ import annotations

import io
import multiprocessing
from decimal import Decimal
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest

from review import create_app
from review.extensions import db
from review.messages import notice_text
from review.models import Account, ActivityLog, Appeal, Cycle, Decision, JournalEntry, Notification, ReviewItem
from review.services import appeals, cases, corrections, decisions, documents, ledger, letters, sampling
from review.services.context import Actor, ServiceError, ValidationFailed
from tests.conftest import make_config
from tests.factories import World, ami_case, seat_panels
from tests.integration.test_appeals import GROUNDS, issued_decision, more_experts, review_round, seat_appeal_panel
from tests.integration.test_record_review import FINDING, PDF, _sheet
from workflows.ledger import Line, reversal
from workflows.sampling import PlanConfig

REASON = "The deduction was keyed as 50,000.00 instead of 5,000.00 yuan."


def _second_staff(world: World) -> Actor:
    """Another member of the review office: the world's admin is one (office roles: staff and admin)."""
    return world.actors["admin"]


def test_a_correction_is_approved_by_a_second_member_of_the_office(world: World) -> None:
    first = issued_decision(world)
    corrected_amount = first.amount_fen + 450_000
    with pytest.raises(ValidationFailed):
        corrections.propose(world.actors["staff"], first.id, corrected_amount, "typo")
    with pytest.raises(ServiceError):  # a hospital cannot correct its decision
        corrections.propose(world.actors["hosp1"], first.id, corrected_amount, REASON)
    proposal = corrections.propose(world.actors["staff"], first.id, corrected_amount, REASON)
    assert (proposal.version, proposal.status, proposal.basis) == (2, "awaiting_approval", "correction")
    with pytest.raises(ServiceError) as pending:
        corrections.propose(world.actors["admin"], first.id, corrected_amount + 1, REASON)
    assert "already waiting" in str(pending.value.message)
    with pytest.raises(ServiceError) as not_by_issue:  # the ordinary issue path cannot skip the second pair of eyes
        decisions.issue(world.actors["staff"], proposal.id)
    assert "second member" in str(not_by_issue.value.message)
    with pytest.raises(ServiceError) as own:
        corrections.approve(world.actors["staff"], proposal.id)
    assert "another member of the review office must approve it" in str(own.value.message)
    db.session.rollback()
    assert db.session.get(Decision, proposal.id).status == "awaiting_approval"
    assert [d.id for d in corrections.awaiting(world.actors["admin"])] == [proposal.id]

    corrections.approve(_second_staff(world), proposal.id)
    db.session.refresh(first)
    assert (first.status, proposal.status, proposal.issued_by_id) == ("superseded", "issued", world.users["admin"])
    item = proposal.item
    assert (item.state, item.issued_version) == ("issued", 2)
    assert proposal.letter_ref_en and proposal.letter_ref_en != first.letter_ref_en
    entries = {e.idempotency_key: e for e in db.session.scalars(db.select(JournalEntry))}
    original = entries[f"decision:{first.id}:v1"]
    assert f"reversal:{original.id}" in entries and f"decision:{proposal.id}:v2" in entries
    hospital = db.session.scalars(db.select(Account).where(Account.code == "hospital:H1")).one()
    assert hospital.balance_fen == -corrected_amount and ledger.reconcile() == []
    notice = db.session.scalars(db.select(Notification).where(Notification.kind == "decision_corrected")).one()
    assert notice.hospital_id == world.hospitals["H1"] and "corrected" in notice_text(notice)[0]
    assert corrections.awaiting(world.actors["admin"]) == []


def _post_reversal(url: str, upload_dir: str, entry_id: int, lines: list[tuple[str, int]], start: Barrier) -> None:
    app = create_app(make_config(url, Path(upload_dir)))
    with app.app_context():
        plan = reversal(entry_id, [Line(code, amount) for code, amount in lines])
        start.wait()
        ledger.post_many([ledger.Posting(plan, None, reverses_entry_id=entry_id)], "2026Q3", None)
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


@pytest.mark.wall_clock
@pytest.mark.postgresql_only("SQLite serialises every writer: there is no concurrent posting to check")
def test_one_reversal_however_many_processes_post_it(app, world: World, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    first = issued_decision(world)
    entry = db.session.scalars(db.select(JournalEntry).where(JournalEntry.decision_id == first.id)).one()
    lines = [(line.account.code, line.amount_fen) for line in entry.lines]
    url = db.engine.url.render_as_string(hide_password=False)
    db.session.remove()
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(2)
    workers = [context.Process(target=_post_reversal, args=(url, str(tmp_path / "uploads"), entry.id, lines, start))
               for _ in range(2)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=120)
    assert [process.exitcode for process in workers] == [0, 0]  # the second gets the first's entry, no error
    keys = db.session.scalars(db.select(JournalEntry.idempotency_key)).all()
    assert sorted(keys) == sorted([f"decision:{first.id}:v1", f"reversal:{entry.id}"])
    assert ledger.reconcile() == []
    assert {a.code: a.balance_fen for a in db.session.scalars(db.select(Account))} == {"fund:T01": 0,
                                                                                      "hospital:H1": 0}


def test_the_office_role_rule_holds_for_approval(world: World) -> None:
    first = issued_decision(world)
    proposal = corrections.propose(world.actors["staff"], first.id, first.amount_fen - 100, REASON)
    for name in ("auditor", "hosp1", "expert1"):
        with pytest.raises(ServiceError):
            corrections.approve(world.actors[name], proposal.id)
        db.session.rollback()
    assert db.session.get(Decision, proposal.id).status == "awaiting_approval"


def _hospital_balance() -> int:
    return db.session.scalars(db.select(Account.balance_fen).where(Account.code == "hospital:H1")).one()


def _register(action: str, decision_id: int) -> ActivityLog:
    return db.session.scalars(db.select(ActivityLog).where(ActivityLog.action == action,
                                                           ActivityLog.object_id == decision_id)).one()


def test_a_rejected_correction_posts_nothing_and_frees_the_item_for_one_that_is_approved(world: World) -> None:
    first = issued_decision(world)
    keys_before = set(db.session.scalars(db.select(JournalEntry.idempotency_key)))
    balance_before = _hospital_balance()
    assert balance_before == -first.amount_fen  # the hospital account carries minus what it is due
    mistaken = corrections.propose(world.actors["staff"], first.id, first.amount_fen * 10, REASON)

    with pytest.raises(ServiceError) as own:  # the proposer withdraws; a rejection is someone else's opinion
        corrections.reject(world.actors["staff"], mistaken.id, "I typed one zero too many.")
    assert "withdraw it rather than reject it" in str(own.value.message)
    db.session.rollback()
    for reason in ("", "   ", "too short"):
        with pytest.raises(ValidationFailed) as short:
            corrections.reject(world.actors["admin"], mistaken.id, reason)
        assert list(short.value.errors) == ["reason"]
        db.session.rollback()
    for name in ("auditor", "hosp1", "expert1"):  # only the office rejects
        with pytest.raises(ServiceError):
            corrections.reject(world.actors[name], mistaken.id, "Not for me to decide, but I try.")
        db.session.rollback()
    assert db.session.get(Decision, mistaken.id).status == "awaiting_approval"

    rejection = "The amount is ten times the panel's; keep the issued amount."
    corrections.reject(_second_staff(world), mistaken.id, f"  {rejection}  ")
    db.session.expire_all()
    mistaken = db.session.get(Decision, mistaken.id)
    assert (mistaken.status, mistaken.discarded_reason, mistaken.discarded_by_id) == (
        "discarded", rejection, world.users["admin"])
    assert mistaken.discarded_at is not None and mistaken.discarded_at >= mistaken.proposed_at
    assert (mistaken.issued_at, mistaken.letter_ref_zh, mistaken.version) == (None, None, 2)  # its row stays
    for end in (corrections.approve, lambda actor, decision_id: corrections.reject(actor, decision_id, REASON)):
        with pytest.raises(ServiceError) as final:  # a discarded correction is final
            end(world.actors["admin"], mistaken.id)
        assert "not waiting for approval" in str(final.value.message)
        db.session.rollback()
    row = _register("decision.correction_rejected", mistaken.id)
    assert (row.actor_id, row.hospital_id, row.data["reason"]) == (world.users["admin"], world.hospitals["H1"],
                                                                   rejection)
    assert row.data["proposed_by_id"] == world.users["staff"]
    assert set(db.session.scalars(db.select(JournalEntry.idempotency_key))) == keys_before  # nothing posted
    assert _hospital_balance() == balance_before and corrections.awaiting(world.actors["admin"]) == []
    item = db.session.get(Decision, first.id).item
    assert (item.state, item.issued_version, db.session.get(Decision, first.id).status) == ("issued", 1, "issued")
    assert letters.verify_code(mistaken.verification_code) is None  # never a letter to verify

    corrected_amount = first.amount_fen + 450_000
    proposal = corrections.propose(world.actors["admin"], first.id, corrected_amount, REASON)  # the item is free
    assert proposal.version == 2  # the discarded proposal was no version: its number is given again
    corrections.approve(world.actors["staff"], proposal.id)
    db.session.expire_all()
    first, item = db.session.get(Decision, first.id), db.session.get(Decision, first.id).item
    assert (first.status, item.issued_version) == ("superseded", 2)
    entries = {e.idempotency_key: e for e in db.session.scalars(db.select(JournalEntry))}
    original = entries[f"decision:{first.id}:v1"]
    assert set(entries) == keys_before | {f"reversal:{original.id}", f"decision:{proposal.id}:v2"}
    assert _hospital_balance() == -corrected_amount and ledger.reconcile() == []
    assert letters.letter_context(db.session.get(Decision, proposal.id), "en")["earlier_ref"] == first.letter_ref_en
    verified = letters.verify_code(first.verification_code)
    assert verified is not None and verified.superseded_by == 2
    assert db.session.get(Decision, mistaken.id).status == "discarded"


def test_the_proposer_withdraws_and_the_appeal_takes_the_number_back(world: World) -> None:
    first = issued_decision(world)
    keys_before = set(db.session.scalars(db.select(JournalEntry.idempotency_key)))
    proposal = corrections.propose(world.actors["staff"], first.id, first.amount_fen - 100, REASON)
    with pytest.raises(ServiceError) as not_theirs:  # another member rejects instead; the register tells them apart
        corrections.withdraw(_second_staff(world), proposal.id, "Withdrawing on their behalf.")
    assert "reject it instead" in str(not_theirs.value.message)
    db.session.rollback()
    for name in ("auditor", "hosp1"):
        with pytest.raises(ServiceError):
            corrections.withdraw(world.actors[name], proposal.id, "Withdrawing on their behalf.")
        db.session.rollback()
    with pytest.raises(ValidationFailed) as short:
        corrections.withdraw(world.actors["staff"], proposal.id, "Oops")
    assert list(short.value.errors) == ["reason"]
    db.session.rollback()
    assert db.session.get(Decision, proposal.id).status == "awaiting_approval"

    why = "I meant to correct the other case of this hospital."
    corrections.withdraw(world.actors["staff"], proposal.id, why)
    db.session.expire_all()
    proposal = db.session.get(Decision, proposal.id)
    assert (proposal.status, proposal.discarded_by_id, proposal.discarded_reason) == (
        "discarded", world.users["staff"], why)
    row = _register("decision.correction_withdrawn", proposal.id)
    assert (row.actor_id, row.data["reason"], row.data["version"]) == (world.users["staff"], why, 2)
    assert set(db.session.scalars(db.select(JournalEntry.idempotency_key))) == keys_before

    # the hospital appeals the decision the correction would have replaced; the appeal's outcome is version 2
    appeals.file_appeal(world.actors["hosp1"], first.id, GROUNDS)
    more_experts(world, 3)
    seat_appeal_panel(world)
    item = db.session.get(Decision, first.id).item
    review_round(world, item, 2, 0)
    outcome = db.session.scalars(db.select(Decision).where(Decision.item_id == item.id,
                                                           Decision.basis == "appeal")).one()
    assert outcome.version == 2
    decisions.open_reasons(world.actors["staff"], outcome.id)
    decisions.issue(world.actors["staff"], outcome.id)
    db.session.expire_all()
    assert db.session.get(ReviewItem, item.id).issued_version == 2
    assert db.session.get(Appeal, db.session.scalars(db.select(Appeal.id)).one()).outcome_decision_id == outcome.id
    assert _hospital_balance() == -outcome.amount_fen and ledger.reconcile() == []
    assert sorted(db.session.scalars(db.select(Decision.status).where(Decision.item_id == item.id))) == [
        "discarded", "issued", "superseded"]


def _recovered_records(world: World) -> list[Decision]:
    """Two AMI discharges of H1 drawn for record review (the whole population), each found an unjustified
    admission and its recovery issued."""
    for case_no in ("ZY2026080001", "ZY2026080002"):
        cases.create_case(world.actors["hosp1"], ami_case(case_no=case_no))
    plan = sampling.create_plan(world.actors["staff"], world.cycle_id, PlanConfig(share=Decimal("1")), "0815")
    items = db.session.scalars(db.select(ReviewItem).where(ReviewItem.sampling_plan_id == plan.id)).all()
    for item in items:
        documents.upload_evidence(world.actors["hosp1"], item.id, io.BytesIO(PDF), "record.pdf", "front_page")
        sampling.submit_records(world.actors["hosp1"], item.id)
    seat_panels(world)
    issued = []
    for item in items:
        db.session.refresh(item)
        for assignment, justified in zip(item.assignments, (False, False, True)):
            _sheet(world, assignment, justified=justified, rationale=FINDING if not justified else "")
        decision = db.session.scalars(db.select(Decision).where(Decision.item_id == item.id)).one()
        decisions.open_reasons(world.actors["staff"], decision.id)
        issued.append(decisions.issue(world.actors["staff"], decision.id))
    return issued


def test_a_sampled_record_counts_once_in_the_extrapolation_after_a_rejected_correction(world: World) -> None:
    first, other = _recovered_records(world)
    mistaken = corrections.propose(world.actors["staff"], first.id, first.amount_fen // 2, REASON)
    corrections.reject(_second_staff(world), mistaken.id, "Half the payment is not what the panel found.")
    corrected_amount = first.amount_fen + 100  # the recovery was keyed one yuan too large
    proposal = corrections.propose(world.actors["staff"], first.id, corrected_amount, REASON)
    corrections.approve(_second_staff(world), proposal.id)
    assert (proposal.version, db.session.get(Decision, mistaken.id).version) == (2, 2)
    cycle = db.session.get(Cycle, world.cycle_id)
    cycle.policy_snapshot = {**cycle.policy_snapshot, "min_reviewed_for_extrapolation": 2}
    db.session.commit()
    report = sampling.extrapolation(world.actors["staff"], first.item.sampling_plan_id)
    assert report.reviewed == 2  # each record's issued version, never the rejected proposal numbered 2 as well
    # the whole population was reviewed, so the estimate is what the two records recover, the corrected one included
    assert report.estimated_overpaid_fen == -(corrected_amount + other.amount_fen)

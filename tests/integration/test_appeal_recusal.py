"""An appeal panel's expert steps down and is reminded, on SQLite and PostgreSQL.

The replacement is a run of its own for round 2 that excludes everyone who ever sat on the item (the first panel,
who stepped down from it, who stepped down from the appeal panel); the appeal panel's majority, never the first
panel's sheets, decides; an appeal panel has its own deadline, fixed when it is seated, and the calendar reminds
its experts who still owe a sheet before it, apart from any first-panel reminder of theirs.
"""
from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from review.extensions import db
from review.models import (ActivityLog, Appeal, Assignment, AssignmentRun, Cycle, Decision, Expert, Notification,
                           ReviewItem)
from review.services import appeals, assignment_runs, calendar, decisions, recusal, reviews
from review.services.calendar import REMINDER_DAYS
from review.services.context import ServiceError
from tests.e2e.test_walkthrough import login
from tests.factories import World, seat_panels
from tests.integration.test_appeals import GROUNDS, more_experts, seat_appeal_panel
from tests.integration.test_dates import nth_working_day_after
from tests.integration.test_recusal import REASON, _apply, _name_of, add_expert
from workflows.assignment import Problem

FIRST_DEDUCTION = 5_000_000
"""The first panel's deduction; the appeal panel deducts nothing, so the decision shows whose votes counted."""


def _seats(item_id: int, round_: int) -> list[Assignment]:
    return list(db.session.scalars(db.select(Assignment).where(
        Assignment.item_id == item_id, Assignment.round == round_).order_by(Assignment.rank)))


def _active(item_id: int, round_: int) -> list[Assignment]:
    return [a for a in _seats(item_id, round_) if a.status == "active"]


def _submit(world: World, seat: Assignment, deduction_fen: int) -> None:
    reviews.save_sheet(world.actors[_name_of(world, seat.expert_id)], seat.id, reviews.SheetInput(
        recommendation="approve", unreasonable_cost_fen=deduction_fen, rationale="Reviewed against the records.",
        lock_version=seat.scoresheet.lock_version if seat.scoresheet else 0,
        cost_reasons="Drug costs beyond the indication." if deduction_fen else ""), submit=True)


def _appeal_under_review(world: World, appeal_experts: int) -> ReviewItem:
    """An H1 application whose first panel lost one expert to a recusal, decided, issued and appealed, with its
    appeal panel seated from `appeal_experts` experts who never sat on it."""
    add_expert(world, "expert7", "H2")  # a fourth cardiologist outside H1, so the first panel can replace a seat
    item = _apply(world)
    seat_panels(world)
    leaving = _active(item.id, 1)[0]
    assert recusal.recuse(world.actors[_name_of(world, leaving.expert_id)], leaving.id, REASON) is not None
    db.session.expire_all()
    for seat in _active(item.id, 1):
        _submit(world, seat, FIRST_DEDUCTION)
    first = db.session.scalars(db.select(Decision).where(Decision.item_id == item.id)).one()
    decisions.open_reasons(world.actors["staff"], first.id)
    decisions.issue(world.actors["staff"], first.id)
    appeals.file_appeal(world.actors["hosp1"], first.id, GROUNDS)
    more_experts(world, appeal_experts)
    seat_appeal_panel(world)
    db.session.expire_all()
    item = db.session.get(ReviewItem, item.id)
    assert item.state == "in_appeal_review" and len(_active(item.id, 2)) == 3
    return item


def _first_panel(item_id: int) -> set[int]:
    """Everyone who sat on the first panel: the three who decided and the one who stepped down."""
    sat = {a.expert_id for a in _seats(item_id, 1)}
    assert len(sat) == 4 and sum(a.status == "recused" for a in _seats(item_id, 1)) == 1
    return sat


def test_an_appeal_seat_goes_to_someone_who_never_sat_and_only_the_appeal_panel_decides(world: World) -> None:
    item = _appeal_under_review(world, 4)
    first_panel = _first_panel(item.id)
    panel = _active(item.id, 2)
    never_sat = {world.experts[f"appeal{n}"] for n in range(4)} - {a.expert_id for a in panel}
    assert len(never_sat) == 1
    leaving = panel[0]  # the appeal panel's chair, with a draft saved
    actor = world.actors[_name_of(world, leaving.expert_id)]
    reviews.save_sheet(actor, leaving.id, reviews.SheetInput(recommendation=None, unreasonable_cost_fen=0,
                                                            rationale="", lock_version=0), submit=False)

    replacement = recusal.recuse(actor, leaving.id, f"  {REASON}  ")
    assert replacement is not None
    db.session.expire_all()
    gone = db.session.get(Assignment, leaving.id)
    assert (gone.status, gone.recusal_reason) == ("recused", REASON)
    newcomer = db.session.get(Assignment, replacement.id)
    assert {newcomer.expert_id} == never_sat  # not of the first panel, not the one who stepped down from either
    assert (newcomer.round, newcomer.rank) == (2, 4)  # seated after the appeal panel's own ranks
    assert {a.expert_id for a in _active(item.id, 2)} == {a.expert_id for a in panel[1:]} | never_sat
    assert db.session.get(ReviewItem, item.id).state == "in_appeal_review"

    run = db.session.get(AssignmentRun, newcomer.run_id)
    appeal_run = db.session.get(AssignmentRun, leaving.run_id)
    assert (run.kind, run.parent_run_id, appeal_run.kind) == ("replacement", appeal_run.id, "appeal")
    assert assignment_runs.verify(run.id).ok and assignment_runs.verify(appeal_run.id).ok
    spec = Problem.from_canonical(run.input).items[0]  # the recorded input: what anyone recomputing it sees
    assert spec.panel == {a.expert_id for a in panel[1:]}
    assert spec.excluded == first_panel | {leaving.expert_id}
    replaced = db.session.scalars(db.select(ActivityLog).where(ActivityLog.action == "assignment.replaced")
                                  .order_by(ActivityLog.id.desc())).first()
    assert replaced.object_id == run.id and replaced.data["round"] == 2
    newcomer_user = world.actors[_name_of(world, newcomer.expert_id)].user_id
    assert db.session.scalars(db.select(Notification).where(
        Notification.kind == "assignment", Notification.user_id == newcomer_user)).one().params["count"] == 1

    # The first panel's three submitted sheets never make up the appeal panel's majority.
    for seat in _active(item.id, 2):
        if seat.id != newcomer.id:
            _submit(world, seat, 0)
    assert db.session.scalar(db.select(db.func.count(Decision.id)).where(Decision.item_id == item.id)) == 1
    assert db.session.get(ReviewItem, item.id).state == "in_appeal_review"
    _submit(world, db.session.get(Assignment, newcomer.id), 0)
    second = db.session.scalars(db.select(Decision).where(Decision.item_id == item.id, Decision.version == 2)).one()
    assert (second.basis, second.status, second.deduction_fen) == ("appeal", "proposed", 0)
    assert {vote["expert_id"] for vote in second.vote_snapshot["votes"]} == {a.expert_id for a in _active(item.id, 2)}
    reasons = decisions.open_reasons(world.actors["staff"], second.id)
    assert newcomer.expert_id in {r.expert.id for r in reasons.experts}
    assert leaving.expert_id not in {r.expert.id for r in reasons.experts}


def test_with_only_the_first_panel_free_the_appeal_seat_waits_for_the_office(world: World, client) -> None:  # type: ignore[no-untyped-def]
    item = _appeal_under_review(world, 3)
    first_panel = _first_panel(item.id)
    assert all(db.session.get(Expert, expert_id).active for expert_id in first_panel)  # qualified and free
    leaving = _active(item.id, 2)[0]
    assert recusal.recuse(world.actors[_name_of(world, leaving.expert_id)], leaving.id, REASON) is None
    db.session.expire_all()
    assert len(_active(item.id, 2)) == 2 and db.session.get(ReviewItem, item.id).state == "in_appeal_review"
    unfilled = db.session.scalars(db.select(ActivityLog).where(
        ActivityLog.action == "assignment.replacement_unfilled")).one()
    empty_run = db.session.get(AssignmentRun, unfilled.object_id)
    assert empty_run.kind == "replacement" and assignment_runs.verify(empty_run.id).ok
    assert recusal.fill_item(world.actors["staff"], item.id) == []  # still nobody who never sat on it
    login(client, "staff")  # the office's item page counts the appeal panel's seats, not the first panel's
    assert "1 seat of this item's panel is open: 2 of 3 experts are seated." in client.get(f"/staff/items/{item.id}").text

    late = add_expert(world, "expert_late", "H3", title="chief_physician")
    placed = recusal.fill_item(world.actors["staff"], item.id)
    assert [(a.expert_id, a.round) for a in placed] == [(late, 2)]
    fill_run = db.session.get(AssignmentRun, placed[0].run_id)
    assert fill_run.kind == "replacement" and fill_run.parent_run_id == leaving.run_id
    assert assignment_runs.verify(fill_run.id).ok
    db.session.expire_all()
    assert len(_active(item.id, 2)) == 3 and len(_active(item.id, 1)) == 3  # the first panel's seats untouched
    with pytest.raises(ServiceError, match="complete"):
        recusal.fill_item(world.actors["staff"], item.id)


def test_panels_change_only_while_their_round_is_at_work(world: World) -> None:
    item = _appeal_under_review(world, 3)
    first_seat = _active(item.id, 1)[0]
    with pytest.raises(ServiceError, match="no longer open"):  # the first panel has had its say
        recusal.recuse(world.actors[_name_of(world, first_seat.expert_id)], first_seat.id, REASON)
    db.session.rollback()
    for seat in _active(item.id, 2):
        _submit(world, seat, 0)
    db.session.expire_all()
    assert db.session.get(ReviewItem, item.id).state == "appeal_proposed"
    with pytest.raises(ServiceError, match="no longer open"):
        recusal.fill_item(world.actors["staff"], item.id)
    db.session.rollback()
    assert db.session.scalar(db.select(db.func.count(ActivityLog.id)).where(
        ActivityLog.action == "assignment.recused")) == 1  # only the first panel's own step-down


def test_the_step_down_form_is_offered_on_an_appeal_seat_and_works(world: World, client) -> None:  # type: ignore[no-untyped-def]
    item = _appeal_under_review(world, 4)
    seat = _active(item.id, 2)[0]
    first_seat = _active(item.id, 1)[0]
    login(client, _name_of(world, first_seat.expert_id))
    assert "Step down from this item" not in client.get(f"/expert/assignments/{first_seat.id}").text
    login(client, _name_of(world, seat.expert_id))
    page = client.get(f"/expert/assignments/{seat.id}").text
    assert "Step down from this item" in page and "days left" in page
    answer = client.post(f"/expert/assignments/{seat.id}/recuse", data={"recusal-reason": REASON})
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/expert/")
    assert "A replacement expert has been seated" in client.get("/expert/").text
    db.session.expire_all()
    assert db.session.get(Assignment, seat.id).status == "recused" and len(_active(item.id, 2)) == 3


def _appeal_due(item: ReviewItem) -> date:
    """The appeal panel's own last day, checked against a count of working days made apart from the service."""
    appeal = db.session.scalars(db.select(Appeal).where(Appeal.item_id == item.id)).one()
    policy = db.session.get(Cycle, item.cycle_id).policy
    assert appeal.review_due_on == nth_working_day_after(calendar.today_in_region(), policy.appeal_review_days)
    assert appeal.review_due_on < item.cycle.review_deadline - timedelta(days=REMINDER_DAYS)  # the world's dates
    return appeal.review_due_on


def test_an_appeal_panel_has_its_own_deadline_on_the_notice_and_the_page(world: World, client) -> None:  # type: ignore[no-untyped-def]
    item = _appeal_under_review(world, 3)
    due = _appeal_due(item)
    seat = _active(item.id, 2)[0]
    user_id = world.actors[_name_of(world, seat.expert_id)].user_id
    notice = db.session.scalars(db.select(Notification).where(Notification.kind == "assignment",
                                                              Notification.user_id == user_id)).one()
    assert notice.params["deadline"] == due.isoformat()
    login(client, _name_of(world, seat.expert_id))
    days = (due - calendar.today_in_region()).days
    assert f"Review deadline <span class=\"nowrap\">{due.isoformat()}</span>" in client.get(
        f"/expert/assignments/{seat.id}").text
    row = re.search(rf'<tr data-item="{item.id}"[^>]*>(.*?)</tr>', client.get("/expert/").text, re.S)
    assert row and f"{days} days left" in row.group(1)
    shown = f"<dt>Appeal panel's deadline</dt><dd><span class=\"nowrap\">{due.isoformat()}</span></dd>"
    for username, url in (("hosp1", f"/hospital/items/{item.id}"), ("staff", f"/staff/items/{item.id}")):
        login(client, username)
        assert shown in client.get(url).text.replace("&#39;", "'"), username


def test_the_calendar_reminds_the_appeal_panel_experts_who_owe_a_sheet(world: World) -> None:
    item = _appeal_under_review(world, 3)
    done, *owing = _active(item.id, 2)
    _submit(world, done, 0)
    due = _appeal_due(item)
    assert calendar.run(due - timedelta(days=REMINDER_DAYS + 1)).reminders == 0  # not yet in the window
    assert calendar.run(due - timedelta(days=REMINDER_DAYS)).reminders == len(owing)
    notices = list(db.session.scalars(db.select(Notification).where(Notification.kind == "review_reminder")))
    assert sorted(n.user_id for n in notices) == sorted(world.actors[_name_of(world, a.expert_id)].user_id
                                                         for a in owing)
    assert all((n.params["count"], n.params["deadline"]) == (1, due.isoformat()) for n in notices)
    assert calendar.run(due - timedelta(days=1)).reminders == 0  # reminded once
    deadline = db.session.get(Cycle, world.cycle_id).review_deadline
    assert calendar.run(deadline - timedelta(days=1)).reminders == 0  # the cycle's deadline is not theirs


def test_an_expert_on_a_first_panel_and_an_appeal_panel_is_reminded_of_each(world: World) -> None:
    item = _appeal_under_review(world, 3)
    appeal_panel = {a.expert_id for a in _active(item.id, 2)}
    both = min(appeal_panel)
    first_panel = {both, world.experts["expert3"], world.experts["expert4"]}
    others = [e for e in db.session.scalars(db.select(Expert)) if e.id not in first_panel]
    for expert in others:  # the next draw can seat only these three
        expert.active = False
    db.session.commit()
    later = _apply(world, case_no="ZY2026080002")
    seat_panels(world, "67890")
    for expert in others:
        expert.active = True
    db.session.commit()
    assert {a.expert_id for a in _active(later.id, 1)} == first_panel

    due = _appeal_due(item)
    assert calendar.run(due - timedelta(days=1)).reminders == len(appeal_panel)  # before the appeal's own day
    deadline = db.session.get(Cycle, world.cycle_id).review_deadline
    assert calendar.run(deadline - timedelta(days=1)).reminders == len(first_panel)  # before the cycle's
    user_of = {expert_id: world.actors[_name_of(world, expert_id)].user_id for expert_id in first_panel | appeal_panel}
    notices = list(db.session.scalars(db.select(Notification).where(
        Notification.kind == "review_reminder", Notification.user_id == user_of[both])))
    assert sorted(n.params["deadline"] for n in notices) == [due.isoformat(), deadline.isoformat()]
    assert all(n.params["count"] == 1 for n in notices)
    expert3 = db.session.scalars(db.select(Notification).where(
        Notification.kind == "review_reminder", Notification.user_id == user_of[world.experts["expert3"]])).one()
    assert expert3.dedupe_key == f"review-reminder:{world.cycle_id}:{world.experts['expert3']}"  # as before
    assert calendar.run(deadline).reminders == 0
